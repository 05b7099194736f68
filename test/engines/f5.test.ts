// f5 through HTTP on the real library (`npm run test:engines`: the engines venv, offline): a tiny
// random-weight F5 (engine_tests/tiny_f5.py) in the GPU lane, on CPU, cloning an uploaded reference
// sent as multipart; no whisperx model here, so the CPU lane's offline aligners time its words.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { listening, ROOT, tempDir } from '../helpers.js';

const python = process.env.VOICECUE_ENGINES_PYTHON;
const REF_TEXT = 'This is a short reference recording.';
const TEXT = 'The quick brown fox jumps over the lazy dog.';

t.test('an uploaded reference cloned by the real F5, timed by pocketsphinx on the CPU, the seed answered and replayable', { skip: python ? false : 'run with npm run test:engines' }, async (t) => {
  const dir = await tempDir(t);
  const f5 = JSON.parse(execFileSync(python!, [join(ROOT, 'worker-py', 'engine_tests', 'tiny_f5.py'), join(dir, 'model')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Record<string, string>;
  const ref = join(dir, 'reference.mp3');
  execFileSync('sh', ['-c', `espeak-ng -v en-us --stdout "${REF_TEXT}" | ffmpeg -nostdin -loglevel error -y -i - "${ref}"`]);
  const config = loadConfig({
    VOICECUE_DATA_DIR: join(dir, 'data'), VOICECUE_PYTHON: python!, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1',
    VOICECUE_SIDECAR_START_TIMEOUT_S: '300', VOICECUE_REQUEST_TIMEOUT_S: '300', VOICECUE_DEVICE: 'cpu',
  });
  const app = await buildApp({ config, logger: false, warmup: false, workers: { autoStart: false, env: { ...f5, VOICECUE_ALLOW_DOWNLOADS: '0' } } });
  t.teardown(() => app.close());
  await app.workers.start();
  const port = await listening(app);
  const speak = async (fields: Record<string, string>) => {
    const form = new FormData();
    for (const [k, v] of Object.entries({ engine: 'f5', text: TEXT, ref_text: REF_TEXT, nfe_step: '4', ...fields })) form.append(k, v);
    form.append('ref_audio', new Blob([readFileSync(ref)]), 'reference.mp3');
    const res = await fetch(`http://127.0.0.1:${port}/tts`, { method: 'POST', body: form });
    const body = (await res.json()) as { id: string; engine: string; seed: number; timing: { aligner: string; skipped: { aligner: string }[] }; words: { word: string; start: number; end: number }[]; duration: number; reference_s: number; downloads: Record<string, string>; notes: string[] };
    t.equal(res.status, 201, JSON.stringify(body).slice(0, 400));
    return body;
  };
  const first = await speak({ seed: '42' });
  t.equal(first.engine, 'f5');
  t.equal(first.seed, 42, 'the seed it spoke with is answered');
  t.ok(Math.abs(first.reference_s - 2) < 2.5, `the reference was decoded from mp3 (${first.reference_s} s)`);
  t.ok(first.notes.some((n) => /CPU/.test(n)), 'f5 on the CPU says it is slow');
  t.equal(first.timing.aligner, 'pocketsphinx', 'no whisperx here: the offline English aligner timed the cloned speech, and the answer says so');
  t.ok(first.timing.skipped.some((s) => s.aligner === 'whisperx'), 'whisperx is named as skipped');
  t.same(first.words.map((w) => w.word), TEXT.replace('.', '').split(' '), 'every word as written');
  t.ok(first.words.every((w, i) => w.end <= first.duration && w.start >= (i ? first.words[i - 1]!.start : 0)), 'in order, inside the audio');
  t.notOk(readdirSync(join(dir, 'data', 'artifacts', first.id)).some((f) => /reference|upload/.test(f)), 'the caller\'s voice is not kept with the result');
  const again = await speak({ seed: '42' });
  const wav = async (b: typeof first) => Buffer.from(await (await fetch(`http://127.0.0.1:${port}${b.downloads.wav}`)).arrayBuffer());
  t.ok((await wav(first)).equals(await wav(again)), 'the same seed, text and reference give the same audio');
  const random = await speak({});
  t.ok(Number.isSafeInteger(random.seed), 'without a seed, the random one used is answered exactly');
});

t.test('a stored voice (an mp3 upload) spoken by the real F5, auto-timed by the real whisperx: every word as written, in order', { skip: python ? false : 'run with npm run test:engines' }, async (t) => {
  const dir = await tempDir(t);
  const engineTests = join(ROOT, 'worker-py', 'engine_tests');
  const f5 = JSON.parse(execFileSync(python!, [join(engineTests, 'tiny_f5.py'), join(dir, 'model')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })) as Record<string, string>;
  const align = join(dir, 'align-en');
  execFileSync(python!, [join(engineTests, 'tiny_align.py'), 'model', align], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(python!, [join(engineTests, 'tiny_align.py'), 'punkt', join(dir, 'nltk')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const ref = join(dir, 'voice.mp3');
  execFileSync('sh', ['-c', `espeak-ng -v en-us --stdout "${REF_TEXT}" | ffmpeg -nostdin -loglevel error -y -i - "${ref}"`]);
  const config = loadConfig({
    VOICECUE_DATA_DIR: join(dir, 'data'), VOICECUE_PYTHON: python!, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1',
    VOICECUE_SIDECAR_START_TIMEOUT_S: '300', VOICECUE_REQUEST_TIMEOUT_S: '300', VOICECUE_DEVICE: 'cpu', VOICECUE_ALIGN_MODELS: JSON.stringify({ en: align }),
  });
  const app = await buildApp({ config, logger: false, warmup: false, workers: { autoStart: false, env: { ...f5, VOICECUE_ALLOW_DOWNLOADS: '0', NLTK_DATA: join(dir, 'nltk') } } });
  t.teardown(() => app.close());
  await app.workers.start();
  const port = await listening(app);
  const form = new FormData();
  form.append('name', 'Reader');
  form.append('ref_text', REF_TEXT);
  form.append('language', 'en');
  form.append('audio', new Blob([readFileSync(ref)]), 'voice.mp3');
  const stored = await fetch(`http://127.0.0.1:${port}/voices`, { method: 'POST', body: form });
  t.equal(stored.status, 201);
  const voice = (await stored.json()) as { id: string };

  const text = 'In 2025 the ticket cost $4.50, up 12% on last year.';
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { engine: 'f5', voice: voice.id, text, nfe_step: 4, seed: 1 } });
  t.equal(res.statusCode, 201, res.body.slice(0, 400));
  const body = res.json() as { voice: string; timing: { aligner: string }; words: { word: string; start: number; end: number; source: string }[]; duration: number };
  t.equal(body.voice, voice.id, 'spoken with the stored voice');
  t.equal(body.timing.aligner, 'whisperx', 'auto: whisperx times f5');
  t.same(body.words.map((w) => w.word), ['In', '2025', 'the', 'ticket', 'cost', '$4.50', 'up', '12%', 'on', 'last', 'year']);
  let prev = 0;
  for (const w of body.words) {
    t.ok(w.start >= prev && w.end > w.start && w.end <= body.duration + 1e-3, `${w.word} ${w.start}-${w.end} in order, inside ${body.duration} s`);
    prev = w.end;
  }
});
