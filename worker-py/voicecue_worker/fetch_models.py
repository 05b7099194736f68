"""Fills the model cache ahead of time, for an operator (``npm run fetch-models``, or the image's
``python -m voicecue_worker.fetch_models``): what the GPU worker loads at start and otherwise only
fetches itself when VOICECUE_ALLOW_DOWNLOADS is set. Each item is checked where the worker looks for
it, and fetched by the same library call the worker or whisperx would make:

- f5: the checkpoint of VOICECUE_F5_MODEL (unless VOICECUE_F5_CKPT names a file) and the Vocos
  vocoder (unless VOICECUE_F5_VOCODER names a folder), into the Hugging Face cache (HF_HOME);
- ``--asr``: F5's speech recognition model, used when a reference comes without ref_text;
- whisperx: the align model of each ``--languages`` entry (VOICECUE_ALIGN_MODELS over whisperx's
  defaults), a torchaudio bundle into torch hub's checkpoints or a hub model into the HF cache
  (VOICECUE_ALIGN_MODEL_DIR when set), and NLTK's punkt_tab into NLTK_DATA.

``--dry-run`` says what is there and what would be fetched, and fetches nothing. Exit 0 when every
item is in place afterwards, 1 otherwise, 2 on bad arguments.
"""
import argparse
import os
import sys
from typing import Callable, List, NamedTuple, Optional

from .aligners import whisperx as wx
from .engines import f5


class Item(NamedTuple):
    what: str
    present: Callable[[], bool]
    fetch: Callable[[], object]


def _hub_file(repo: str, filename: str, cache_dir: Optional[str] = None) -> Item:
    from huggingface_hub import hf_hub_download, try_to_load_from_cache

    def present() -> bool:
        path = try_to_load_from_cache(repo, filename, cache_dir=cache_dir)
        return isinstance(path, str) and os.path.isfile(path)

    return Item("hf://%s/%s" % (repo, filename), present, lambda: hf_hub_download(repo, filename, cache_dir=cache_dir))


def _hub_model(repo: str, cache_dir: Optional[str] = None) -> Item:
    """A whole hub model (config, weights, tokenizer), as from_pretrained would read it."""
    from huggingface_hub import snapshot_download

    config = _hub_file(repo, "config.json", cache_dir)
    return Item("hf://%s" % repo, config.present, lambda: snapshot_download(repo, cache_dir=cache_dir))


def f5_items(asr: bool) -> List[Item]:
    model = os.environ.get("VOICECUE_F5_MODEL", "F5TTS_v1_Base")
    items: List[Item] = []
    if not os.environ.get("VOICECUE_F5_CKPT"):
        if model not in f5._HUB_CKPT:
            raise SystemExit("f5: model %s has no default checkpoint on the hub: set VOICECUE_F5_CKPT to its file" % model)
        items.append(_hub_file(*f5._HUB_CKPT[model])._replace(what="f5 checkpoint hf://%s/%s" % f5._HUB_CKPT[model]))
    if not os.environ.get("VOICECUE_F5_VOCODER"):
        repo, files = f5._HUB_VOCODER
        items += [_hub_file(repo, name)._replace(what="f5 vocoder hf://%s/%s" % (repo, name)) for name in files]
    if asr:
        items.append(_hub_model("openai/whisper-large-v3-turbo")._replace(what="f5 speech recognition hf://openai/whisper-large-v3-turbo"))
    return items


def whisperx_items(languages: List[str]) -> List[Item]:
    import torch
    import torchaudio
    import whisperx.alignment as wxa
    from whisperx.utils import PUNKT_LANGUAGES

    model_dir = os.environ.get(wx.MODEL_DIR_ENV) or None
    models = {**wxa.DEFAULT_ALIGN_MODELS_TORCH, **wxa.DEFAULT_ALIGN_MODELS_HF, **wx.parse_models(os.environ.get("VOICECUE_ALIGN_MODELS"))}
    items: List[Item] = []
    for lang in languages:
        name = models.get(lang)
        if name is None:
            raise SystemExit("whisperx has no align model for %r: set VOICECUE_ALIGN_MODELS, e.g. {\"%s\": \"<hub model>\"}" % (lang, lang))
        label = "whisperx %s align model %s" % (lang, name)
        if os.path.isdir(name):
            items.append(Item(label, lambda: True, lambda: None))
        elif name in torchaudio.pipelines.__all__:
            bundle = getattr(torchaudio.pipelines, name)
            folder = model_dir or os.path.join(torch.hub.get_dir(), "checkpoints")
            path = os.path.join(folder, os.path.basename(bundle._path))
            # get_model() downloads into torch hub's checkpoints; whisperx passes model_dir the same way.
            items.append(Item(label, lambda p=path: os.path.isfile(p),
                              lambda b=bundle: b.get_model(dl_kwargs={"model_dir": model_dir} if model_dir else None)))
        else:
            items.append(_hub_model(name, model_dir)._replace(what=label))
    names = sorted({PUNKT_LANGUAGES.get(lang, "english") for lang in languages})
    items.append(Item("NLTK punkt_tab (%s)" % ", ".join(names), lambda: not wx.punkt_missing(languages), _punkt))
    return items


def _punkt() -> None:
    import nltk

    target = os.environ.get("NLTK_DATA")
    if not target:
        raise RuntimeError("set NLTK_DATA to the folder the worker reads punkt_tab from")
    if not nltk.download("punkt_tab", download_dir=target, quiet=True, raise_on_error=True):
        raise RuntimeError("nltk could not download punkt_tab")


def run(items: List[Item], dry_run: bool, out=sys.stdout) -> int:
    failed = 0
    for item in items:
        if item.present():
            print("cached        %s" % item.what, file=out)
            continue
        if dry_run:
            failed += 1  # not in place
            print("would fetch   %s" % item.what, file=out)
            continue
        try:
            item.fetch()
        except Exception as e:  # noqa: BLE001 - each item reports its own failure, the rest go on
            failed += 1
            print("FAILED        %s: %s" % (item.what, e), file=out)
            continue
        ok = item.present()
        failed += not ok
        print("%-13s %s" % ("fetched" if ok else "NOT IN PLACE", item.what), file=out)
    return 1 if failed else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="fetch-models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--languages", default="en", help="whisperx align models to fetch, comma-separated (default: en)")
    parser.add_argument("--asr", action="store_true", help="also F5's speech recognition model (references without ref_text)")
    parser.add_argument("--skip", default="", help="comma-separated: f5, whisperx")
    parser.add_argument("--dry-run", action="store_true", help="say what is cached and what would be fetched; fetch nothing")
    args = parser.parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    items: List[Item] = []
    if "f5" not in skip:
        items += f5_items(args.asr)
    if "whisperx" not in skip:
        items += whisperx_items([lang.strip().lower() for lang in args.languages.split(",") if lang.strip()])
    return run(items, args.dry_run)


if __name__ == "__main__":
    sys.exit(main())
