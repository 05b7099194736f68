// Display timing as a subtitler does it: reading speed and minimum duration by lingering into the
// silence after a cue, chaining of short gaps, frame accuracy — with the words' own times untouched.
import t from 'tap';
import { cueChars, frameRate, renderSubtitles, wordTimes, type Cue } from '../../src/subtitles/index.js';
import type { Word } from '../../src/types.js';
import { cueProblems, fileProblems } from './fixtures/check.js';
import { longText, parseAss, parseVtt, synthWords } from './fixtures/helpers.js';

const AS_BUILT = { reading_speed: 0, min_cue_duration: 0, chain_threshold: 0 };

/** A long text spoken quickly, as espeak does: dense words, short silences. */
function longSpeech(count = 1000) {
  const text = longText(count);
  const { words, duration } = synthWords(text, { seed: 5, perChar: 0.05 });
  return { text, words, duration, durationMs: Math.round(duration * 1000) };
}

const cps = (c: Cue) => (cueChars(c) * 1000) / (c.end_ms - c.start_ms);

t.test('reading speed: cues linger into the silence; the ones still too fast had no room', async (t) => {
  const { text, words, duration, durationMs } = longSpeech();
  const built = renderSubtitles(words, AS_BUILT, { duration, text });
  const timed = renderSubtitles(words, {}, { duration, text });
  const over = (cues: Cue[]) => cues.filter((c) => cps(c) > 20 + 1e-9).length / cues.length;
  t.ok(over(built.cues) > 0.1, `as built, ${Math.round(over(built.cues) * 100)}% of cues are read faster than 20 cps`);
  t.ok(over(timed.cues) < over(built.cues) / 2, `timed, ${Math.round(over(timed.cues) * 100)}%`);
  t.equal(timed.report.over_reading_speed, Math.round(over(timed.cues) * 10_000) / 10_000, 'the answer reports the share');
  t.same(timed.cues.map((c) => c.text), built.cues.map((c) => c.text), 'the same cues, only their times moved');

  const gap = 80; // 2 frames at 25 fps
  const stuck: string[] = [];
  for (const [i, c] of timed.cues.entries()) {
    const next = timed.cues[i + 1];
    const b = built.cues[i]!;
    t.ok(c.start_ms === b.start_ms && c.end_ms >= b.end_ms - gap, `cue ${c.index} starts with its speech and is not cut beyond the chaining gap`);
    if (next) t.ok(c.end_ms <= next.start_ms, `cue ${c.index} ends before the next starts`);
    t.ok(c.end_ms <= durationMs, `cue ${c.index} ends inside the audio`);
    if (cps(c) > 20 + 1e-9) {
      // No room: it reaches the next cue's gap, the audio's end or its longest (7 s).
      const room = Math.min(next ? next.start_ms - gap : durationMs, durationMs, c.start_ms + 7000);
      if (c.end_ms < room) stuck.push(`cue ${c.index} at ${cps(c).toFixed(1)} cps ends at ${c.end_ms}, room until ${room}`);
    }
  }
  t.same(stuck, [], 'every cue over the limit had no room to linger');
  // Karaoke stays on the words: every part keeps its word's own time, in every format.
  const times = wordTimes(words, durationMs);
  t.ok(timed.cues.every((c) => c.parts.every((p) => p.start_ms === times[p.word]!.start_ms && p.end_ms === times[p.word]!.end_ms)));
  t.same(JSON.parse(timed.files.json!).words, JSON.parse(built.files.json!).words, 'the word file is the same');
  const vttStamps = (vtt: string) => parseVtt(vtt).cues.flatMap((c) => c.timestamps);
  t.same(vttStamps(timed.files.vtt!).slice(0, 200), vttStamps(built.files.vtt!).slice(0, 200), 'WebVTT inline times stay on the words');
  t.same(await fileProblems(timed, { words, durationMs, text }), [], 'every format still reads back strictly');
});

t.test('minimum duration lingers where there is room and is reported where there is none', async (t) => {
  const words: Word[] = [
    { word: 'Yes.', start: 0.5, end: 0.7, char_start: 0, char_end: 4, source: 'test' },
    { word: 'No.', start: 3.0, end: 3.2, char_start: 5, char_end: 8, source: 'test' },
    { word: 'Maybe.', start: 3.5, end: 3.7, char_start: 9, char_end: 15, source: 'test' },
  ];
  const r = renderSubtitles(words, {}, { duration: 5, text: 'Yes. No. Maybe.' });
  t.same(r.cues.map((c) => [c.start_ms, c.end_ms]), [[500, 1333], [3000, 3420], [3500, 4333]]);
  const json = JSON.parse(r.files.json!) as { cues: { cps: number; duration: number; gap_before: number; unmet: string[] }[] };
  t.same(json.cues.map((c) => [c.duration, c.gap_before, c.unmet]), [
    [0.833, 0.5, []],
    [0.42, 1.667, ['min_duration']], // the next cue comes 0.3 s after its word: room only until its 2-frame gap
    [0.833, 0.08, []],
  ]);
  t.equal(json.cues[0]!.cps, 4.8);
  t.match(r.report, { cues: 3, under_min_duration: 0.3333, over_reading_speed: 0, rules: { reading_speed: 20, min_cue_duration: 5 / 6, fps: null } });
});

t.test('chaining closes short gaps to exactly two frames and leaves long ones; with fps every boundary is a frame', async (t) => {
  const { text, words, duration, durationMs } = longSpeech(600);
  for (const fps of [25, 23.976, 29.97, 50, 59.94]) {
    const built = renderSubtitles(words, { ...AS_BUILT, fps }, { duration, text });
    const r = renderSubtitles(words, { fps }, { duration, text });
    const frame = 1000 / frameRate(fps);
    const onFrame = (ms: number) => ms === durationMs || Math.abs(Math.round(ms / frame) * frame - ms) <= 0.5;
    const off = r.cues.flatMap((c) => [c.start_ms, c.end_ms]).filter((ms) => !onFrame(ms));
    t.same(off, [], `${fps} fps: every boundary on a frame`);
    if (fps === 25) t.ok(r.cues.every((c) => c.start_ms % 40 === 0 && (c.end_ms % 40 === 0 || c.end_ms === durationMs)), 'multiples of 40 ms');
    // Every gap is two frames, or half a second or more; cues that touch as built and whose last
    // word starts too late to open a gap keep touching (the screen does not blink either way).
    const twoFrames = [Math.floor(2 * frame), Math.ceil(2 * frame)];
    const odd: string[] = [];
    let touching = 0;
    for (let i = 1; i < r.cues.length; i++) {
      const gapMs = r.cues[i]!.start_ms - r.cues[i - 1]!.end_ms;
      if (gapMs === 0 && built.cues[i]!.start_ms === built.cues[i - 1]!.end_ms) touching++;
      else if (!twoFrames.includes(gapMs) && gapMs < 500) odd.push(`gap ${i}: ${gapMs} ms`);
    }
    t.same(odd, [], `${fps} fps: every gap is 2 frames or at least 0.5 s (${touching} of ${r.cues.length - 1} keep touching)`);
    t.ok(touching < r.cues.length / 10, 'few cues keep touching');
    t.ok(built.cues.some((c, i) => i > 0 && c.start_ms - built.cues[i - 1]!.end_ms >= 500), 'the text has long gaps too');
    t.same(cueProblems(r.cues, durationMs), [], `${fps} fps: cues in order, inside the audio`);
    t.equal(r.report.rules.fps, fps);
  }
  // What ffprobe reads back matches, to the ms (SRT, WebVTT) and the cs (ASS).
  const r25 = renderSubtitles(words.slice(0, 120), { fps: 25 }, { duration, text });
  t.same(await fileProblems(r25, { words: words.slice(0, 120), durationMs, text, ffprobe: true }), []);
});

t.test('NTSC rates are the exact 1000/1001 ones; other rates are taken as given', async (t) => {
  t.equal(frameRate(29.97), 30000 / 1001);
  t.equal(frameRate(23.976), 24000 / 1001);
  t.equal(frameRate(59.94), 60000 / 1001);
  t.equal(frameRate(25), 25);
  t.equal(frameRate(undefined), 25, 'frames are counted at 25 fps when none is given');
});

t.test('ASS karaoke still sums to the cue and starts each word at its own time', async (t) => {
  const { text, words, duration } = longSpeech(200);
  const r = renderSubtitles(words, { fps: 25 }, { duration, text });
  const ass = parseAss(r.files.ass!).cues;
  t.equal(ass.length, r.cues.length);
  for (const [i, a] of ass.entries()) {
    t.equal(a.karaoke.reduce((x: number, y: number) => x + y, 0), a.end - a.start, `cue ${i + 1}: \\k tags fill the cue`);
  }
});
