// Measures renderSubtitles for a 2000-word word list: all six formats, and each format alone.
// Runs on the compiled output:
//   npx tsc -p tsconfig.build.json && node bench/subtitles.mjs
// Prints the median of RUNS timed runs after WARMUP untimed ones (target: all six ≤ 20 ms).
import { performance } from 'node:perf_hooks';
import { renderSubtitles, FORMAT_NAMES } from '../dist/src/subtitles/index.js';

const WORDS = 2000;
const WARMUP = 30;
const RUNS = 20;

// A deterministic text with commas, sentence ends, a little non-ASCII, and plausible timings.
const VOCAB = ('the quick brown fox jumps over lazy dog while seven bright singers carry their morning songs ' +
  'across a wide valley where rivers meet old stone bridges and children count passing clouds ' +
  'café naïve "quoted" {braces} extraordinary international responsibility').split(' ');
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);

function wordList(count) {
  const pieces = [];
  for (let i = 0; i < count; i++) {
    const r = random();
    pieces.push(VOCAB[Math.floor(random() * VOCAB.length)] + (r < 0.07 ? '.' : r < 0.15 ? ',' : ''));
  }
  const text = pieces.join(' ');
  const words = [];
  let at = 0;
  let t = 0.1;
  for (const piece of pieces) {
    const word = piece.replace(/[.,]$/, '');
    const len = [...word].length;
    const dur = Math.max(0.08, len * 0.06);
    words.push({ word, start: Math.round(t * 1000) / 1000, end: Math.round((t + dur) * 1000) / 1000,
      char_start: at, char_end: at + len, source: 'espeak', confidence: null });
    t += dur + (piece.endsWith('.') ? 0.5 : piece.endsWith(',') ? 0.2 : 0.04);
    at += [...piece].length + 1;
  }
  return { words, text, duration: t + 0.3 };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function measure(timing_format, input) {
  for (let i = 0; i < WARMUP; i++) renderSubtitles(input.words, { timing_format }, input);
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    renderSubtitles(input.words, { timing_format }, input);
    times.push(performance.now() - t0);
  }
  return { median: median(times), min: Math.min(...times), max: Math.max(...times) };
}

const input = wordList(WORDS);
const { cues, files } = renderSubtitles(input.words, {}, input);
const bytes = Object.values(files).reduce((n, f) => n + Buffer.byteLength(f), 0);
console.log(`subtitles: ${WORDS} words, ${cues.length} cues, ${(bytes / 1024).toFixed(0)} KiB in ${FORMAT_NAMES.length} files; ` +
  `median of ${RUNS} runs after ${WARMUP} warmup (node ${process.version})`);
for (const format of ['all', ...FORMAT_NAMES]) {
  const r = measure(format, input);
  console.log(`  ${format.padEnd(4)} median ${r.median.toFixed(2)} ms  (min ${r.min.toFixed(2)}, max ${r.max.toFixed(2)})`);
}
