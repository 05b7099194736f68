// The aligner chain through HTTP, with fake workers on both lanes (an f5 without timings of its own
// and a whisperx that fails) and google against a local Speech server: the fall-through, the answer
// that names each step, audio still delivered when nothing can time the words, and the Google
// credentials kept out of the log and out of the workers' environment.
import t from 'tap';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import type { GoogleEndpoint } from '../../src/aligners/google.js';
import { loadConfig } from '../../src/config.js';
import { at, FAKE_KEY, speechServer } from '../fixtures/speech-server.js';
import { FAKE_SIDECAR, tempDir } from '../helpers.js';

const TEXT = 'Hello there, world.';
const WHISPERX = { whisperx: { available: true, lane: 'gpu', batch: 1, languages: ['en'] } };

async function app(t: { teardown(fn: () => unknown): void }, { env = {}, google, align = 'fail' }: { env?: Record<string, string>; google?: GoogleEndpoint; align?: string } = {}) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'debug', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1', ...env });
  const lines: string[] = [];
  const server = await buildApp({
    config,
    logger: { level: 'debug', stream: { write: (line: string) => void lines.push(line) } },
    warmup: false,
    ...(google ? { google } : {}),
    workers: {
      autoStart: false,
      args: (lane) => [FAKE_SIDECAR, '--lane', lane],
      env: { FAKE_F5: '1', FAKE_ALIGNERS: JSON.stringify(WHISPERX), FAKE_ALIGN: align },
      lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500 },
    },
  });
  t.teardown(() => server.close());
  await server.workers.start();
  return { app: server, lines, dataDir };
}

const tts = (server: Awaited<ReturnType<typeof app>>['app'], body: object, headers: Record<string, string> = {}) =>
  server.inject({ method: 'POST', url: '/tts', payload: body, headers });

t.test('whisperx fails and google is off: the audio is still delivered, with a timings error and no subtitles', async (t) => {
  const { app: server, lines, dataDir } = await app(t);
  const res = await tts(server, { text: TEXT, engine: 'f5' });
  t.equal(res.statusCode, 201, res.body);
  const body = res.json();
  t.same(body.words, []);
  t.equal(body.subtitles, null);
  t.same(Object.keys(body.downloads), ['wav'], 'only the audio: no subtitle file');
  t.match(body.timing, {
    method: 'auto', aligner: null, source: null,
    skipped: [
      { aligner: 'native', reason: 'engine f5 gives no word timings of its own' },
      { aligner: 'whisperx', reason: /^failed: fake: whisperx ran out of memory/ },
      { aligner: 'pocketsphinx', reason: /./ },
      { aligner: 'dtw', reason: /./ },
      { aligner: 'google', reason: /no Google credentials/ },
    ],
    error: { code: 'TIMING_UNAVAILABLE', message: /no aligner could time the words/ },
  });
  t.same(await readdir(join(dataDir, 'artifacts', body.id)), ['audio.wav'], 'no subtitle files on disk');
  const audio = await server.inject(body.audio_url);
  t.equal(audio.statusCode, 200);
  t.equal(audio.headers['content-type'], 'audio/wav');
  t.ok(lines.some((l) => l.includes('aligner failed; trying the next') && l.includes('whisperx')), 'the failure is logged');
  const wav = await tts(server, { text: TEXT, engine: 'f5' }, { accept: 'audio/wav' });
  t.equal(wav.statusCode, 200);
  t.equal(wav.headers['x-voicecue-timing'], 'unavailable');
});

t.test('timing_method: one step only when named; a bad one is a 400', async (t) => {
  const { app: server } = await app(t, { align: 'ok' });
  const viaWhisperx = (await tts(server, { text: TEXT, engine: 'espeak', timing_method: 'whisperx' })).json();
  t.match(viaWhisperx.timing, { method: 'whisperx', aligner: 'whisperx', source: 'whisperx', skipped: [] }, 'espeak audio timed by whisperx when asked');
  t.equal(viaWhisperx.words[0].source, 'whisperx');
  const native = (await tts(server, { text: TEXT, engine: 'espeak' })).json();
  t.match(native.timing, { method: 'auto', aligner: 'native', source: 'fake' });
  const bad = await tts(server, { text: TEXT, timing_method: 'sphinx4' });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'VALIDATION_ERROR', message: /timing_method.*auto, native, whisperx, pocketsphinx, dtw, google/ });
});

t.test('whisperx fails, google times the words; its credentials never reach the log or the workers', async (t) => {
  const secret = JSON.stringify(FAKE_KEY);
  const dir = await tempDir(t);
  const keyFile = join(dir, 'key.json');
  await writeFile(keyFile, secret);
  // As the gateway's own environment has them: the workers are spawned from it.
  const saved = { ...process.env };
  Object.assign(process.env, { VOICECUE_GOOGLE_CREDENTIALS: secret, GOOGLE_CREDENTIALS_JSON: secret, VOICECUE_GOOGLE_CREDENTIALS_FILE: keyFile, GOOGLE_APPLICATION_CREDENTIALS: keyFile });
  t.teardown(() => {
    for (const k of ['VOICECUE_GOOGLE_CREDENTIALS', 'GOOGLE_CREDENTIALS_JSON', 'VOICECUE_GOOGLE_CREDENTIALS_FILE', 'GOOGLE_APPLICATION_CREDENTIALS']) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });
  const speech = await speechServer((req) => [
    { word: 'hello', startTime: at(0.1), endTime: at(0.3), confidence: 0.9 },
    { word: 'there', startTime: at(0.35), endTime: at(0.55), confidence: 0.8 },
    { word: 'world', startTime: at(0.6), endTime: { seconds: '0', nanos: 900_000_000 }, confidence: 0.7 },
  ].filter(() => req.config.languageCode === 'en-US'));
  t.teardown(() => speech.close());
  const { app: server, lines } = await app(t, { env: { VOICECUE_GOOGLE_CREDENTIALS: secret }, google: speech.endpoint });
  const res = await tts(server, { text: TEXT, engine: 'f5', language: 'en-us' });
  t.equal(res.statusCode, 201, res.body);
  const body = res.json();
  t.match(body.timing, {
    method: 'auto', aligner: 'google', source: 'google',
    skipped: [{ aligner: 'native' }, { aligner: 'whisperx', reason: /^failed: fake: whisperx ran out of memory/ }],
  });
  t.same(body.words.map((w: { word: string; start: number; end: number }) => [w.word, w.start, w.end]), [['Hello', 0.1, 0.3], ['there,', 0.35, 0.55], ['world.', 0.6, 0.9]], 'the fake worker tokenizes at spaces');
  t.ok(body.downloads.srt, 'subtitles written');
  const health = (await server.inject('/health?verbose=1')).json();
  t.match(health.aligners.google, { available: true, credentials: 'VOICECUE_GOOGLE_CREDENTIALS', lane: 'gateway' });

  const environ = ((await server.workers.lanes.gpu!.run('environ', {}, { signal: new AbortController().signal, timeoutMs: 5000, maxMs: 5000 })) as { environ: Record<string, string> }).environ;
  for (const name of ['VOICECUE_GOOGLE_CREDENTIALS', 'GOOGLE_CREDENTIALS_JSON', 'VOICECUE_GOOGLE_CREDENTIALS_FILE', 'GOOGLE_APPLICATION_CREDENTIALS']) {
    t.notOk(name in environ, `${name} is not in the worker's environment`);
  }
  t.notOk(Object.values(environ).some((v) => v.includes('TOPSECRETKEYMATERIAL')), 'nor is the key, under any name');
  const log = lines.join('');
  t.ok(log.length > 0 && log.includes('google aligner ready'));
  t.notOk(log.includes('TOPSECRETKEYMATERIAL'), 'the private key never appears in the log');
  t.notOk(log.includes(FAKE_KEY.private_key), 'nor the credential JSON');
});
