/**
 * Blanks: what either side of the service trims. JavaScript's String.prototype.trim removes
 * WhiteSpace and LineTerminator (U+FEFF among them, which Python keeps); Python's str.strip
 * removes str.isspace characters (U+001C..U+001F and U+0085 among them, which JavaScript keeps).
 * Both sides use the union, listed explicitly; worker-py/voicecue_worker/text.py
 * (BLANK_CODE_POINTS, content_span) has the same list. Offsets are in code points, as Python
 * counts them (an emoji is one), not UTF-16 units.
 */
export const BLANK_CODE_POINTS: readonly number[] = Object.freeze([
  0x0009, 0x000a, 0x000b, 0x000c, 0x000d, // tab, LF, VT, FF, CR
  0x001c, 0x001d, 0x001e, 0x001f, // file/group/record/unit separators (Python only)
  0x0020, // space
  0x0085, // next line (Python only)
  0x00a0, // no-break space
  0x1680, // ogham space mark
  0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
  0x2028, 0x2029, // line and paragraph separators
  0x202f, // narrow no-break space
  0x205f, // medium mathematical space
  0x3000, // ideographic space
  0xfeff, // zero width no-break space / BOM (JavaScript only)
]);

const BLANKS: ReadonlySet<number> = new Set(BLANK_CODE_POINTS);

export function isBlank(codePoint: number): boolean {
  return BLANKS.has(codePoint);
}

function codePoints(text: string): number[] {
  const out: number[] = [];
  for (const ch of text) out.push(ch.codePointAt(0)!);
  return out;
}

/** [start, end) code-point offsets of `text` without its leading and trailing blanks; [n, n] when all blank. */
export function contentSpan(text: string): [number, number] {
  const cps = codePoints(text);
  let start = 0;
  while (start < cps.length && BLANKS.has(cps[start]!)) start++;
  let end = cps.length;
  while (end > start && BLANKS.has(cps[end - 1]!)) end--;
  return [start, end];
}

/** How many code points `text` has without its leading and trailing blanks. */
export function contentLength(text: string): number {
  const [start, end] = contentSpan(text);
  return end - start;
}

/** A JSON Schema `pattern` (unanchored) that a text with something besides blanks matches. */
export const NOT_BLANK_PATTERN = `[^${BLANK_CODE_POINTS.map((c) => `\\u${c.toString(16).padStart(4, '0')}`).join('')}]`;
