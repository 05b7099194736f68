#!/usr/bin/env python3
"""Speech with exact word times, from Festival (a synthesizer other than espeak), for the
aligner tests and bench/align.mjs.

    python3 bench/festival_words.py OUT_DIR NAME "text" [--voice kal_diphone] [--speed 1.0]

writes OUT_DIR/NAME.wav (16-bit mono, the voice's rate) and OUT_DIR/NAME.json:
{"text", "voice", "sample_rate", "duration", "words": [{"word", "start", "end"}]}, one entry per
Festival token that was spoken (a number's words are one token: "1987" runs from the start of
"nineteen" to the end of "seven"). The times are Festival's own segment times: the truth.
Needs the festival package (apt-get install festival festvox-kallpc16k).
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
    return {
        "text": text, "voice": voice, "sample_rate": sr, "duration": round(n / sr, 4),
        "words": [{"word": tokens.get(k, ""), "start": round(s, 4), "end": round(e, 4)} for k, (s, e) in sorted(words.items())],
    }


def main(argv):
    import argparse
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
