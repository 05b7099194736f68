#!/usr/bin/env node
// Lanes and cancellation, measured on the built service and the real worker:
//  - one-sentence /tts latency (p50, p99) on an idle service, and beside a 20 000-character
//    request that keeps one of the two CPU workers busy the whole time (target p99 ≤ 50 ms);
//  - how soon a worker stops after a cancel arrives mid-synthesis (target ≤ 100 ms).
// Run with: npm run build && node bench/lanes.mjs
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const SHORT_RUNS = Number(process.env.BENCH_SHORT_RUNS ?? 100);
const CANCELS = Number(process.env.BENCH_CANCELS ?? 10);
const SENTENCE = 'Hello world, this is voicecue.';
const LONG = 'The quick brown fox jumps over the lazy dog near the riverbank, twice a day. '.repeat(260).slice(0, 20_000);

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
};
const fmt = (x, d = 1) => x.toFixed(d);
mkdirSync(join(root, 'data'), { recursive: true });

async function startService() {
  const dataDir = mkdtempSync(join(root, 'data', 'bench-lanes-'));
  const port = 18000 + Math.floor(Math.random() * 1000);
  const proc = spawn(process.execPath, [join(root, 'dist/src/server.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'warn', VOICECUE_CPU_WORKERS: '2', VOICECUE_GPU_WORKERS: '0', VOICECUE_RATE_LIMIT: '0' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (const started = Date.now(); ; ) {
    const lanes = await fetch(`${base}/health?verbose=1`).then((r) => r.json(), () => null);
    if (lanes?.lanes?.cpu?.workers?.every((w) => w.state === 'ready')) break;
    if (Date.now() - started > 30_000) throw new Error('service not ready after 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { base, stop: async () => (proc.kill('SIGTERM'), await new Promise((r) => proc.once('exit', r)), rmSync(dataDir, { recursive: true, force: true })) };
}

async function tts(base, text) {
  const t0 = performance.now();
  const res = await fetch(`${base}/tts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text, timing_format: 'srt' }) });
  await res.arrayBuffer();
  if (res.status !== 201) throw new Error(`POST /tts → ${res.status}`);
  return performance.now() - t0;
}

async function shortSeries(base) {
  for (let i = 0; i < 5; i++) await tts(base, SENTENCE);
  const times = [];
  for (let i = 0; i < SHORT_RUNS; i++) times.push(await tts(base, SENTENCE));
  return times;
}

const svc = await startService();
const idle = await shortSeries(svc.base);
// One worker stays busy with 20 000 characters, back to back, while the short requests run.
let loading = true;
let longs = 0;
const load = (async () => {
  while (loading) {
    await tts(svc.base, LONG);
    longs += 1;
  }
})();
await new Promise((r) => setTimeout(r, 200));
const beside = await shortSeries(svc.base);
loading = false;
await load;
await svc.stop();

// Cancel: the worker alone, a long synthesis cancelled at its first progress event.
const dataDir = mkdtempSync(join(root, 'data', 'bench-cancel-'));
const worker = spawn('python3', ['-m', 'voicecue_worker'], { cwd: join(root, 'worker-py'), env: { ...process.env, VOICECUE_DATA_DIR: dataDir }, stdio: ['pipe', 'pipe', 'ignore'] });
const lines = createInterface({ input: worker.stdout });
const waiters = [];
lines.on('line', (line) => waiters.shift()?.(JSON.parse(line)));
const next = () => new Promise((resolve) => waiters.push(resolve));
await next(); // ready
const stops = [];
for (let i = 0; i < CANCELS; i++) {
  worker.stdin.write(JSON.stringify({ id: i * 2 + 1, method: 'synthesize', params: { text: LONG, output_path: join(dataDir, `c${i}.wav`) } }) + '\n');
  let msg = await next();
  while (msg.event !== 'progress') msg = await next();
  const sent = performance.now();
  worker.stdin.write(JSON.stringify({ id: i * 2 + 2, method: 'cancel', params: { id: i * 2 + 1 } }) + '\n');
  for (;;) {
    msg = await next();
    if (msg.id === i * 2 + 1 && msg.event !== 'progress') break;
  }
  if (msg.error?.code !== 'CANCELLED') throw new Error(`expected CANCELLED, got ${JSON.stringify(msg).slice(0, 200)}`);
  stops.push(performance.now() - sent);
}
worker.stdin.end();
rmSync(dataDir, { recursive: true, force: true });

console.log(`voicecue lanes bench (${new Date().toISOString()}, node ${process.version}, 2 CPU workers)`);
console.log(`  one sentence, idle service          p50 ${fmt(pct(idle, 50), 2)} ms   p99 ${fmt(pct(idle, 99), 2)} ms   (${SHORT_RUNS} runs)`);
console.log(`  one sentence, beside 20 000 chars   p50 ${fmt(pct(beside, 50), 2)} ms   p99 ${fmt(pct(beside, 99), 2)} ms   (${SHORT_RUNS} runs, ${longs} long requests ran meanwhile; target p99 ≤ 50)`);
console.log(`  worker stops after a cancel         median ${fmt(pct(stops, 50), 1)} ms   max ${fmt(Math.max(...stops), 1)} ms   (${CANCELS} cancels mid-synthesis; target ≤ 100)`);
