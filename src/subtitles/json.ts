import type { Word } from '../types.js';
import type { Cue, WordTime } from './cues.js';
import { msToSeconds } from './time.js';
import type { CueTiming } from './timing.js';

/**
 * `{words, cues}`: words with their times (seconds, ms precision, as used for the cues: rounded
 * and clamped to the audio) and character spans into the request text; cues with their
 * 1-based index, times, text and lines, the half-open range of word indices they show, and the
 * span of the request text from their first word's start to their last word's end, and their
 * reading figures: characters per second, duration, the gap before them, rules left unmet.
 */
export function renderJson(words: readonly Word[], times: readonly WordTime[], cues: readonly Cue[], timings: readonly CueTiming[]): string {
  const doc = {
    words: words.map((w, i) => ({
      word: w.word,
      start: msToSeconds(times[i]!.start_ms),
      end: msToSeconds(times[i]!.end_ms),
      confidence: typeof w.confidence === 'number' && Number.isFinite(w.confidence) ? w.confidence : null,
      source: w.source,
      char_start: w.char_start,
      char_end: w.char_end,
    })),
    cues: cues.map((c, i) => ({
      index: c.index,
      start: msToSeconds(c.start_ms),
      end: msToSeconds(c.end_ms),
      text: c.text,
      lines: c.lines,
      word_start: c.word_start,
      word_end: c.word_end,
      char_start: words[c.word_start]!.char_start,
      char_end: words[c.word_end - 1]!.char_end,
      cps: timings[i]!.cps,
      duration: msToSeconds(timings[i]!.duration_ms),
      gap_before: msToSeconds(timings[i]!.gap_before_ms),
      unmet: timings[i]!.unmet,
    })),
  };
  // One word or cue a line: readable, and far shorter than fully indented JSON.
  const list = (items: readonly object[]) =>
    items.length === 0 ? '[]' : `[\n${items.map((item) => `    ${JSON.stringify(item)}`).join(',\n')}\n  ]`;
  return `{\n  "words": ${list(doc.words)},\n  "cues": ${list(doc.cues)}\n}\n`;
}
