import type { Word } from '../types.js';
import { assSpan, toMs } from './time.js';
import { endsClause, endsSentence, tokenize, type Token } from './tokens.js';
import { frameRate } from './timing.js';

/** Cue-building options, in seconds as the API gives them; see subtitleOptionsSchema. */
export interface CueOptions {
  max_chars_per_line: number;
  max_lines: number;
  max_cue_duration: number;
  /** Frames are the shortest cue; at 25 fps when none is given. */
  fps?: number | undefined;
  pause_threshold: number;
}

export const CUE_DEFAULTS: CueOptions = {
  max_chars_per_line: 42,
  max_lines: 2,
  max_cue_duration: 7,
  pause_threshold: 0.4,
};

/** A word's times in integer milliseconds, clamped to the audio. */
export interface WordTime {
  start_ms: number;
  end_ms: number;
}

/** One shown word of a cue: its text and what separates it from the previous part. */
export interface CuePart extends WordTime {
  /** Index into the word list. */
  word: number;
  text: string;
  /** '' for the first part and inside CJK, ' ' between words, '\n' at a line break. */
  sep: '' | ' ' | '\n';
}

export interface Cue {
  /** 1-based, as SRT numbers cues. */
  index: number;
  start_ms: number;
  end_ms: number;
  /** Half-open range of word indices the cue shows. */
  word_start: number;
  word_end: number;
  parts: CuePart[];
  /** The plain text, lines joined by '\n'. */
  text: string;
  lines: string[];
}

/** Words' times as integer ms inside [0, duration], end never before start. */
export function wordTimes(words: readonly Word[], durationMs: number): WordTime[] {
  return words.map((w) => {
    const start_ms = Math.min(Math.max(toMs(w.start), 0), durationMs);
    return { start_ms, end_ms: Math.min(Math.max(toMs(w.end), start_ms), durationMs) };
  });
}

/** The audio duration in ms; when unknown (not a positive number) the last word's end. */
export function audioMs(duration: number, words: readonly Word[]): number {
  const ms = toMs(duration);
  if (ms > 0) return ms;
  return words.reduce((max, w) => Math.max(max, toMs(w.end)), 0);
}

/**
 * The shortest cue: one video frame, and never under 20 ms so a cue keeps at least one
 * centisecond on the ASS grid after rounding. (min_cue_duration is a display rule: timing.ts.)
 */
export function minCueMs(o: Pick<CueOptions, 'fps'>): number {
  return Math.max(Math.ceil(1000 / frameRate(o.fps)), 20);
}

// Costs for choosing cue boundaries inside a phrase (lower is better). As broadcast practice and
// the issue order them: a break after a comma beats a break between plain words, even at the
// price of one more cue ("…on television, | which was, by any measure, | an extraordinary…"
// rather than "…on television, which | was, by any measure…"); then fewer cues; then cues of
// similar length.
const COST_CUE = 10_000;
const COST_PLAIN_BREAK = 15_000;
const COST_TOO_SHORT = 10_000_000;
const PUNCTUATION_END = /\p{P}$/u;

/**
 * Builds cues from words: sentence ends and pauses longer than pause_threshold always start a new
 * cue; a phrase that does not fit (lines x chars, max duration) is split where it costs least,
 * preferring commas, then balanced lengths. Lines are balanced; no cue overlaps the next or ends
 * after the audio; each lasts at least a frame (where the audio allows) and at most
 * max_cue_duration (a single word spoken for longer is cut at that length). Every shown word is in
 * exactly one cue: words with no time of their own join a neighbouring cue, past its limits.
 */
export function buildCues(
  words: readonly Word[],
  ctx: { duration: number; text?: string | undefined },
  options: Partial<CueOptions> = {},
): Cue[] {
  const o: CueOptions = { ...CUE_DEFAULTS, ...options };
  const durationMs = audioMs(ctx.duration, words);
  const times = wordTimes(words, durationMs);
  const tokens = tokenize(words, ctx.text);
  const n = tokens.length;
  if (n === 0 || durationMs === 0) return [];

  const maxMs = toMs(o.max_cue_duration);
  const minMs = Math.min(minCueMs(o), maxMs);
  const pauseMs = toMs(o.pause_threshold);
  const clause = tokens.map((t) => endsClause(t.text));
  const start = tokens.map((t) => times[t.word]!.start_ms);
  const end = tokens.map((t) => times[t.word]!.end_ms);
  // A cue may grow into the silence after it, up to the next word (or the end of the audio).
  const nextStart = (j: number) => (j < n ? start[j]! : durationMs);

  // 1. Phrases: hard breaks after sentence ends and long pauses.
  const phrases: [number, number][] = [];
  let from = 0;
  for (let i = 0; i < n; i++) {
    if (i === n - 1 || endsSentence(tokens[i]!.text) || start[i + 1]! - end[i]! > pauseMs) {
      phrases.push([from, i + 1]);
      from = i + 1;
    }
  }
  // A phrase with less than a frame to show in ("Oh." said in 10 ms) joins its neighbour.
  for (let k = 0; k < phrases.length && phrases.length > 1; ) {
    const [a, b] = phrases[k]!;
    if (nextStart(b) - start[a]! >= minMs) {
      k++;
    } else if (k > 0) {
      phrases[k - 1]![1] = b;
      phrases.splice(k, 1);
    } else {
      phrases[1]![0] = a;
      phrases.splice(0, 1);
    }
  }

  // 2. Inside each phrase, the cheapest split into cues that fit (dynamic programming).
  const ranges: [number, number][] = [];
  for (const [a, b] of phrases) {
    const best = new Array<number>(b - a + 1).fill(Infinity);
    const back = new Array<number>(b - a + 1).fill(a);
    best[0] = 0;
    for (let i = a; i < b; i++) {
      const base = best[i - a]!;
      if (base === Infinity) continue;
      let lines = 1;
      let lineWidth = 0;
      let width = 0;
      for (let j = i; j < b; j++) {
        const t = tokens[j]!;
        const sep = j > i && tokens[j - 1]!.space ? 1 : 0;
        // Greedy filling gives the fewest lines, and can be extended one token at a time.
        if (j === i) {
          lineWidth = t.width;
        } else if (lineWidth + sep + t.width <= o.max_chars_per_line) {
          lineWidth += sep + t.width;
        } else {
          lines += 1;
          lineWidth = t.width;
        }
        width += sep + t.width;
        // One token always makes a cue, however long; more must fit the limits.
        if (j > i && (lines > o.max_lines || end[j]! - start[i]! > maxMs)) break;
        const cost =
          base + COST_CUE + width * width +
          (j + 1 < b && !clause[j] ? COST_PLAIN_BREAK : 0) +
          (nextStart(j + 1) - start[i]! < minMs ? COST_TOO_SHORT : 0);
        if (cost < best[j + 1 - a]!) {
          best[j + 1 - a] = cost;
          back[j + 1 - a] = i;
        }
      }
    }
    const cut: [number, number][] = [];
    for (let j = b; j > a; j = back[j - a]!) cut.push([back[j - a]!, j]);
    ranges.push(...cut.reverse());
  }

  // 3. Times: words' span, cut at max, stretched to the minimum into the silence around it.
  const placed: { a: number; b: number; s: number; e: number }[] = [];
  let prevEnd = 0;
  let carried = -1; // first token of a range that had no room, shown with the next one
  for (let k = 0; k < ranges.length; k++) {
    const a = carried >= 0 ? carried : ranges[k]![0];
    const b = ranges[k]![1];
    const limit = Math.min(k + 1 < ranges.length ? start[ranges[k + 1]![0]]! : durationMs, durationMs);
    let s = Math.max(start[a]!, prevEnd);
    let e = Math.min(Math.max(end[b - 1]!, s), s + maxMs, limit);
    if (e - s < minMs) e = Math.min(s + minMs, limit);
    if (e - s < minMs) s = Math.max(e - minMs, prevEnd, 0);
    // Squeezed below a centisecond on ASS's grid (many words at one instant, words 1 ms apart):
    // the words join the next cue, or the last cue, rather than vanish from a format or all.
    const [startCs, endCs] = assSpan(s, e, durationMs);
    if (endCs <= startCs) {
      if (k + 1 < ranges.length) carried = a;
      else if (placed.length > 0) placed[placed.length - 1]!.b = b;
      // else: audio under a centisecond, where no cue can show
      continue;
    }
    carried = -1;
    placed.push({ a, b, s, e });
    prevEnd = e;
  }

  const cues: Cue[] = [];
  for (const { a, b, s, e } of placed) {
    const seps = layout(tokens.slice(a, b), o.max_chars_per_line);
    const parts: CuePart[] = [];
    let text = '';
    for (let i = a; i < b; i++) {
      const t = tokens[i]!;
      const sep = seps[i - a]!;
      parts.push({ word: t.word, text: t.text, sep, start_ms: start[i]!, end_ms: end[i]! });
      text += sep + t.text;
    }
    cues.push({
      index: cues.length + 1,
      start_ms: s,
      end_ms: e,
      word_start: tokens[a]!.word,
      word_end: tokens[b - 1]!.word + 1,
      parts,
      text,
      lines: text.split('\n'),
    });
  }
  return cues;
}

/**
 * Breaks a cue's tokens into as few lines as greedy filling needs, then places the breaks so
 * lines are of similar length (least sum of squared widths), with a bonus for breaking after
 * punctuation. On a tie the earlier break wins, so the bottom line is the longer.
 * A token wider than a line gets a line of its own and overflows it (words are never cut).
 * Returns the separator before each token.
 */
function layout(tokens: readonly Token[], maxChars: number): CuePart['sep'][] {
  const m = tokens.length;
  // width(p, q): tokens p..q-1 on one line.
  const prefix = [0];
  for (let i = 0; i < m; i++) {
    prefix.push(prefix[i]! + tokens[i]!.width + (i + 1 < m && tokens[i]!.space ? 1 : 0));
  }
  const lineWidth = (p: number, q: number) => prefix[q]! - prefix[p]! - (tokens[q - 1]!.space && q < m ? 1 : 0);
  const fits = (p: number, q: number) => q - p === 1 || lineWidth(p, q) <= maxChars;

  let lines = 1;
  for (let p = 0, q = 1; q < m; q++) {
    if (!fits(p, q + 1)) {
      lines += 1;
      p = q;
    }
  }
  const sepBefore = (i: number) => (i === 0 ? '' : tokens[i - 1]!.space ? ' ' : '');
  if (lines === 1) return tokens.map((_, i) => sepBefore(i));

  // best[l][q]: cheapest way to put tokens 0..q-1 on l lines.
  const best = Array.from({ length: lines + 1 }, () => new Array<number>(m + 1).fill(Infinity));
  const back = Array.from({ length: lines + 1 }, () => new Array<number>(m + 1).fill(0));
  best[0]![0] = 0;
  const bonus = maxChars * 4;
  for (let l = 1; l <= lines; l++) {
    for (let q = 1; q <= m; q++) {
      for (let p = q - 1; p >= l - 1 && fits(p, q); p--) {
        const w = lineWidth(p, q);
        const cost = best[l - 1]![p]! + w * w - (q < m && PUNCTUATION_END.test(tokens[q - 1]!.text) ? bonus : 0);
        if (cost <= best[l]![q]!) {
          best[l]![q] = cost;
          back[l]![q] = p;
        }
      }
    }
  }
  const breaks = new Set<number>();
  let q = m;
  for (let l = lines; l > 1; l--) {
    q = back[l]![q]!;
    breaks.add(q);
  }

  return tokens.map((_, i) => (breaks.has(i) ? '\n' : sepBefore(i)));
}
