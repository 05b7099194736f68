import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import {
  buildInstallCommand, cudaVisibility, DEFAULT_MANIFEST, definePackage, manifestProblems, redact, sidecarPython,
} from '../../src/warmup/index.js';

t.test('the default manifest lists each base before the packages that need it', async (t) => {
  t.same(manifestProblems(DEFAULT_MANIFEST), []);
  const names = DEFAULT_MANIFEST.map((p) => p.name);
  t.same(names, ['torch', 'torchaudio', 'transformers', 'f5-tts', 'flash-attn', 'whisperx']);
  const f5 = DEFAULT_MANIFEST.find((p) => p.name === 'f5-tts');
  t.equal(f5?.importName, 'f5_tts');
  t.equal(DEFAULT_MANIFEST.find((p) => p.name === 'flash-attn')?.required, false, 'F5 runs without flash-attn');
  for (const pkg of DEFAULT_MANIFEST) t.ok(pkg.estimatedBytes > 0, `${pkg.name} has a size estimate`);
});

t.test('manifestProblems catches a base listed after its dependent, an unknown base and a duplicate', async (t) => {
  const a = definePackage({ name: 'a', importName: 'a', serves: ['x'], estimatedBytes: 1, needs: ['b'] });
  const b = definePackage({ name: 'b', importName: 'b', serves: ['x'], estimatedBytes: 1 });
  t.match(manifestProblems([a, b]), [/a needs b/]);
  t.same(manifestProblems([b, a]), []);
  t.match(manifestProblems([b, b]), [/b is listed twice/]);
});

t.test('flash-attn is built from source against the present torch and CUDA', async (t) => {
  const flash = DEFAULT_MANIFEST.find((p) => p.name === 'flash-attn')!;
  const setup = sidecarPython({ python: 'python3', installTarget: '/vol/pylib' }, {});
  const { argv, env } = buildInstallCommand(flash, setup, ['--no-index', '--find-links', '/w']);
  t.same(argv.slice(0, 4), ['python3', '-m', 'pip', 'install']);
  t.ok(argv.includes('--no-build-isolation'));
  const nb = argv.indexOf('--no-binary');
  t.equal(argv[nb + 1], 'flash-attn', 'no prebuilt wheel from the index');
  t.equal(env.FLASH_ATTENTION_FORCE_BUILD, 'TRUE', 'no prebuilt wheel from its setup.py either');
  t.ok(argv.includes('--no-cache-dir'));
  t.equal(argv[argv.indexOf('--target') + 1], '/vol/pylib');
  t.equal(env.PYTHONPATH, '/vol/pylib', 'pip (and the build) see what was installed before');
  t.same(argv.slice(-4), ['--no-index', '--find-links', '/w', 'flash-attn'], 'extra args, then the requirement');

  const torch = buildInstallCommand(DEFAULT_MANIFEST[0]!, setup);
  t.notOk(torch.argv.includes('--no-build-isolation'), 'only flash-attn skips build isolation');
});

t.test('sidecarPython: a venv target brings its own python; a folder target goes on PYTHONPATH', async (t) => {
  const root = t.testdir();
  t.same(sidecarPython({ python: 'python3', installTarget: undefined }, {}), { python: 'python3', env: {}, mode: 'env', target: null });

  const folder = sidecarPython({ python: '/usr/bin/python3', installTarget: join(root, 'lib') }, { PYTHONPATH: '/mine' });
  t.same(folder, { python: '/usr/bin/python3', env: { PYTHONPATH: `/mine:${join(root, 'lib')}` }, mode: 'target', target: join(root, 'lib') });
  t.equal(sidecarPython({ python: 'p', installTarget: '/t' }, { PYTHONPATH: '/t' }).env.PYTHONPATH, '/t', 'not added twice');

  const venv = join(root, 'venv');
  await mkdir(join(venv, 'bin'), { recursive: true });
  await writeFile(join(venv, 'bin', 'python'), '');
  const v = sidecarPython({ python: 'python3', installTarget: venv }, {});
  t.same(v, { python: join(venv, 'bin', 'python'), env: {}, mode: 'venv', target: venv });
  t.notOk(buildInstallCommand(DEFAULT_MANIFEST[0]!, v).argv.includes('--target'), 'pip installs into the venv itself');
  t.equal(buildInstallCommand(DEFAULT_MANIFEST[0]!, v).argv[0], join(venv, 'bin', 'python'));
});

t.test('cudaVisibility follows the sidecar\'s rule', async (t) => {
  const seen = (devices: string[], driver: boolean, cudaVisibleDevices: string | null) =>
    cudaVisibility({ devices, driver, nvidiaSmi: null, cudaVisibleDevices });
  t.match(seen([], false, null), { visible: false, reason: /no CUDA device found/ });
  t.equal(seen(['/dev/nvidia0'], false, null).visible, true);
  t.equal(seen([], true, null).visible, true, 'a loaded driver is enough');
  t.equal(seen(['/dev/nvidia0'], true, '0,1').visible, true);
  for (const hidden of ['', '-1', 'none', 'NoDevFiles']) {
    t.match(seen(['/dev/nvidia0'], true, hidden), { visible: false, reason: /hides every GPU/ }, `CUDA_VISIBLE_DEVICES=${JSON.stringify(hidden)}`);
  }
});

t.test('redact hides URL credentials', async (t) => {
  t.equal(redact('--index-url https://bob:tok3n@pypi.example/simple x'), '--index-url https://***@pypi.example/simple x');
  t.equal(redact('plain /path and https://host/simple'), 'plain /path and https://host/simple');
});
