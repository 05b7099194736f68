import Fastify from 'fastify';
import autocannon from 'autocannon';
import { buildApp } from './dist/src/app.js';
import { loadConfig } from './dist/src/config.js';
import { pino } from 'pino';
async function measure(name, url) {
  await new Promise(r => autocannon({ url, connections: 8, duration: 1 }, r));
  const r = await new Promise(res => autocannon({ url, connections: 8, duration: 3 }, (e, x) => res(x)));
  console.log(name.padEnd(22), Math.round(r.requests.average));
}
const bare = Fastify({ logger: false }); bare.get('/', async () => ({ hello: 'world' })); await bare.listen({ port: 0, host: '127.0.0.1' });
await measure('bare', `http://127.0.0.1:${bare.server.address().port}/`);
const config = loadConfig({ VOICECUE_DATA_DIR: '/tmp/vc-exp2', VOICECUE_GPU_WORKERS: '0', VOICECUE_CPU_WORKERS: '1', VOICECUE_RATE_LIMIT: process.env.RL ?? '0' });
const app = await buildApp({ config, warmup: false, loggerInstance: pino({ level: 'warn' }) });
await app.workers.start();
await app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${app.server.address().port}`;
await measure('voicecue /health/live', `${base}/health/live`);
await measure('voicecue /health', `${base}/health`);
await measure('bare again', `http://127.0.0.1:${bare.server.address().port}/`);
await app.close(); await bare.close();
