import type { Word } from '../types.js';

/** One word as it appears on screen: the client's word plus the punctuation around it. */
export interface Token {
  /** Index into the word list. */
  word: number;
  /** Display text, never empty, with no line breaks. */
  text: string;
  /** Whether a space separates this token from the next one (false inside CJK, "well-known"). */
  space: boolean;
  /** Line width of `text` (see displayWidth). */
  width: number;
}

const WS = /\s+/gu;
// C0 controls and DEL are dropped from what is shown: a NUL makes FFmpeg read no SRT cue at all,
// and none of them is visible. Tab, LF, VT, FF and CR are whitespace and become a space instead.
const CONTROL = /[\0-\x08\x0E-\x1F\x7F]/g;
const collapse = (s: string) => s.replace(CONTROL, '').replace(WS, ' ');

// Closing quotes and brackets may follow the punctuation mark: `"Stop!"`, `(see above.)`.
const SENTENCE_END = /[.!?…。！？‼⁇⁈⁉؟۔][\p{Pe}\p{Pf}"'»]*$/u;
const CLAUSE_END = /[,;:，、；：،؛–—][\p{Pe}\p{Pf}"'»]*$/u;
export const endsSentence = (t: string) => SENTENCE_END.test(t);
export const endsClause = (t: string) => CLAUSE_END.test(t);

// Wide characters (CJK, Hangul, fullwidth forms) and emoji take two columns: counting them as two
// gives ~21 CJK characters a line at the default 42, close to broadcast CJK practice.
const WIDE =
  /[\u1100-\u115F\u2E80-\u303E\u3041-\u33FF\u3400-\u4DBF\u4E00-\u9FFF\uA960-\uA97F\uAC00-\uD7A3\uF900-\uFAFF\uFE30-\uFE4F\uFF00-\uFF60\uFFE0-\uFFE6\u{20000}-\u{3FFFD}]|\p{Emoji_Presentation}|\uFE0F/u;
// Printable Latin up to U+02FF: one column per UTF-16 unit, no combining marks (those start at U+0300).
const SIMPLE_LATIN = /^[\x20-\x7E\xA0-\u02FF]*$/;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** How many columns a string takes on a line: graphemes, wide ones counting two. */
export function displayWidth(s: string): number {
  if (SIMPLE_LATIN.test(s)) return s.length; // the common case, kept fast
  let width = 0;
  for (const { segment } of graphemes.segment(s)) width += WIDE.test(segment) ? 2 : 1;
  return width;
}

/** UTF-16 index of each code point (plus one past the end): Word spans count code points. */
function codePointIndex(text: string): number[] {
  const index: number[] = [];
  let unit = 0;
  for (const ch of text) {
    index.push(unit);
    unit += ch.length;
  }
  index.push(unit);
  return index;
}

interface Gap {
  /** Attaches to the word before: "," in "Hello, world", "，" in CJK. */
  after: string;
  space: boolean;
  /** Attaches to the word after: an opening quote or bracket. */
  before: string;
}

/** Splits the original text between two words into what belongs to each side. */
function splitGap(raw: string): Gap {
  const gap = raw.replace(CONTROL, '');
  const firstSpace = gap.search(/\s/u);
  if (firstSpace < 0) {
    // No space (CJK, hyphenated words): opening punctuation belongs to the next word.
    const open = /[\p{Ps}\p{Pi}]+$/u.exec(gap);
    const cut = open ? open.index : gap.length;
    return { after: gap.slice(0, cut), space: false, before: gap.slice(cut) };
  }
  const lastSpaceEnd = (/\s\S*$/u.exec(gap)?.index ?? firstSpace) + 1;
  // Anything untimed between the spaces (a dash, a symbol) stays with the word before it.
  const middle = collapse(gap.slice(firstSpace, lastSpaceEnd).trim());
  return {
    after: gap.slice(0, firstSpace) + (middle ? ` ${middle}` : ''),
    space: true,
    before: gap.slice(lastSpaceEnd),
  };
}

/**
 * Display tokens for the words. With the request text, each word is shown as the client wrote it
 * plus the punctuation between it and its neighbours in the text ("Hello," "world."); without the
 * text (or where a span does not fit the text) words are joined by spaces.
 */
export function tokenize(words: readonly Word[], text?: string): Token[] {
  const index = text === undefined ? undefined : codePointIndex(text);
  const cpLength = index ? index.length - 1 : 0;
  // A span is usable when it lies inside the text and after the previous one.
  const spanOk = (w: Word | undefined, from: number) =>
    w !== undefined && Number.isInteger(w.char_start) && Number.isInteger(w.char_end) &&
    from <= w.char_start && w.char_start <= w.char_end && w.char_end <= cpLength;

  const tokens: Token[] = [];
  let before = '';
  let prevEnd = 0;
  const first = words[0];
  if (text !== undefined && index && spanOk(first, 0) && first) {
    // All of it: nothing before it claims an `after` ('"', '¿' and "'" are not Ps/Pi).
    before = collapse(text.slice(0, index[first.char_start])).trim();
  }
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    const next = words[i + 1];
    let gap: Gap = { after: '', space: true, before: '' };
    if (text !== undefined && index && spanOk(w, prevEnd)) {
      const from = index[w.char_end]!;
      if (next === undefined) {
        gap = { after: collapse(text.slice(from)).trim(), space: true, before: '' };
      } else if (spanOk(next, w.char_end)) {
        gap = splitGap(text.slice(from, index[next.char_start]));
      }
      prevEnd = w.char_end;
    }
    // Trimmed again: a word that was only controls leaves `after`'s leading space bare.
    const display = (before + collapse(w.word).trim() + gap.after).trim();
    before = gap.before;
    if (display === '') continue; // nothing to show (an empty word); it still goes to CSV/JSON
    tokens.push({ word: i, text: display, space: gap.space, width: displayWidth(display) });
  }
  return tokens;
}
