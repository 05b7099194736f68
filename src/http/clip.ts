/** The most characters of a client's own input an error message repeats. */
export const ECHO_LIMIT = 100;

/**
 * Client input as an error message may quote it: at most `max` code points (an ellipsis says
 * more was cut), control characters shown as escapes so a message stays one readable line.
 */
export function clip(value: string, max = ECHO_LIMIT): string {
  let out = '';
  let n = 0;
  for (const ch of value) {
    if (n === max) return `${out}…`;
    const code = ch.codePointAt(0)!;
    out += code < 0x20 || code === 0x7f ? `\\x${code.toString(16).padStart(2, '0')}` : ch;
    n++;
  }
  return out;
}
