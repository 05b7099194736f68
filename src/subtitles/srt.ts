import type { Cue } from './cues.js';
import { srtTime } from './time.js';

/**
 * SRT has no escaping, so an arrow gets a WORD JOINER (U+2060, invisible) inside it: FFmpeg takes
 * any text line like `00:00:05,000 --> 00:00:09,000` for the next cue's timing line.
 */
export const escapeSrt = (s: string) => s.replaceAll('-->', '--\u2060>');

/**
 * SubRip: cues numbered from 1, `HH:MM:SS,mmm`, LF line endings, a blank line after each cue.
 * Text goes out as is but for `-->` (players may still read `<i>` or `{\an8}` as tags).
 * No cues gives an empty file.
 */
export function renderSrt(cues: readonly Cue[]): string {
  let out = '';
  for (const cue of cues) {
    out += `${cue.index}\n${srtTime(cue.start_ms)} --> ${srtTime(cue.end_ms)}\n${escapeSrt(cue.text)}\n\n`;
  }
  return out;
}
