/**
 * Recognised words (a speech recogniser's, with times) matched back onto the words of OUR text, so
 * subtitles show what the client wrote: "2025" stays "2025" whether the recogniser heard "2025" or
 * "twenty twenty five". Both sides are normalised into spoken tokens (lower case, digit runs read
 * out in English, $ % & @ # as words), aligned by edit distance, and each of our words takes the
 * times of the recognised words its tokens met. Words the recogniser missed are interpolated from
 * their neighbours (source "interpolated"), never left untimed or invented from nothing.
 */
import type { Word } from '../types.js';

export interface Recognised {
  word: string;
  start: number;
  end: number;
  confidence: number | null;
}

export interface OurWord {
  char_start: number;
  char_end: number;
}

const ONES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten', 'eleven', 'twelve',
  'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];
const SCALES: [number, string][] = [[1e9, 'billion'], [1e6, 'million'], [1e3, 'thousand'], [100, 'hundred']];
const SYMBOLS: Record<string, string> = { '$': 'dollars', '€': 'euros', '£': 'pounds', '%': 'percent', '&': 'and', '@': 'at', '#': 'number', '+': 'plus' };

/** English cardinal words of a whole number (digit by digit past a trillion, or with a leading zero). */
export function numberWords(digits: string): string[] {
  if (digits.length > 12 || (digits.length > 1 && digits.startsWith('0'))) return [...digits].map((d) => ONES[Number(d)]!);
  const say = (n: number): string[] => {
    if (n < 20) return [ONES[n]!];
    if (n < 100) return [TENS[Math.floor(n / 10)]!, ...(n % 10 ? [ONES[n % 10]!] : [])];
    for (const [value, name] of SCALES) {
      if (n >= value) {
        const rest = n % value;
        return [...say(Math.floor(n / value)), name, ...(rest ? say(rest) : [])];
      }
    }
    return [];
  };
  return say(Number(digits));
}

/** The spoken tokens of one written word. */
export function spokenTokens(word: string): string[] {
  const out: string[] = [];
  for (const m of word.toLowerCase().normalize('NFKD').matchAll(/\p{L}+|\p{N}+|[$€£%&@#+]/gu)) {
    const piece = m[0];
    if (/^[0-9]+$/.test(piece)) out.push(...numberWords(piece));
    else if (SYMBOLS[piece]) out.push(SYMBOLS[piece]);
    else out.push(piece.replace(/\p{M}/gu, ''));
  }
  return out.filter(Boolean);
}

/**
 * Pairs of (our token, their token) from an edit-distance alignment, computed inside a band around
 * the diagonal so a long text stays linear in memory. Tokens are compared as interned numbers:
 * the same token costs 0, a near spelling ("colour"/"color": same first three letters) 0.6.
 */
function alignTokens(a: string[], b: string[]): [number, number][] {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return [];
  const ids = new Map<string, number>();
  const intern = (tok: string) => ids.get(tok) ?? (ids.set(tok, ids.size), ids.size - 1);
  const prefix = (tok: string) => (tok.length >= 3 ? intern(`\u0000${tok.slice(0, 3)}`) : -1 - intern(tok));
  const A = Int32Array.from(a, intern);
  const B = Int32Array.from(b, intern);
  const PA = Int32Array.from(a, prefix);
  const PB = Int32Array.from(b, prefix);
  const band = Math.max(64, Math.abs(n - m) + 64, Math.ceil(Math.max(n, m) * 0.1));
  const width = 2 * band + 1;
  const lo = (i: number) => Math.max(0, Math.round((i * m) / n) - band);
  const back = new Uint8Array((n + 1) * width); // 1 diagonal, 2 up (skip ours), 3 left (skip theirs)
  let prev = new Float64Array(width).fill(Infinity);
  let cur = new Float64Array(width);
  const j0 = lo(0);
  for (let k = 0; k < width; k++) {
    const j = j0 + k;
    if (j <= m) {
      prev[k] = j;
      back[k] = 3;
    }
  }
  for (let i = 1; i <= n; i++) {
    const base = lo(i);
    const pbase = lo(i - 1);
    cur.fill(Infinity);
    for (let k = 0; k < width; k++) {
      const j = base + k;
      if (j > m) break;
      const up = j - pbase >= 0 && j - pbase < width ? prev[j - pbase]! + 1 : Infinity;
      let best = up;
      let how = 2;
      if (j > 0) {
        const d = j - 1 - pbase;
        const cost = A[i - 1] === B[j - 1] ? 0 : PA[i - 1] === PB[j - 1] ? 0.6 : 1;
        const diag = d >= 0 && d < width ? prev[d]! + cost : Infinity;
        if (diag <= best) {
          best = diag;
          how = 1;
        }
        const left = k > 0 ? cur[k - 1]! + 1 : Infinity;
        if (left < best) {
          best = left;
          how = 3;
        }
      }
      cur[k] = best;
      back[i * width + k] = how;
    }
    [prev, cur] = [cur, prev];
  }
  const pairs: [number, number][] = [];
  let i = n;
  let j = m;
  while (i > 0 && j > 0) {
    const k = j - lo(i);
    const how = k >= 0 && k < width ? back[i * width + k] : 2;
    if (how === 1) {
      pairs.push([i - 1, j - 1]); // a substitution too: a misheard word still sits where ours was said
      i--;
      j--;
    } else if (how === 3) j--;
    else i--;
  }
  return pairs.reverse();
}

/**
 * Our words (text and spans) timed from the recognised words; null when not one recognised word
 * met one of ours (then nothing can be said about the times).
 */
export function matchWords(text: string, ours: readonly OurWord[], heard: readonly Recognised[], duration: number, source: string): Word[] | null {
  const chars = [...text]; // spans are code points
  const a: string[] = [];
  const aOwner: number[] = [];
  ours.forEach((w, i) => {
    for (const tok of spokenTokens(chars.slice(w.char_start, w.char_end).join(''))) {
      a.push(tok);
      aOwner.push(i);
    }
  });
  const b: string[] = [];
  const bOwner: number[] = [];
  heard.forEach((w, i) => {
    for (const tok of spokenTokens(w.word)) {
      b.push(tok);
      bOwner.push(i);
    }
  });
  const pairs = alignTokens(a, b);
  // Each of our words takes the recognised words its tokens were paired with, exact pairs first.
  const got: Set<number>[] = ours.map(() => new Set<number>());
  let exact = 0;
  for (const [x, y] of pairs) {
    if (a[x] === b[y]) exact++;
    got[aOwner[x]!]!.add(bOwner[y]!);
  }
  if (exact === 0) return null;
  const times: ([number, number, number | null] | null)[] = got.map((set) => {
    if (set.size === 0) return null;
    const ws = [...set].map((k) => heard[k]!);
    const confs = ws.map((w) => w.confidence).filter((c): c is number => c !== null);
    return [Math.min(...ws.map((w) => w.start)), Math.max(...ws.map((w) => w.end)), confs.length ? confs.reduce((s, c) => s + c, 0) / confs.length : null];
  });
  // Several of ours on one recognised word ("rock-n-roll" heard as one): share it by length.
  for (let i = 0; i < times.length;) {
    let j = i + 1;
    while (j < times.length && times[i] && times[j] && times[j]![0] === times[i]![0] && times[j]![1] === times[i]![1]) j++;
    if (j - i > 1) {
      const [s, e, c] = times[i]!;
      const parts = splitByLength(ours.slice(i, j), s, e);
      for (let k = i; k < j; k++) times[k] = [parts[k - i]![0], parts[k - i]![1], c];
    }
    i = j;
  }
  return finish(chars, ours, times, duration, source);
}

function splitByLength(spans: readonly OurWord[], s: number, e: number): [number, number][] {
  const lens = spans.map((w) => Math.max(1, w.char_end - w.char_start));
  const total = lens.reduce((x, y) => x + y, 0);
  let acc = 0;
  let pos = s;
  return lens.map((len) => {
    acc += len;
    const next = s + ((e - s) * acc) / total;
    const part: [number, number] = [pos, next];
    pos = next;
    return part;
  });
}

/** Untimed words interpolated between their neighbours; then ms times, in order, inside the audio. */
function finish(chars: string[], ours: readonly OurWord[], times: ([number, number, number | null] | null)[], duration: number, source: string): Word[] {
  const n = ours.length;
  const bounds: [number, number][] = times.map((t) => (t ? [t[0], t[1]] : [0, 0]));
  // Overlaps between neighbours (a recogniser word given to two of ours) are cut at the later start.
  for (let i = 1; i < n; i++) if (times[i] && times[i - 1] && bounds[i - 1]![1] > bounds[i]![0]) bounds[i - 1]![1] = Math.max(bounds[i - 1]![0], bounds[i]![0]);
  for (let i = 0; i < n;) {
    if (times[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < n && !times[j]) j++;
    const prev = i - 1;
    const next = j < n ? j : -1;
    let lo = prev >= 0 ? bounds[prev]![1] : 0;
    let hi = next >= 0 ? bounds[next]![0] : duration;
    if (hi - lo < 0.02 * (j - i)) { // no room between the neighbours: each gives up half of its time
      if (prev >= 0) lo = bounds[prev]![1] = (bounds[prev]![0] + bounds[prev]![1]) / 2;
      if (next >= 0) hi = bounds[next]![0] = Math.max(hi, (bounds[next]![0] + bounds[next]![1]) / 2);
      hi = Math.max(hi, lo);
    }
    splitByLength(ours.slice(i, j), lo, hi).forEach((b, k) => (bounds[i + k] = b));
    i = j;
  }
  const total = Math.floor(duration * 1000);
  const starts = bounds.map((b) => Math.max(0, Math.min(Math.round(b[0] * 1000), total)));
  const ends = bounds.map((b) => Math.max(0, Math.min(Math.round(b[1] * 1000), total)));
  for (let i = 1; i < n; i++) if (starts[i]! <= starts[i - 1]!) starts[i] = starts[i - 1]! + 1;
  for (let i = n - 1; i >= 0; i--) if (starts[i]! > total - (n - i)) starts[i] = Math.max(0, total - (n - i));
  return ours.map((w, i) => {
    const next = i + 1 < n ? starts[i + 1]! : total;
    const end = Math.min(Math.max(ends[i]!, starts[i]! + 1), Math.max(next, starts[i]! + 1));
    const t = times[i];
    return {
      word: chars.slice(w.char_start, w.char_end).join(''),
      start: starts[i]! / 1000,
      end: end / 1000,
      char_start: w.char_start,
      char_end: w.char_end,
      source: t ? source : 'interpolated',
      confidence: t && t[2] !== null ? Math.round(Math.max(0, Math.min(1, t[2])) * 1000) / 1000 : null,
    };
  });
}
