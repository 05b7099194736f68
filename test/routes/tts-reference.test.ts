// f5's reference upload on /tts (multipart), with fake workers that report what reached them: the
// recording decoded to mono 24 kHz and cut at a pause past 12 s, f5's options passed through, the
// upload never kept, and every bad request a 4xx with a stable code.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SIDECAR, listening, tempDir } from '../helpers.js';

async function service(t: Parameters<typeof tempDir>[0]) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1' });
  const app = await buildApp({
    config, logger: false, warmup: false,
    workers: { autoStart: false, args: (lane) => [FAKE_SIDECAR, '--lane', lane], env: { FAKE_F5: '1' }, lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500 } },
  });
  t.teardown(() => app.close());
  await app.workers.start();
  const port = await listening(app);
  const post = async (fields: Record<string, string>, ref?: Buffer) => {
    const form = new FormData();
    for (const [k, v] of Object.entries(fields)) form.append(k, v);
    if (ref) form.append('ref_audio', new Blob([ref]), 'ref.bin');
    const res = await fetch(`http://127.0.0.1:${port}/tts`, { method: 'POST', body: form });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> & { code?: string; message?: string; notes?: string[] } };
  };
  const stored = () => readdirSync(join(dataDir, 'artifacts')).filter((n) => !n.startsWith('.'));
  return { app, post, stored, dataDir };
}

/** 8 s of tone, 1 s of silence, 6 s of tone, as flac: a reference past 12 s with one pause in it. */
function longReference(dir: string): Buffer {
  const out = join(dir, 'ref.flac');
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=300:d=8:sample_rate=44100', '-f', 'lavfi', '-i', 'anullsrc=r=44100:cl=stereo:d=1',
    '-f', 'lavfi', '-i', 'sine=f=300:d=6:sample_rate=44100', '-filter_complex', '[0]aformat=channel_layouts=stereo[a];[2]aformat=channel_layouts=stereo[c];[a][1][c]concat=n=3:v=0:a=1', out]);
  return readFileSync(out);
}

t.test('a reference upload reaches f5 as mono 24 kHz, cut at its pause, with its text and the options; nothing of it is kept', async (t) => {
  const dir = await tempDir(t);
  const { post, stored, dataDir } = await service(t);
  const { status, body } = await post({ engine: 'f5', text: 'Hello there.', ref_text: 'A reference.', nfe_step: '8', seed: '12345', cfg_strength: '2.5', remove_silence: 'false' }, longReference(dir));
  t.equal(status, 201, JSON.stringify(body));
  t.equal(body.seed, 12345, 'the seed is answered');
  const notes = body.notes!;
  t.ok(notes.includes('options {"cfg_strength": 2.5, "nfe_step": 8, "remove_silence": false, "seed": 12345}'), `options typed and passed: ${notes[0]}`);
  const ref = /reference (\d+) Hz (\d) ch ([\d.]+) s text '(.*)'/.exec(notes[1] ?? '');
  t.ok(ref, notes[1] ?? 'no reference note');
  t.equal(ref![1], '24000');
  t.equal(ref![2], '1');
  t.ok(Math.abs(Number(ref![3]) - 8.05) < 0.1, `cut at the pause after 8 s, not at 12 s (${ref![3]} s)`);
  t.equal(ref![4], 'A reference.');
  t.ok(Math.abs((body.reference_s as number) - 8.05) < 0.1, 'the seconds kept are answered');
  const [id] = stored();
  t.same(readdirSync(join(dataDir, 'artifacts', id!)).filter((f) => /ref|upload/.test(f)), [], 'the reference is not kept with the result');
});

t.test('bad references and f5 fields sent to espeak are 4xx with stable codes, and leave nothing', async (t) => {
  const dir = await tempDir(t);
  const { app, post, stored } = await service(t);
  const tone = join(dir, 'long.wav');
  execFileSync('ffmpeg', ['-nostdin', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=f=300:d=61', tone]);
  const cases: [string, Record<string, string>, Buffer | undefined, number, string, RegExp][] = [
    ['not audio', { engine: 'f5', text: 'Hi.' }, Buffer.from('not a recording at all'), 422, 'INVALID_AUDIO', /decoded/],
    ['over 60 s', { engine: 'f5', text: 'Hi.' }, readFileSync(tone), 413, 'AUDIO_TOO_LONG', /60 s/],
    ['a reference for espeak', { engine: 'espeak', text: 'Hi.' }, Buffer.from('x'), 400, 'VALIDATION_ERROR', /ref_audio is for engine f5/],
    ['a bad option', { engine: 'f5', text: 'Hi.', nfe_step: '100' }, undefined, 400, 'VALIDATION_ERROR', /nfe_step must be at most 64/],
    ['a huge seed', { engine: 'f5', text: 'Hi.', seed: '18446744073709551615' }, undefined, 400, 'VALIDATION_ERROR', /seed must be at most 9007199254740991/],
  ];
  for (const [what, fields, ref, status, code, message] of cases) {
    const res = await post(fields, ref);
    t.equal(res.status, status, `${what}: ${res.body.message}`);
    t.equal(res.body.code, code, what);
    t.match(res.body.message, message, what);
  }
  const json = async (payload: object) => (await app.inject({ method: 'POST', url: '/tts', payload })).json() as { statusCode: number; message: string };
  t.match(await json({ text: 'Hi.', engine: 'espeak', nfe_step: 8, seed: 1 }), { statusCode: 400, message: /nfe_step, seed are for engine f5/ });
  t.match(await json({ text: 'Hi.', engine: 'f5', ref_text: 'x' }), { statusCode: 400, message: /ref_text comes with ref_audio/ });
  t.same(stored(), [], 'no failed request left files');
});
