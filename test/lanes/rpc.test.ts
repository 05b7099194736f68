// The RPC channel over an in-memory transport: ids, routing, errors, cancel, failAll.
import t from 'tap';
import { ApiError } from '../../src/errors.js';
import { RpcChannel, type JsonObject, type MessageTransport, type ProgressEvent } from '../../src/lanes/index.js';
import { memoryLogger, rejection, sleep } from '../fixtures/lanes.js';

function channel() {
  const sent: JsonObject[] = [];
  const transport: MessageTransport = { send: (m) => void sent.push(m as JsonObject), onMessage: undefined };
  const log = memoryLogger();
  const notes: JsonObject[] = [];
  const rpc = new RpcChannel(transport, { log, onNotification: (m) => notes.push(m) });
  const deliver = (m: JsonObject) => transport.onMessage!(m);
  return { rpc, sent, deliver, log, notes };
}

t.test('ids increment and replies are correlated whatever their order', async (t) => {
  const { rpc, sent, deliver } = channel();
  const a = rpc.request<{ n: number }>('echo', { n: 1 });
  const b = rpc.request<{ n: number }>('echo', { n: 2 });
  t.same(sent, [
    { id: 1, method: 'echo', params: { n: 1 } },
    { id: 2, method: 'echo', params: { n: 2 } },
  ]);
  t.same(rpc.inFlight, [1, 2]);
  deliver({ id: 2, result: { n: 2 } });
  deliver({ id: 1, result: { n: 1 } });
  t.same([await a.promise, await b.promise], [{ n: 1 }, { n: 2 }]);
  t.same(rpc.inFlight, []);
});

t.test('progress and other events go to their request; replies for unknown ids are dropped', async (t) => {
  const { rpc, deliver, log } = channel();
  const progress: ProgressEvent[] = [];
  const events: JsonObject[] = [];
  const req = rpc.request('synthesize', {}, { onProgress: (m) => progress.push(m), onEvent: (m) => events.push(m) });
  deliver({ id: req.id, event: 'progress', done: 1, total: 2, chunk: [0, 5] });
  deliver({ id: req.id, event: 'progress', done: 'x' }); // malformed: logged
  deliver({ id: req.id, event: 'audio', bytes: 3 });
  deliver({ id: 99, result: {} });
  deliver({ id: req.id, result: { ok: true } });
  t.same(await req.promise, { ok: true });
  t.same(progress, [{ id: req.id, event: 'progress', done: 1, total: 2, chunk: [0, 5] }]);
  t.same(events, [{ id: req.id, event: 'audio', bytes: 3 }]);
  t.ok(log.lines.some((l) => l.msg === 'malformed progress event'));
  t.ok(log.lines.some((l) => l.msg === 'reply for an unknown request'));
});

t.test('messages without an id are notifications; id-less errors are logged', async (t) => {
  const { deliver, notes, log } = channel();
  deliver({ event: 'ready', pid: 1 });
  deliver({ id: null, error: { code: 'PARSE_ERROR', message: 'bad line' } });
  t.same(notes, [{ event: 'ready', pid: 1 }]);
  t.ok(log.lines.some((l) => l.msg === 'worker reported an error for no request'));
});

t.test('worker errors: known codes pass through, others become INTERNAL_ERROR without internals', async (t) => {
  const { rpc, deliver, log } = channel();
  const voice = rpc.request('synthesize');
  deliver({ id: voice.id, error: { code: 'UNKNOWN_VOICE', message: 'no voice xx' } });
  const e1 = await rejection(voice.promise);
  t.equal(e1.code, 'UNKNOWN_VOICE');
  t.equal(e1.message, 'no voice xx');
  const cancelled = rpc.request('synthesize');
  deliver({ id: cancelled.id, error: { code: 'CANCELLED', message: 'stopped' } });
  t.equal((await rejection(cancelled.promise)).statusCode, 499);
  const internal = rpc.request('synthesize');
  deliver({ id: internal.id, error: { code: 'INTERNAL', message: 'FileNotFoundError: /secret/x' } });
  const e2 = await rejection(internal.promise);
  t.equal(e2.code, 'INTERNAL_ERROR');
  t.notMatch(e2.message, /secret/);
  t.ok(log.lines.some((l) => l.msg === 'speech worker error' && JSON.stringify(l.obj).includes('/secret/')), 'the details reach the log');
  const malformed = rpc.request('synthesize');
  deliver({ id: malformed.id, nothing: true });
  t.equal((await rejection(malformed.promise)).code, 'INTERNAL_ERROR');
});

t.test('cancel is a request of its own', async (t) => {
  const { rpc, sent, deliver } = channel();
  const job = rpc.request('synthesize');
  const cancel = rpc.cancel(job.id);
  t.same(sent[1], { id: cancel.id, method: 'cancel', params: { id: job.id } });
  deliver({ id: cancel.id, result: { cancelled: true } });
  t.same(await cancel.promise, { cancelled: true });
  t.ok(rpc.has(job.id), 'the job still waits for its own reply');
  deliver({ id: job.id, error: { code: 'CANCELLED', message: 'cancelled' } });
  t.equal((await rejection(job.promise)).code, 'CANCELLED');
});

t.test('a request timeout rejects with SIDECAR_TIMEOUT and forgets the id', async (t) => {
  const { rpc, deliver } = channel();
  const ping = rpc.request('ping', {}, { timeoutMs: 20 });
  // The channel's timers are unref'd: something must keep this test's process alive meanwhile.
  const [err] = await Promise.all([rejection(ping.promise), sleep(60)]);
  t.equal(err.code, 'SIDECAR_TIMEOUT');
  t.notOk(rpc.has(ping.id));
  deliver({ id: ping.id, result: { pong: true } }); // late: ignored
  await sleep(5);
});

t.test('failAll fails every pending request at once', async (t) => {
  const { rpc } = channel();
  const reqs = [rpc.request('a'), rpc.request('b'), rpc.request('c', {}, { timeoutMs: 60_000 })];
  rpc.failAll(new ApiError('SIDECAR_UNAVAILABLE', 'gone'));
  const errs = await Promise.all(reqs.map((r) => rejection(r.promise)));
  t.same(
    errs.map((e) => e.code),
    ['SIDECAR_UNAVAILABLE', 'SIDECAR_UNAVAILABLE', 'SIDECAR_UNAVAILABLE'],
  );
  t.same(rpc.inFlight, []);
});
