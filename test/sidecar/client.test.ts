import t, { type Test } from 'tap';
import { ApiError } from '../../src/errors.js';
import { SidecarClient, type SidecarOptions } from '../../src/sidecar/client.js';
import { FAKE_SIDECAR, memoryLogger, waitFor } from '../helpers.js';

function fake(t: Test, overrides: Partial<SidecarOptions> = {}, start = 'ready') {
  const log = memoryLogger();
  const client = new SidecarClient({
    command: 'python3',
    args: [FAKE_SIDECAR],
    env: { FAKE_START: start },
    requestTimeoutMs: 5000,
    startTimeoutMs: 5000,
    maxInFlight: 4,
    maxQueue: 8,
    backoffMs: 20,
    backoffMaxMs: 200,
    stopStepMs: 300,
    log,
    ...overrides,
  });
  t.teardown(() => client.stop());
  return { client, log };
}

async function rejection(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ApiError) return err;
    throw err;
  }
  throw new Error('expected a rejection');
}

t.test('ready handshake, then requests are correlated by id', async (t) => {
  const { client } = fake(t);
  await client.start();
  t.equal(client.state, 'ready');
  t.equal(client.info?.engines.f5?.available, false);
  t.equal(client.info?.pid, client.pid);
  const replies = await Promise.all([1, 2, 3, 4, 5, 6].map((n) => client.request<{ n: number }>('echo', { n })));
  t.same(replies.map((r) => r.n), [1, 2, 3, 4, 5, 6]);
});

t.test('progress events reach the caller before the result', async (t) => {
  const { client } = fake(t);
  await client.start();
  const seen: string[] = [];
  const result = await client.request('progress', {}, { onProgress: (done, total) => seen.push(`${done}/${total}`) });
  t.same(seen, ['1/3', '2/3', '3/3']);
  t.same(result, { done: true });
});

t.test('worker errors keep their stable codes; unknown ones become INTERNAL_ERROR', async (t) => {
  const { client } = fake(t);
  await client.start();
  const voice = await rejection(client.request('fail', { code: 'UNKNOWN_VOICE', message: 'no voice xx' }));
  t.equal(voice.code, 'UNKNOWN_VOICE');
  t.equal(voice.statusCode, 422);
  t.equal(voice.message, 'no voice xx');
  const odd = await rejection(client.request('nosuchmethod'));
  t.equal(odd.code, 'INTERNAL_ERROR');
  t.match(odd.message, /METHOD_NOT_FOUND/);
  t.same(await client.request('ping'), { pong: true, pid: client.pid });
});

t.test('garbage lines on the protocol channel are logged and skipped', async (t) => {
  const { client, log } = fake(t, {}, 'garbage');
  await client.start();
  t.same(await client.request('garbage'), { after: 'garbage' });
  t.ok(log.lines.some((l) => l.level === 'warn' && /not a JSON object/.test(l.msg ?? '')));
  // stderr is its own pipe, so the stray print may land just after the reply.
  await waitFor(() => log.lines.some((l) => l.msg === 'stray print'), 5000, 'the stray print in the log');
  t.pass('stdout prints of the child reach the log through stderr');
});

t.test('a killed worker fails what is in flight at once; what was still queued runs after the restart', async (t) => {
  // The deadline is far away, so a SIDECAR_UNAVAILABLE can only come from noticing the exit.
  const { client } = fake(t, { requestTimeoutMs: 60_000, maxInFlight: 2 });
  await client.start();
  const firstPid = client.pid!;
  const slow = client.request('sleep', { seconds: 60 });
  const sentBehind = client.request('echo', { sent: true });
  const queued = client.request('echo', { queued: true });
  t.same(client.pending, { inFlight: 2, queued: 1 });
  await new Promise((r) => setTimeout(r, 50));
  process.kill(firstPid, 'SIGKILL');
  const [a, b] = await Promise.all([rejection(slow), rejection(sentBehind)]);
  t.equal(a.code, 'SIDECAR_UNAVAILABLE');
  t.equal(a.statusCode, 503);
  t.match(a.message, /SIGKILL/);
  t.equal(b.code, 'SIDECAR_UNAVAILABLE', 'a request already sent to the dead worker fails too');
  t.not(client.state, 'ready');
  t.same(await queued, { queued: true }, 'the request never sent waits for the new worker');
  t.equal(client.state, 'ready');
  t.equal(client.restarts, 1);
  t.not(client.pid, firstPid);
});

t.test('requests queued while the worker restarts are sent once it is back', async (t) => {
  const { client } = fake(t, { backoffMs: 300 });
  await client.start();
  await rejection(client.request('crash'));
  t.equal(client.state, 'restarting');
  t.same(await client.request('echo', { waited: 1 }), { waited: 1 });
});

t.test('a request that overruns its deadline gets SIDECAR_TIMEOUT; a stuck worker is restarted', async (t) => {
  const { client } = fake(t);
  await client.start();
  const err = await rejection(client.request('hang', {}, { timeoutMs: 150 }));
  t.equal(err.code, 'SIDECAR_TIMEOUT');
  t.equal(err.statusCode, 504);
  await waitFor(() => client.restarts === 1 && client.state === 'ready', 5000, 'restart of the stuck worker');
  t.same(await client.request('ping'), { pong: true, pid: client.pid });
});

t.test('the queue is bounded', async (t) => {
  const { client } = fake(t, { maxInFlight: 1, maxQueue: 1 });
  await client.start();
  const a = client.request('sleep', { seconds: 0.3 });
  const b = client.request('sleep', { seconds: 0.01 });
  const full = await rejection(client.request('ping'));
  t.equal(full.code, 'QUEUE_FULL');
  t.equal(full.headers['retry-after'], '1');
  t.same(await Promise.all([a, b]), [{ slept: 0.3 }, { slept: 0.01 }]);
});

t.test('the queue is bounded while the worker restarts too', async (t) => {
  const { client } = fake(t, { maxQueue: 2, backoffMs: 5000 }, 'exit');
  void client.start();
  await waitFor(() => client.state === 'restarting', 5000, 'the first exit');
  const waiting = [client.request('ping'), client.request('ping')].map((p) => rejection(p));
  const full = await rejection(client.request('ping'));
  t.equal(full.code, 'QUEUE_FULL');
  t.same(client.pending, { inFlight: 0, queued: 2 });
  await client.stop();
  t.same((await Promise.all(waiting)).map((e) => e.code), ['SHUTTING_DOWN', 'SHUTTING_DOWN']);
});

t.test('a worker that keeps failing to start makes requests fail fast, queued ones included', async (t) => {
  const { client } = fake(t, { backoffMs: 10, backoffMaxMs: 10 }, 'exit');
  void client.start();
  await waitFor(() => client.state === 'restarting', 5000, 'the first exit');
  const queued = rejection(client.request('ping'));
  await waitFor(() => client.restarts >= 3, 5000, 'three failed starts');
  t.equal((await queued).code, 'SIDECAR_UNAVAILABLE');
  const refused = await rejection(client.request('ping'));
  t.equal(refused.code, 'SIDECAR_UNAVAILABLE');
  t.match(refused.message, /not running/);
});

t.test('a worker that cannot be spawned says why', async (t) => {
  const { client } = fake(t, { command: '/nonexistent/python3' });
  void client.start();
  await waitFor(() => client.restarts >= 1, 5000, 'the failed spawn');
  t.match(client.reason, /ENOENT/);
});

t.test('a worker that never says ready is killed and retried', async (t) => {
  const { client, log } = fake(t, { startTimeoutMs: 200 }, 'silent');
  void client.start();
  await waitFor(() => client.restarts >= 2, 5000, 'two restarts');
  t.equal(client.state === 'restarting' || client.state === 'starting', true);
  t.ok(log.lines.some((l) => /did not say ready/.test(l.msg ?? '')));
});

t.test('restarts back off exponentially up to the cap', async (t) => {
  const { client, log } = fake(t, { backoffMs: 10, backoffMaxMs: 40 }, 'exit');
  void client.start();
  await waitFor(() => client.restarts >= 5, 5000, 'five restarts');
  const delays = log.lines.filter((l) => l.msg === 'sidecar exited').map((l) => (l.obj as { delay: number }).delay);
  t.same(delays.slice(0, 5), [10, 20, 40, 40, 40]);
  t.match(client.reason, /exit code 3/);
});

t.test('an over-long line is treated as a broken worker', async (t) => {
  const { client, log } = fake(t, { maxLineBytes: 1000 });
  await client.start();
  const err = await rejection(client.request('big', { size: 5000 }));
  t.equal(err.code, 'SIDECAR_UNAVAILABLE');
  t.ok(log.lines.some((l) => /over-long line/.test(l.msg ?? '')));
});

t.test('stop closes stdin first, escalates for a busy worker, and refuses new work', async (t) => {
  const idle = fake(t);
  await idle.client.start();
  const pid = idle.client.pid!;
  await idle.client.stop();
  t.equal(idle.client.state, 'stopped');
  t.throws(() => process.kill(pid, 0), 'the worker is gone');
  const stopped = (log: ReturnType<typeof memoryLogger>) => log.lines.find((l) => l.msg === 'sidecar stopped')?.obj;
  t.same(stopped(idle.log), { how: 'exit code 0' }, 'an idle worker leaves by itself when stdin closes');
  const refused = await rejection(idle.client.request('ping'));
  t.equal(refused.code, 'SHUTTING_DOWN');

  const busy = fake(t);
  await busy.client.start();
  const busyPid = busy.client.pid!;
  const hung = busy.client.request('hang').catch((e: ApiError) => e.code);
  await new Promise((r) => setTimeout(r, 50));
  await busy.client.stop();
  t.throws(() => process.kill(busyPid, 0), 'the hung worker was terminated');
  t.same(stopped(busy.log), { how: 'signal SIGTERM' }, 'a busy worker needed SIGTERM');
  t.equal(await hung, 'SIDECAR_UNAVAILABLE');
});

t.test('a ready line that arrives while stopping does not reopen the client', async (t) => {
  const { client, log } = fake(t);
  void client.start();
  await client.stop();
  t.equal(client.state, 'stopped');
  t.notOk(log.lines.some((l) => l.msg === 'sidecar ready'));
});

t.test('progress bars on stderr become lines of their own, and a huge one is cut', async (t) => {
  const { client, log } = fake(t);
  await client.start();
  await client.request('stderr', { text: 'INFO 10%\rINFO 20%\r' + 'x'.repeat(20_000) + '\nINFO done\n' });
  await waitFor(() => log.lines.some((l) => l.msg === 'done'), 5000, 'the last line');
  const msgs = log.lines.map((l) => l.msg);
  t.ok(msgs.includes('10%') && msgs.includes('20%'), 'each redraw is a line');
  t.notOk(msgs.some((m) => (m?.length ?? 0) > 8192), 'no line longer than the cap');
  t.ok(msgs.some((m) => /over-long stderr line/.test(m ?? '')));
});
