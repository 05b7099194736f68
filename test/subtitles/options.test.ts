import t from 'tap';
import { z } from 'zod';
import {
  csvField,
  escapeAss,
  escapeSrt,
  escapeVtt,
  FORMATS,
  renderSubtitles,
  subtitleOptionsSchema,
  toAssColour,
} from '../../src/subtitles/index.js';
import { assTime, csvSeconds, srtTime, toMs, vttTime } from '../../src/subtitles/time.js';
import type { Word } from '../../src/types.js';
import { parseAss } from './fixtures/helpers.js';

const w = (word: string, start: number, end: number, at: number): Word => ({
  word, start, end, char_start: at, char_end: at + word.length, source: 'test',
});

t.test('defaults', async (t) => {
  t.same(subtitleOptionsSchema.parse({}), {
    timing_format: 'all',
    max_chars_per_line: 42,
    max_lines: 2,
    max_cue_duration: 7,
    min_cue_duration: 5 / 6,
    reading_speed: 20,
    chain_threshold: 0.5,
    chain_gap_frames: 2,
    pause_threshold: 0.4,
    font_size: 64,
    primary_colour: '#FFFFFF',
    highlight_colour: '#FFD700',
    karaoke_tag: 'k',
  });
});

t.test('bad values are rejected with the field named', async (t) => {
  const bad: Record<string, unknown> = {
    timing_format: 'mp3',
    max_chars_per_line: 42.5,
    max_lines: 0,
    max_cue_duration: 120,
    min_cue_duration: -1,
    fps: 0,
    pause_threshold: 'long',
    font_size: 2,
    primary_colour: 'red',
    highlight_colour: '#12345',
    karaoke_tag: 'ko',
  };
  for (const [field, value] of Object.entries(bad)) {
    const result = subtitleOptionsSchema.safeParse({ [field]: value });
    t.notOk(result.success, `${field}=${JSON.stringify(value)} rejected`);
    t.same(result.error?.issues.map((i) => i.path), [[field]], `the issue names ${field}`);
  }
  const colour = subtitleOptionsSchema.safeParse({ primary_colour: 'red' });
  t.match(colour.error?.issues[0]?.message, /#RRGGBB/);
  t.throws(() => renderSubtitles([], { max_lines: 9 }, { duration: 1 }), { name: 'ZodError' });
  t.ok(subtitleOptionsSchema.safeParse({ primary_colour: '#00ff0080', fps: 23.976 }).success);
});

t.test('the schema embeds in a route body, flat or nested', async (t) => {
  const flat = z.object({ text: z.string() }).extend(subtitleOptionsSchema.shape);
  t.equal(flat.parse({ text: 'x', timing_format: 'vtt' }).max_lines, 2);
  const nested = z.object({ text: z.string(), subtitles: subtitleOptionsSchema.prefault({}) });
  t.equal(nested.parse({ text: 'x' }).subtitles.timing_format, 'all');
  const issue = flat.safeParse({ text: 'x', max_lines: 'two' }).error?.issues[0];
  t.same(issue?.path, ['max_lines']);
});

t.test('format table', async (t) => {
  t.same(
    Object.fromEntries(Object.entries(FORMATS).map(([k, v]) => [k, [v.fileName, v.contentType]])),
    {
      srt: ['subtitles.srt', 'application/x-subrip; charset=utf-8'],
      vtt: ['subtitles.vtt', 'text/vtt; charset=utf-8'],
      ass: ['subtitles.ass', 'text/x-ssa; charset=utf-8'],
      ttml: ['subtitles.ttml', 'application/ttml+xml'],
      csv: ['words.csv', 'text/csv; charset=utf-8; header=present'],
      json: ['words.json', 'application/json'],
    },
  );
});

t.test('timing_format renders only what was asked', async (t) => {
  const words = [w('Hi', 0.1, 0.4, 0)];
  for (const f of ['srt', 'vtt', 'ass', 'csv', 'json'] as const) {
    const { files, cues } = renderSubtitles(words, { timing_format: f }, { duration: 1, text: 'Hi' });
    t.same(Object.keys(files), [f]);
    t.equal(cues.length, 1, 'cues are returned whatever the format');
  }
});

t.test('colours: #RRGGBB[AA] to &HAABBGGRR, \\k colours the right way round', async (t) => {
  t.equal(toAssColour('#FF8000'), '&H000080FF');
  t.equal(toAssColour('#ff800080'), '&H7F0080FF', 'CSS opacity 80 is ASS transparency 7F');
  t.equal(toAssColour('#123456FF'), '&H00563412');
  t.throws(() => toAssColour('red'));
  const { files } = renderSubtitles([w('Hi', 0.1, 0.4, 0)], {
    font_size: 80, primary_colour: '#FF0000', highlight_colour: '#00FF00', karaoke_tag: 'kf',
  }, { duration: 1 });
  const style = parseAss(files.ass!).script.styles.style[0]!;
  t.equal(style.Fontsize, '80');
  t.equal(style.PrimaryColour, '&H0000FF00', 'PrimaryColour: the sung (highlight) colour');
  t.equal(style.SecondaryColour, '&H000000FF', 'SecondaryColour: before a word is sung');
  t.match(files.ass!, /\{\\kf30\}Hi/);
});

t.test('karaoke durations come from rounded absolute boundaries', async (t) => {
  // Boundaries at odd milliseconds: rounding each duration would drift; rounding boundaries cannot.
  const words = [w('a', 0.004, 0.016, 0), w('b', 0.016, 0.031, 2), w('c', 0.044, 0.059, 4), w('d', 0.059, 0.074, 6)];
  // The cue as built (no lingering): the karaoke is what is under test.
  const { files } = renderSubtitles(words, { reading_speed: 0, min_cue_duration: 0 }, { duration: 1, text: 'a b c d' });
  const [cue] = parseAss(files.ass!).cues;
  // Boundaries 0.4→0, 1.6→2, 3.1→3, 4.4→4, 5.9→6, 7.4→7 cs.
  t.same([cue!.start, cue!.end], [0, 7]);
  t.same(cue!.karaoke, [2, 1, 1, 2, 1], '\\k2 a, \\k1 b, gap \\k1, \\k2 c, \\k1 d');
  t.match(files.ass!, /\{\\k2\}a \{\\k1\}b \{\\k1\}\{\\k2\}c \{\\k1\}d$/m);
});

t.test('escaping', async (t) => {
  t.equal(escapeAss('a{b}c\\N'), 'a\\{b\\}c\\\u2060N');
  t.equal(escapeVtt('a<b>&c-->'), 'a&lt;b&gt;&amp;c--&gt;');
  t.equal(escapeSrt('a --> b -->'), 'a --\u2060> b --\u2060>');
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\nlines'), '"two\nlines"');
});

t.test('time formats', async (t) => {
  t.equal(toMs(1.2345), 1235);
  t.equal(toMs(Number.NaN), 0);
  t.equal(srtTime(3_723_004), '01:02:03,004');
  t.equal(vttTime(3_723_004), '01:02:03.004');
  t.equal(srtTime(360_000_000), '100:00:00,000');
  t.equal(assTime(372_300), '1:02:03.00');
  t.equal(assTime(5), '0:00:00.05');
  t.equal(csvSeconds(5), '0.005');
  t.equal(csvSeconds(61_230), '61.230');
});
