import type { Cue } from './cues.js';
import { vttTime } from './time.js';

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;' };
/** Escapes &, < and > (which also keeps "-->" out of cue text). */
export const escapeVtt = (s: string) => s.replace(/[&<>]/g, (c) => ENTITIES[c]!);

/**
 * WebVTT with karaoke: each word after the first is preceded by its start time, `<00:00:01.234>`.
 * The spec wants inline timestamps strictly increasing and strictly inside the cue, so a word
 * whose start is not (a zero-length word, a word cut off by the max duration) gets none.
 */
export function renderVtt(cues: readonly Cue[]): string {
  let out = 'WEBVTT\n';
  for (const cue of cues) {
    let body = '';
    let last = cue.start_ms;
    for (const [i, part] of cue.parts.entries()) {
      body += part.sep;
      if (i > 0 && part.start_ms > last && part.start_ms < cue.end_ms) {
        body += `<${vttTime(part.start_ms)}>`;
        last = part.start_ms;
      }
      body += escapeVtt(part.text);
    }
    out += `\n${vttTime(cue.start_ms)} --> ${vttTime(cue.end_ms)}\n${body}\n`;
  }
  return out;
}
