import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import t from 'tap';
import { DEFAULT_MANIFEST, definePackage, runWarmup } from '../../src/warmup/index.js';
import { hermeticEnv, warmupOptions } from '../fixtures/warmup/options.js';

// numpy and pytest are on the tests' python (TEST_PYTHON: the .venv setup makes from worker-py/requirements-dev.txt).
const present = [
  definePackage({ name: 'numpy', importName: 'numpy', serves: ['math'], estimatedBytes: 1 }),
  definePackage({ name: 'pytest', importName: 'pytest', serves: ['testing'], estimatedBytes: 1 }),
];
const absent = definePackage({ name: 'vc-nowhere', importName: 'vc_nowhere', serves: ['math'], estimatedBytes: 1 });

t.test('install mode never: what is present is found with its version, the rest is skipped, nothing runs pip', async (t) => {
  const root = t.testdir();
  const opts = await warmupOptions(root, { installMode: 'never', manifest: [...present, absent] });
  const report = await runWarmup(opts);
  t.match(report.found, [
    { name: 'numpy', version: /^\d+\.\d+/, location: /numpy/, copies: 1 },
    { name: 'pytest', version: /^\d+\.\d+/ },
  ]);
  t.same(report.skipped, [{ name: 'vc-nowhere', reason: 'not present; install mode is never' }]);
  t.same(report.installed, []);
  t.same(report.cleaned, []);
  t.same(report.capabilities, {
    math: { available: false, reason: 'missing vc-nowhere (vc-nowhere: not present; install mode is never)' },
    testing: { available: true, reason: null },
  });
  t.match(report.python, { version: /^3\./, error: null, mode: 'target' });
  t.same(report.flashAttn, { present: false, version: null });
  t.notOk(opts.log.lines.some((l) => l.msg === 'warmup: installing'));
});

t.test('the probe runs with the sidecar\'s PYTHONPATH, so a module there counts as present', async (t) => {
  const root = t.testdir();
  await mkdir(join(root, 'target', 'flash_attn'), { recursive: true });
  await writeFile(join(root, 'target', 'flash_attn', '__init__.py'), 'raise SystemExit("the probe must not import me")\n');
  const flash = { ...DEFAULT_MANIFEST.find((p) => p.name === 'flash-attn')!, needs: [] };
  const report = await runWarmup(await warmupOptions(root, { installMode: 'never', manifest: [flash] }));
  t.match(report.found, [{ name: 'flash-attn', version: null, location: join(root, 'target', 'flash_attn', '__init__.py') }]);
  t.same(report.flashAttn, { present: true, version: null });
});

t.test('a python that cannot run: the report says why and warmup still resolves, installing nothing', async (t) => {
  const root = t.testdir();
  const opts = await warmupOptions(root, { python: join(root, 'no-such-python'), manifest: [...present] });
  const report = await runWarmup(opts);
  t.match(report.python.error, /python probe with .*no-such-python failed/);
  t.same(report.found, []);
  t.same(report.installed, []);
  t.match(report.skipped, [{ name: 'numpy', reason: /^not checked: python probe/ }, { name: 'pytest' }]);
  t.equal(report.capabilities.math?.available, false);
  t.match(opts.log.lines.find((l) => l.level === 'error')?.msg, /cannot inspect/);
});

t.test('system checks: ffmpeg on PATH, libespeak-ng as ctypes finds it, CUDA visibility', async (t) => {
  const root = t.testdir();
  const bin = join(root, 'bin');
  await mkdir(bin);
  await writeFile(join(bin, 'ffmpeg'), '#!/bin/sh\n');
  await chmod(join(bin, 'ffmpeg'), 0o755);
  const env = hermeticEnv({ PATH: `${bin}:${process.env.PATH}`, CUDA_VISIBLE_DEVICES: '' });
  const flash = definePackage({ name: 'vc-flash', importName: 'vc_flash', serves: ['f5'], estimatedBytes: 1, needsCuda: true });
  const report = await runWarmup(await warmupOptions(root, { env, manifest: [flash] }));
  t.same(report.system.ffmpeg, { found: true, path: join(bin, 'ffmpeg') });
  t.equal(report.system.cuda.visible, false, 'CUDA_VISIBLE_DEVICES="" hides any device');
  t.equal(typeof report.system.espeakNg.found, 'boolean');
  t.match(report.skipped, [{ name: 'vc-flash', reason: /^needs a CUDA device: / }]);

  const none = await runWarmup(await warmupOptions(root, {
    env: hermeticEnv({ PATH: bin.replace('bin', 'empty'), VOICECUE_ESPEAK_LIB: join(root, 'no-libespeak.so') }),
    python: (await runWarmup(await warmupOptions(root, { manifest: [] }))).python.executable, // no PATH lookup needed
    manifest: [],
  }));
  t.equal(none.python.error, null, 'the probe ran');
  t.same(none.system.ffmpeg, { found: false, path: null });
  t.same(none.system.espeakNg, { found: false, library: null }, 'the sidecar\'s override is honoured, and must load');
});

t.test('an invalid manifest is a programming error and throws', async (t) => {
  const root = t.testdir();
  const late = definePackage({ name: 'late', importName: 'late', serves: ['x'], estimatedBytes: 1, needs: ['base'] });
  const base = definePackage({ name: 'base', importName: 'base', serves: ['x'], estimatedBytes: 1 });
  await t.rejects(runWarmup(await warmupOptions(root, { manifest: [late, base] })), /late needs base/);
});

t.test('with a real pino logger the report is one structured info line', async (t) => {
  const root = t.testdir();
  const lines: string[] = [];
  const log = pino({ level: 'info' }, { write: (chunk: string) => void lines.push(chunk) });
  const report = await runWarmup({ ...(await warmupOptions(root, { installMode: 'never', manifest: [...present] })), log });
  const finished = lines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'warmup finished');
  t.equal(finished.length, 1);
  t.equal(finished[0].level, 30, 'info');
  t.same(finished[0].warmup, report);
});
