import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { renderSubtitles } from '../../src/subtitles/index.js';
import type { Word } from '../../src/types.js';
import { NASTY_TEXTS, run, synthWords } from './fixtures/helpers.js';

const W = 640;
const H = 360;
const FPS = 25;

/** Burns the ASS file into 2 s of black video with FFmpeg's ass filter; returns raw RGB frames. */
async function burn(ass: string): Promise<Buffer[]> {
  // mkdtemp names are [A-Za-z0-9], so the path needs no escaping inside the filter graph.
  const dir = await mkdtemp(join(tmpdir(), 'voicecue-burn-'));
  try {
    const file = join(dir, 'subtitles.ass');
    await writeFile(file, ass);
    const { stdout } = await run(
      'ffmpeg',
      ['-v', 'error', '-f', 'lavfi', '-i', `color=c=black:s=${W}x${H}:d=2:r=${FPS}`,
        '-vf', `ass=${file}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 },
    );
    const size = W * H * 3;
    return Array.from({ length: stdout.length / size }, (_, i) => stdout.subarray(i * size, (i + 1) * size));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Pixels clearly in the primary (red) or highlight (green) colour. */
function colours(frame: Buffer): { red: number; green: number } {
  let red = 0;
  let green = 0;
  for (let i = 0; i < frame.length; i += 3) {
    const [r, g, b] = [frame[i]!, frame[i + 1]!, frame[i + 2]!];
    if (r > 180 && g < 80 && b < 80) red++;
    if (g > 180 && r < 80 && b < 80) green++;
  }
  return { red, green };
}

t.test('the ASS file burns into a video, and \\k highlights words as they are spoken', async (t) => {
  const text = 'Early words. Later words';
  const words: Word[] = [
    { word: 'Early', start: 0.2, end: 0.5, char_start: 0, char_end: 5, source: 'test' },
    { word: 'words', start: 0.6, end: 0.9, char_start: 6, char_end: 11, source: 'test' },
    { word: 'Later', start: 1.2, end: 1.5, char_start: 13, char_end: 18, source: 'test' },
    { word: 'words', start: 1.5, end: 1.9, char_start: 19, char_end: 24, source: 'test' },
  ];
  // The cues as built on the words (no lingering, no chaining): the highlighting is under test.
  const asBuilt = { reading_speed: 0, min_cue_duration: 0, chain_threshold: 0 };
  const { files } = renderSubtitles(words, { primary_colour: '#FF0000', highlight_colour: '#00FF00', font_size: 96, ...asBuilt }, {
    duration: 2,
    text,
  });
  const frames = await burn(files.ass!);
  t.equal(frames.length, 2 * FPS, 'ffmpeg rendered every frame and exited 0');
  const at = (seconds: number) => colours(frames[Math.round(seconds * FPS)]!);
  t.same(at(0.1), { red: 0, green: 0 }, 'nothing before the first cue');
  const first = at(0.3); // "Early" being spoken, "words." not yet
  t.ok(first.green > 100 && first.red > 100, `spoken word green, the next still red (${JSON.stringify(first)})`);
  const done = at(0.8); // both spoken
  t.ok(done.green > 100 && done.red === 0, `all green once spoken (${JSON.stringify(done)})`);
  t.same(at(1.0), { red: 0, green: 0 }, 'nothing in the pause between cues');
  const second = at(1.3);
  t.ok(second.green > 100 && second.red > 100, `second cue shows (${JSON.stringify(second)})`);
  t.same(at(1.95), { red: 0, green: 0 }, 'gone after its end');
});

t.test('nasty texts burn without error', async (t) => {
  const text = Object.values(NASTY_TEXTS).join(' ');
  const { words, duration } = synthWords(text, { perChar: 0.005 });
  const { files } = renderSubtitles(words, {}, { duration: Math.min(duration, 2), text });
  const frames = await burn(files.ass!);
  t.equal(frames.length, 2 * FPS);
});
