// The supervisor with fake children made of streams: ready, restarts, crash loop, heartbeat, stop.
import t, { type Test } from 'tap';
import { Supervisor, type SupervisorOptions } from '../../src/lanes/index.js';
import { alive, fakeSpawn, logged, memoryLogger, rejection, waitFor, type FakeChild } from '../fixtures/lanes.js';

function supervisor(t: Test, onSpawn: (child: FakeChild, n: number) => void, overrides: Partial<SupervisorOptions> = {}) {
  const log = memoryLogger();
  const { spawn, children } = fakeSpawn(onSpawn);
  let changes = 0;
  const sup = new Supervisor({
    name: 'cpu#0',
    command: 'unused',
    args: [],
    spawn,
    startTimeoutMs: 2000,
    backoffMs: 10,
    backoffMaxMs: 40,
    stopStepMs: 30,
    pingIntervalMs: 20,
    pingTimeoutMs: 40,
    log,
    onChange: () => changes++,
    ...overrides,
  });
  t.teardown(() => sup.stop());
  return { sup, log, children, changes: () => changes };
}

/** Children that say ready and answer pings, like a healthy worker. */
const healthy = (child: FakeChild) => {
  child.ready();
  child.on('request', (r: { id: number; method: string }) => r.method === 'ping' && child.reply(r.id, { pong: true, pid: child.pid, busy: [] }));
  child.on('stdin-closed', () => child.exit(0));
};

t.test('ready: typed info, state, pid; requests only once ready', async (t) => {
  const { sup, children, changes } = supervisor(t, healthy);
  t.throws(() => sup.request('ping', {}), { code: 'SIDECAR_UNAVAILABLE' }, 'not started');
  sup.start();
  t.equal(sup.state, 'starting');
  await alive(waitFor(() => sup.state === 'ready'));
  t.equal(sup.info?.pid, children[0]!.pid);
  t.equal(sup.info?.engines.espeak?.batch, 1);
  t.equal(sup.info?.lane, 'cpu');
  t.equal(sup.pid, children[0]!.pid);
  t.equal(changes(), 1);
  const ping = sup.request('ping', {});
  t.same(await ping.promise, { pong: true, pid: children[0]!.pid, busy: [] });
});

t.test('a malformed ready event is logged and the child restarted', async (t) => {
  const { sup, log, children } = supervisor(t, (child, n) => (n === 0 ? child.emitLine({ event: 'ready', pid: 'x' }) : healthy(child)));
  sup.start();
  await alive(waitFor(() => sup.state === 'ready' && children.length === 2));
  t.same(children[0]!.signals, ['SIGKILL']);
  t.ok(logged(log, /malformed ready event/, 'error'));
  t.equal(sup.restarts, 1);
});

t.test('no ready within the start timeout: SIGKILL, then a restart', async (t) => {
  const { sup, log, children } = supervisor(t, (child, n) => n > 0 && healthy(child), { startTimeoutMs: 50 });
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  t.same(children[0]!.signals, ['SIGKILL']);
  t.ok(logged(log, /did not say ready within 50 ms/));
});

t.test('exit fails every in-flight request at once with SIDECAR_UNAVAILABLE, then it restarts', async (t) => {
  const { sup, children } = supervisor(t, healthy);
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  const job = sup.request('synthesize', {}, { job: true });
  const call = sup.request('tokenize', { text: 'a' });
  t.equal(sup.busy, 1, 'only the job counts as busy');
  children[0]!.exit(null, 'SIGKILL');
  const [a, b] = await Promise.all([rejection(job.promise), rejection(call.promise)]);
  t.equal(a.code, 'SIDECAR_UNAVAILABLE');
  t.equal(a.headers['retry-after'], '1');
  t.match(a.message, /SIGKILL/);
  t.equal(b.code, 'SIDECAR_UNAVAILABLE');
  t.equal(sup.busy, 0);
  t.equal(sup.state, 'restarting');
  t.match(sup.reason, /signal SIGKILL.*restarting in 10 ms/);
  await alive(waitFor(() => sup.state === 'ready'));
  t.equal(sup.restarts, 1);
  t.not(sup.pid, children[0]!.pid);
});

t.test('restarts back off exponentially; 3 failed starts in a row is a crash loop, retried at the cap', async (t) => {
  const { sup, log, children } = supervisor(t, (child, n) => (n < 5 ? setImmediate(() => child.exit(3)) : healthy(child)));
  sup.start();
  await alive(waitFor(() => sup.restarts >= 3));
  t.equal(sup.state, 'failed');
  t.ok(sup.crashLooping);
  t.match(sup.reason, /failed to start 3 times in a row \(last: exit code 3\)/);
  await alive(waitFor(() => sup.state === 'ready'));
  const delays = log.lines.filter((l) => l.msg === 'worker exited').map((l) => (l.obj as { delay: number }).delay);
  t.same(delays, [10, 20, 40, 40, 40]);
  t.notOk(sup.crashLooping, 'a ready worker is no longer crash-looping');
  t.equal(children.length, 6);
});

t.test('a child that cannot be spawned counts as a failed start and says why', async (t) => {
  const { sup } = supervisor(t, () => undefined, {
    spawn: () => {
      throw new Error('spawn EACCES');
    },
    backoffMs: 1000,
  });
  sup.start();
  t.equal(sup.state, 'restarting');
  t.match(sup.reason, /EACCES/);
});

t.test('heartbeat: a worker that stops answering ping while a job runs is killed and replaced', async (t) => {
  // The first child answers one ping, then goes silent (as if SIGSTOPped); the second is healthy.
  const { sup, log, children } = supervisor(t, (child, n) => {
    if (n > 0) return healthy(child);
    child.ready();
    let pings = 0;
    child.on('request', (r: { id: number; method: string }) => r.method === 'ping' && pings++ === 0 && child.reply(r.id, { pong: true, pid: child.pid, busy: [] }));
  });
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  const idleFor = alive(new Promise((r) => setTimeout(r, 100)));
  await idleFor;
  t.notOk(children[0]!.requests.some((r) => r.method === 'ping'), 'no pings while idle');
  const job = sup.request('synthesize', {}, { job: true });
  const err = await rejection(job.promise);
  t.equal(err.code, 'SIDECAR_UNAVAILABLE');
  t.same(children[0]!.signals, ['SIGKILL']);
  t.ok(logged(log, /worker hung/, 'error'));
  t.ok(children[0]!.requests.filter((r) => r.method === 'ping').length >= 2);
  await alive(waitFor(() => sup.state === 'ready' && children.length === 2));
});

t.test('heartbeat: a busy worker that answers ping is left alone', async (t) => {
  const { sup, children } = supervisor(t, healthy);
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  const job = sup.request('synthesize', {}, { job: true });
  await alive(waitFor(() => children[0]!.requests.filter((r) => r.method === 'ping').length >= 4, 5000, 'four pings'));
  children[0]!.reply(job.id, { done: true });
  t.same(await job.promise, { done: true });
  t.same(children[0]!.signals, []);
});

t.test('an over-long line kills the child', async (t) => {
  const { sup, children } = supervisor(t, healthy, { maxLineBytes: 1000 });
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  children[0]!.emitLine({ blob: 'x'.repeat(2000) });
  await alive(waitFor(() => children.length === 2));
  t.same(children[0]!.signals, ['SIGKILL']);
});

t.test('stop: stdin end first; an idle worker leaves by itself', async (t) => {
  const { sup, children, log } = supervisor(t, healthy);
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  await alive(sup.stop());
  t.equal(sup.state, 'stopped');
  t.same(children[0]!.signals, []);
  t.ok(log.lines.some((l) => l.msg === 'worker stopped'));
  t.throws(() => sup.request('ping', {}), { code: 'SIDECAR_UNAVAILABLE' });
});

t.test('stop: SIGTERM, then SIGKILL for a worker that ignores both stdin and SIGTERM', async (t) => {
  const { sup, children } = supervisor(t, (child) => {
    child.ready();
    child.ignoreSignals = ['SIGTERM'];
  });
  sup.start();
  await alive(waitFor(() => sup.state === 'ready'));
  const job = sup.request('synthesize', {}, { job: true });
  await alive(sup.stop());
  t.same(children[0]!.signals, ['SIGTERM', 'SIGKILL']);
  t.equal((await rejection(job.promise)).code, 'SHUTTING_DOWN');
  t.equal(children.length, 1, 'no restart after a stop');
});

t.test('a ready line that arrives while stopping does not reopen it', async (t) => {
  let child: FakeChild | undefined;
  const { sup, log } = supervisor(t, (c) => {
    child = c;
    c.on('stdin-closed', () => {
      c.ready();
      setTimeout(() => c.exit(0), 5);
    });
  });
  sup.start();
  await alive(sup.stop());
  t.ok(child);
  t.equal(sup.state, 'stopped');
  t.notOk(logged(log, /worker ready/));
});
