#!/usr/bin/env node
// Load: throughput and latency (p50, p99) with autocannon for /health and /tts (espeak, one
// sentence) at concurrency 1, 8 and 64, beside a bare Fastify hello-world measured in the same
// run, and the gateway's resident memory after the runs. Targets on this machine: /health at
// least 70% of the bare server's throughput; /tts at concurrency 8 with no errors and p99 ≤ 10× p50.
// Run with: npm run build && node bench/load.mjs
import autocannon from 'autocannon';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_LOAD_S ?? 3);
// Runs a measurement, after one untimed warm-up run; the run with the median throughput is kept.
const RUNS = Number(process.env.BENCH_LOAD_RUNS ?? 3);
const fmt = (x, d = 1) => x.toFixed(d);

function once(url, connections, opts, duration) {
  return new Promise((resolve, reject) => {
    autocannon({ url, connections, duration, ...opts }, (err, r) => (err ? reject(err) : resolve(r)));
  });
}
async function run(url, connections, opts = {}) {
  await once(url, connections, opts, 1);
  const runs = [];
  for (let i = 0; i < RUNS; i++) runs.push(await once(url, connections, opts, SECONDS));
  runs.sort((a, b) => a.requests.average - b.requests.average);
  return runs[Math.floor(runs.length / 2)];
}
const line = (name, c, r) =>
  `  ${name.padEnd(22)} c=${String(c).padEnd(3)} ${fmt(r.requests.average, 0).padStart(6)} req/s   p50 ${fmt(r.latency.p50, 1)} ms   p99 ${fmt(r.latency.p99, 1)} ms   ` +
  `errors ${r.errors + r.timeouts}   non-2xx ${r.non2xx}`;

// The bare server, a process of its own like the service, so both share the cores alike.
const barePort = 18000 + Math.floor(Math.random() * 500);
const bare = spawn(process.execPath, ['--input-type=module', '-e', `
  import Fastify from 'fastify';
  const app = Fastify({ logger: false });
  app.get('/', async () => ({ hello: 'world' }));
  await app.listen({ host: '127.0.0.1', port: ${barePort} });
`], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const bareUrl = `http://127.0.0.1:${barePort}/`;
await waitUntil(() => fetch(bareUrl).then((r) => r.ok, () => false));

// voicecue, built, as a process.
mkdirSync(join(root, 'data'), { recursive: true });
const dataDir = mkdtempSync(join(root, 'data', 'bench-load-'));
const port = 18500 + Math.floor(Math.random() * 500);
const proc = spawn(process.execPath, [join(root, 'dist/src/server.js')], {
  env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'warn', VOICECUE_GPU_WORKERS: '0', VOICECUE_RATE_LIMIT: '0' },
  stdio: ['ignore', 'ignore', 'inherit'],
});
const base = `http://127.0.0.1:${port}`;
await waitUntil(() => fetch(`${base}/health`).then((r) => r.status === 200, () => false));

async function waitUntil(check) {
  for (const started = Date.now(); !(await check()); ) {
    if (Date.now() - started > 30_000) throw new Error('not ready after 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
}
const tts = { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: 'Hello world, this is voicecue.', timing_format: 'srt' }) };

const rows = [];
const health = {};
const bareRuns = {};
// In pairs, one right after the other: this machine's speed drifts between runs (other tenants),
// so each ratio compares the two servers under the same conditions; the median ratio is reported.
const ratios = {};
for (const c of [1, 8, 64]) {
  await once(bareUrl, c, {}, 1);
  await once(`${base}/health`, c, {}, 1);
  const pairs = [];
  for (let i = 0; i < RUNS; i++) {
    const b = await once(bareUrl, c, {}, SECONDS);
    const h = await once(`${base}/health`, c, {}, SECONDS);
    pairs.push({ b, h, ratio: h.requests.average / b.requests.average });
  }
  pairs.sort((x, y) => x.ratio - y.ratio);
  const mid = pairs[Math.floor(pairs.length / 2)];
  bareRuns[c] = mid.b;
  health[c] = mid.h;
  ratios[c] = pairs.map((p) => p.ratio);
  rows.push(line('bare fastify /', c, bareRuns[c]));
  rows.push(line('voicecue /health', c, health[c]));
}
const ttsRuns = {};
for (const c of [1, 8, 64]) {
  ttsRuns[c] = await run(`${base}/tts`, c, tts);
  rows.push(line('voicecue /tts', c, ttsRuns[c]));
}
const rssMb = () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))[1]) / 1024;
const rss = rssMb();
// A burst far past the queue (200 connections, 2000 requests): the overflow is refused at once,
// the rest completes, memory stays put.
let peak = rss;
const sampler = setInterval(() => (peak = Math.max(peak, rssMb())), 20);
const burst = await new Promise((resolve, reject) =>
  autocannon({ url: `${base}/tts`, connections: 200, amount: 2000, ...tts }, (err, r) => (err ? reject(err) : resolve(r))),
);
clearInterval(sampler);
const statuses = Object.entries(burst.statusCodeStats).map(([s, { count }]) => `${count}× ${s}`).join(', ') + `, ${burst.errors} errors`;
proc.kill('SIGTERM');
await new Promise((r) => proc.once('exit', r));
rmSync(dataDir, { recursive: true, force: true });
bare.kill('SIGTERM');

console.log(`voicecue load bench (${new Date().toISOString()}, node ${process.version}, /health and the bare server in ${RUNS} back-to-back pairs of ${SECONDS} s runs (the median pair shown), /tts the median of ${RUNS} runs, each after a warm-up, CPU workers: default)`);
for (const r of rows) console.log(r);
for (const c of [1, 8, 64]) {
  console.log(`  /health vs bare at c=${c}: ${fmt(100 * health[c].requests.average / bareRuns[c].requests.average, 0)}% (target ≥ 70; each pair: ${ratios[c].map((r) => `${fmt(100 * r, 0)}%`).join(', ')})`);
}
const t8 = ttsRuns[8];
console.log(`  /tts at c=8: ${t8.errors + t8.timeouts} errors, ${t8.non2xx} non-2xx, p99/p50 ${fmt(t8.latency.p99 / t8.latency.p50, 1)} (target: none, ≤ 10)`);
console.log(`  gateway resident memory after the runs: ${fmt(rss)} MB`);
console.log(`  2000 /tts over 200 connections at once (a queue of 64): ${statuses}; gateway memory peak ${fmt(peak)} MB`);
