import type { Cue } from './cues.js';
import { srtTime } from './time.js';

/**
 * SubRip: cues numbered from 1, `HH:MM:SS,mmm`, LF line endings, a blank line after each cue.
 * SRT has no escaping, so text goes out as is (players may still read `<i>` or `{\an8}` as tags).
 * No cues gives an empty file.
 */
export function renderSrt(cues: readonly Cue[]): string {
  let out = '';
  for (const cue of cues) {
    out += `${cue.index}\n${srtTime(cue.start_ms)} --> ${srtTime(cue.end_ms)}\n${cue.text}\n\n`;
  }
  return out;
}
