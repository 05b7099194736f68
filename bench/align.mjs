#!/usr/bin/env node
// The offline aligners on speech with exact word times, through the worker as the service runs it
// (python -m voicecue_worker --lane cpu, the align method of its protocol):
//  - per aligner and set: the share of word boundaries (every start and every end) within 25, 50
//    and 100 ms of the truth, the median error, the worst file's share within 50 ms, and the
//    real-time factor (audio seconds per second of the worker's align time);
//  - a one-hour file (the corpus concatenated, its texts joined): wall time and the worker's peak
//    memory (VmHWM, a fresh worker per aligner), with its accuracy.
// The corpus: --manifest PATH (the shape bench/corpus/make.py writes), else bench/corpus/make.py's
// (made or reused in its cache) when that script exists, else a small one from
// bench/festival_words.py (two Festival voices, clean and pink noise at 10 dB) under data/.
// Aligners: --aligners a,b (default: every worker aligner that times any audio and is available).
// Run with: node bench/align.mjs [--sets clean,noisy] [--limit N] [--hour-s 3600] [--no-hour]
import { spawn, execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : fallback;
};
const python = process.env.VOICECUE_PYTHON || (existsSync(join(root, '.venv/bin/python')) ? join(root, '.venv/bin/python') : 'python3');
const sets = opt('sets', 'clean,noisy').split(',').filter(Boolean);
const limit = Number(opt('limit', 0)) || Infinity;
const hourS = Number(opt('hour-s', 3600));
const noHour = args.includes('--no-hour');

// ------------------------------------------------------------------ the corpus
function manifestPath() {
  const given = opt('manifest');
  if (given) return given;
  const make = join(root, 'bench/corpus/make.py');
  if (existsSync(make)) {
    return execFileSync(python, [make, '--sets', sets.join(',')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
  }
  return execFileSync(python, [join(root, 'bench/festival_words.py'), '--corpus', join(root, 'data/bench-align-corpus')], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  }).trim().split('\n').pop();
}

const manifest = manifestPath();
const base = dirname(manifest);
const items = JSON.parse(readFileSync(manifest, 'utf8')).items
  .map((it) => ({ ...it, audio: isAbsolute(it.audio) ? it.audio : join(base, it.audio) }))
  .filter((it) => sets.includes(it.set));
const groups = new Map();
for (const it of items) {
  for (const g of it.set === 'hard' ? [it.set, `hard/${it.condition}`] : [it.set]) {
    if (!groups.has(g)) groups.set(g, []);
    if (groups.get(g).length < limit) groups.get(g).push(it);
  }
}

// ------------------------------------------------------------------ the worker
function startWorker() {
  const proc = spawn(python, ['-m', 'voicecue_worker', '--lane', 'cpu'], {
    cwd: join(root, 'worker-py'), env: { ...process.env, VOICECUE_LOG_LEVEL: 'WARNING' }, stdio: ['pipe', 'pipe', 'inherit'],
  });
  const pending = new Map();
  let ready;
  const readyP = new Promise((r) => (ready = r));
  createInterface({ input: proc.stdout }).on('line', (line) => {
    const msg = JSON.parse(line);
    if (msg.event === 'ready') return ready(msg);
    if (msg.id !== undefined && (msg.result || msg.error)) {
      pending.get(msg.id)?.(msg);
      pending.delete(msg.id);
    }
  });
  let next = 1;
  const call = (method, params) => new Promise((resolve) => {
    const id = next++;
    pending.set(id, resolve);
    proc.stdin.write(`${JSON.stringify({ id, method, params })}\n`);
  });
  const peakMb = () => {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  };
  const stop = () => new Promise((r) => (proc.once('exit', r), proc.stdin.end()));
  return { readyP, call, peakMb, stop };
}

// ------------------------------------------------------------------ scoring
function errorsOf(words, truth) {
  const byStart = new Map(words.map((w) => [w.char_start, w]));
  const errs = [];
  for (const t of truth) {
    const w = byStart.get(t.char_start);
    if (!w) throw new Error(`no word at ${t.char_start} (${t.word})`);
    errs.push(Math.abs(w.start - t.start) * 1000, Math.abs(w.end - t.end) * 1000);
  }
  return errs;
}
const share = (errs, ms) => (100 * errs.filter((e) => e <= ms).length) / errs.length;
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function align(worker, aligner, it) {
  const reply = await worker.call('align', { aligner, audio_path: it.audio, text: it.text, language: 'en' });
  if (reply.error) throw new Error(`${aligner} on ${it.id}: ${reply.error.code}: ${reply.error.message}`);
  return reply.result;
}

// ------------------------------------------------------------------ the one-hour file
function readWav(path) {
  const buf = readFileSync(path);
  let off = 12;
  let rate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    if (id === 'fmt ') {
      if (buf.readUInt16LE(off + 8) !== 1 || buf.readUInt16LE(off + 10) !== 1 || buf.readUInt16LE(off + 22) !== 16) throw new Error(`${path}: not 16-bit mono PCM`);
      rate = buf.readUInt32LE(off + 12);
    } else if (id === 'data') return { rate, pcm: buf.subarray(off + 8, off + 8 + size) };
    off += 8 + size + (size % 2);
  }
  throw new Error(`${path}: no data chunk`);
}

function hourFile(pool, dir) {
  const first = readWav(pool[0].audio);
  const path = join(dir, 'hour.wav');
  const fd = openSync(path, 'w');
  writeSync(fd, Buffer.alloc(44));
  let bytes = 0;
  let offset = 0;
  const texts = [];
  const truth = [];
  let chars = 0;
  for (let k = 0; offset < hourS; k++) {
    const it = pool[k % pool.length];
    const { rate, pcm } = readWav(it.audio);
    if (rate !== first.rate) continue;
    writeSync(fd, pcm);
    bytes += pcm.length;
    for (const w of it.words) truth.push({ ...w, char_start: w.char_start + chars, start: w.start + offset, end: w.end + offset });
    texts.push(it.text);
    chars += it.text.length + 1;
    offset += pcm.length / 2 / rate;
  }
  const head = Buffer.alloc(44);
  head.write('RIFF', 0, 'ascii'); head.writeUInt32LE(36 + bytes, 4); head.write('WAVEfmt ', 8, 'ascii');
  head.writeUInt32LE(16, 16); head.writeUInt16LE(1, 20); head.writeUInt16LE(1, 22); head.writeUInt32LE(first.rate, 24);
  head.writeUInt32LE(first.rate * 2, 28); head.writeUInt16LE(2, 32); head.writeUInt16LE(16, 34); head.write('data', 36, 'ascii'); head.writeUInt32LE(bytes, 40);
  writeSync(fd, head, 0, 44, 0);
  closeSync(fd);
  return { id: 'hour', audio: path, text: texts.join(' '), duration: offset, words: truth };
}

// ------------------------------------------------------------------ run
const probe = startWorker();
const ready = await probe.readyP;
await probe.stop();
const wanted = opt('aligners');
const aligners = (wanted ? wanted.split(',') : Object.keys(ready.aligners)).filter((name) => {
  const a = ready.aligners[name];
  if (a?.available && a.kind === 'audio') return true;
  if (wanted) console.log(`${name}: not available (${a?.reason ?? 'unknown aligner'})`);
  return false;
});
console.log(`corpus: ${manifest} (${items.length} files); python: ${python}`);
console.log(`aligners: ${aligners.join(', ') || 'none available'}\n`);
const row = (...cells) => console.log(cells.map((c, i) => (i === 0 ? String(c).padEnd(22) : String(c).padStart(9))).join(''));

for (const aligner of aligners) {
  const worker = startWorker();
  await worker.readyP;
  console.log(`== ${aligner}`);
  row('set', 'bounds', '<=25ms', '<=50ms', '<=100ms', 'median', 'worst', 'speed');
  const cache = new Map();
  for (const [name, list] of groups) {
    const errs = [];
    const perFile = [];
    let audioS = 0;
    let alignS = 0;
    for (const it of list) {
      if (!cache.has(it.id)) cache.set(it.id, await align(worker, aligner, it));
      const result = cache.get(it.id);
      const e = errorsOf(result.words, it.words);
      errs.push(...e);
      perFile.push(share(e, 50));
      audioS += it.duration;
      alignS += result.timings_ms.align / 1000;
    }
    row(name, errs.length, `${share(errs, 25).toFixed(1)}%`, `${share(errs, 50).toFixed(1)}%`, `${share(errs, 100).toFixed(1)}%`,
      `${median(errs).toFixed(1)} ms`, `${Math.min(...perFile).toFixed(1)}%`, `${(audioS / alignS).toFixed(0)}x`);
  }
  await worker.stop();
  if (!noHour) {
    const dir = join(root, 'data', `bench-align-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    try {
      const hour = hourFile(groups.get(sets[0]) ?? items, dir);
      const fresh = startWorker();
      await fresh.readyP;
      const before = fresh.peakMb();
      const t0 = performance.now();
      const result = await align(fresh, aligner, hour);
      const wall = (performance.now() - t0) / 1000;
      const peak = fresh.peakMb();
      await fresh.stop();
      const e = errorsOf(result.words, hour.words);
      console.log(`one file of ${(hour.duration / 60).toFixed(1)} min (${hour.words.length} words): ${wall.toFixed(1)} s wall ` +
        `(${(hour.duration / wall).toFixed(0)}x real time), worker peak memory ${peak.toFixed(0)} MB (${before.toFixed(0)} MB after start), ` +
        `${share(e, 50).toFixed(1)}% within 50 ms, median ${median(e).toFixed(1)} ms`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  console.log('');
}
