import t from 'tap';
import { BLANK_CODE_POINTS, contentLength, contentSpan, isBlank } from '../../src/text/blank.js';

// the blank set, written out again independently of BLANK_CODE_POINTS
const range = (a: number, b: number): number[] => Array.from({ length: b - a }, (_, i) => a + i);
const EXPECTED = new Set<number>([
  ...range(0x09, 0x0e), ...range(0x1c, 0x20), 0x20, 0x85, 0xa0, 0x1680,
  ...range(0x2000, 0x200b), 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff,
]);
// Python's str.isspace set (checked against CPython 3.11 in worker-py/tests/test_text.py)
const PYTHON_STRIP = new Set<number>([
  ...range(0x09, 0x0e), ...range(0x1c, 0x21), 0x85, 0xa0, 0x1680, ...range(0x2000, 0x200b),
  0x2028, 0x2029, 0x202f, 0x205f, 0x3000,
]);

t.test('the blank set is the union of JS trim and Python strip', async (t) => {
  t.same(new Set(BLANK_CODE_POINTS), EXPECTED);
  const probes = [...range(0, 0x3001), 0xfeff, 0x205f, 0x180e, 0x200b, 0x2060, 0xfffe, 0x1f600];
  for (const cp of probes) {
    const ch = String.fromCodePoint(cp);
    const jsTrims = ch.trim() === '';
    const blank = EXPECTED.has(cp);
    if (blank !== (jsTrims || PYTHON_STRIP.has(cp))) t.fail(`U+${cp.toString(16)}: union mismatch`);
    if (isBlank(cp) !== blank) t.fail(`U+${cp.toString(16)}: isBlank is ${isBlank(cp)}`);
    const one = contentSpan(ch);
    const wrapped = contentSpan(ch + 'x' + ch);
    if (one[0] !== (blank ? 1 : 0) || one[1] !== 1) t.fail(`U+${cp.toString(16)}: contentSpan is ${one}`);
    if (wrapped[0] !== (blank ? 1 : 0) || wrapped[1] !== (blank ? 2 : 3)) t.fail(`U+${cp.toString(16)}: wrapped ${wrapped}`);
  }
  t.pass(`${probes.length} code points checked`);
});

t.test('contentSpan counts code points and keeps inner blanks', async (t) => {
  t.same(contentSpan(''), [0, 0]);
  t.same(contentSpan(' \t\n'), [3, 3]);
  t.same(contentSpan('\ufeff  Hello, world! 2025 \x1f'), [3, 21]);
  t.same(contentSpan('\u0085😀 a\u3000b 😀\u2029'), [1, 8]); // an emoji is one code point
  t.same(contentSpan('a\ufeffb'), [0, 3]);
  t.equal(contentLength('\ufeff😀\u001f'), 1);
  t.equal(contentLength('\u0085\u001c '), 0);
});
