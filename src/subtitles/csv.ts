import type { Word } from '../types.js';
import type { WordTime } from './cues.js';
import { csvSeconds } from './time.js';

export const CSV_HEADER = ['word', 'start', 'end', 'confidence', 'source', 'char_start', 'char_end'] as const;

/** RFC 4180: a field with a comma, quote, CR or LF is quoted, quotes doubled. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/**
 * One row per word, CRLF line endings (RFC 4180) after every row including the last, times in
 * seconds with three decimals, confidence empty when the aligner gave none. No BOM.
 */
export function renderCsv(words: readonly Word[], times: readonly WordTime[]): string {
  let out = CSV_HEADER.join(',') + '\r\n';
  for (const [i, w] of words.entries()) {
    const t = times[i]!;
    const confidence = typeof w.confidence === 'number' && Number.isFinite(w.confidence) ? String(w.confidence) : '';
    const row = [
      csvField(w.word),
      csvSeconds(t.start_ms),
      csvSeconds(t.end_ms),
      confidence,
      csvField(w.source),
      String(w.char_start),
      String(w.char_end),
    ];
    out += row.join(',') + '\r\n';
  }
  return out;
}
