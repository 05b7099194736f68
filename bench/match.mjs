// Measures matchWords (the google aligner's matching of recognised words back onto our text) for
// the largest text a request may have: 3500 words (~20000 characters) with numbers and symbols,
// one word in ten missed by the recogniser and "2025" heard as words. It runs on the gateway's
// event loop, once per google request. Runs on the compiled output:
//   npx tsc -p tsconfig.build.json && node bench/match.mjs
// Prints the median of RUNS timed runs after WARMUP untimed ones.
import { performance } from 'node:perf_hooks';
import { matchWords } from '../dist/src/aligners/match.js';

const WORDS = 3500;
const WARMUP = 2;
const RUNS = 7;
const VOCAB = ['the', 'year', '2025', 'cost', '$4.50', 'up', '12%', 'on', 'last', 'voicecue', 'hello', 'world'];

const words = Array.from({ length: WORDS }, (_, i) => VOCAB[(i * 7) % VOCAB.length]);
const text = words.join(' ');
let pos = 0;
const ours = words.map((w) => {
  const start = pos;
  pos += [...w].length + 1;
  return { char_start: start, char_end: start + [...w].length };
});
const heard = words
  .filter((_, i) => i % 10 !== 3)
  .map((w, i) => ({ word: w === '2025' ? 'twenty twenty five' : w, start: i * 0.3, end: i * 0.3 + 0.2, confidence: 0.9 }));

for (let i = 0; i < WARMUP; i++) matchWords(text, ours, heard, WORDS, 'google');
const times = [];
for (let i = 0; i < RUNS; i++) {
  const t0 = performance.now();
  matchWords(text, ours, heard, WORDS, 'google');
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
console.log(`matchWords, ${WORDS} words (${text.length} characters), 10% missed: median ${times[RUNS >> 1].toFixed(1)} ms (runs ${times.map((t) => t.toFixed(0)).join(' ')})`);
