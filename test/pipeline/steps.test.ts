// The audio, subtitles and encode steps on their own, against a stub router and a temp folder.
import t from 'tap';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import type { Capability } from '../../src/lanes/index.js';
import { AUDIO_FILE, produceAudio } from '../../src/pipeline/audio.js';
import type { StepContext } from '../../src/pipeline/context.js';
import { encode } from '../../src/pipeline/encode.js';
import { writeSubtitles } from '../../src/pipeline/subtitles.js';
import type { Workers } from '../../src/services/workers.js';

const RESULT = {
  engine: 'espeak', voice: 'en-us', sample_rate: 22050, samples: 22050, duration: 1,
  words: [{ word: 'Hello', start: 0, end: 0.4, char_start: 0, char_end: 5, source: 'espeak', confidence: null }],
  timings_ms: { synthesize: 2 },
};

function context(capability: Partial<Capability>, reply: unknown, ready = true) {
  const sent: { method: string; params: Record<string, unknown>; opts: Record<string, unknown> }[] = [];
  const lane = { info: ready ? {} : null, run: async (method: string, params: Record<string, unknown>, opts: Record<string, unknown>) => (sent.push({ method, params, opts }), reply) };
  const workers = { capability: () => ({ lane: 'cpu', batch: 1, available: true, ...capability }), laneFor: () => lane } as unknown as Workers;
  const signal = new AbortController().signal;
  const ctx: StepContext = { config: loadConfig({ VOICECUE_REQUEST_TIMEOUT_S: '7', VOICECUE_REQUEST_MAX_S: '70' }), workers, store: undefined as never, log: undefined as never, signal, timings: {} };
  return { ctx, sent, signal };
}

const request = { engine: 'espeak' as const, text: 'Hello', voice: 'en-us', language: null, speed: 1 };

t.test('audio: the job goes to the engine\'s lane with the staging path, the signal and the deadlines', async (t) => {
  const { ctx, sent, signal } = context({}, RESULT);
  const result = await produceAudio(ctx, '/data/staging/abc', request);
  t.same(result, RESULT);
  t.equal(sent.length, 1);
  t.match(sent[0], {
    method: 'synthesize', params: { ...request, output_path: join('/data/staging/abc', AUDIO_FILE), word_timings: true, max_audio_s: 1800, max_worker_s: 600 },
  });
  t.same(sent[0]!.opts, { signal, timeoutMs: 7000, maxMs: 70_000 });
  t.type(ctx.timings.worker_round_trip, 'number');
});

t.test('audio: an engine its worker reports unavailable is refused before any job; a malformed answer is ENGINE_FAILED', async (t) => {
  const off = context({ available: false, reason: 'libespeak-ng.so.1 not found' }, RESULT);
  await t.rejects(produceAudio(off.ctx, '/d', request), { code: 'ENGINE_UNAVAILABLE', message: /espeak is not available: libespeak-ng/ });
  t.same(off.sent, []);
  const starting = context({ available: false, reason: 'the cpu lane is not ready' }, RESULT, false);
  t.same(await produceAudio(starting.ctx, '/d', request), RESULT, 'a lane still starting queues the job instead');
  const malformed = context({}, { engine: 'espeak', duration: 1 });
  await t.rejects(produceAudio(malformed.ctx, '/d', request), { code: 'ENGINE_FAILED' });
});

t.test('subtitles: the formats asked for, and the JSON words always', async (t) => {
  const dir = t.testdir();
  const { formats, report } = writeSubtitles(dir, RESULT.words, { timing_format: 'srt' }, { duration: 1, text: 'Hello', language: 'en-us' });
  t.same(formats.sort(), ['json', 'srt']);
  t.match(report, { cues: 1, over_reading_speed: 0, under_min_duration: 0, rules: { reading_speed: 20 } });
  t.same((await readdir(dir)).sort(), ['subtitles.srt', 'words.json'].sort());
  t.match(await readFile(join(dir, 'subtitles.srt'), 'utf8'), /^1\n00:00:00,000 --> 00:00:00,\d{3}\nHello\n/);
});

t.test('encode: WAV is the file the worker wrote; a missing one fails', async (t) => {
  const dir = t.testdir();
  await t.rejects(encode(dir, 'wav'), { code: 'ENOENT' });
  await writeFile(join(dir, AUDIO_FILE), Buffer.alloc(144));
  t.same(await encode(dir, 'wav'), { file: AUDIO_FILE, contentType: 'audio/wav', bytes: 144, format: 'wav' });
});
