// /health while warmup runs, and after an install that failed.
import t from 'tap';
import { join } from 'node:path';
import { runWarmup } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { testPackage, warmupOptions } from '../fixtures/warmup/options.js';
import { testApp } from '../helpers.js';

t.test('503 "warming" during warmup; a failed install leaves the service ready with the reason in /health', async (t) => {
  const { app, workers, readiness } = await testApp(t, { worker: 'fake', env: { VOICECUE_GPU_WORKERS: '1' } });
  readiness.warmup.state = 'running';
  const warming = await app.inject('/health');
  t.equal(warming.statusCode, 503);
  t.equal(warming.json().status, 'warming');

  const root = t.testdir();
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-fine', '1.0');
  await makeWheel(wheels, 'vc-f5-broken', '1.0', { broken: true });
  const opts = await warmupOptions(root, {
    manifest: [
      testPackage('vc-fine', { serves: ['espeak'] }),
      testPackage('vc-f5-broken', { serves: ['f5'] }),
      testPackage('vc-whisperx-missing', { serves: ['whisperx'] }),
    ],
    pipExtraArgs: ['--no-index', '--find-links', wheels],
  });
  readiness.warmup = { state: 'done', report: await runWarmup(opts) };
  await workers.start();

  const ready = await app.inject('/health?verbose=1');
  t.equal(ready.statusCode, 200, 'the service is ready all the same');
  t.notOk('warmup' in (await app.inject('/health')).json(), "warmup's report is in the verbose answer only");
  const body = ready.json();
  t.equal(body.status, 'ready');
  t.equal(body.engines.espeak.available, true);
  t.equal(body.engines.f5.available, false);
  // A wheel pip refuses, and one that does not exist: each reason reaches /health.
  t.match(body.engines.f5.reason, /^fake: f5 is not installed; warmup: missing vc-f5-broken .*(invalid|BadZipFile|not a zip)/is);
  t.same(body.warmup.installed.map((p: { name: string }) => p.name), ['vc-fine']);
  t.same(body.warmup.failed.map((p: { name: string }) => p.name), ['vc-f5-broken', 'vc-whisperx-missing']);
  t.equal(body.warmup.capabilities.f5.available, false);
  t.match(body.warmup.capabilities.whisperx.reason, /No matching distribution found for vc-whisperx-missing/);
  const tts = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'still speaking' } });
  t.equal(tts.statusCode, 201, 'what is there still serves');
});
