#!/usr/bin/env python3
"""A held-out test corpus for the offline aligners: English speech made by Festival (not
espeak, which the dtw aligner uses as its reference) with exact word times.

Festival's utterance knows when every segment ends (its duration model drives the waveform
generator), so each word's start is its first segment's start and its end its last segment's
end. Words are the tokens of voicecue's own tokenizer (worker-py/voicecue_worker/text.py), as
written: "1998" is one word spoken as "nineteen ninety eight", and its end is where "eight" ends.

Sets (all 16 kHz mono 16-bit WAV in ``audio``; ``upload`` is the file as a client would send it):
  dev    12 files, clean: for tuning an aligner; never scored.
  clean  24 files, three voices (kal, ked diphone; slt HTS).
  noisy  24 files, stationary noise (white, pink, brown, pink + mains hum) at 10-20 dB SNR.
  hard   40 files, 8 per condition:
           rate       Festival's Duration_Stretch for speaking rates 0.8x-1.3x (times stay exact)
           reverb     a synthetic room impulse response, RT60 0.8 s
           babble     four other talkers (other voices, other sentences) at 10 dB SNR
           telephone  300-3400 Hz band, 8 kHz, mu-law (the upload is the mu-law WAV)
           mp3        64 kbit/s (the upload is the MP3; ``audio`` is its decoded PCM)

Everything is seeded: the same script gives the same corpus. The output goes to a cache
folder (``--out``, else $VOICECUE_CORPUS_DIR, else ~/.cache/voicecue/corpus), into a
subfolder named by a hash of this file, so an edit here makes a fresh corpus and an unchanged
script reuses the cached one. ``manifest.json`` there lists every file with its text and words:

  {"version", "sample_rate", "items": [{"id", "set", "condition", "voice", "speed", "audio",
   "upload", "duration", "text", "words": [{"word", "char_start", "char_end", "start", "end",
   "spoken"}]}]}

Needs festival, festvox-kallpc16k, festvox-kdlpc16k, festvox-us-slt-hts (Debian), ffmpeg and
numpy. Usage: python bench/corpus/make.py [--out DIR] [--sets clean,noisy,hard,dev] [--limit N]
(--limit: at most N files a set and condition, for tests). Prints the manifest's path.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "worker-py"))
from voicecue_worker.text import tokenize  # noqa: E402

SR = 16000
VOICES = {
    "kal": "voice_kal_diphone",
    "ked": "voice_ked_diphone",
    "slt": "voice_cmu_us_slt_arctic_hts",
}
SEED = 20261202

# Sentences with numbers, money, decimals, clock times, ordinals, percentages, acronyms,
# hyphens, apostrophes and punctuation. Festival's tokens match voicecue's words here.
SENTENCES = [
    "In 1998, the fare was $12 and it rose by 3.5 percent.",
    "The train leaves at 7:45 every morning, except on Sundays.",
    "She moved to Boston in 2008 and never looked back.",
    "Our team scored 21 points in the second half!",
    "Please call me before 9:30 tomorrow, if you can.",
    "The recipe needs 2.5 cups of flour and 3 eggs.",
    "Tickets cost $45 each, or $80 for a pair.",
    "He was born on May 3rd, 1987, in a small town.",
    "About 50% of the people agreed with the new plan.",
    "The museum opened in 1923 and closed in 2011.",
    "Why would anyone wait until midnight to start?",
    "The bridge is 1,200 meters long and very old.",
    "We don't know what happened after the storm.",
    "Her well-known book sold over 40,000 copies.",
    "The meeting moved from 10:15 to 11:00 on Friday.",
    "A cup of coffee used to cost $1.50 in this cafe.",
    "The U.S. team arrived late, but they won anyway.",
    "It's been raining for 14 days in a row.",
    "Temperatures dropped to 4.2 degrees last night.",
    "The 19th century saw rapid growth in the cities.",
    "They planted 365 trees along the river this spring.",
    "My brother's car broke down on the highway again.",
    "Can you believe it happened in 2015, of all years?",
    "The shop on the corner sells fresh bread at 6:00.",
    "Only 7 of the 30 students passed the final exam.",
    "The old clock in the hall stopped at 3:20.",
    "Nobody expected the price to jump to $250.",
    "He ran the marathon in 3 hours and 12 minutes.",
    "The company hired 85 new workers in 2019.",
    "Wait, did you say the 4th floor or the 5th?",
    "Rain is likely this evening, with strong winds.",
    "The library holds more than 2 million books.",
    "We sailed north for 6 days without seeing land.",
    "The doctor said the results looked normal.",
    "In 1969, people watched the moon landing on TV.",
    "A quick brown fox jumped over the lazy dog.",
    "The new phone weighs 0.4 pounds and costs $699.",
    "I'll meet you at the station at half past eight.",
    "The river rose 1.8 meters after the heavy rain.",
    "Her grandmother turned 100 last week, in good health.",
    "The bus was late again, so we walked home.",
    "Exactly 1,000 runners finished the race in 2022.",
    "They painted the fence white; it took all day.",
    "The film runs for 2 hours and 5 minutes.",
    "Is it true that the lake freezes every winter?",
    "The farmer sold 48 sheep at the market on Monday.",
    "The flight to Denver boards at 4:50 from gate 12.",
    "Our neighbors' dog barks at every passing car.",
    "The bill came to $37.25, including the tip.",
    "The castle was built around 1350 by a local lord.",
    "Most shops close early on the 24th of December.",
    "She answered all 20 questions in under 10 minutes.",
    "The population grew by 12.5 percent in a decade.",
    "We're going to need a bigger boat, he said.",
    "Light travels about 300,000 kilometers per second.",
    "The store reopened at 8:15 after the power cut.",
    "Children under 5 travel free on all city buses.",
    "The war ended in 1945, after six long years.",
    "The soup was cold, the bread was stale, and the wine was sour.",
    "He paid $3 for a map that was 20 years out of date.",
]


def festival_string(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


FESTIVAL_DUMP = r"""
(define (vc_dump utt tag)
  (let ((tok (utt.relation.first utt 'Token)))
    (while tok
      (format t "TOK\t%s\t%s\n" tag (item.name tok))
      (mapcar (lambda (w)
                (format t "W\t%s\t%s\t%s\t%s\n" tag (item.name w)
                  (item.feat w "R:SylStructure.daughter1.daughter1.segment_start")
                  (item.feat w "R:SylStructure.daughtern.daughtern.end")))
              (item.daughters tok))
      (set! tok (item.next tok)))))
"""


def synthesize(jobs: Sequence[dict], tmp: str) -> Dict[str, dict]:
    """Speak each job {tag, text, voice, stretch, path} with one Festival process; return the
    Festival tokens and word times of each tag."""
    lines = [FESTIVAL_DUMP]
    for j in jobs:
        lines.append("(%s)" % VOICES[j["voice"]])
        lines.append("(Parameter.set 'Duration_Stretch %.4f)" % j["stretch"])
        lines.append("(set! utt (Utterance Text %s))" % festival_string(j["text"]))
        lines.append("(utt.synth utt)")
        lines.append("(utt.wave.resample utt %d)" % SR)
        lines.append("(utt.save.wave utt %s 'riff)" % festival_string(j["path"]))
        lines.append("(vc_dump utt %s)" % festival_string(j["tag"]))
    script = os.path.join(tmp, "synth.scm")
    with open(script, "w") as f:
        f.write("\n".join(lines) + "\n")
    out = subprocess.run(["festival", "-b", script], capture_output=True, text=True, check=True).stdout
    res: Dict[str, dict] = {j["tag"]: {"tokens": []} for j in jobs}
    for line in out.splitlines():
        parts = line.split("\t")
        if parts[0] == "TOK" and len(parts) == 3:
            res[parts[1]]["tokens"].append({"name": parts[2], "words": []})
        elif parts[0] == "W" and len(parts) == 5:
            start, end = float(parts[3]), float(parts[4])
            if end > 0:  # punctuation is a Word item without segments
                res[parts[1]]["tokens"][-1]["words"].append((parts[2], start, end))
    return res


def words_of(text: str, tokens: List[dict]) -> List[dict]:
    """Festival's spoken tokens matched one to one onto voicecue's words of ``text``."""
    spoken = [t for t in tokens if t["words"]]
    spans = tokenize(text)
    if len(spans) != len(spoken):
        raise ValueError("festival spoke %d tokens for %d words in %r: %s"
                         % (len(spoken), len(spans), text, [t["name"] for t in spoken]))
    out = []
    for (s, e), t in zip(spans, spoken):
        word = text[s:e]
        if word.replace("\u2019", "'") != t["name"]:
            raise ValueError("festival token %r is not the word %r in %r" % (t["name"], word, text))
        out.append({"word": word, "char_start": s, "char_end": e,
                    "start": round(t["words"][0][1], 4), "end": round(t["words"][-1][2], 4),
                    "spoken": [w for w, _, _ in t["words"]]})
    return out


# ---------------------------------------------------------------- audio
def read_wav(path: str) -> np.ndarray:
    import wave
    with wave.open(path, "rb") as w:
        assert w.getnchannels() == 1 and w.getsampwidth() == 2 and w.getframerate() == SR, path
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768


def write_wav(path: str, x: np.ndarray, sr: int = SR) -> None:
    import wave
    pcm = (np.clip(x, -1, 1) * 32767).round().astype("<i2")
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())


def speech_power(x: np.ndarray) -> float:
    """Mean power over the active 20 ms frames (within 40 dB of the loudest)."""
    n = len(x) // 320
    frames = x[: n * 320].reshape(n, 320)
    p = (frames ** 2).mean(axis=1)
    return float(p[p > p.max() * 1e-4].mean())


def mix_at_snr(x: np.ndarray, noise: np.ndarray, snr_db: float) -> np.ndarray:
    noise = noise[: len(x)]
    g = np.sqrt(speech_power(x) / (np.mean(noise ** 2) * 10 ** (snr_db / 10)))
    return x + g * noise


def colored_noise(rng: np.random.Generator, n: int, kind: str) -> np.ndarray:
    white = rng.standard_normal(n)
    if kind == "white":
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / SR)
    f[0] = f[1]
    if kind in ("pink", "hum"):
        spec /= np.sqrt(f)
    elif kind == "brown":
        spec /= f
    x = np.fft.irfft(spec, n)
    x /= x.std()
    if kind == "hum":  # mains hum and its harmonics on top of pink noise
        t = np.arange(n) / SR
        x += sum(1.5 / k * np.sin(2 * np.pi * 60 * k * t + rng.uniform(0, 6.3)) for k in (1, 2, 3, 5))
    return x


def room_response(rng: np.random.Generator, rt60: float = 0.8, drr_db: float = 2.0) -> np.ndarray:
    """A synthetic room impulse response: the direct path, then exponentially decaying noise
    (60 dB down after ``rt60`` s) starting 3 ms later, ``drr_db`` below the direct sound."""
    n = int(SR * rt60 * 1.25)
    t = np.arange(n) / SR
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    tail[: int(0.003 * SR)] = 0
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def convolve(x: np.ndarray, h: np.ndarray) -> np.ndarray:
    n = len(x) + len(h) - 1
    size = 1 << (n - 1).bit_length()
    y = np.fft.irfft(np.fft.rfft(x, size) * np.fft.rfft(h, size), size)[: len(x)]
    return y


def normalize(x: np.ndarray, peak: float = 0.9) -> np.ndarray:
    m = np.abs(x).max()
    return x * (peak / m) if m > 0 else x


def ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *args], check=True)


# ---------------------------------------------------------------- plan
def plan(limit: Optional[int], sets: Sequence[str]) -> List[dict]:
    rng = random.Random(SEED)
    voices = list(VOICES)
    items = []
    drawn = [0]  # files planned so far, kept or not: the voices do not depend on the filter

    def pick(k: int) -> str:
        return " ".join(rng.sample(SENTENCES, k))

    def add(set_name: str, condition: str, count: int, speeds=None) -> None:
        for i in range(count):
            text = pick(rng.choice((2, 3)))
            voice = voices[drawn[0] % len(voices)]
            drawn[0] += 1
            speed = speeds[i % len(speeds)] if speeds else 1.0
            if limit is not None and i >= limit or set_name not in sets:
                continue
            items.append({"id": "%s-%s-%02d" % (set_name, condition, i), "set": set_name,
                          "condition": condition, "voice": voice, "speed": speed, "text": text})

    # every set draws its texts in the same order whatever --sets or --limit say
    add("dev", "clean", 12)
    add("clean", "clean", 24)
    for kind in ("white", "pink", "brown", "hum"):
        add("noisy", kind, 6)
    add("hard", "rate", 8, speeds=[0.8, 1.3, 0.9, 1.2, 0.85, 1.1, 1.25, 0.95])
    for cond in ("reverb", "babble", "telephone", "mp3"):
        add("hard", cond, 8)
    return items


def build(out_root: Optional[str] = None, sets: Sequence[str] = ("dev", "clean", "noisy", "hard"),
          limit: Optional[int] = None) -> str:
    """Make the corpus (or reuse the cached one) and return its manifest's path."""
    with open(os.path.abspath(__file__), "rb") as f:
        version = hashlib.sha256(f.read()).hexdigest()[:12]
    out_root = out_root or os.environ.get("VOICECUE_CORPUS_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "voicecue", "corpus")
    key = "%s-%s%s" % (version, "+".join(sorted(sets)), "" if limit is None else "-limit%d" % limit)
    out = os.path.join(out_root, key)
    manifest = os.path.join(out, "manifest.json")
    if os.path.exists(manifest):
        return manifest
    os.makedirs(out_root, exist_ok=True)
    tmp_out = tempfile.mkdtemp(prefix=key + ".tmp-", dir=out_root)
    try:
        _build_into(tmp_out, version, sets, limit)
        try:
            os.rename(tmp_out, out)
        except OSError:  # another process made it meanwhile
            if not os.path.exists(manifest):
                raise
            shutil.rmtree(tmp_out, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp_out, ignore_errors=True)
        raise
    return manifest


def _build_into(out: str, version: str, sets: Sequence[str], limit: Optional[int]) -> None:
    items = plan(limit, sets)
    tmp = os.path.join(out, "tmp")
    os.makedirs(tmp)
    np_rng = np.random.default_rng(SEED)
    jobs = []
    for it in items:
        it["clean_path"] = os.path.join(tmp, it["id"] + ".clean.wav")
        jobs.append({"tag": it["id"], "text": it["text"], "voice": it["voice"],
                     "stretch": 1.0 / it["speed"], "path": it["clean_path"]})
    # babble: other talkers, other sentences
    babble_srcs = []
    if any(it["condition"] == "babble" for it in items):
        brng = random.Random(SEED + 1)
        for k in range(12):
            babble_srcs.append(os.path.join(tmp, "babble-%02d.wav" % k))
            jobs.append({"tag": "babble-%02d" % k, "text": " ".join(brng.sample(SENTENCES, 3)),
                         "voice": list(VOICES)[k % 3], "stretch": brng.uniform(0.9, 1.1),
                         "path": babble_srcs[-1]})
    spoken = synthesize(jobs, tmp)

    for it in items:
        it["words"] = words_of(it["text"], spoken[it["id"]]["tokens"])
        x = read_wav(it["clean_path"])
        set_dir = os.path.join(out, it["set"])
        os.makedirs(set_dir, exist_ok=True)
        audio = os.path.join(set_dir, it["id"] + ".wav")
        upload = audio
        cond = it["condition"]
        if cond in ("white", "pink", "brown", "hum"):
            snr = float(np_rng.uniform(10, 20))
            it["snr_db"] = round(snr, 1)
            x = normalize(mix_at_snr(x, colored_noise(np_rng, len(x), cond), snr))
        elif cond == "reverb":
            x = normalize(convolve(x, room_response(np_rng)))
            it["rt60_s"] = 0.8
        elif cond == "babble":
            talkers = np_rng.choice(len(babble_srcs), 4, replace=False)
            noise = np.zeros(len(x))
            for t in talkers:
                b = read_wav(babble_srcs[t])
                b = np.tile(b, len(x) // len(b) + 2)
                off = int(np_rng.integers(0, len(b) - len(x)))
                seg = b[off: off + len(x)]
                noise += seg / np.sqrt(np.mean(seg ** 2) + 1e-12)
            it["snr_db"] = 10.0
            x = normalize(mix_at_snr(x, noise, 10.0))
        else:
            x = normalize(x)
        if cond == "telephone":
            src = os.path.join(tmp, it["id"] + ".src.wav")
            write_wav(src, x)
            upload = os.path.join(set_dir, it["id"] + ".mulaw.wav")
            ffmpeg("-i", src, "-af", "highpass=f=300,highpass=f=300,lowpass=f=3400,lowpass=f=3400",
                   "-ar", "8000", "-c:a", "pcm_mulaw", upload)
            ffmpeg("-i", upload, "-ar", str(SR), "-c:a", "pcm_s16le", audio)
        elif cond == "mp3":
            src = os.path.join(tmp, it["id"] + ".src.wav")
            write_wav(src, x)
            upload = os.path.join(set_dir, it["id"] + ".mp3")
            ffmpeg("-i", src, "-c:a", "libmp3lame", "-b:a", "64k", upload)
            ffmpeg("-i", upload, "-ar", str(SR), "-ac", "1", "-c:a", "pcm_s16le", audio)
        else:
            write_wav(audio, x)
        with open(audio, "rb") as f:
            n = (os.fstat(f.fileno()).st_size - 44) // 2
        it["duration"] = round(n / SR, 4)
        it["audio"] = os.path.relpath(audio, out)
        it["upload"] = os.path.relpath(upload, out)
        del it["clean_path"]
    shutil.rmtree(tmp)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"version": version, "sample_rate": SR, "items": items}, f, indent=1)


def load(manifest: str) -> List[dict]:
    """The manifest's items with ``audio`` and ``upload`` as absolute paths."""
    base = os.path.dirname(manifest)
    with open(manifest) as f:
        items = json.load(f)["items"]
    for it in items:
        it["audio"] = os.path.join(base, it["audio"])
        it["upload"] = os.path.join(base, it["upload"])
    return items


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out")
    ap.add_argument("--sets", default="dev,clean,noisy,hard")
    ap.add_argument("--limit", type=int)
    args = ap.parse_args()
    print(build(args.out, [s for s in args.sets.split(",") if s], args.limit))
    return 0


if __name__ == "__main__":
    sys.exit(main())
