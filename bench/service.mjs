#!/usr/bin/env node
// Starts the built service (node dist/src/server.js) and prints medians of several runs:
// /tts latency for one sentence and for 1000 words, the gateway's own overhead, espeak's
// real-time factor, process start → /health 200, and resident memory of gateway and worker.
// Run with: npm run bench   (builds first)
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const STARTS = Number(process.env.BENCH_STARTS ?? 5);
const SHORT_RUNS = Number(process.env.BENCH_SHORT_RUNS ?? 50);
const LONG_RUNS = Number(process.env.BENCH_LONG_RUNS ?? 10);

const SENTENCE = 'Hello world, this is voicecue. The year 2025 had 12 months.';
const PARAGRAPH =
  'The quick brown fox jumps over the lazy dog near the riverbank. On 3 March 2024, about 1,500 people ' +
  'gathered in the square to hear the orchestra play. She said it was the best concert of her life, ' +
  'and nobody disagreed with her. Later that evening the rain started, slowly at first, then all at once. ';
const words = PARAGRAPH.trim().split(/\s+/);
const THOUSAND = Array.from({ length: 1000 }, (_, i) => words[i % words.length]).join(' ') + '.';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (x, d = 1) => x.toFixed(d);
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(port, method, path, body) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {} },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function childrenOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// "Everything present": a folder on the worker's PYTHONPATH (VOICECUE_INSTALL_TARGET, install mode
// never) holding a stub module and dist-info for every package of warmup's manifest, so the probe
// finds each one where a baked image would have it. Nothing imports them: detection is find_spec.
const { DEFAULT_MANIFEST } = await import('../dist/src/warmup/index.js');
mkdirSync(join(root, 'data'), { recursive: true });
const present = mkdtempSync(join(root, 'data', 'bench-site-'));
for (const pkg of DEFAULT_MANIFEST) {
  mkdirSync(join(present, pkg.importName), { recursive: true });
  writeFileSync(join(present, pkg.importName, '__init__.py'), '');
  const info = join(present, `${pkg.name.replace(/-/g, '_')}-1.0.dist-info`);
  mkdirSync(info, { recursive: true });
  writeFileSync(join(info, 'METADATA'), `Metadata-Version: 2.1\nName: ${pkg.name}\nVersion: 1.0\n`);
}
process.on('exit', () => rmSync(present, { recursive: true, force: true }));

let port = 18000 + Math.floor(Math.random() * 1000);
async function startService() {
  // Under the repository's data/ folder, where the service keeps results by default.
  const dataDir = mkdtempSync(join(root, 'data', 'bench-'));
  port += 1;
  const t0 = performance.now();
  const epoch0 = Date.now();
  const proc = spawn(process.execPath, [join(root, 'dist/src/server.js')], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'info', VOICECUE_INSTALL_TARGET: present, VOICECUE_RATE_LIMIT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  // The log says when the worker was ready and when warmup finished (pino's time is epoch ms).
  const marks = {};
  let pending = '';
  proc.stdout.on('data', (chunk) => {
    const lines = (pending + chunk).split('\n');
    pending = lines.pop();
    for (const line of lines) {
      try {
        const { msg, time } = JSON.parse(line);
        // The first worker of the CPU lane; the other workers start beside it.
        if ((msg === 'worker ready' && !marks[msg]) || msg === 'warmup finished') marks[msg] = time - epoch0;
      } catch {}
    }
  });
  for (;;) {
    try {
      if ((await request(port, 'GET', '/health')).status === 200) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 5));
    if (performance.now() - t0 > 30_000) throw new Error('service not ready after 30 s');
  }
  const readyMs = performance.now() - t0;
  const health = JSON.parse((await request(port, 'GET', '/health?verbose=1')).body);
  if (health.warmup?.found?.length !== DEFAULT_MANIFEST.length) throw new Error('warmup did not find every stub package');
  return {
    warmupMs: health.warmup?.elapsedMs ?? NaN,
    proc,
    port,
    readyMs,
    marks,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => proc.once('exit', r));
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function tts(port, text) {
  const t0 = performance.now();
  const res = await request(port, 'POST', '/tts', { text });
  const client = performance.now() - t0;
  if (res.status !== 201) throw new Error(`POST /tts → ${res.status}: ${res.body}`);
  const body = JSON.parse(res.body);
  const t = body.timings_ms;
  return { client, total: t.total, worker: t.worker_synthesize + t.worker_write, synth: t.worker_synthesize, duration: body.duration };
}

async function series(port, text, runs) {
  for (let i = 0; i < 3; i++) await tts(port, text); // warm up
  const rows = [];
  for (let i = 0; i < runs; i++) rows.push(await tts(port, text));
  return {
    client: median(rows.map((r) => r.client)),
    overhead: median(rows.map((r) => r.client - r.worker)),
    serverOverhead: median(rows.map((r) => r.total - r.worker)),
    rtf: median(rows.map((r) => r.synth / 1000 / r.duration)),
    duration: rows[0].duration,
  };
}

// This disk's latency for creating small files swings (seen: 0.1 to 2.6 ms for five), and every
// /tts creates seven; the figure is printed so the overhead below can be read against it.
function diskProbe() {
  const dir = mkdtempSync(join(root, 'data', 'bench-disk-'));
  const times = [];
  for (let i = 0; i < 50; i++) {
    const t0 = performance.now();
    mkdirSync(join(dir, String(i)));
    for (let f = 0; f < 5; f++) writeFileSync(join(dir, String(i), `f${f}`), 'x'.repeat(800));
    times.push(performance.now() - t0);
  }
  rmSync(dir, { recursive: true, force: true });
  return median(times);
}
const diskMs = diskProbe();

const readies = [];
const workerReadies = [];
const warmupAdds = [];
const warmupOwn = [];
for (let i = 0; i < STARTS; i++) {
  const s = await startService();
  readies.push(s.readyMs);
  workerReadies.push(s.marks['worker ready']);
  // Warmup runs beside the worker's start (install mode never); what it adds is how much later it finishes.
  warmupAdds.push(Math.max(0, s.marks['warmup finished'] - s.marks['worker ready']));
  warmupOwn.push(s.warmupMs);
  await s.stop();
}

const svc = await startService();
const short = await series(svc.port, SENTENCE, SHORT_RUNS);
const long = await series(svc.port, THOUSAND, LONG_RUNS);
const lanes = JSON.parse((await request(svc.port, 'GET', '/health?verbose=1')).body).lanes;
const cpuPids = lanes.cpu.workers.map((w) => w.pid);
const gatewayRss = rssMb(svc.proc.pid);
const workerRss = Math.max(...cpuPids.map(rssMb));
const workerCount = childrenOf(svc.proc.pid).length;

// Kill the worker under a long request: how soon the caller hears, and how soon /health is 200 again.
const inFlight = tts(svc.port, THOUSAND.repeat(3)).then(() => 'ok', (err) => String(err.message));
await new Promise((r) => setTimeout(r, 50));
// On a connection of its own: the agent's one socket is busy with the long request.
const busy = (await (await fetch(`http://127.0.0.1:${svc.port}/health?verbose=1`)).json()).lanes.cpu.workers.find((w) => w.busy > 0);
const killedAt = performance.now();
process.kill(busy.pid, 'SIGKILL');
const failure = await inFlight;
const failedMs = performance.now() - killedAt;
while ((await request(svc.port, 'GET', '/health')).status !== 200) await new Promise((r) => setTimeout(r, 5));
const recoveredMs = performance.now() - killedAt;
await svc.stop();

console.log(`voicecue bench (${new Date().toISOString()}, node ${process.version}, medians)`);
console.log(`  disk: a folder and five small files take ${fmt(diskMs, 2)} ms here now`);
console.log(`  start → /health 200        ${fmt(median(readies), 0)} ms   (${STARTS} starts; target ≤ 1500; worker said ready at ${fmt(median(workerReadies), 0)} ms)`);
console.log(`  warmup adds                ${fmt(median(warmupAdds), 0)} ms   (all ${DEFAULT_MANIFEST.length} manifest packages present, install mode never: finished after the worker was ready; target ≤ 300; warmup itself took ${fmt(median(warmupOwn), 0)} ms beside the worker's start)`);
console.log(`  /tts one sentence          ${fmt(short.client, 2)} ms   (${SHORT_RUNS} runs; target ≤ 30; ${fmt(short.duration, 2)} s of audio)`);
console.log(`  gateway overhead           ${fmt(short.overhead, 2)} ms   (client total − worker time; inside the gateway alone ${fmt(short.serverOverhead, 2)} ms; target ≤ 5)`);
console.log(`  /tts 1000 words            ${fmt(long.client, 1)} ms   (${LONG_RUNS} runs; target ≤ 500; ${fmt(long.duration, 1)} s of audio; overhead ${fmt(long.overhead, 1)} ms)`);
console.log(`  espeak real-time factor    ${fmt(long.rtf, 4)}      (synthesis time / audio time, 1000 words; one sentence ${fmt(short.rtf, 4)})`);
console.log(`  worker killed mid-request  caller answered after ${fmt(failedMs, 0)} ms (${failure.includes('503') ? '503 SIDECAR_UNAVAILABLE' : failure}); /health 200 again after ${fmt(recoveredMs, 0)} ms`);
console.log(`  resident memory            gateway ${fmt(gatewayRss)} MB (target ≤ 150), largest CPU worker ${fmt(workerRss)} MB (target ≤ 50; ${workerCount} worker processes)`);
