import t from 'tap';
import { renderSubtitles } from '../../src/subtitles/index.js';
import { cueProblems, fileProblems, visible } from './fixtures/check.js';
import { longText, NASTY_TEXTS, synthWords } from './fixtures/helpers.js';

// Every file for every nasty text, read back by the real parsers and by ffprobe.
for (const [name, text] of Object.entries(NASTY_TEXTS)) {
  for (const split of ['segmenter', 'spaces'] as const) {
    t.test(`${name} (${split} words)`, async (t) => {
      const { words, duration } = synthWords(text, { split });
      t.ok(words.length > 0, 'has words');
      const result = renderSubtitles(words, {}, { duration, text });
      const durationMs = Math.round(duration * 1000);
      t.same(Object.keys(result.files).sort(), ['ass', 'csv', 'json', 'srt', 'vtt'], 'all five by default');
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

t.test('a 2000-word text parses everywhere, with \\kf karaoke', async (t) => {
  const text = longText(2000);
  const { words, duration } = synthWords(text, { seed: 3 });
  t.equal(words.length, 2000);
  const result = renderSubtitles(words, { karaoke_tag: 'kf' }, { duration, text });
  const durationMs = Math.round(duration * 1000);
  t.same(await fileProblems(result, { words, durationMs, text, karaokeTag: 'kf', ffprobe: true }), []);
});
