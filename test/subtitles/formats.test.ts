import t from 'tap';
import { renderSubtitles } from '../../src/subtitles/index.js';
import type { Word } from '../../src/types.js';
import { cueProblems, fileProblems, visible } from './fixtures/check.js';
import { longText, NASTY_TEXTS, synthWords } from './fixtures/helpers.js';

const word = (text: string, start: number, end: number, at: number): Word => ({
  word: text, start, end, char_start: at, char_end: at + [...text].length, source: 'test',
});

// Every file for every nasty text, read back by the real parsers and by ffprobe.
for (const [name, text] of Object.entries(NASTY_TEXTS)) {
  for (const split of ['segmenter', 'spaces'] as const) {
    t.test(`${name} (${split} words)`, async (t) => {
      const { words, duration } = synthWords(text, { split });
      t.ok(words.length > 0, 'has words');
      const result = renderSubtitles(words, {}, { duration, text });
      const durationMs = Math.round(duration * 1000);
      t.same(Object.keys(result.files).sort(), ['ass', 'csv', 'json', 'srt', 'ttml', 'vtt'], 'all six by default');
      t.same(cueProblems(result.cues, durationMs), [], 'cues are sound');
      t.same(await fileProblems(result, { words, durationMs, text, ffprobe: true }), [], 'files read back');
      // The text survives: the cues show every character of the request (whitespace aside).
      t.equal(visible(result.cues.map((c) => c.text).join('')), visible(text), 'no character lost or added');
    });
  }
}

t.test('without the request text, words are joined by spaces', async (t) => {
  const text = NASTY_TEXTS.punctuation!;
  const { words, duration } = synthWords(text, { split: 'spaces' });
  const result = renderSubtitles(words, {}, { duration });
  t.equal(result.cues.map((c) => c.text).join(' ').replace(/\n/g, ' '), words.map((w) => w.word).join(' '));
  t.same(await fileProblems(result, { words, durationMs: Math.round(duration * 1000) }), []);
});

t.test('punctuation between words comes from the text', async (t) => {
  const text = '“Hello,” she said — (quietly) — “world.”';
  const { words, duration } = synthWords(text);
  t.same(words.map((w) => w.word), ['Hello', 'she', 'said', 'quietly', 'world']);
  const { cues } = renderSubtitles(words, {}, { duration, text });
  t.equal(cues.map((c) => c.text).join(' '), text);
  const cjk = '今日は、良い天気。';
  const w2 = synthWords(cjk);
  t.equal(renderSubtitles(w2.words, {}, { duration: w2.duration, text: cjk }).cues.map((c) => c.text).join(''), cjk);
});

t.test('opening punctuation before the first word is kept', async (t) => {
  for (const text of ['"Hello world," she said.', '¿Qué tal?', "'Tis true.", '« (Bonjour) »', '\u201CHi,\u201D she said.']) {
    const { words, duration } = synthWords(text);
    t.equal(renderSubtitles(words, {}, { duration, text }).cues.map((c) => c.text).join(' '), text);
  }
  // A leading gap with a space in it is still all the first word's.
  const spaced = '- "Hi" -';
  const s = synthWords(spaced);
  t.same(renderSubtitles(s.words, {}, { duration: s.duration, text: spaced }).cues.map((c) => c.text), [spaced]);
});

t.test('control characters leave cue text; the words keep them', async (t) => {
  const text = '\0Nul\x01 a\0b \x7F c\x1F.';
  const { words, duration } = synthWords(text, { split: 'spaces' });
  const { cues, files } = renderSubtitles(words, {}, { duration, text });
  t.same(cues.map((c) => c.text), ['Nul ab c.']);
  t.notMatch(files.srt!, /[\x00-\x08\x0E-\x1F\x7F]/, 'none in the SRT');
  t.same(JSON.parse(files.json!).words.map((w: { word: string }) => w.word), words.map((w) => w.word), 'JSON words unchanged');
  // A word that is only a NUL leaves no space behind.
  const dash = 'alone \0 \u2014 here.';
  const d = [word('alone', 0, 0.3, 0), word('\0', 0.3, 0.4, 6), word('here', 0.5, 0.8, 10)];
  t.same(renderSubtitles(d, {}, { duration: 1, text: dash }).cues.map((c) => c.text), ['alone \u2014 here.']);
});

t.test('"-->" in the text never reads as a timing line', async (t) => {
  const text = '00:00:05,000 --> 00:00:09,000.';
  const { words, duration } = synthWords(text);
  const { cues, files } = renderSubtitles(words, {}, { duration, text });
  t.same(cues.map((c) => c.text), [text]);
  t.equal(files.srt!.split('\n').filter((l) => l.includes('-->')).length, 1, 'only the timing line has "-->"');
  t.match(files.srt!, '00:00:05,000 --\u2060> 00:00:09,000.', 'an invisible WORD JOINER breaks the arrow');
  t.notMatch(files.vtt!.split('\n').slice(3).join('\n'), '-->', 'WebVTT escapes ">"');
  const durationMs = Math.round(duration * 1000);
  t.same(await fileProblems({ cues, files }, { words, durationMs, text, ffprobe: true }), []);
});

t.test('a 2000-word text parses everywhere, with \\kf karaoke', async (t) => {
  const text = longText(2000);
  const { words, duration } = synthWords(text, { seed: 3 });
  t.equal(words.length, 2000);
  const result = renderSubtitles(words, { karaoke_tag: 'kf' }, { duration, text });
  const durationMs = Math.round(duration * 1000);
  t.same(await fileProblems(result, { words, durationMs, text, karaokeTag: 'kf', ffprobe: true }), []);
});
