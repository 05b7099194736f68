// The lane against real processes: the fake worker (test/fixtures/fake-sidecar.py), whose
// reader thread answers ping and cancel while its job thread works.
import t, { type Test } from 'tap';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Lane, type LaneOptions } from '../../src/lanes/index.js';
import { alive, FAKE_WORKER, logged, memoryLogger, rejection, sleep, waitFor } from '../fixtures/lanes.js';

function lane(t: Test, overrides: Partial<LaneOptions> = {}, env: Record<string, string> = {}) {
  const log = memoryLogger();
  const l = new Lane({
    name: 'cpu',
    workers: 1,
    command: 'python3',
    args: [FAKE_WORKER],
    env: { FAKE_LANE: 'cpu', ...env },
    maxQueue: 8,
    startTimeoutMs: 10_000,
    backoffMs: 20,
    backoffMaxMs: 200,
    stopStepMs: 300,
    pingIntervalMs: 100,
    pingTimeoutMs: 300,
    cancelGraceMs: 500,
    log,
    ...overrides,
  });
  t.teardown(() => l.stop());
  return { lane: l, log };
}

const opts = { timeoutMs: 10_000, maxMs: 20_000 };
const pids = (l: Lane) => l.status().workers.map((w) => w.pid);

t.test('the real fake worker: ready, a job, a reader-thread call', async (t) => {
  const { lane: l } = lane(t);
  await alive(l.start());
  t.equal(l.info?.lane, 'cpu');
  t.equal(l.info?.engines.f5?.available, false);
  t.same(await alive(l.run('echo', { n: 1 }, opts)), { n: 1 });
  t.same(await alive(l.call('tokenize', { text: ' hi there ' })), { spans: [[1, 3], [4, 9]], content: [1, 9] });
});

t.test('two workers: a short job finishes while a long one runs on the other', async (t) => {
  const { lane: l } = lane(t, { workers: 2 });
  await alive(l.start());
  await alive(waitFor(() => l.status().workers.every((w) => w.state === 'ready'), 10_000, 'both workers'));
  const order: string[] = [];
  const long = l.run('sleep', { seconds: 1.5 }, opts).then(() => order.push('long'));
  await sleep(20);
  const short = l.run('echo', { short: true }, opts).then(() => order.push('short'));
  await alive(Promise.all([long, short]));
  t.same(order, ['short', 'long']);
});

t.test('abort while queued: the job never reaches a worker', async (t) => {
  const dir = t.testdir();
  const file = join(dir, 'requests.log');
  const { lane: l } = lane(t, {}, { FAKE_LOG: file });
  await alive(l.start());
  const first = l.run('sleep', { seconds: 0.3 }, opts);
  const ac = new AbortController();
  const aborted = l.run('echo', { marker: 'never' }, { ...opts, signal: ac.signal });
  ac.abort();
  t.equal((await rejection(aborted)).code, 'CANCELLED');
  await alive(first);
  t.same(await alive(l.run('echo', { after: true }, opts)), { after: true });
  const lines = (await readFile(file, 'utf8')).trim().split('\n');
  t.same(
    lines.map((line) => line.split(' ')[0]).filter((method) => method !== 'ping'), // heartbeats aside
    ['sleep', 'echo'],
    'only the jobs not aborted were received (no cancel either)',
  );
  t.same(l.stats, { sent: 2, cancelledQueued: 1, cancelledRunning: 0, timedOut: 0 });
});

t.test('abort while running: CANCELLED at once, cancel sent, the worker is freed', async (t) => {
  const { lane: l } = lane(t);
  await alive(l.start());
  const pid = pids(l)[0];
  const ac = new AbortController();
  const running = l.run('sleep', { seconds: 30 }, { ...opts, signal: ac.signal });
  await sleep(100);
  ac.abort();
  t.equal((await rejection(running)).code, 'CANCELLED');
  t.same(await alive(l.run('echo', { next: true }, opts)), { next: true }, 'the next job runs on the same worker');
  t.same(pids(l), [pid], 'not restarted: it stopped the job itself');
  t.equal(l.stats.cancelledRunning, 1);
});

t.test('a job that ignores cancel keeps its worker until it replies; one that hangs is killed after the grace', async (t) => {
  const { lane: l, log } = lane(t, { cancelGraceMs: 1500 });
  await alive(l.start());
  const pid = pids(l)[0];
  const ac = new AbortController();
  const spin = l.run('spin', { seconds: 0.5 }, { ...opts, signal: ac.signal });
  await sleep(50);
  ac.abort();
  t.equal((await rejection(spin)).code, 'CANCELLED');
  const next = l.run('echo', { n: 2 }, opts);
  t.equal(l.status().queued, 1, 'waits for the spinning job');
  t.same(await alive(next), { n: 2 });
  t.same(pids(l), [pid], 'a reply within the grace: no kill');

  const hang = new AbortController();
  const hung = l.run('hang', {}, { ...opts, signal: hang.signal });
  await sleep(50);
  hang.abort();
  t.equal((await rejection(hung)).code, 'CANCELLED');
  await alive(waitFor(() => l.state === 'ready' && pids(l)[0] !== pid, 10_000, 'the replacement'));
  t.ok(logged(log, /did not stop cancelled job/));
});

t.test('progress every 100 ms for 1.5 s with timeoutMs 400 and maxMs 5000 resolves', async (t) => {
  const { lane: l } = lane(t);
  await alive(l.start());
  let events = 0;
  const result = await alive(l.run('sleep', { seconds: 1.5, progress_ms: 100 }, { timeoutMs: 400, maxMs: 5000, onProgress: () => events++ }));
  t.same(result, { slept: 1.5 });
  t.ok(events >= 5, `progress arrived (${events})`);
  t.equal(l.stats.timedOut, 0);
});

t.test('the same job with maxMs 800 times out and is cancelled on the worker', async (t) => {
  const { lane: l } = lane(t);
  await alive(l.start());
  const pid = pids(l)[0];
  const err = await rejection(l.run('sleep', { seconds: 1.5, progress_ms: 100 }, { timeoutMs: 400, maxMs: 800 }));
  t.equal(err.code, 'SIDECAR_TIMEOUT');
  t.equal(l.stats.timedOut, 1);
  t.same(await alive(l.run('echo', { after: 1 }, opts)), { after: 1 });
  t.same(pids(l), [pid], 'the worker honoured the cancel');
});

t.test('a SIGSTOPped worker is found by the heartbeat and replaced', async (t) => {
  const { lane: l, log } = lane(t);
  await alive(l.start());
  const pid = pids(l)[0]!;
  // Nothing may leak: SIGKILL works on a stopped process, and a dead one just throws here.
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const job = l.run('sleep', { seconds: 30 }, opts);
  await sleep(50);
  process.kill(pid, 'SIGSTOP');
  const err = await rejection(job);
  t.equal(err.code, 'SIDECAR_UNAVAILABLE');
  t.ok(logged(log, /worker hung/, 'error'));
  await alive(waitFor(() => l.state === 'ready', 10_000, 'the replacement'));
  t.not(pids(l)[0], pid);
  t.same(await alive(l.run('echo', { back: true }, opts)), { back: true });
});

t.test('a worker that fails to start three times: fail fast', async (t) => {
  const { lane: l } = lane(t, { backoffMs: 10, backoffMaxMs: 10 }, { FAKE_START: 'exit' });
  void l.start();
  const queued = rejection(l.run('echo', {}, opts));
  t.equal((await queued).code, 'SIDECAR_UNAVAILABLE');
  t.equal(l.state, 'failed');
  t.match(l.reason, /exit code 3/);
  t.equal((await rejection(l.run('echo', {}, opts))).code, 'SIDECAR_UNAVAILABLE');
});

t.test('a malformed ready event restarts the worker', async (t) => {
  const { lane: l, log } = lane(t, { backoffMs: 1000 }, { FAKE_START: 'malformed' });
  void l.start();
  await alive(waitFor(() => logged(log, /malformed ready event/), 10_000, 'the malformed ready'));
  await alive(waitFor(() => l.status().restarts >= 1, 10_000, 'the restart'));
  t.equal(l.info, null);
});

t.test('stop: an idle worker leaves when stdin closes; a hung one gets SIGTERM', async (t) => {
  const idle = lane(t);
  await alive(idle.lane.start());
  const pid = pids(idle.lane)[0]!;
  await alive(idle.lane.stop());
  t.throws(() => process.kill(pid, 0), 'the worker is gone');
  t.same(idle.log.lines.find((l) => l.msg === 'worker stopped')?.obj, { worker: 'cpu#0', how: 'exit code 0' });

  const busy = lane(t);
  await alive(busy.lane.start());
  const busyPid = pids(busy.lane)[0]!;
  const hung = busy.lane.run('hang', {}, opts).catch((e: { code: string }) => e.code);
  await sleep(50);
  await alive(busy.lane.stop());
  t.throws(() => process.kill(busyPid, 0), 'the hung worker was terminated');
  t.same(busy.log.lines.find((l) => l.msg === 'worker stopped')?.obj, { worker: 'cpu#0', how: 'signal SIGTERM' });
  t.equal(await hung, 'SHUTTING_DOWN');
});
