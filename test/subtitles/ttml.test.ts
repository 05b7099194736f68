// TTML (IMSC 1.1 Text): every file is read back twice, by a conforming XML parser (saxes) for the
// markup and by imscJS, the IMSC reference implementation, for what a player would show and when.
// FFmpeg is no check here: it writes TTML but has no TTML demuxer (5.1 says "Invalid data").
import { createRequire } from 'node:module';
import { SaxesParser } from 'saxes';
import t from 'tap';
import { buildCues, type Cue } from '../../src/subtitles/cues.js';
import { renderTtml, ttmlTime } from '../../src/subtitles/ttml.js';
import type { Word } from '../../src/types.js';
import { longText, NASTY_TEXTS, synthWords } from './fixtures/helpers.js';

const NS = {
  tt: 'http://www.w3.org/ns/ttml',
  ttp: 'http://www.w3.org/ns/ttml#parameter',
  tts: 'http://www.w3.org/ns/ttml#styling',
  xml: 'http://www.w3.org/XML/1998/namespace',
  xmlns: 'http://www.w3.org/2000/xmlns/',
};
const IMSC11_TEXT = 'http://www.w3.org/ns/ttml/profile/imsc1.1/text';
const CLOCK = /^(\d{2}):(\d{2}):(\d{2})\.(\d{3})$/;
// Outside XML 1.0's Char production (the u flag makes a surrogate pair one character).
const NOT_XML_CHAR = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

// ---------------------------------------------------------------- the XML, with saxes

interface El {
  ns: string;
  name: string;
  /** Keyed `${namespace} ${local name}`; unprefixed attributes have no namespace. */
  attrs: Map<string, string>;
  children: (El | string)[];
}

/** A namespace-aware tree; saxes reports every well-formedness and namespace error it meets. */
function parseXml(xml: string): { root: El | undefined; errors: string[] } {
  const errors: string[] = [];
  const stack: El[] = [];
  let root: El | undefined;
  const parser = new SaxesParser({ xmlns: true });
  parser.on('error', (e) => errors.push(e.message));
  parser.on('opentag', (tag) => {
    const attrs = new Map(Object.values(tag.attributes).map((a) => [`${a.uri} ${a.local}`, a.value] as const));
    const el: El = { ns: tag.uri, name: tag.local, attrs, children: [] };
    if (stack.length) stack.at(-1)!.children.push(el);
    else root = el;
    stack.push(el);
  });
  parser.on('closetag', () => stack.pop());
  parser.on('text', (s) => stack.at(-1)?.children.push(s));
  parser.write(xml).close();
  return { root, errors };
}

const elements = (el: El | undefined) => (el?.children ?? []).filter((c): c is El => typeof c !== 'string');
const child = (el: El | undefined, name: string) => elements(el).filter((c) => c.ns === NS.tt && c.name === name);
const attr = (el: El | undefined, ns: string, name: string) => el?.attrs.get(`${ns} ${name}`);
const clockMs = (s: string | undefined) => {
  const m = CLOCK.exec(s ?? '');
  return m ? ((+m[1]! * 60 + +m[2]!) * 60 + +m[3]!) * 1000 + +m[4]! : NaN;
};

/** A <p>'s lines: its text, through spans, split at each <br/>. */
function pLines(p: El, problems: string[]): string[] {
  const lines = [''];
  const walk = (el: El) => {
    for (const c of el.children) {
      if (typeof c === 'string') lines[lines.length - 1] += c;
      else if (c.ns === NS.tt && c.name === 'br') lines.push('');
      else if (c.ns === NS.tt && c.name === 'span') walk(c);
      else problems.push(`unexpected <${c.name}> in a <p>`);
    }
  };
  walk(p);
  return lines;
}

type Shown = Pick<Cue, 'start_ms' | 'end_ms' | 'lines'>;

/** What the markup says, against the cues it was made from. */
function xmlProblems(xml: string, cues: readonly Shown[], lang = 'und'): string[] {
  const p: string[] = [];
  if (!xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')) p.push('no XML declaration');
  const bad = NOT_XML_CHAR.exec(xml);
  if (bad) p.push(`character U+${bad[0].codePointAt(0)!.toString(16)} is not allowed in XML`);
  const { root: tt, errors } = parseXml(xml);
  p.push(...errors);
  if (tt?.ns !== NS.tt || tt.name !== 'tt') return [...p, 'root is not tt:tt'];

  const declared = [...tt.attrs].filter(([k]) => k.startsWith(`${NS.xmlns} `)).map(([, v]) => v).sort();
  if (JSON.stringify(declared) !== JSON.stringify([NS.tt, NS.ttp, NS.tts].sort())) p.push(`namespaces ${declared}`);
  if (attr(tt, NS.ttp, 'timeBase') !== 'media') p.push('ttp:timeBase is not media');
  const profiles = attr(tt, NS.ttp, 'contentProfiles')?.split(/\s+/) ?? [];
  if (!profiles.includes(IMSC11_TEXT)) p.push(`ttp:contentProfiles ${profiles}`);
  if (attr(tt, NS.xml, 'lang') !== lang) p.push(`xml:lang ${attr(tt, NS.xml, 'lang')}`);

  const head = child(tt, 'head');
  const regions = child(child(head[0], 'layout')[0], 'region');
  if (head.length !== 1 || child(head[0], 'styling').length !== 1) p.push('head or styling missing');
  if (regions.length !== 1) p.push(`${regions.length} regions`);
  for (const name of ['origin', 'extent']) {
    if (!/^\d+(?:\.\d+)?% \d+(?:\.\d+)?%$/.test(attr(regions[0], NS.tts, name) ?? '')) p.push(`region ${name} not in %`);
  }

  const divs = child(child(tt, 'body')[0], 'div');
  if (divs.length !== 1) return [...p, `${divs.length} divs`];
  const ps = elements(divs[0]);
  if (ps.length !== cues.length || ps.some((e) => e.ns !== NS.tt || e.name !== 'p')) {
    p.push(`${ps.length} elements in the div, expected ${cues.length} <p>`);
  }
  for (const [i, el] of ps.entries()) {
    const want = cues[i];
    if (!want) break;
    const [begin, end] = [attr(el, '', 'begin'), attr(el, '', 'end')];
    if (!CLOCK.test(begin ?? '') || !CLOCK.test(end ?? '')) p.push(`p ${i + 1}: time ${begin} / ${end}`);
    if (clockMs(begin) !== want.start_ms || clockMs(end) !== want.end_ms) {
      p.push(`p ${i + 1}: ${begin}..${end}, expected ${want.start_ms}..${want.end_ms} ms`);
    }
    const lines = pLines(el, p);
    if (JSON.stringify(lines) !== JSON.stringify(want.lines)) p.push(`p ${i + 1}: ${JSON.stringify(lines)} != ${JSON.stringify(want.lines)}`);
  }
  return p;
}

// ---------------------------------------------------------------- the presentation, with imscJS

// imscJS ships no types: these cover what the tests use.
interface IsdNode {
  kind?: string;
  lang?: string;
  text?: string;
  contents?: IsdNode[];
  styleAttrs?: Record<string, unknown>;
}
interface ImscDoc {
  getMediaTimeEvents(): number[];
}
type ErrorHandler = Record<'info' | 'warn' | 'error' | 'fatal', (msg: string) => void>;
const require = createRequire(import.meta.url);
// imsc's main module also loads its HTML renderer, which reads `navigator` on load (Node 20 has
// none): the parser and the ISD generator are taken on their own.
const { fromXML } = require('imsc/src/main/js/doc.js') as { fromXML(xml: string, eh: ErrorHandler): ImscDoc };
const { generateISD } = require('imsc/src/main/js/isd.js') as {
  generateISD(doc: ImscDoc, seconds: number, eh: ErrorHandler): IsdNode;
};

/** Parses with imscJS, every message it reports (info included) collected. */
function readImsc(xml: string): { doc: ImscDoc | undefined; messages: string[]; isd: (s: number) => IsdNode } {
  const messages: string[] = [];
  const eh: ErrorHandler = {
    info: (m) => void messages.push(`info: ${m}`),
    warn: (m) => void messages.push(`warn: ${m}`),
    error: (m) => void messages.push(`error: ${m}`),
    fatal: (m) => void messages.push(`fatal: ${m}`),
  };
  let doc: ImscDoc | undefined;
  try {
    doc = fromXML(xml, eh);
  } catch (e) {
    messages.push(`threw: ${String(e)}`); // a fatal error is also thrown
  }
  return { doc, messages, isd: (s) => generateISD(doc!, s, eh) };
}

/** The text of each <p> an ISD (what is on screen at one instant) shows, a <br/> as "\n". */
function shownTexts(isd: IsdNode): string[] {
  const out: string[] = [];
  const text = (n: IsdNode): string =>
    n.kind === 'br' ? '\n' : (n.text ?? '') + (n.contents ?? []).map(text).join('');
  const walk = (n: IsdNode) => (n.kind === 'p' ? out.push(text(n)) : n.contents?.forEach(walk));
  walk(isd);
  return out;
}

/** What imscJS shows and when, against the cues. */
function imscProblems(xml: string, cues: readonly Shown[]): string[] {
  const { doc, messages, isd } = readImsc(xml);
  if (!doc) return messages;
  const p = [...messages];
  // The document changes where a cue starts or ends, and at 0, where the (untimed) body begins.
  const want = [...new Set([0, ...cues.flatMap((c) => [c.start_ms, c.end_ms])])].sort((a, b) => a - b);
  const got = doc.getMediaTimeEvents().map((s) => Math.round(s * 1000));
  if (JSON.stringify(got) !== JSON.stringify(want)) p.push(`media time events ${got} != ${want}`);
  for (const [i, c] of cues.entries()) {
    const shown = shownTexts(isd((c.start_ms + c.end_ms) / 2000));
    if (JSON.stringify(shown) !== JSON.stringify([c.lines.join('\n')])) {
      p.push(`mid-cue ${i + 1}: shows ${JSON.stringify(shown)}, expected ${JSON.stringify(c.lines.join('\n'))}`);
    }
  }
  return p;
}

// ---------------------------------------------------------------- tests

for (const [name, text] of Object.entries(NASTY_TEXTS)) {
  for (const split of ['segmenter', 'spaces'] as const) {
    t.test(`${name} (${split} words)`, async (t) => {
      const { words, duration } = synthWords(text, { split });
      const cues = buildCues(words, { duration, text });
      t.ok(cues.length > 0, 'has cues');
      const xml = renderTtml(cues);
      t.same(xmlProblems(xml, cues), [], 'the markup carries the cues');
      t.same(imscProblems(xml, cues), [], 'imscJS shows the cues at their times');
    });
  }
}

t.test('markup characters, emoji, CJK, controls and line breaks', async (t) => {
  const text = 'Tom & Jerry\'s "<b>best</b>" -> fine; a < b > c. I ❤️ 🍕 & 🇯🇵! 今日は良い天気ですね。 Bell\x07 rings,\x1B DEL\x7F here.';
  const { words, duration } = synthWords(text, { split: 'spaces' });
  const cues = buildCues(words, { duration, text }, { max_chars_per_line: 14 });
  const shown = cues.map((c) => c.text).join(' ');
  for (const s of ['&', '<', '>', '"', "'", '❤️', '🍕', '🇯🇵', '今日']) t.ok(shown.includes(s), `the cues show ${s}`);
  t.ok(cues.some((c) => c.lines.length > 1), 'a cue has more than one line');
  const xml = renderTtml(cues);
  t.same(xmlProblems(xml, cues), []);
  t.same(imscProblems(xml, cues), []);
});

t.test('a long text: two-line cues, times past a minute', async (t) => {
  const text = longText(400);
  const { words, duration } = synthWords(text);
  const cues = buildCues(words, { duration, text });
  t.ok(cues.at(-1)!.end_ms > 60_000, 'runs past a minute');
  t.ok(cues.filter((c) => c.lines.length === 2).length > 10, 'many two-line cues');
  const xml = renderTtml(cues);
  t.same(xmlProblems(xml, cues), []);
  t.same(imscProblems(xml, cues), []);
});

t.test('characters XML 1.0 forbids are dropped, the rest kept', async (t) => {
  // Not from buildCues (which already drops C0 controls): the renderer must not rely on that.
  const cue = (lines: string[], start_ms: number, end_ms: number): Cue => ({
    index: 1, start_ms, end_ms, word_start: 0, word_end: 1, parts: [], text: lines.join('\n'), lines,
  });
  const cues = [
    cue(['a\0b\x0Bc\x0Cd\x1Fe', 'f\uFFFEg\uFFFFh'], 0, 1000),
    cue(['lone \uD800high \uDFFFlow', 'kept: 😀 \u0085 \uFFFD \uE000 &amp;'], 1000, 2000),
  ];
  const xml = renderTtml(cues);
  t.notMatch(xml, NOT_XML_CHAR);
  const clean = [
    { ...cues[0]!, lines: ['abcde', 'fgh'] },
    { ...cues[1]!, lines: ['lone high low', 'kept: 😀 \u0085 \uFFFD \uE000 &amp;'] },
  ];
  t.same(xmlProblems(xml, clean), []);
  t.same(imscProblems(xml, clean), []);
});

t.test('xml:lang', async (t) => {
  const { words, duration } = synthWords('今日は良い天気ですね。');
  const cues = buildCues(words, { duration });
  for (const lang of ['ja', 'pt-BR', 'zh-Hant-TW']) {
    const xml = renderTtml(cues, { lang });
    t.same(xmlProblems(xml, cues, lang), [], lang);
    t.equal(readImsc(xml).isd(0).lang, lang, `imscJS sees ${lang}`);
  }
  t.same(xmlProblems(renderTtml(cues, { lang: undefined }), cues, 'und'), [], 'und by default');
  for (const lang of ['', 'en US', 'en" x="y', '<en>', 'e', 'toolonglanguage']) {
    t.throws(() => renderTtml(cues, { lang }), RangeError, `rejects ${JSON.stringify(lang)}`);
  }
});

t.test('no cues: a valid document with an empty div', async (t) => {
  const xml = renderTtml([]);
  t.same(xmlProblems(xml, []), []);
  t.same(imscProblems(xml, []), []);
});

t.test('the default style and the region, as imscJS computes them', async (t) => {
  const words: Word[] = [{ word: 'Hello', start: 1, end: 2, char_start: 0, char_end: 5, source: 'test' }];
  const cues = buildCues(words, { duration: 3 });
  const { isd, messages } = readImsc(renderTtml(cues));
  t.same(messages, []);
  const region = isd(1.5).contents?.[0];
  const p = region?.contents?.[0]?.contents?.[0]?.contents?.[0];
  const span = p?.contents?.[0];
  t.equal(p?.kind, 'p');
  const style = (n: IsdNode | undefined, name: string) => n?.styleAttrs?.[`${NS.tts} ${name}`];
  type Length = { h: { rh: number }; w: { rw: number } };
  const [origin, extent] = [style(region, 'origin') as Length, style(region, 'extent') as Length];
  t.equal(style(region, 'displayAlign'), 'after', 'text at the bottom of the region');
  t.ok(origin.h.rh >= 0.5 && origin.h.rh + extent.h.rh <= 1, 'region in the lower half');
  t.ok(origin.w.rw >= 0.05 && origin.w.rw + extent.w.rw <= 0.95, 'region inside the safe area');
  t.equal(style(p, 'textAlign'), 'center');
  t.same(style(span, 'color'), [255, 255, 255, 255], 'white');
  t.match(String(style(span, 'fontFamily')), /sansSerif/i, 'sans-serif');
  const background = style(span, 'backgroundColor') as number[];
  t.ok(background[3]! > 0 && background[3]! < 255, 'semi-opaque box behind the text');
  t.same(style(p, 'backgroundColor'), [0, 0, 0, 0], 'not across the whole region');
});

t.test('ttmlTime', async (t) => {
  t.equal(ttmlTime(0), '00:00:00.000');
  t.equal(ttmlTime(3_723_004), '01:02:03.004');
  t.equal(ttmlTime(359_999_999), '99:59:59.999');
  // Past 99 hours the hours grow a digit, which the clock-time grammar and imscJS accept.
  t.equal(ttmlTime(360_000_001), '100:00:00.001');
  const xml = renderTtml([
    { index: 1, start_ms: 359_999_000, end_ms: 360_000_001, word_start: 0, word_end: 1, parts: [], text: 'late', lines: ['late'] },
  ]);
  t.same(readImsc(xml).doc?.getMediaTimeEvents().map((s) => Math.round(s * 1000)), [0, 359_999_000, 360_000_001]);
});
