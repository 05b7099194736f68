// `npm run test:contract`: schemathesis (PyPI, pinned in ./requirements.txt, cached venv) fuzzes
// the live service from the committed openapi.yaml: every operation, its examples, coverage,
// fuzzing and the stateful links (/tts → /download/{id}), with schemathesis' default checks.
// espeak and the offline aligners run for real; f5 and whisperx (GPU libraries that cannot answer
// at fuzzing speed here) are served by the fake worker, and google by a local Speech server, so
// that every value the spec allows reaches an engine or aligner that can run.
import t from 'tap';
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SIDECAR, listening, ROOT, tempDir, waitFor } from '../helpers.js';
import { at, FAKE_KEY, speechServer } from '../fixtures/speech-server.js';

t.test('schemathesis finds nothing against the live service', async (t) => {
  t.setTimeout(900_000); // the first run builds the venv
  const python = execFileSync(process.execPath, [join(ROOT, 'scripts/cached-venv.mjs'), 'contract', join(ROOT, 'test/contract/requirements.txt')], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
  const speech = await speechServer(() => [{ word: 'hello', startTime: at(0.1), endTime: at(0.4), confidence: 0.9 }]);
  t.teardown(() => speech.close());
  const dataDir = await tempDir(t);
  const config = loadConfig({
    VOICECUE_DATA_DIR: dataDir,
    VOICECUE_LOG_LEVEL: 'silent',
    VOICECUE_CPU_WORKERS: '1',
    VOICECUE_GPU_WORKERS: '1',
    VOICECUE_GOOGLE_CREDENTIALS: JSON.stringify(FAKE_KEY),
    VOICECUE_RATE_LIMIT: '0',
  });
  const app = await buildApp({
    config,
    logger: false,
    warmup: false,
    google: speech.endpoint,
    workers: {
      args: (lane) => (lane === 'gpu' ? [FAKE_SIDECAR] : ['-m', 'voicecue_worker', '--lane', lane]),
      env: { FAKE_F5: '1', FAKE_ALIGNERS: JSON.stringify({ whisperx: { available: true, lane: 'gpu', batch: 1, languages: null } }) },
    },
  });
  t.teardown(() => app.close());
  const port = await listening(app);
  await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok, 60_000, 'the service to be ready');

  const reports = await tempDir(t);
  const args = [
    '-m', 'schemathesis.cli', '--config-file', join(ROOT, 'test/contract/schemathesis.toml'),
    'run', join(ROOT, 'openapi.yaml'), '--url', `http://127.0.0.1:${port}`,
    '--report', 'junit', '--report-dir', reports,
  ];
  const status = await new Promise<number>((resolve) => {
    // On stderr: its report on stdout would be read as TAP.
    const child = spawn(python, args, { stdio: ['ignore', 2, 2], env: { ...process.env, NO_COLOR: '1', SCHEMATHESIS_HOOKS: '' } });
    child.on('close', (code) => resolve(code ?? 1));
  });
  t.equal(status, 0, 'schemathesis exits 0: no failures, no errors');
});
