// Warmup's cost on a start where nothing needs installing: install mode never, every package in the
// manifest already present (numpy and pytest, which this project's Python always has).
// Run: npx tsc -p tsconfig.build.json && node bench/warmup.mjs [runs]
// VOICECUE_PYTHON picks the interpreter (default the tests' .venv, which has both). Budget: <= 300 ms.
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DEFAULT_MANIFEST, definePackage, runWarmup } from '../dist/src/warmup/index.js';

const runs = Number(process.argv[2] ?? 11);
const venv = new URL('../.venv/bin/python', import.meta.url).pathname;
const python = process.env.VOICECUE_PYTHON ?? (existsSync(venv) ? venv : 'python3');
const quiet = { info() {}, warn() {}, error() {} };
const present = [
  definePackage({ name: 'numpy', importName: 'numpy', serves: ['math'], estimatedBytes: 50e6 }),
  definePackage({ name: 'pytest', importName: 'pytest', serves: ['testing'], estimatedBytes: 5e6 }),
];

const dataDir = await mkdtemp(join(tmpdir(), 'voicecue-bench-'));
const base = { python, dataDir, installMode: 'never', installTarget: undefined, diskMarginBytes: 1024 ** 3, artifactTtlMs: 86_400_000, log: quiet };

async function measure(label, manifest) {
  const times = [];
  let report;
  await runWarmup({ ...base, manifest }); // first run pays for cold file caches
  for (let i = 0; i < runs; i += 1) {
    const t0 = performance.now();
    report = await runWarmup({ ...base, manifest });
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  console.log(`${label}: median ${median.toFixed(1)} ms (min ${times[0].toFixed(1)}, max ${times.at(-1).toFixed(1)}) over ${runs} runs;`
    + ` found ${report.found.length}, installed ${report.installed.length}, skipped ${report.skipped.length}`);
  return median;
}

try {
  console.log(`python: ${python}`);
  const median = await measure('warmup, everything present, install mode never', present);
  await measure('warmup, default manifest (probe of 6 packages), install mode never', DEFAULT_MANIFEST);
  console.log(median <= 300 ? 'within the 300 ms budget' : 'OVER the 300 ms budget');
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
