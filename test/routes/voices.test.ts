// The voice library through HTTP with real ffmpeg: store, list, listen, rename, delete; every bad
// upload a 4xx with a stable code and nothing half-stored; voices outside every sweep; f5 speaking a
// stored voice (the fake GPU worker reports the reference it was given), espeak refusing one.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SIDECAR, listening, parseWav, tempDir } from '../helpers.js';

async function service(t: Parameters<typeof tempDir>[0], env: Record<string, string> = {}) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1', ...env });
  const app = await buildApp({
    config, logger: false, warmup: false,
    workers: { autoStart: false, args: (lane) => [FAKE_SIDECAR, '--lane', lane], env: { FAKE_F5: '1' }, lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500 } },
  });
  t.teardown(() => app.close());
  await app.workers.start();
  const base = `http://127.0.0.1:${await listening(app)}`;
  const upload = async (fields: Record<string, string>, audio?: Buffer, name = 'voice.mp3') => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (audio) form.append('audio', new Blob([audio]), name);
    const res = await fetch(`${base}/voices`, { method: 'POST', body: form });
    return { status: res.status, location: res.headers.get('location'), body: (await res.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const folders = (sub: string) => readdirSync(join(dataDir, sub)).filter((n) => !n.startsWith('.'));
  return { app, base, upload, folders, dataDir };
}

/** A recording made by ffmpeg: tone (or tones with silences between) in the given format. */
function recording(dir: string, file: string, parts: number[]): Buffer {
  const inputs = parts.flatMap((d, i) => ['-f', 'lavfi', '-i', i % 2 ? `anullsrc=r=44100:cl=mono:d=${d}` : `sine=f=220:d=${d}:sample_rate=44100`]);
  const out = join(dir, file);
  const concat = parts.map((_, i) => `[${i}]`).join('') + `concat=n=${parts.length}:v=0:a=1`;
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', ...inputs, '-filter_complex', concat, out]);
  return readFileSync(out);
}

t.test('store a voice, list it, listen to it, rename it, delete it', async (t) => {
  const dir = await tempDir(t);
  const { base, upload, folders } = await service(t);
  const made = await upload({ name: 'Narrator', ref_text: 'A short reference.', language: 'en' }, recording(dir, 'v.mp3', [3]));
  t.equal(made.status, 201, JSON.stringify(made.body));
  const voice = made.body;
  t.match(voice.id, /^vc_[0-9a-z]{20}$/);
  t.equal(made.location, `/voices/${voice.id}`);
  t.match(voice, { name: 'Narrator', ref_text: 'A short reference.', language: 'en', audio_url: `/voices/${voice.id}/audio` });
  t.ok(Math.abs(voice.duration - 3) < 0.1, `3 s kept (${voice.duration})`);
  t.notOk('trimmed_from' in voice, 'not trimmed');

  const listed = (await (await fetch(`${base}/voices`)).json()) as { voices: { id: string }[] };
  t.same(listed.voices.map((v) => v.id), [voice.id]);
  t.same(await (await fetch(`${base}/voices/${voice.id}`)).json(), voice);
  const audio = await fetch(`${base}${voice.audio_url}`);
  t.equal(audio.headers.get('content-type'), 'audio/wav');
  const wav = parseWav(Buffer.from(await audio.arrayBuffer()));
  t.match(wav, { sampleRate: 24000, channels: 1, bits: 16 }, 'stored as mono 24 kHz');
  t.same(folders('voices'), [voice.id], 'one folder, nothing else');
  t.same(folders('staging'), [], 'staging left empty');

  const renamed = await fetch(`${base}/voices/${voice.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Narrator, warm' }) });
  t.equal(renamed.status, 200);
  const after = (await renamed.json()) as { name: string; ref_text: string; updated_at: string; created_at: string };
  t.match(after, { name: 'Narrator, warm', ref_text: 'A short reference.' });
  t.ok(after.updated_at >= after.created_at);
  const empty = await fetch(`${base}/voices/${voice.id}`, { method: 'PATCH', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.equal(empty.status, 400, 'a change must change something');

  t.equal((await fetch(`${base}/voices/${voice.id}`, { method: 'DELETE' })).status, 204);
  const gone = await fetch(`${base}/voices/${voice.id}`);
  t.equal(gone.status, 404);
  t.equal(((await gone.json()) as { code: string }).code, 'NOT_FOUND');
  t.equal((await fetch(`${base}/voices/${voice.id}`, { method: 'DELETE' })).status, 404, 'deleted once');
  t.equal((await fetch(`${base}/voices/${voice.id}/audio`)).status, 404);
  t.equal((await fetch(`${base}/voices/..%2F..%2Fetc`)).status, 404, 'not an id: not a voice, and never near a path');
  t.same(folders('voices'), []);
});

t.test('an upload past 12 s is cut at its pause, and the answer says from how long', async (t) => {
  const dir = await tempDir(t);
  const { upload } = await service(t);
  const made = await upload({ name: 'Long', ref_text: 'x' }, recording(dir, 'long.flac', [8, 1, 9]), 'long.flac');
  t.equal(made.status, 201);
  t.ok(Math.abs(made.body.trimmed_from - 18) < 0.1, `the upload's 18 s (${made.body.trimmed_from})`);
  t.ok(made.body.duration > 7.9 && made.body.duration < 8.5, `cut in the pause after 8 s (${made.body.duration})`);
});

t.test('bad uploads are 4xx with stable codes, and nothing is half-stored', async (t) => {
  const dir = await tempDir(t);
  const { base, upload, folders } = await service(t, { VOICECUE_MAX_UPLOAD_BYTES: '400000' });
  const ok = recording(dir, 'ok.mp3', [2]);
  const cases: [string, Record<string, string>, Buffer | undefined, number, string, RegExp][] = [
    ['not audio', { name: 'a' }, Buffer.from('this is not a recording'), 422, 'INVALID_AUDIO', /decoded/],
    ['too short', { name: 'a' }, recording(dir, 'short.mp3', [0.5]), 422, 'INVALID_AUDIO', /1 to 30 s/],
    ['too long', { name: 'a' }, recording(dir, 'long.mp3', [31]), 413, 'AUDIO_TOO_LONG', /30 s/],
    ['too big', { name: 'a' }, recording(dir, 'big.wav', [5]), 413, 'PAYLOAD_TOO_LARGE', /400000 bytes/],
    ['no name', {}, ok, 400, 'VALIDATION_ERROR', /name is required|name must be a string/],
    ['a blank name', { name: '   ' }, ok, 400, 'VALIDATION_ERROR', /name must not be empty/],
    ['a long name', { name: 'n'.repeat(101) }, ok, 400, 'VALIDATION_ERROR', /name must be at most 100/],
    ['a long transcript', { name: 'a', ref_text: 'x'.repeat(2001) }, ok, 400, 'VALIDATION_ERROR', /ref_text/],
    ['a bad language', { name: 'a', language: 'not a language!' }, ok, 400, 'VALIDATION_ERROR', /language/],
    ['an unknown field', { name: 'a', colour: 'red' }, ok, 400, 'VALIDATION_ERROR', /colour/],
    ['no audio', { name: 'a' }, undefined, 400, 'VALIDATION_ERROR', /audio is required/],
  ];
  for (const [what, fields, audio, status, code, message] of cases) {
    const res = await upload(fields, audio, what === 'too big' ? 'big.wav' : 'v.mp3');
    t.equal(res.status, status, `${what}: ${res.body.message}`);
    t.equal(res.body.code, code, what);
    t.match(res.body.message, message, what);
  }
  const json = await fetch(`${base}/voices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"name":"a"}' });
  t.equal(json.status, 415);
  t.same(folders('voices'), [], 'no voice from a refused upload');
  t.same(folders('staging'), [], 'no staging left behind');
});

t.test('voices are outside the TTL, the quota and the sweeps; the library has a limit', async (t) => {
  const dir = await tempDir(t);
  const { app, upload, folders } = await service(t, { VOICECUE_MAX_VOICES: '1' });
  const made = await upload({ name: 'Kept' }, recording(dir, 'v.mp3', [2]));
  t.equal(made.status, 201);
  await app.store.sweepExpired(Date.now() + 10 * 365 * 24 * 3600_000);
  await app.store.clearStaging();
  t.same(folders('voices'), [made.body.id], 'still there after a sweep ten years on');
  const over = await upload({ name: 'One more' }, recording(dir, 'w.mp3', [2]));
  t.equal(over.status, 422);
  t.equal(over.body.code, 'TOO_MANY_VOICES');
  t.same(folders('voices'), [made.body.id]);
  t.same(folders('staging'), []);
});

t.test('f5 speaks a stored voice; espeak refuses one; unknown and deleted voices are 422', async (t) => {
  const dir = await tempDir(t);
  const { app, base, upload } = await service(t);
  const { body: voice } = await upload({ name: 'Clone', ref_text: 'The reference.', language: 'en' }, recording(dir, 'v.mp3', [4]));
  const tts = (payload: object) => app.inject({ method: 'POST', url: '/tts', payload });

  const spoken = await tts({ text: 'Hello there.', engine: 'f5', voice: voice.id, seed: 3 });
  t.equal(spoken.statusCode, 201, spoken.body);
  const result = spoken.json();
  t.equal(result.voice, voice.id, 'the answer names the stored voice');
  t.match(result.notes.join('\n'), /reference 24000 Hz 1 ch 4\.00 s text 'The reference\.'/, 'its reference and transcript reached f5');
  t.equal(result.seed, 3);
  t.notOk(readdirSync(join(app.store.artifactsDir, result.id)).some((f) => f.startsWith('reference')), 'the reference is not kept with the result');

  const espeak = await tts({ text: 'Hello.', voice: voice.id });
  t.equal(espeak.statusCode, 422);
  t.match(espeak.json(), { code: 'UNKNOWN_VOICE', message: /only f5 \(voice cloning\) speaks/ });
  const notStored = await tts({ text: 'Hello.', engine: 'f5', voice: 'en-us' });
  t.match(notStored.json(), { statusCode: 422, code: 'UNKNOWN_VOICE', message: /POST \/voices/ });
  const unknown = await tts({ text: 'Hello.', engine: 'f5', voice: 'vc_00000000000000000000' });
  t.match(unknown.json(), { statusCode: 422, code: 'UNKNOWN_VOICE', message: /no stored voice/ });

  // The OpenAI surface lists it and speaks with it.
  const voices = (await (await fetch(`${base}/v1/audio/voices`)).json()) as { voices: { id: string; engine: string }[] };
  t.ok(voices.voices.some((v) => v.id === voice.id && v.engine === 'f5'));
  const speech = await fetch(`${base}/v1/audio/speech`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'f5', voice: voice.id, input: 'Hi.', response_format: 'wav' }) });
  t.equal(speech.status, 200);
  t.equal(speech.headers.get('x-voicecue-engine'), 'f5');

  await fetch(`${base}/voices/${voice.id}`, { method: 'DELETE' });
  const deleted = await tts({ text: 'Hello.', engine: 'f5', voice: voice.id });
  t.match(deleted.json(), { statusCode: 422, code: 'UNKNOWN_VOICE' });
});
