// The probes' fast path (src/http/probes.ts): GET /health and /health/live answered at the HTTP
// server from the answer the route cached, identical to Fastify's, never stale, and counted.
import t from 'tap';
import { listening, testApp } from '../helpers.js';

t.test('/health over HTTP: the fast answer is the route\'s, follows a change of state at once, and is counted', async (t) => {
  const { app, workers, readiness } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const port = await listening(app);
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, { headers });
    return { status: res.status, body: await res.text(), type: res.headers.get('content-type'), id: res.headers.get('x-request-id') };
  };

  t.equal(app.probeAnswer('/health'), null, 'nothing is known before the route has answered once');
  const first = await get('/health');
  t.equal(first.status, 200);
  t.not(app.probeAnswer('/health'), null, 'the route cached its answer for the fast path');
  const fast = await get('/health');
  const routed = await app.inject('/health'); // inject never passes the server: always Fastify's route
  t.same([fast.status, fast.body], [routed.statusCode, routed.payload], 'the same status and bytes as the route');
  t.equal(fast.type, routed.headers['content-type']);
  t.match(fast.id, /^[\w-]+-[0-9a-z]+$/, 'a request id of our own');
  t.not(fast.id, first.id, 'a new one each time');
  t.equal((await get('/health', { 'x-request-id': 'probe-7' })).id, 'probe-7', "a caller's sane id is kept");

  readiness.warmup.state = 'running';
  t.equal(app.probeAnswer('/health'), null, 'a changed state is never answered from the cache');
  const warming = await get('/health');
  t.equal(warming.status, 503);
  t.match(JSON.parse(warming.body), { status: 'warming' });
  t.equal((await get('/health')).status, 503, 'the new answer is the cached one from here');
  readiness.warmup.state = 'done';
  t.equal((await get('/health')).status, 200);

  const live = await get('/health/live');
  t.equal(live.status, 200);
  t.match(JSON.parse(live.body), { status: 'alive', uptime: Number });
  t.equal((await get('/health?verbose=1')).status, 200, 'a query goes through Fastify');
  t.equal((await get('/health/')).status, 404, 'and so does anything that is not exactly a probe');

  const metrics = await app.inject('/metrics');
  const count = (status: string) => Number(new RegExp(`voicecue_http_requests_total\\{route="/health",method="GET",status="${status}"[^}]*\\} (\\d+)`).exec(metrics.payload)?.[1] ?? 0);
  t.equal(count('200'), 6, 'every 200 of /health counted, fast or routed (the injected one and the verbose one too)');
  t.equal(count('503'), 2);
});
