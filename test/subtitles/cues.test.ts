import t from 'tap';
import { buildCues, displayWidth, renderSubtitles, type Cue, type SubtitleOptionsInput } from '../../src/subtitles/index.js';
import type { Word } from '../../src/types.js';
import { cueProblems, fileProblems } from './fixtures/check.js';
import { longText, parseAss, parseSrt, parseVtt, rng, synthWords } from './fixtures/helpers.js';

interface Limits {
  max_chars_per_line: number;
  max_lines: number;
  max_cue_duration: number;
  fps: number;
}

/** Every limit the issue names, for every cue. */
function limitProblems(cues: readonly Cue[], durationMs: number, l: Limits): string[] {
  const p = cueProblems(cues, durationMs);
  const frameMs = Math.ceil(1000 / l.fps);
  for (const c of cues) {
    const at = `cue ${c.index}`;
    if (c.lines.length > l.max_lines) p.push(`${at}: ${c.lines.length} lines`);
    for (const line of c.lines) {
      // A single word wider than a line overflows it (words are never cut); nothing else may.
      const tooWide = displayWidth(line) > l.max_chars_per_line || [...line].length > l.max_chars_per_line;
      if (tooWide && line.includes(' ')) p.push(`${at}: line too long: ${line}`);
    }
    const d = c.end_ms - c.start_ms;
    if (d > l.max_cue_duration * 1000) p.push(`${at}: ${d} ms is too long`);
    if (d < frameMs) p.push(`${at}: ${d} ms is shorter than a frame`);
  }
  return p;
}

/** Every word in exactly one cue, in order. */
function coverage(cues: readonly Cue[], count: number): boolean {
  let next = 0;
  for (const c of cues) {
    if (c.word_start !== next) return false;
    next = c.word_end;
  }
  return next === count;
}

const DEFAULTS: Limits = { max_chars_per_line: 42, max_lines: 2, max_cue_duration: 7, fps: 25 };

t.test('2000 words: every cue meets the limits', async (t) => {
  const text = longText(2000);
  const { words, duration } = synthWords(text, { seed: 11 });
  const durationMs = Math.round(duration * 1000);
  const cues = buildCues(words, { duration, text });
  t.same(limitProblems(cues, durationMs, DEFAULTS), []);
  t.ok(coverage(cues, words.length), 'each word in one cue, in order');
  t.ok(cues.length > 2000 / 14 && cues.length < 2000 / 3, `a sensible number of cues (${cues.length})`);
  // Sentence ends always end a cue.
  t.notOk(cues.some((c) => /[.!?] /.test(c.text.replace(/\n/g, ' '))), 'no cue runs across a sentence end');
  // Balanced lines: the two lines of a cue differ by less than the longest word plus a space,
  // unless the break follows punctuation.
  const unbalanced = cues.filter(
    (c) => c.lines.length === 2 && Math.abs(c.lines[0]!.length - c.lines[1]!.length) > 16 && !/\p{P}$/u.test(c.lines[0]!),
  );
  t.same(unbalanced.map((c) => c.lines), [], 'two-line cues are balanced');
});

t.test('limits hold across options and random timings', async (t) => {
  const random = rng(5);
  for (let round = 0; round < 40; round++) {
    const limits: Limits = {
      max_chars_per_line: 12 + Math.floor(random() * 50),
      max_lines: 1 + Math.floor(random() * 3),
      max_cue_duration: 1 + random() * 8,
      fps: [23.976, 25, 30, 50, 60, 120][Math.floor(random() * 6)]!,
    };
    const text = longText(300, round);
    const { words, duration } = synthWords(text, { seed: round, perChar: 0.02 + random() * 0.1 });
    const opts = { ...limits, pause_threshold: 0.1 + random(), karaoke_tag: 'kf' as const };
    const result = renderSubtitles(words, opts, { duration, text });
    const durationMs = Math.round(duration * 1000);
    const p = limitProblems(result.cues, durationMs, limits);
    if (round % 8 === 0) p.push(...(await fileProblems(result, { words, durationMs, text, karaokeTag: 'kf' })));
    t.same(p, [], JSON.stringify(limits));
    t.ok(coverage(result.cues, words.length), 'coverage');
  }
});

const word = (text: string, start: number, end: number, at = 0): Word => ({
  word: text,
  start,
  end,
  char_start: at,
  char_end: at + [...text].length,
  source: 'test',
  confidence: null,
});

/** Words laid out one after another in a text joined by spaces. */
function sentence(items: [string, number, number][]): { words: Word[]; text: string } {
  let at = 0;
  const words = items.map(([w, s, e]) => {
    const out = word(w, s, e, at);
    at += [...w].length + 1;
    return out;
  });
  return { words, text: items.map((i) => i[0]).join(' ') };
}

/** Renders all five formats and reads them back; `problems` lists anything invalid. */
/** The cues as built on the words' own times, before the display rules (timing.test.ts has those). */
const AS_BUILT = { reading_speed: 0, min_cue_duration: 0, chain_threshold: 0 };

async function renderChecked(words: Word[], duration: number, text?: string, options: SubtitleOptionsInput = AS_BUILT) {
  const result = renderSubtitles(words, options, { duration, text });
  const durationMs = Math.round(duration * 1000);
  const problems = [
    ...cueProblems(result.cues, durationMs),
    ...(await fileProblems(result, { words, durationMs, ...(text === undefined ? {} : { text }), ffprobe: true })),
  ];
  return { ...result, problems };
}

t.test('a single word longer than the line overflows its own line', async (t) => {
  const long = 'Pneumonoultramicroscopicsilicovolcanoconiosis-and-then-some';
  const { words, text } = sentence([['A', 0.1, 0.3], [long, 0.35, 2.5], ['word.', 2.55, 3]]);
  const { cues, problems } = await renderChecked(words, 3.5, text);
  t.same(problems, [], 'valid');
  t.ok(cues.some((c) => c.lines.includes(long)), 'the long word is one whole line');
  t.ok(cues.every((c) => c.lines.length <= 2));
  const alone = await renderChecked([word(long, 0, 1)], 1);
  t.same(alone.problems, []);
  t.same(alone.cues.map((c) => c.lines), [[long]]);
});

t.test('a word longer than the max cue duration is cut at the max', async (t) => {
  const { words, text } = sentence([['Ommmmm', 0.5, 10.2], ['done.', 10.3, 10.9]]);
  const { cues, problems } = await renderChecked(words, 11, text);
  t.same(problems, []);
  t.same(cues.map((c) => [c.start_ms, c.end_ms, c.text]), [[500, 7500, 'Ommmmm'], [10300, 10900, 'done.']]);
});

t.test('words with zero gap, zero length, and starting at 0', async (t) => {
  const { words, text } = sentence([
    ['Zero', 0, 0.2], ['gap', 0.2, 0.4], ['between', 0.4, 0.4], ['these', 0.4, 0.7], ['words', 0.7, 1.0],
    ['and', 1.0, 1.2], ['more', 1.2, 1.5], ['words', 1.5, 1.9], ['without', 1.9, 2.3], ['any', 2.3, 2.5],
    ['pause', 2.5, 2.9], ['at', 2.9, 3.0], ['all.', 3.0, 3.4], ['Next.', 3.4, 3.8],
  ]);
  const { cues, files, problems } = await renderChecked(words, 3.8, text);
  t.same(problems, []);
  t.equal(cues[0]!.start_ms, 0, 'first cue starts at 0');
  t.match(files.srt!, /^1\n00:00:00,000 --> /);
  t.match(files.ass!, /Dialogue: 0,0:00:00\.00,/);
  t.equal(cues.at(-1)!.end_ms, 3800, 'last cue ends exactly at the audio end');
  t.equal(cues.at(-2)!.end_ms, cues.at(-1)!.start_ms, 'touching cues do not overlap');
});

t.test('words ending exactly at the audio end', async (t) => {
  const { words, text } = sentence([['Right', 0.5, 0.9], ['at', 0.9, 1.1], ['the', 1.1, 1.3], ['end.', 1.3, 2.347]]);
  const { cues, files, problems } = await renderChecked(words, 2.347, text);
  t.same(problems, []);
  t.equal(cues.at(-1)!.end_ms, 2347);
  t.match(files.srt!, /--> 00:00:02,347\n/);
  t.match(files.vtt!, /--> 00:00:02\.347\n/);
  t.match(files.ass!, /,0:00:02\.34,Default/, 'ASS end rounds down to stay inside the audio');
});

t.test('words past the audio end are clamped to it', async (t) => {
  const { words, text } = sentence([['Too', 0.1, 0.5], ['long', 0.5, 3.2]]);
  const { cues, problems } = await renderChecked(words, 2, text);
  t.same(problems, []);
  t.equal(cues.at(-1)!.end_ms, 2000);
});

t.test('a sentence shorter than a frame still gets a frame', async (t) => {
  // "Oh." lasts 10 ms and is followed by a pause: its cue grows into the silence.
  const a = sentence([['Oh.', 1, 1.01], ['Then', 1.5, 1.8], ['more.', 1.8, 2.2]]);
  const ra = await renderChecked(a.words, 3, a.text);
  t.same(ra.problems, []);
  t.same(ra.cues.map((c) => [c.start_ms, c.end_ms]), [[1000, 1040], [1500, 2200]]);
  // With no silence around it, it joins the next sentence instead.
  const b = sentence([['Go', 0.2, 0.6], ['now.', 0.6, 1.0], ['Oh.', 1.0, 1.01], ['Then', 1.01, 1.3], ['more.', 1.3, 1.7]]);
  const rb = await renderChecked(b.words, 1.7, b.text);
  t.same(rb.problems, []);
  t.ok(rb.cues.every((c) => c.end_ms - c.start_ms >= 40));
  t.ok(rb.cues.some((c) => c.text.includes('now. Oh.')), 'joined across the sentence end');
  // At the very start, it joins the sentence after it.
  const c0 = sentence([['Oh.', 0, 0.01], ['Then', 0.01, 1.3], ['more.', 1.3, 1.7]]);
  const r0 = await renderChecked(c0.words, 1.7, c0.text);
  t.same(r0.problems, []);
  t.same(r0.cues.map((c) => c.text), ['Oh. Then more.']);
  // A 60 fps video has shorter frames.
  const c = buildCues(a.words, { duration: 3, text: a.text }, { fps: 60 });
  t.equal(c[0]!.end_ms - c[0]!.start_ms, 20, '20 ms floor above a 17 ms frame');
  const d = renderSubtitles(a.words, { ...AS_BUILT, min_cue_duration: 0.3 }, { duration: 3, text: a.text });
  t.equal(d.cues[0]!.end_ms - d.cues[0]!.start_ms, 300, 'min_cue_duration lingers into the silence');
});

t.test('an empty word list gives valid empty files', async (t) => {
  const { cues, files } = renderSubtitles([], {}, { duration: 2 });
  t.same(cues, []);
  t.equal(files.srt, '');
  t.equal(files.vtt, 'WEBVTT\n');
  t.notMatch(files.ass!, /Dialogue:/);
  t.match(files.ass!, /\[Events\]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n$/);
  t.equal(files.csv, 'word,start,end,confidence,source,char_start,char_end\r\n');
  t.same(JSON.parse(files.json!), { words: [], cues: [] });
  t.same(await fileProblems({ cues, files }, { words: [], durationMs: 2000 }), []);
});

t.test('audio with no length gives no cues; unknown duration uses the last word', async (t) => {
  const { words, text } = sentence([['Hi', 0, 0.3]]);
  t.same(buildCues(words, { duration: Number.NaN, text }).map((c) => [c.start_ms, c.end_ms]), [[0, 300]]);
  t.same(buildCues([word('x', 0, 0)], { duration: 0 }), []);
});

t.test('pauses and commas split long phrases; short sentences stay whole', async (t) => {
  const { words, text } = sentence([
    ['First', 0, 0.3], ['part', 0.3, 0.6], ['here', 0.6, 0.9], ['then', 1.6, 1.9], ['second', 1.9, 2.3], ['part.', 2.3, 2.6],
  ]);
  const cues = buildCues(words, { duration: 3, text });
  t.same(cues.map((c) => c.text), ['First part here', 'then second part.'], 'a pause over 0.4 s splits');
  t.same(buildCues(words, { duration: 3, text }, { pause_threshold: 1 }).map((c) => c.text), ['First part here then second part.']);

  // A phrase too long for one cue breaks at its comma rather than mid-clause.
  const long = 'After the long storm had finally passed, we all walked home';
  const s = synthWords(long, { perChar: 0.03 });
  const byComma = buildCues(s.words, { duration: s.duration, text: long }, { max_lines: 1, pause_threshold: 5 });
  t.same(byComma.map((c) => c.text), ['After the long storm had finally passed,', 'we all walked home']);
});

t.test('line breaks are balanced and prefer punctuation', async (t) => {
  const text = 'One two three four five six seven eight nine ten eleven twelve';
  const s = synthWords(text, { perChar: 0.03 });
  const [cue] = buildCues(s.words, { duration: s.duration, text });
  t.same(cue!.lines, ['One two three four five six seven', 'eight nine ten eleven twelve'], 'least squared widths');
  const comma = 'Early this morning we bought apples, pears and some plums there';
  const c = synthWords(comma, { perChar: 0.03 });
  t.same(buildCues(c.words, { duration: c.duration, text: comma }, { pause_threshold: 5 })[0]!.lines, [
    'Early this morning we bought apples,',
    'pears and some plums there',
  ], 'a break after a comma wins over a slightly better balance');
  // ...but not over a much better one.
  const far = 'We bought apples, pears and plums at the market this morning';
  const f = synthWords(far, { perChar: 0.03 });
  t.same(buildCues(f.words, { duration: f.duration, text: far }, { pause_threshold: 5 })[0]!.lines, [
    'We bought apples, pears and',
    'plums at the market this morning',
  ]);
});

t.test('CJK lines count wide characters as two columns', async (t) => {
  const text = '我们今天去公园散步然后在湖边吃午饭再一起回家看一部很长的电影最后早点睡觉明天还要上班';
  const s = synthWords(text, { perChar: 0.05 });
  const cues = buildCues(s.words, { duration: s.duration, text });
  t.equal(cues.map((c) => c.text.replace(/\n/g, '')).join(''), text, 'no spaces inserted');
  for (const c of cues) for (const line of c.lines) t.ok(displayWidth(line) <= 42, `${line} fits`);
  t.equal(displayWidth('天気'), 4);
  t.equal(displayWidth('👨‍👩‍👧‍👦'), 2);
  t.equal(displayWidth('e\u0301'), 1);
});

t.test('overlapping input words never make overlapping cues', async (t) => {
  const { words, text } = sentence([['One.', 0, 1.2], ['Two', 1.0, 1.4], ['three.', 1.4, 2]]);
  t.same((await renderChecked(words, 2, text)).problems, []);
});

t.test('spans that do not fit the text fall back to spaces', async (t) => {
  const words = [word('Hello', 0, 0.4, 0), word('world', 0.5, 0.9, 99)];
  t.same(buildCues(words, { duration: 1, text: 'Hello, world' }).map((c) => c.text), ['Hello world']);
});

t.test('words sharing one start time all get a cue', async (t) => {
  // Aligners other than espeak can give many words the same instant: none may be left out.
  const items: [string, number, number][] = Array.from({ length: 40 }, (_, i) => [`w${i}`, 0, 0.001]);
  const { words, text } = sentence([...items, ['last.', 2, 2.4]]);
  const { cues, problems } = await renderChecked(words, 2.5, text);
  t.same(problems, []);
  t.ok(coverage(cues, words.length), 'each word in one cue, in order');
  t.same(cues.map((c) => [c.start_ms, c.end_ms, c.word_start, c.word_end]), [[0, 40, 0, 40], [2000, 2400, 40, 41]]);
  // The same in the middle of a text, and at its very end (which joins the cue before).
  const mid = sentence([['Before', 0, 0.5], ...items.map(([w]): [string, number, number] => [w, 0.5, 0.5]), ['after.', 0.5, 1]]);
  const rm = await renderChecked(mid.words, 1, mid.text);
  t.same(rm.problems, []);
  t.ok(coverage(rm.cues, mid.words.length), 'middle: every word shown');
  const end = sentence([['Before', 0, 0.5], ...items.map(([w]): [string, number, number] => [w, 1, 1])]);
  const re = await renderChecked(end.words, 1, end.text);
  t.same(re.problems, []);
  t.ok(coverage(re.cues, end.words.length), 'at the audio end: every word shown');
});

t.test('audio under a centisecond shows no cue in any format', async (t) => {
  const { words, text } = sentence([['Hi', 0, 0.005]]);
  const { cues, files } = renderSubtitles(words, {}, { duration: 0.005, text });
  t.same(cues, []);
  t.same([files.srt, files.vtt], ['', 'WEBVTT\n']);
  t.notMatch(files.ass!, /Dialogue:/);
});

t.test('fuzz: every format has every cue, every word is in one', async (t) => {
  // Words a millisecond or so apart, some at one instant, with one-line cues: cues under a
  // centisecond used to vanish from the ASS file only.
  const random = rng(23);
  const gaps = [0, 0, 1, 1, 1, 2, 3, 7, 12, 30, 450];
  const bad: string[] = [];
  for (let round = 0; round < 300; round++) {
    const n = 1 + Math.floor(random() * 40);
    const items: [string, number, number][] = [];
    let at = Math.floor(random() * 20);
    for (let i = 0; i < n; i++) {
      const len = Math.floor(random() * 4);
      const w = 'abcdefghij'.slice(0, 1 + Math.floor(random() * 9)) + (random() < 0.1 ? '.' : random() < 0.2 ? ',' : '');
      items.push([w, at / 1000, (at + len) / 1000]);
      at += len + gaps[Math.floor(random() * gaps.length)]!;
    }
    const duration = (at + Math.floor(random() * 25)) / 1000;
    const { words, text } = sentence(items);
    const opts = {
      max_lines: 1 + Math.floor(random() * 2),
      max_chars_per_line: 10 + Math.floor(random() * 10),
      fps: [25, 60, 240][Math.floor(random() * 3)]!,
    };
    const { cues, files } = renderSubtitles(words, opts, { duration, text });
    const counts = {
      cues: cues.length,
      srt: parseSrt(files.srt!).cues.length,
      vtt: parseVtt(files.vtt!).cues.length,
      ass: parseAss(files.ass!).cues.length,
      json: (JSON.parse(files.json!) as { cues: unknown[] }).cues.length,
    };
    const where = `round ${round} ${JSON.stringify(opts)}`;
    if (new Set(Object.values(counts)).size !== 1) bad.push(`${where}: ${JSON.stringify(counts)}`);
    if (duration >= 0.01 && !coverage(cues, words.length)) bad.push(`${where}: a word in no cue`);
    bad.push(...cueProblems(cues, Math.round(duration * 1000)).map((p) => `${where}: ${p}`));
    if (round % 30 === 0) {
      const durationMs = Math.round(duration * 1000);
      bad.push(...(await fileProblems({ cues, files }, { words, durationMs, text, ffprobe: true })).map((p) => `${where}: ${p}`));
    }
  }
  t.same(bad.slice(0, 20), [], `${bad.length} problems`);
});

t.test('a phrase too long for one cue breaks at its commas, even at the price of one more cue', async (t) => {
  const text =
    'In 1969, about 600 million people watched the Moon landing live on television, which was, by any measure, an extraordinary moment in the history of broadcasting.';
  // Even spacing, no pauses: only the cost of each break point decides where cues split.
  const words: Word[] = [...text.matchAll(/[\p{L}\p{N}]+/gu)].map((m, i) => ({
    word: m[0], start: i * 0.35, end: i * 0.35 + 0.3, char_start: m.index, char_end: m.index + m[0].length, source: 'test',
  }));
  const cues = buildCues(words, { duration: words.length * 0.35 + 0.5, text });
  t.same(
    cues.map((c) => c.lines.join(' ')),
    [
      'In 1969, about 600 million people watched the Moon landing live on television,',
      'which was, by any measure,',
      'an extraordinary moment in the history of broadcasting.',
    ],
  );
});
