#!/usr/bin/env python3
"""Speech with exact word times, from Festival (a synthesizer other than espeak), for the
aligner tests and bench/align.mjs.

    python3 bench/festival_words.py OUT_DIR NAME "text" [--voice kal_diphone] [--speed 1.0]

writes OUT_DIR/NAME.wav (16-bit mono, the voice's rate) and OUT_DIR/NAME.json:
{"text", "voice", "sample_rate", "duration", "words": [{"word", "start", "end", "char_start",
"char_end"}]}, one entry per Festival token that was spoken (a number's words are one token:
"1987" runs from the start of "nineteen" to the end of "seven"), with its span among voicecue's
words of the text when the two agree. The times are Festival's own segment times: the truth.

    python3 bench/festival_words.py --corpus OUT_DIR

writes a small corpus (two voices, clean and with pink noise at 10 dB SNR) and its
OUT_DIR/manifest.json in the shape bench/corpus/make.py writes (bench/align.mjs reads either).
Needs festival with its kal and ked voices (apt-get install festival festvox-kallpc16k
festvox-kdlpc16k); the noisy set needs numpy.
"""

import json
import os
import subprocess
import sys
import tempfile
import wave

SCHEME = r"""
(%(voice)s)
(Parameter.set 'Duration_Stretch %(stretch)s)
(set! utt (utt.synth (eval (list 'Utterance 'Text (read-from-string-file "%(text_file)s")))))
(utt.save.wave utt "%(wav)s" 'riff)
(set! n 0)
(mapcar (lambda (tok) (if (not (item.parent tok)) (begin (item.set_feat tok "topidx" n) (set! n (+ n 1)))))
        (utt.relation.items utt 'Token))
(mapcar (lambda (s)
          (format t "S\t%%s\t%%s\t%%s\t%%s\n" (item.name s) (item.feat s "end")
                  (item.feat s "R:SylStructure.parent.parent.R:Token.parent.topidx")
                  (item.feat s "R:SylStructure.parent.parent.name")))
        (utt.relation.items utt 'Segment))
(mapcar (lambda (tok) (if (not (item.parent tok)) (format t "T\t%%s\t%%s\n" (item.feat tok "topidx") (item.name tok))))
        (utt.relation.items utt 'Token))
"""

READ_FILE = r"""
(define (read-from-string-file f)
  (let ((fd (fopen f "r")) (s ""))
    (set! s (readfp fd)) (fclose fd) s))
"""


def synthesize(text: str, wav_path: str, voice: str = "kal_diphone", speed: float = 1.0) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        text_file = os.path.join(tmp, "text.scm")
        with open(text_file, "w", encoding="utf-8") as f:
            f.write(json.dumps(text))  # a Scheme string literal: readfp reads it back
        script = os.path.join(tmp, "run.scm")
        with open(script, "w", encoding="utf-8") as f:
            f.write(READ_FILE)
            f.write(SCHEME % {"voice": "voice_" + voice, "stretch": 1.0 / speed, "text_file": text_file, "wav": wav_path})
        out = subprocess.run(["festival", "-b", script], capture_output=True, text=True, check=True).stdout
    tokens, segs = {}, []
    for line in out.splitlines():
        parts = line.split("\t")
        if parts[0] == "T" and len(parts) == 3:
            tokens[int(parts[1])] = parts[2]
        elif parts[0] == "S" and len(parts) == 5:
            segs.append((parts[1], float(parts[2]), int(float(parts[3])), parts[4] != "0"))
    words, prev_end, last_tok = {}, 0.0, None
    for name, end, tok, has_word in segs:
        if not has_word:  # a segment of no word (a linking "r" the post-lexical rules add)
            tok = last_tok
        last_tok = tok
        if name != "pau" and tok is not None:
            if tok not in words:
                words[tok] = [prev_end, end]
            words[tok][1] = end
        prev_end = end
    with wave.open(wav_path) as w:
        sr, n = w.getframerate(), w.getnframes()
    out = [{"word": tokens.get(k, ""), "start": round(s, 4), "end": round(e, 4)} for k, (s, e) in sorted(words.items())]
    spans = _spans(text)
    if len(spans) == len(out):
        for w, (a, b) in zip(out, spans):
            w["char_start"], w["char_end"] = a, b
    return {"text": text, "voice": voice, "sample_rate": sr, "duration": round(n / sr, 4), "words": out}


def _spans(text):
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "worker-py"))
    from voicecue_worker.text import tokenize
    return tokenize(text)


SENTENCES = [
    "The old lighthouse keeper climbed the stairs every evening, carrying a lamp and a thermos of tea.",
    "In 1987, the city council voted to rebuild the harbor, but the money ran out two years later.",
    "Please send the package to our office before Friday; we close early for the holiday.",
    "She studied the map carefully. The river bent twice before it reached the sea, and the road followed it.",
    "Twenty three students signed up for the course, although only nine of them finished it.",
    "Bring your boots and a warm coat. The forecast says it will snow on Tuesday night.",
    "My grandfather repaired clocks for a living, and his workshop smelled of oil and brass.",
    "The committee reviewed forty proposals and selected three for further study.",
    "When the music stopped, everyone turned toward the door, waiting for the speaker to arrive.",
    "A small boat drifted past the pier. Nobody on the shore seemed to notice it at all.",
    "Our train left the station at seven fifteen and arrived in the capital just after noon.",
    "Water boils at one hundred degrees at sea level, but at lower temperatures in the mountains.",
]


def corpus(out_dir: str) -> str:
    """The small corpus and its manifest (reused when already there); returns the manifest's path."""
    manifest = os.path.join(out_dir, "manifest.json")
    if os.path.exists(manifest):
        return manifest
    os.makedirs(os.path.join(out_dir, "audio"), exist_ok=True)
    items = []
    for i, text in enumerate(SENTENCES):
        for voice in ("kal_diphone", "ked_diphone"):
            name = "s%02d_%s" % (i, voice.split("_")[0])
            path = os.path.join(out_dir, "audio", name + ".wav")
            t = synthesize(text, path, voice)
            if not all("char_start" in w for w in t["words"]):
                continue  # Festival's tokens and voicecue's words disagree: no truth per word
            items.append({"id": name, "set": "clean", "condition": "clean", "voice": voice, "audio": "audio/%s.wav" % name,
                          "duration": t["duration"], "text": text, "words": t["words"]})
    try:
        import numpy as np
    except ImportError:
        np = None
    if np is not None:
        rng = np.random.default_rng(20261202)
        for it in list(items):
            with wave.open(os.path.join(out_dir, it["audio"])) as w:
                sr, x = w.getframerate(), np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64)
            frames = x[: len(x) // 160 * 160].reshape(-1, 160)
            energy = (frames ** 2).mean(axis=1)
            power = energy[energy > np.median(energy)].mean()
            spec = np.fft.rfft(rng.standard_normal(len(x)))
            spec /= np.sqrt(np.arange(1, len(spec) + 1))  # pink: power falls as 1/f
            noise = np.fft.irfft(spec, len(x))
            noise *= np.sqrt(power / (noise ** 2).mean() / 10.0)  # 10 dB SNR over the speech
            y = np.clip(x + noise, -32768, 32767).astype("<i2")
            rel = it["audio"].replace(".wav", "-noisy.wav")
            with wave.open(os.path.join(out_dir, rel), "wb") as w:
                w.setnchannels(1), w.setsampwidth(2), w.setframerate(sr)
                w.writeframes(y.tobytes())
            items.append(dict(it, id=it["id"] + "-noisy", set="noisy", condition="pink 10 dB", audio=rel))
    with open(manifest + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"version": "festival_words", "items": items}, f, indent=1)
    os.replace(manifest + ".tmp", manifest)
    return manifest


def main(argv):
    import argparse
    if argv[:1] == ["--corpus"] and len(argv) == 2:
        print(corpus(argv[1]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("out_dir")
    ap.add_argument("name")
    ap.add_argument("text")
    ap.add_argument("--voice", default="kal_diphone")
    ap.add_argument("--speed", type=float, default=1.0)
    a = ap.parse_args(argv)
    os.makedirs(a.out_dir, exist_ok=True)
    truth = synthesize(a.text, os.path.join(a.out_dir, a.name + ".wav"), a.voice, a.speed)
    with open(os.path.join(a.out_dir, a.name + ".json"), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1, ensure_ascii=False)
    print("%s: %.2f s, %d words" % (a.name, truth["duration"], len(truth["words"])))


if __name__ == "__main__":
    main(sys.argv[1:])
