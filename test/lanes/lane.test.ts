// The lane with fake children made of streams: refusals, the queue, placement, cancel, deadlines.
import t, { type Test } from 'tap';
import { Lane, type LaneOptions } from '../../src/lanes/index.js';
import { alive, fakeSpawn, memoryLogger, rejection, sleep, waitFor, type FakeChild } from '../fixtures/lanes.js';

type Req = { id: number; method: string; params: Record<string, unknown> };

/** A healthy child: ready (with the given batch), answers ping and cancel, exits on stdin close. */
function healthy(batch = 1) {
  return (child: FakeChild) => {
    child.ready(batch);
    child.on('request', (r: Req) => {
      if (r.method === 'ping') child.reply(r.id, { pong: true, pid: child.pid, busy: [] });
      if (r.method === 'cancel') child.reply(r.id, { cancelled: true });
    });
    child.on('stdin-closed', () => child.exit(0));
  };
}

function lane(t: Test, onSpawn: (child: FakeChild, n: number) => void = healthy(), overrides: Partial<LaneOptions> = {}) {
  const log = memoryLogger();
  const { spawn, children } = fakeSpawn(onSpawn);
  const l = new Lane({
    name: 'cpu',
    workers: 1,
    spawn,
    command: 'unused',
    args: [],
    maxQueue: 4,
    startTimeoutMs: 2000,
    backoffMs: 10,
    backoffMaxMs: 40,
    stopStepMs: 30,
    pingIntervalMs: 50,
    pingTimeoutMs: 200,
    cancelGraceMs: 100,
    log,
    ...overrides,
  });
  t.teardown(() => l.stop());
  return { lane: l, log, children };
}

const jobs = (child: FakeChild, method = 'synthesize') => child.requests.filter((r) => r.method === method);
const opts = { timeoutMs: 10_000, maxMs: 20_000 };

t.test('WARMING_UP before start; SHUTTING_DOWN once stopping', async (t) => {
  const { lane: l } = lane(t);
  const early = await rejection(l.run('synthesize', {}, opts));
  t.equal(early.code, 'WARMING_UP');
  t.equal(early.statusCode, 503);
  t.equal(early.headers['retry-after'], '1');
  t.equal((await rejection(l.call('tokenize', { text: 'a' }))).code, 'WARMING_UP');
  t.equal(l.state, 'stopped');
  t.equal(l.reason, 'not started');
  await alive(l.start());
  t.equal(l.state, 'ready');
  await alive(l.stop());
  t.equal((await rejection(l.run('synthesize', {}, opts))).code, 'SHUTTING_DOWN');
});

t.test('jobs wait in FIFO order; a full queue answers QUEUE_FULL', async (t) => {
  const { lane: l, children } = lane(t, healthy(), { maxQueue: 2 });
  await alive(l.start());
  const results = [1, 2, 3].map((n) => l.run<{ n: number }>('synthesize', { n }, opts));
  const full = await rejection(l.run('synthesize', { n: 4 }, opts));
  t.equal(full.code, 'QUEUE_FULL');
  t.equal(full.headers['retry-after'], '1');
  t.same(l.status().queued, 2);
  const child = children[0]!;
  for (let n = 1; n <= 3; n++) {
    await alive(waitFor(() => jobs(child).length === n));
    t.same(jobs(child)[n - 1]!.params, { n }, `job ${n} sent in order`);
    child.reply(jobs(child)[n - 1]!.id, { n });
  }
  t.same(
    (await alive(Promise.all(results))).map((r) => r.n),
    [1, 2, 3],
  );
  t.equal(l.stats.sent, 3);
});

t.test("a worker runs as many jobs at once as its engine's batch", async (t) => {
  const { lane: l, children } = lane(t, healthy(2));
  await alive(l.start());
  const runs = [1, 2, 3].map((n) => l.run('synthesize', { engine: 'espeak', n }, opts));
  await sleep(10);
  t.equal(jobs(children[0]!).length, 2, 'two at once for a batch of 2');
  t.equal(l.status().queued, 1);
  children[0]!.reply(jobs(children[0]!)[0]!.id);
  await alive(waitFor(() => jobs(children[0]!).length === 3));
  for (const r of jobs(children[0]!).slice(1)) children[0]!.reply(r.id);
  await alive(Promise.all(runs));
  const aligns = [1, 2].map(() => l.run('align', { aligner: 'native' }, opts));
  await sleep(10);
  t.equal(jobs(children[0]!, 'align').length, 1, 'the aligner batches 1');
  for (const r of jobs(children[0]!, 'align')) children[0]!.reply(r.id);
  await alive(waitFor(() => jobs(children[0]!, 'align').length === 2));
  children[0]!.reply(jobs(children[0]!, 'align')[1]!.id);
  await alive(Promise.all(aligns));
});

t.test('two workers: a short job runs on the idle one while a long one runs', async (t) => {
  const { lane: l, children } = lane(t, healthy(), { workers: 2 });
  await alive(l.start());
  await alive(waitFor(() => l.status().workers.every((w) => w.state === 'ready')));
  const long = l.run('synthesize', { long: true }, opts);
  const short = l.run('synthesize', { short: true }, opts);
  await sleep(10);
  const [a, b] = children;
  t.equal(jobs(a!).length + jobs(b!).length, 2, 'both sent at once');
  const shortOn = jobs(a!)[0]?.params.short ? a! : b!;
  shortOn.reply(jobs(shortOn)[0]!.id, { short: true });
  t.same(await alive(short), { short: true });
  t.same(l.status().running, 1, 'the long one still runs');
  const longOn = shortOn === a ? b! : a!;
  longOn.reply(jobs(longOn)[0]!.id, { long: true });
  t.same(await alive(long), { long: true });
});

t.test('abort while queued: removed from the queue, never sent, CANCELLED', async (t) => {
  const { lane: l, children } = lane(t);
  await alive(l.start());
  const first = l.run('synthesize', { n: 1 }, opts);
  const ac = new AbortController();
  const second = l.run('synthesize', { n: 2 }, { ...opts, signal: ac.signal });
  const third = l.run('synthesize', { n: 3 }, opts);
  ac.abort();
  const err = await rejection(second);
  t.equal(err.code, 'CANCELLED');
  t.equal(err.statusCode, 499);
  t.equal(l.status().queued, 1);
  const child = children[0]!;
  child.reply(jobs(child)[0]!.id, {});
  await alive(waitFor(() => jobs(child).length === 2));
  child.reply(jobs(child)[1]!.id, {});
  await alive(Promise.all([first, third]));
  t.same(
    jobs(child).map((r) => r.params.n),
    [1, 3],
    'the aborted job never reached the worker',
  );
  t.same(l.stats, { sent: 2, cancelledQueued: 1, cancelledRunning: 0, timedOut: 0 });
  const already = AbortSignal.abort();
  t.equal((await rejection(l.run('synthesize', {}, { ...opts, signal: already }))).code, 'CANCELLED');
  t.equal(l.stats.cancelledQueued, 2);
});

t.test('abort while running: CANCELLED at once, cancel sent, the worker stays busy until it replies', async (t) => {
  const { lane: l, children } = lane(t);
  await alive(l.start());
  const ac = new AbortController();
  const running = l.run('synthesize', { n: 1 }, { ...opts, signal: ac.signal });
  const next = l.run('synthesize', { n: 2 }, opts);
  await sleep(5);
  const child = children[0]!;
  const id = jobs(child)[0]!.id;
  ac.abort();
  t.equal((await rejection(running)).code, 'CANCELLED');
  await alive(waitFor(() => child.requests.some((r) => r.method === 'cancel')));
  t.same(child.requests.find((r) => r.method === 'cancel')!.params, { id });
  t.equal(jobs(child).length, 1, 'the next job waits: the worker has not answered the cancelled one');
  t.equal(l.status().running, 1);
  child.emitLine({ id, error: { code: 'CANCELLED', message: 'cancelled' } });
  await alive(waitFor(() => jobs(child).length === 2));
  child.reply(jobs(child)[1]!.id, { n: 2 });
  t.same(await alive(next), { n: 2 });
  t.same(l.stats, { sent: 2, cancelledQueued: 0, cancelledRunning: 1, timedOut: 0 });
  t.same(child.signals, [], 'a worker that answers is not killed');
});

t.test('a cancelled job with no reply within the grace gets its worker killed', async (t) => {
  const { lane: l, children, log } = lane(t);
  await alive(l.start());
  const ac = new AbortController();
  const running = l.run('synthesize', {}, { ...opts, signal: ac.signal });
  await sleep(5);
  ac.abort();
  t.equal((await rejection(running)).code, 'CANCELLED');
  await alive(waitFor(() => children[0]!.signals.includes('SIGKILL')));
  t.ok(log.lines.some((l) => /did not stop cancelled job/.test(l.msg ?? '')));
  await alive(waitFor(() => l.state === 'ready' && children.length === 2));
});

t.test('deadlines: the timeout resets on progress, up to maxMs; expiry is SIDECAR_TIMEOUT and a cancel', async (t) => {
  const { lane: l, children } = lane(t);
  await alive(l.start());
  const child = children[0]!;
  const seen: number[] = [];
  // Progress every 150 ms for ~1.2 s keeps alive a job whose timeout is 1 s (margins wide enough
  // for a loaded CI machine's timer delays).
  const kept = l.run('synthesize', {}, { timeoutMs: 1000, maxMs: 5000, onProgress: (m) => seen.push(m.done) });
  await sleep(5);
  const id = jobs(child)[0]!.id;
  for (let done = 1; done <= 8; done++) {
    await alive(sleep(150));
    child.emitLine({ id, event: 'progress', done, total: 8 });
  }
  child.reply(id, { ok: true });
  t.same(await alive(kept), { ok: true }, 'progress kept it alive past its timeout');
  t.same(seen, [1, 2, 3, 4, 5, 6, 7, 8]);

  // A 2 s reset timeout with ticks every 50 ms: only the 3 s cap can end it, even when a loaded machine delays a tick by a second.
  const capped = l.run('synthesize', {}, { timeoutMs: 2000, maxMs: 3000 });
  await sleep(5);
  const id2 = jobs(child)[1]!.id;
  const ticking = setInterval(() => child.emitLine({ id: id2, event: 'progress', done: 1, total: 9 }), 50);
  const err = await rejection(capped);
  clearInterval(ticking);
  t.equal(err.code, 'SIDECAR_TIMEOUT');
  t.equal(err.statusCode, 504);
  t.match(err.message, /within 3000 ms/, 'the hard cap, not the reset timeout');
  await alive(waitFor(() => child.requests.some((r) => r.method === 'cancel' && r.params.id === id2)));
  t.equal(l.stats.timedOut, 1);
  child.emitLine({ id: id2, error: { code: 'CANCELLED', message: 'cancelled' } });
});

t.test('a job waiting in the queue times out too, and never reaches a worker', async (t) => {
  const { lane: l, children } = lane(t);
  await alive(l.start());
  const busy = l.run('synthesize', { n: 1 }, opts);
  const waiting = l.run('synthesize', { n: 2 }, { timeoutMs: 50, maxMs: 50 });
  t.equal((await rejection(waiting)).code, 'SIDECAR_TIMEOUT');
  children[0]!.reply(jobs(children[0]!)[0]!.id, {});
  await alive(busy);
  t.equal(jobs(children[0]!).length, 1);
});

t.test('call: straight to a ready worker, past the queue', async (t) => {
  const { lane: l, children } = lane(t);
  await alive(l.start());
  const job = l.run('synthesize', {}, opts);
  l.run('synthesize', {}, opts).catch(() => undefined);
  const tokens = l.call<{ spans: number[][] }>('tokenize', { text: 'a b' });
  await sleep(5);
  const child = children[0]!;
  const req = child.requests.find((r) => r.method === 'tokenize')!;
  child.reply(req.id, { spans: [[0, 1], [2, 3]], content: [0, 3] });
  t.same((await alive(tokens)).spans, [[0, 1], [2, 3]]);
  t.equal(l.status().queued, 1, 'the queued job is still waiting');
  const slow = await rejection(l.call('capabilities', {}, { timeoutMs: 30 }));
  t.equal(slow.code, 'SIDECAR_TIMEOUT');
  child.reply(jobs(child)[0]!.id, {});
  await alive(job);
});

t.test('a worker that keeps failing to start: queued jobs and new ones fail fast', async (t) => {
  const { lane: l } = lane(t, (child) => setImmediate(() => child.exit(3)), { backoffMs: 5, backoffMaxMs: 5 });
  void l.start();
  const queued = rejection(l.run('synthesize', {}, opts));
  const err = await queued;
  t.equal(err.code, 'SIDECAR_UNAVAILABLE');
  t.match(err.message, /failed to start 3 times/);
  const refused = await rejection(l.run('synthesize', {}, opts));
  t.equal(refused.code, 'SIDECAR_UNAVAILABLE');
  t.equal(l.state, 'failed');
  t.equal(l.info, null);
});

t.test('status for /health, and stop fails the queue with SHUTTING_DOWN', async (t) => {
  // Like a real worker: on stdin close it finishes the job it has, then exits.
  const { lane: l, children } = lane(
    t,
    (child) => {
      child.ready();
      child.on('stdin-closed', () => {
        for (const r of jobs(child)) child.reply(r.id, { finished: true });
        child.exit(0);
      });
    },
    { workers: 2 },
  );
  await alive(l.start());
  await alive(waitFor(() => l.status().workers.every((w) => w.state === 'ready')));
  const running = [l.run('synthesize', {}, opts), l.run('synthesize', {}, opts)];
  const queued = l.run('synthesize', {}, opts);
  await sleep(5);
  t.same(l.status(), {
    name: 'cpu',
    state: 'ready',
    reason: 'ready',
    workers: children.map((c) => ({ pid: c.pid, state: 'ready', busy: 1 })),
    running: 2,
    queued: 1,
    restarts: 0,
    crash_looping: false,
  });
  t.equal(l.info?.lane, 'cpu');
  const stopping = alive(l.stop());
  t.equal((await rejection(queued)).code, 'SHUTTING_DOWN');
  await stopping;
  t.same(await Promise.all(running), [{ finished: true }, { finished: true }], 'running jobs may still finish');
  t.equal(l.state, 'stopped');
});
