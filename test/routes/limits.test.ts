// One request cannot take the whole machine: work budgets, a bounded queue under a burst, slow
// bodies cut, thousands of idle sockets that do not stop the service from answering.
import t from 'tap';
import http from 'node:http';
import { connect, type Socket } from 'node:net';
import { readdir } from 'node:fs/promises';
import { isErrorCode } from '../../src/errors.js';
import { listening, parseWav, testApp, waitFor } from '../helpers.js';


t.test('work budget: audio over the limit is refused before any work, or stopped once it grows past it', async (t) => {
  const { app, workers, store } = await testApp(t, { env: { VOICECUE_MAX_AUDIO_S: '30' } });
  await workers.start();
  const post = (text: string) => app.inject({ method: 'POST', url: '/tts', payload: { text } });
  const up = await post(Array.from({ length: 3000 }, () => 'word').join(' '));
  t.equal(up.statusCode, 422);
  t.match(up.json(), { code: 'BUDGET_EXCEEDED', message: /at least \d+ s of audio; the limit is 30 s/ });
  t.equal(workers.mainLane.stats.sent, 1, 'it reached the worker only to be refused there, before synthesis');
  // A Han character in the English voice is longer than the estimate allows for: stopped while speaking.
  const grown = await post('中'.repeat(60));
  t.equal(grown.statusCode, 422);
  t.match(grown.json(), { code: 'BUDGET_EXCEEDED', message: /past the limit of 30 s of audio/ });
  t.same(await readdir(store.stagingDir), [], 'no partial files');
  t.same(await readdir(store.artifactsDir), [], 'nothing published');
  t.equal((await post('Still serving.')).statusCode, 201);
});

t.test('200 requests at once against a queue of 8: only the overflow is refused, every accepted one completes', async (t) => {
  // Each synthesis takes 0.4 s: long enough that none finishes (freeing a slot) while the 200 arrive on a loaded machine.
  const { app, workers, store } = await testApp(t, { worker: 'fake', env: { VOICECUE_MAX_QUEUE: '8' }, lane: { env: { FAKE_SYNTH_DELAY_S: '0.4' } } });
  await workers.start();
  const answers = await Promise.all(
    Array.from({ length: 200 }, (_, i) => app.inject({ method: 'POST', url: '/tts', payload: { text: `request ${i}` } })),
  );
  const byStatus = new Map<number, number>();
  for (const a of answers) byStatus.set(a.statusCode, (byStatus.get(a.statusCode) ?? 0) + 1);
  t.same([...byStatus.keys()].sort(), [201, 503], 'created or queue full, nothing else');
  t.equal(byStatus.get(201), 9, 'one running and eight queued were accepted');
  for (const a of answers.filter((x) => x.statusCode === 503)) {
    t.match(a.json(), { statusCode: 503, code: 'QUEUE_FULL' });
    t.equal(a.headers['retry-after'], '1');
  }
  const ids = answers.filter((a) => a.statusCode === 201).map((a) => a.json().id as string);
  t.same((await readdir(store.artifactsDir)).sort(), [...ids].sort(), 'every accepted request was published');
  for (const id of ids) {
    const wav = parseWav((await app.inject(`/download/${id}`)).rawPayload);
    t.equal(wav.sampleRate, 22050);
  }
  t.same(await readdir(store.stagingDir), []);
});

t.test('a body trickled byte by byte is cut within the body timeout with a 408', async (t) => {
  const { app } = await testApp(t, { worker: 'fake', env: { VOICECUE_BODY_TIMEOUT_S: '1' } });
  const port = await listening(app);
  const socket = connect(port, '127.0.0.1');
  let raw = '';
  socket.on('data', (c) => (raw += c));
  socket.write('POST /tts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{');
  const drip = setInterval(() => socket.writable && socket.write(' '), 200);
  t.teardown(() => clearInterval(drip));
  // Without the timeout the drip would keep the request open until tap's own timeout.
  await new Promise((resolve) => socket.once('close', resolve));
  clearInterval(drip);
  t.match(raw, /^HTTP\/1\.1 408 /);
  t.match(JSON.parse(raw.slice(raw.indexOf('\r\n\r\n') + 4)), { statusCode: 408, code: 'REQUEST_TIMEOUT' });
});

t.test('5 000 idle connections do not stop /health from answering', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake', env: { VOICECUE_MAX_CONNECTIONS_PER_CLIENT: '200', VOICECUE_MAX_CONNECTIONS: '1000' } });
  await workers.start();
  const port = await listening(app);
  const sockets: Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.destroy()));
  // In batches, each connection made before the next batch (a burst of 5 000 would only overflow
  // the kernel's accept queue): each connects and sends nothing.
  for (let batch = 0; batch < 20; batch++) {
    const made = Array.from({ length: 250 }, () => {
      const s = connect(port, '127.0.0.1');
      sockets.push(s);
      return new Promise<void>((resolve) => {
        s.once('connect', () => resolve());
        s.once('error', () => resolve());
      });
    });
    await Promise.all(made);
  }
  await waitFor(() => sockets.filter((s) => !s.destroyed).length <= 200, 10_000, 'idle sockets past the cap to be closed');
  const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/health', agent: false }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
    }).on('error', reject);
  });
  t.equal(res.status, 200, '/health answers');
  t.equal(JSON.parse(res.body).status, 'ready');
  t.ok(sockets.filter((s) => !s.destroyed && !s.closed).length <= 200, 'no more than the per-client cap stay open');
});

t.test('a client whose connections are all busy gets a catalogue 429 for one more', async (t) => {
  const { app, workers } = await testApp(t, {
    worker: 'fake', env: { VOICECUE_MAX_CONNECTIONS_PER_CLIENT: '2' }, lane: { env: { FAKE_SYNTH_DELAY_S: '1' } },
  });
  await workers.start();
  const port = await listening(app);
  const agent = new http.Agent({ keepAlive: false });
  const postSlow = () =>
    new Promise<number>((resolve) => {
      const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/tts', agent, headers: { 'content-type': 'application/json' } }, (r) => {
        r.resume();
        r.on('end', () => resolve(r.statusCode ?? 0));
      });
      req.on('error', () => resolve(0));
      req.end(JSON.stringify({ text: 'slow' }));
    });
  const busy = [postSlow(), postSlow()];
  await waitFor(() => workers.mainLane.status().running + workers.mainLane.status().queued === 2, 5000, 'two requests in flight');
  const third = await new Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/health', agent }, (r) => {
      let body = '';
      r.on('data', (c) => (body += c));
      r.on('end', () => resolve({ status: r.statusCode ?? 0, body, headers: r.headers }));
    }).on('error', reject);
  });
  t.equal(third.status, 429);
  const json = JSON.parse(third.body);
  t.ok(isErrorCode(json.code) && json.code === 'TOO_MANY_CONNECTIONS');
  t.equal(third.headers['retry-after'], '1');
  t.ok(third.headers['x-request-id'], 'with a request id like every answer');
  t.same(await Promise.all(busy), [201, 201], 'the busy ones finish');
});
