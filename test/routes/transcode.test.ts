// Compressed audio from the real worker's WAV: /tts audio_format and GET /download ?format=, made
// by ffmpeg, cached beside the WAV, served with Range and ETag, counted in the quota.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { parseWav, testApp } from '../helpers.js';
import { EXPECTED_CODEC, probe } from '../audio.js';

const TEXT = 'Compressed audio, made once and kept. The year 2025 had 12 months.';

t.test('GET /download ?format= transcodes on first request, caches the file, serves Range and ETag', async (t) => {
  const { app, workers, store } = await testApp(t);
  await workers.start();
  const made = await app.inject({ method: 'POST', url: '/tts', payload: { text: TEXT } });
  t.equal(made.statusCode, 201);
  const { id, duration } = made.json();
  const wav = parseWav((await app.inject(`/download/${id}`)).rawPayload);
  for (const format of ['mp3', 'opus', 'aac', 'flac', 'pcm'] as const) {
    const res = await app.inject(`/download/${id}?format=${format}`);
    t.equal(res.statusCode, 200, format);
    t.equal(res.headers['content-type'], { mp3: 'audio/mpeg', opus: 'audio/ogg; codecs=opus', aac: 'audio/aac', flac: 'audio/flac', pcm: 'audio/pcm' }[format]);
    const info = await probe(res.rawPayload, format === 'pcm' ? 24000 : undefined);
    t.equal(info.codec, EXPECTED_CODEC[format].codec, `${format} codec`);
    t.equal(info.sampleRate, EXPECTED_CODEC[format].rate, `${format} rate`);
    t.ok(Math.abs(info.decoded - wav.duration) <= 0.05, `${format} plays ${info.decoded} s, the WAV ${wav.duration} s`);
    if (format === 'pcm') {
      t.equal(res.rawPayload.length % 2, 0, 'pcm: whole 16-bit samples');
      t.ok(Math.abs(res.rawPayload.length - wav.duration * 24000 * 2) <= 2, `pcm: duration × 24000 × 2 bytes (±1 sample): ${res.rawPayload.length}`);
      t.ok(Math.abs(res.rawPayload.length / 48000 - duration) < 0.001, 'pcm: the answer\'s duration');
    }
    // Cached: the second answer is the same file (same ETag), and a Range of it works.
    const again = await app.inject({ url: `/download/${id}?format=${format}`, headers: { 'if-none-match': res.headers.etag as string } });
    t.equal(again.statusCode, 304, `${format} cached under the same ETag`);
    const part = await app.inject({ url: `/download/${id}?format=${format}`, headers: { range: 'bytes=0-99' } });
    t.equal(part.statusCode, 206);
    t.same(part.rawPayload, res.rawPayload.subarray(0, 100));
  }
  const files = await readdir(join(store.artifactsDir, id));
  t.ok(['audio.mp3', 'audio.opus', 'audio.aac', 'audio.flac', 'audio.pcm'].every((f) => files.includes(f)), 'each cached beside the WAV');
  t.notOk(files.some((f) => f.includes('.tmp-')), 'no temp file left');
});

t.test('/tts audio_format: stored beside the WAV, answered with Accept: audio/*, listed in downloads', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  const res = await app.inject({ method: 'POST', url: '/tts', headers: { accept: 'audio/*' }, payload: { text: TEXT, audio_format: 'opus' } });
  t.equal(res.statusCode, 200);
  t.equal(res.headers['content-type'], 'audio/ogg; codecs=opus');
  t.equal((await probe(res.rawPayload)).codec, 'opus');
  const id = res.headers['x-voicecue-id'] as string;
  t.equal(res.headers.location, `/download/${id}?format=opus`);
  t.same((await app.inject(`/download/${id}?format=opus`)).rawPayload, res.rawPayload, 'the same bytes are kept');
  const json = await app.inject({ method: 'POST', url: '/tts', payload: { text: TEXT, audio_format: 'mp3' } });
  t.match(json.json(), { audio_format: 'mp3', audio_url: /\?format=mp3$/, downloads: { wav: /./, mp3: /\?format=mp3$/ } });
  const bad = await app.inject({ method: 'POST', url: '/tts', payload: { text: TEXT, audio_format: 'ogg' } });
  t.equal(bad.statusCode, 400);
  t.match(bad.json(), { code: 'VALIDATION_ERROR', message: /audio_format/ });
});

t.test('a cached transcoding counts in the disk quota', async (t) => {
  const { app, workers, store } = await testApp(t, { env: { VOICECUE_DISK_QUOTA_MB: '100' } });
  await workers.start();
  const { id } = (await app.inject({ method: 'POST', url: '/tts', payload: { text: TEXT } })).json();
  const before = (await store.diskStatus()).used!;
  const flac = await app.inject(`/download/${id}?format=flac`);
  t.equal((await store.diskStatus()).used, before + flac.rawPayload.length);
});
