// whisperx through the gateway, on the real library (`npm run test:engines`: the engines venv,
// offline): espeak speaks on the CPU lane, the real whisperx times the words on the GPU lane (on
// CPU here) with a tiny random wav2vec2 model built into a folder and named in
// VOICECUE_ALIGN_MODELS. The GPU worker is the real one under a recorder (engine_tests/spy) that
// shows our text reached whisperx.align and nothing was transcribed.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import type { Word } from '../../src/types.js';
import { ROOT, tempDir } from '../helpers.js';

const python = process.env.VOICECUE_ENGINES_PYTHON;
const TEXT = 'In 2025 the ticket cost $4.50, up 12% on last year. Thanks, everyone!';
const WORDS = ['In', '2025', 'the', 'ticket', 'cost', '$4.50', 'up', '12%', 'on', 'last', 'year', 'Thanks', 'everyone'];

t.test('espeak audio timed by the real whisperx through HTTP: every word, in order, our text aligned, the model loaded once', { skip: python ? false : 'run with npm run test:engines' }, async (t) => {
  const dir = await tempDir(t);
  const engineTests = join(ROOT, 'worker-py', 'engine_tests');
  const model = join(dir, 'model-en');
  execFileSync(python!, [join(engineTests, 'tiny_align.py'), 'model', model], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(python!, [join(engineTests, 'tiny_align.py'), 'punkt', join(dir, 'nltk')], { stdio: ['ignore', 'ignore', 'inherit'] });
  const spy = join(dir, 'spy.jsonl');
  const config = loadConfig({
    VOICECUE_DATA_DIR: join(dir, 'data'), VOICECUE_PYTHON: python!, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1',
    VOICECUE_ALIGN_MODELS: JSON.stringify({ en: model }), VOICECUE_DEVICE: 'cpu', VOICECUE_SIDECAR_START_TIMEOUT_S: '300', VOICECUE_REQUEST_TIMEOUT_S: '300',
  });
  const app = await buildApp({
    config, logger: false, warmup: false,
    workers: {
      autoStart: false,
      args: (lane) => (lane === 'gpu' ? ['-m', 'voicecue_spy', '--lane', 'gpu'] : ['-m', 'voicecue_worker', '--lane', lane]),
      env: {
        PYTHONPATH: [join(engineTests, 'spy'), process.env.PYTHONPATH ?? ''].join(delimiter),
        NLTK_DATA: join(dir, 'nltk'), VOICECUE_SPY_LOG: spy,
      },
    },
  });
  t.teardown(() => app.close());
  await app.workers.start();
  const health = (await app.inject('/health?verbose=1')).json();
  t.match(health.aligners.whisperx, { available: true, device: 'cpu', models: { en: { model, source: 'override' } } });

  const speak = async () => {
    const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: TEXT, engine: 'espeak', timing_method: 'whisperx' } });
    t.equal(res.statusCode, 201, res.body);
    return res.json();
  };
  const first = await speak();
  t.match(first.timing, { method: 'whisperx', aligner: 'whisperx', source: 'whisperx', skipped: [] });
  t.same(first.words.map((w: Word) => w.word), WORDS, 'our words, "2025", "$4.50" and "12%" as written');
  let prev = 0;
  for (const w of first.words as Word[]) {
    t.ok(w.start >= prev && w.end > w.start && w.end <= first.duration, `${w.word}: ${w.start}-${w.end} in order, inside ${first.duration} s`);
    t.ok(w.source === 'whisperx' || w.source === 'interpolated', `${w.word} from whisperx`);
    prev = w.end;
  }
  t.ok(first.downloads.srt, 'subtitles from whisperx words');
  const second = await speak();
  t.equal(second.timing.aligner, 'whisperx');

  const calls = existsSync(spy) ? readFileSync(spy, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : [];
  t.equal(calls.length, 2, 'one align call a request');
  for (const call of calls) {
    t.equal(call.call, 'align');
    t.same(call.transcript.map((s: { text: string }) => s.text), [TEXT], 'our own text reached whisperx.align');
    t.equal(call.transcription_loaded, false, 'no transcription code was even imported');
  }
  // Asked of the worker now (/health shows what it reported when it became ready).
  const now = (await app.workers.lanes.gpu!.call('capabilities')) as { aligners: { whisperx: { cache: { loads: object; loaded: string[] } } } };
  t.same(now.aligners.whisperx.cache.loads, { en: 1 }, 'the align model was loaded once for both requests');
  t.same(now.aligners.whisperx.cache.loaded, ['en']);
});
