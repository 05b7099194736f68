// The service with its real workers: lanes keep short requests fast, a client that goes away
// costs nothing, the service answers while warming up and while stopping — always catalogue JSON.
import t from 'tap';
import http from 'node:http';
import { connect } from 'node:net';
import { readdir } from 'node:fs/promises';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { FAKE_SIDECAR, listening, testApp, waitFor } from '../helpers.js';

const SENTENCE = 'Hello world, this is voicecue.';
const LONG = 'The quick brown fox jumps over the lazy dog near the riverbank, twice a day. '.repeat(260).slice(0, 20_000);


/** POST /tts over a real socket, which the test may destroy to play a client that goes away. */
function post(port: number, body: object): { req: http.ClientRequest; done: Promise<number> } {
  const payload = JSON.stringify(body);
  let req!: http.ClientRequest;
  const done = new Promise<number>((resolve, reject) => {
    req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/tts', headers: { 'content-type': 'application/json' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(payload);
  });
  return { req, done };
}

t.test('two CPU workers: a short request finishes while a 20 000-character one runs', async (t) => {
  const { app, workers } = await testApp(t, { env: { VOICECUE_CPU_WORKERS: '2' } });
  await workers.start();
  await waitFor(() => workers.mainLane.status().workers.every((w) => w.state === 'ready'), 10_000, 'both workers');
  const order: string[] = [];
  const long = app.inject({ method: 'POST', url: '/tts', payload: { text: LONG } }).then((r) => (order.push('long'), r));
  await waitFor(() => workers.mainLane.status().running === 1, 5000, 'the long request to start');
  const short = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  order.push('short');
  t.equal(short.statusCode, 201);
  t.equal((await long).statusCode, 201);
  t.same(order, ['short', 'long'], 'the short one did not wait behind the long one');
});

t.test('a client that goes away while queued: its job never reaches a worker', async (t) => {
  const { app, workers, store } = await testApp(t);
  await workers.start();
  const port = await listening(app);
  const lane = workers.mainLane;
  const long = post(port, { text: LONG });
  await waitFor(() => lane.status().running === 1, 5000, 'the long request to run');
  const queued = post(port, { text: 'Nobody will hear this sentence.' });
  queued.done.catch(() => undefined);
  await waitFor(() => lane.status().queued === 1, 5000, 'the second request to queue');
  queued.req.destroy();
  await waitFor(() => lane.stats.cancelledQueued === 1, 5000, 'the queued job to be dropped');
  t.equal(await long.done, 201);
  t.equal(lane.stats.sent, 1, 'only the long job was ever sent to the worker');
  t.same(await readdir(store.stagingDir), [], 'its staging folder is gone');
});

t.test('a client that goes away mid-synthesis: the job is cancelled on the worker, no files stay', async (t) => {
  const { app, workers, store, log } = await testApp(t);
  await workers.start();
  const port = await listening(app);
  const lane = workers.mainLane;
  const pid = lane.status().workers[0]!.pid;
  const long = post(port, { text: LONG });
  long.done.catch(() => undefined);
  await waitFor(() => lane.status().running === 1, 5000, 'the request to run');
  long.req.destroy();
  await waitFor(() => lane.stats.cancelledRunning === 1 && lane.status().running === 0, 5000, 'the worker to stop');
  // stderr (the log) and stdout (the reply) are separate pipes: the line may come just after.
  await waitFor(() => log.lines.some((l) => /cancel id=\d+ \(running\)/.test(l.msg ?? '')), 15_000, 'the worker to log the cancel');
  t.equal(lane.status().workers[0]!.pid, pid, 'the worker was not killed: it stopped the job itself');
  await waitFor(async () => (await readdir(store.stagingDir)).length === 0, 5000, 'staging to be cleaned');
  t.same(await readdir(store.artifactsDir), [], 'nothing published');
  const next = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(next.statusCode, 201, 'the worker serves the next request');
});

t.test('before the workers start (install mode missing): 503 WARMING_UP with Retry-After', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(res.statusCode, 503);
  t.equal(res.json().code, 'WARMING_UP');
  t.ok(Number(res.headers['retry-after']) >= 1);
  t.ok(res.headers['x-request-id']);
});

t.test('while the service stops: what is in flight finishes, what comes after is SHUTTING_DOWN JSON', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  const port = await listening(app);
  // A keep-alive connection with a request in flight stays open while the app closes; the next
  // request on it arrives during shutdown.
  const socket = connect(port, '127.0.0.1');
  let raw = '';
  socket.on('data', (c) => (raw += c));
  const body = JSON.stringify({ text: LONG.slice(0, 6000) });
  socket.write(`POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
  await waitFor(() => workers.mainLane.status().running === 1, 5000, 'the first request to run');
  const closed = app.close();
  await new Promise((resolve) => setTimeout(resolve, 20));
  socket.write('GET /download/0mx6amhup6tHSS6ld1WFsb1PF HTTP/1.1\r\nHost: x\r\nX-Request-Id: after-stop\r\n\r\n');
  await new Promise((resolve) => socket.on('close', resolve));
  await closed;
  const answers = raw.split(/(?=HTTP\/1\.1 )/);
  t.match(answers[0], /^HTTP\/1\.1 201 /, 'the request in flight finished');
  t.match(answers[1], /^HTTP\/1\.1 503 /);
  t.match(answers[1], /x-request-id: after-stop/i);
  const json = JSON.parse(answers[1]!.slice(answers[1]!.indexOf('\r\n\r\n') + 4));
  t.match(json, { statusCode: 503, code: 'SHUTTING_DOWN', error: 'Service Unavailable' });
});

t.test('readiness needs the default engine: no libespeak-ng, or f5 with its lane off, is 503 unavailable', async (t) => {
  const noEspeak = await testApp(t, { lane: { env: { VOICECUE_ESPEAK_LIB: '/nonexistent/libespeak-ng.so.1' } } });
  await noEspeak.workers.start();
  const res = await noEspeak.app.inject('/health');
  t.equal(res.statusCode, 503, 'the worker is up, but cannot speak');
  t.match(res.json(), { status: 'unavailable', reason: /default engine espeak is not available: libespeak-ng\.so\.1 not found/ });
  t.match(res.json().engines.espeak, { available: false, reason: /libespeak-ng/ });
  const tts = await noEspeak.app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(tts.json().code, 'ENGINE_UNAVAILABLE');

  const f5 = await testApp(t, { worker: 'fake', env: { VOICECUE_DEFAULT_ENGINE: 'f5' } });
  await f5.workers.start();
  const off = await f5.app.inject('/health');
  t.equal(off.statusCode, 503);
  t.match(off.json(), { status: 'unavailable', reason: /f5 runs in the gpu lane, which is off/ });
});

t.test('install mode missing: the workers wait for warmup, and /tts says WARMING_UP meanwhile', async (t) => {
  const dataDir = t.testdir();
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_INSTALL_MODE: 'missing', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '0' });
  // warmup: false stands for a warmup still installing: nothing starts the workers.
  const app = await buildApp({ config, logger: false, warmup: false, workers: { args: () => [FAKE_SIDECAR] } });
  t.teardown(() => app.close());
  t.equal(app.workers.mainLane.status().reason, 'not started');
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.match(res.json(), { statusCode: 503, code: 'WARMING_UP' });
  t.equal(res.headers['retry-after'], '1');
});

t.test('a worker stopped with SIGSTOP mid-request is found by the heartbeat and replaced', async (t) => {
  const { app, workers, store } = await testApp(t, { env: { VOICECUE_PING_INTERVAL_S: '0.1', VOICECUE_PING_TIMEOUT_S: '0.5' } });
  await workers.start();
  const lane = workers.mainLane;
  const pid = lane.status().workers[0]!.pid!;
  t.teardown(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  const long = app.inject({ method: 'POST', url: '/tts', payload: { text: LONG } });
  await waitFor(() => lane.status().running === 1, 5000, 'the request to run');
  process.kill(pid, 'SIGSTOP');
  const failed = await long;
  t.equal(failed.statusCode, 503);
  t.equal(failed.json().code, 'SIDECAR_UNAVAILABLE');
  await waitFor(() => lane.state === 'ready', 10_000, 'a new worker');
  t.not(lane.status().workers[0]!.pid, pid, 'replaced by a new process');
  t.same(await readdir(store.stagingDir), [], 'no temp files remain');
  t.equal((await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } })).statusCode, 201);
});
