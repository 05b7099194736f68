"""fetch-models with the real huggingface_hub, torchaudio, whisperx and nltk: a dry run over an
empty cache, then a real fetch from a hub served on loopback (HF_ENDPOINT), then a second run that
finds everything cached. The punkt data is put in place by the test (nltk's own server is not on
loopback), and whisperx's Dutch model stands for the hub-hosted align models."""
import hashlib
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

WORKER_DIR = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
FILES = {
    "SWivid/F5-TTS": {"F5TTS_v1_Base/model_1250000.safetensors": b"checkpoint bytes"},
    "charactr/vocos-mel-24khz": {"config.yaml": b"feature_extractor: {}\n", "pytorch_model.bin": b"vocoder bytes"},
    "jonatasgrosman/wav2vec2-large-xlsr-53-dutch": {"config.json": b"{}", "vocab.json": b"{}", "pytorch_model.bin": b"weights"},
}


class Hub(BaseHTTPRequestHandler):
    """What huggingface_hub asks of the hub: file metadata and bytes (resolve), and a model's file list."""

    requests = []

    def log_message(self, *args):  # quiet
        pass

    def _answer(self, body: bytes):
        path = self.path.split("?")[0]
        Hub.requests.append((self.command, path))
        if path.startswith("/api/models/"):
            repo = path[len("/api/models/"):].split("/revision/")[0]
            if repo not in FILES:
                return self._status(404)
            data = json.dumps({"id": repo, "sha": COMMIT, "siblings": [{"rfilename": f} for f in FILES[repo]]}).encode()
            return self._send(data, "application/json")
        for repo, files in FILES.items():
            prefix = "/%s/resolve/" % repo
            if path.startswith(prefix):
                name = path[len(prefix):].split("/", 1)[1]
                if name in files:
                    return self._send(files[name], "application/octet-stream")
        self._status(404)

    def _send(self, data: bytes, kind: str):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", '"%s"' % hashlib.sha256(data).hexdigest())
        self.end_headers()
        if self.command == "GET":
            self.wfile.write(data)

    def _status(self, code: int):
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.send_header("X-Error-Code", "EntryNotFound" if code == 404 else "")
        self.end_headers()

    def do_GET(self):
        self._answer(b"")

    def do_HEAD(self):
        self._answer(b"")


@pytest.fixture()
def hub():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Hub.requests = []
    yield "http://127.0.0.1:%d" % server.server_address[1]
    server.shutdown()


def fetch(args, tmp_path, endpoint=None):
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "VOICECUE_F5_CKPT", "VOICECUE_F5_VOCODER")}
    env.update(HF_HOME=str(tmp_path / "hf"), TORCH_HOME=str(tmp_path / "torch"), NLTK_DATA=str(tmp_path / "nltk"), HF_HUB_DISABLE_XET="1")
    if endpoint:
        env["HF_ENDPOINT"] = endpoint
    else:
        env["HF_HUB_OFFLINE"] = "1"
    return subprocess.run([sys.executable, "-m", "voicecue_worker.fetch_models", *args], cwd=WORKER_DIR, env=env, capture_output=True, text=True, timeout=300)


def put_punkt(tmp_path):
    """punkt_tab's files for Dutch under NLTK_DATA, as the worker's minimal model writes them."""
    sys.path.insert(0, str(WORKER_DIR))
    from voicecue_worker.aligners import whisperx as wx

    built = Path(wx.build_minimal_punkt(["dutch"]))
    target = tmp_path / "nltk" / "tokenizers" / "punkt_tab" / "dutch"
    target.mkdir(parents=True)
    for f in (built / "tokenizers" / "punkt_tab" / "dutch").iterdir():
        (target / f.name).write_bytes(f.read_bytes())


def test_dry_run_over_an_empty_cache_lists_everything_and_fetches_nothing(tmp_path):
    done = fetch(["--languages", "en,nl", "--dry-run"], tmp_path)
    lines = done.stdout.splitlines()
    assert done.returncode == 1, done.stdout + done.stderr  # not everything is in place
    assert [line.split()[0:2] for line in lines] == [["would", "fetch"]] * len(lines)
    text = "\n".join(lines)
    assert "f5 checkpoint hf://SWivid/F5-TTS/F5TTS_v1_Base/model_1250000.safetensors" in text
    assert "f5 vocoder hf://charactr/vocos-mel-24khz/pytorch_model.bin" in text
    assert "whisperx en align model WAV2VEC2_ASR_BASE_960H" in text
    assert "whisperx nl align model jonatasgrosman/wav2vec2-large-xlsr-53-dutch" in text
    assert "NLTK punkt_tab (dutch, english)" in text
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


def test_fetches_from_the_hub_into_the_cache_then_finds_it_cached(tmp_path, hub):
    put_punkt(tmp_path)
    done = fetch(["--languages", "nl"], tmp_path, hub)
    assert done.returncode == 0, done.stdout + done.stderr
    assert [line.split()[0] for line in done.stdout.splitlines()] == ["fetched"] * 4 + ["cached"]
    ckpt = list((tmp_path / "hf").rglob("model_1250000.safetensors"))
    assert len(ckpt) == 1 and ckpt[0].read_bytes() == b"checkpoint bytes"
    assert list((tmp_path / "hf").rglob("pytorch_model.bin")), "the vocoder and the align model"
    assert ("GET", "/api/models/jonatasgrosman/wav2vec2-large-xlsr-53-dutch/revision/main") in Hub.requests, "the whole model, by its file list"

    again = fetch(["--languages", "nl", "--dry-run"], tmp_path)  # offline now: all from the cache
    assert again.returncode == 0, again.stdout + again.stderr
    assert [line.split()[0] for line in again.stdout.splitlines()] == ["cached"] * 5


def test_a_failed_fetch_is_reported_and_exits_1(tmp_path, hub):
    put_punkt(tmp_path)
    env_model = {"VOICECUE_F5_MODEL": "E2TTS_Base"}  # not served by this hub
    os.environ.update(env_model)
    try:
        done = fetch(["--languages", "nl", "--skip", "whisperx"], tmp_path, hub)
    finally:
        os.environ.pop("VOICECUE_F5_MODEL")
    assert done.returncode == 1
    assert done.stdout.splitlines()[0].startswith("FAILED        f5 checkpoint hf://SWivid/E2-TTS/")
