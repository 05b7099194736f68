// The graceful stop as a process (dist/src/server.js, `npm run build` first): on SIGTERM the
// listener closes, what cannot finish within VOICECUE_SHUTDOWN_GRACE_S is answered 503
// SHUTTING_DOWN with Retry-After (never a dropped connection), a running job finishes or is
// cancelled at the deadline with its files removed, and the process exits 0.
import t from 'tap';
import { spawn } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../src/errors.js';
import { ROOT, tempDir, testApp, waitFor } from '../helpers.js';

const SERVER = join(ROOT, 'dist/src/server.js');
const LONG = 'The quick brown fox jumps over the lazy dog near the riverbank, twice a day. '.repeat(260).slice(0, 20_000);

interface Answer {
  status: number | 'reset';
  body?: { code?: string; statusCode?: number };
  retryAfter?: string | null;
  at: number;
}

t.test('SIGTERM with one job running and two queued: 503 SHUTTING_DOWN with Retry-After, no staging left, exit 0', async (t) => {
  const port = 21000 + Math.floor(Math.random() * 2000);
  const dataDir = await tempDir(t);
  let out = '';
  const proc = spawn(process.execPath, [SERVER], {
    env: {
      ...process.env, HOST: '127.0.0.1', PORT: String(port), VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'info',
      VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '0', VOICECUE_SHUTDOWN_GRACE_S: '3',
      // Half speed: some 3 s of work a request, so three of them cannot all finish within the grace.
      VOICECUE_MAX_AUDIO_S: '7200',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (c) => (out += c));
  proc.stderr.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  t.teardown(() => void proc.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await fetch(`${base}/health`).catch(() => null))?.status === 200, 20_000, 'readiness');

  let signalled = 0;
  const ask = async (): Promise<Answer> => {
    try {
      const res = await fetch(`${base}/tts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: LONG, speed: 0.5 }) });
      return { status: res.status, body: (await res.json()) as Answer['body'], retryAfter: res.headers.get('retry-after'), at: Date.now() - signalled };
    } catch {
      return { status: 'reset', at: Date.now() - signalled };
    }
  };
  const running = ask();
  const lane = async () => ((await (await fetch(`${base}/health?verbose=1`)).json()) as { lanes: { cpu: { running: number; queued: number } } }).lanes.cpu;
  await waitFor(async () => (await lane()).running === 1, 5000, 'the first request to run');
  const queued = [ask(), ask()];
  await waitFor(async () => (await lane()).queued === 2, 5000, 'two requests to queue');

  signalled = Date.now();
  proc.kill('SIGTERM');
  await waitFor(async () => (await fetch(`${base}/health/live`).then(() => false, () => true)), 2000, 'the listener to close');
  const [first, ...rest] = await Promise.all([running, ...queued]);
  const code = await exited;
  const tookMs = Date.now() - signalled;

  for (const [i, answer] of rest.entries()) {
    t.equal(answer.status, 503, `queued request ${i + 1}: 503, not a dropped connection`);
    t.match(answer.body, { statusCode: 503, code: 'SHUTTING_DOWN' });
    t.equal(answer.retryAfter, '1');
    t.ok(answer.at >= 2000, `answered at the deadline (${answer.at} ms), not at once: it might have finished`);
  }
  t.ok(first.status === 201 || first.status === 503, `the running request finished or was cancelled at the deadline (${first.status} after ${first.at} ms)`);
  if (first.status === 503) t.match(first.body, { code: 'SHUTTING_DOWN' });
  t.equal(code, 0, 'exit code 0');
  t.ok(tookMs < 3000, `stopped within the grace (${tookMs} ms)`);
  t.same(await readdir(join(dataDir, 'staging')), [], 'no staging files left');
  const published = await readdir(join(dataDir, 'artifacts'));
  t.equal(published.length, first.status === 201 ? 1 : 0, 'only what finished was published');
  t.match(out, /shutdown grace nearly over: cancelled what was still queued or running/);
  t.match(out, /"msg":"stopped"/);
});

t.test('lane.cancelAll (the deadline, in process): the queue fails and the running job is cancelled on its worker, its files removed', async (t) => {
  const { app, workers, store } = await testApp(t);
  await workers.start();
  const lane = workers.mainLane;
  const pid = lane.status().workers[0]!.pid;
  const running = app.inject({ method: 'POST', url: '/tts', payload: { text: LONG } });
  await waitFor(() => lane.status().running === 1, 5000, 'the first request to run');
  const queued = [1, 2].map(() => app.inject({ method: 'POST', url: '/tts', payload: { text: LONG } }));
  await waitFor(() => lane.status().queued === 2, 5000, 'two requests to queue');
  const err = new ApiError('SHUTTING_DOWN', 'the service is shutting down', { 'retry-after': '1' });
  t.same(lane.cancelAll(err), { queued: 2, running: 1 });
  for (const res of await Promise.all([running, ...queued])) {
    t.equal(res.statusCode, 503);
    t.match(res.json(), { code: 'SHUTTING_DOWN' });
    t.equal(res.headers['retry-after'], '1');
  }
  t.equal(lane.stats.cancelledRunning, 1);
  await waitFor(() => lane.status().running === 0, 5000, 'the worker to stop the job');
  t.equal(lane.status().workers[0]!.pid, pid, 'the worker stopped the job itself: not killed');
  const later = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Too late.' } });
  t.match(later.json(), { code: 'SHUTTING_DOWN' }, 'what comes after is refused');
  await waitFor(async () => (await readdir(store.stagingDir)).length === 0, 5000, 'staging to be empty');
  t.same(await readdir(store.artifactsDir), []);
});
