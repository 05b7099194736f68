import { readdirSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { prepareInstallTarget, runWarmup } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { hermeticEnv, recordingLog, TEST_PYTHON, testPackage as pkg, warmupOptions } from '../fixtures/warmup/options.js';

t.test('a missing package is installed through pip into the target; the next warmup finds it', async (t) => {
  const root = t.testdir();
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-alpha', '1.2.3');
  const manifest = [pkg('vc-alpha')];
  const pipExtraArgs = ['--no-index', '--find-links', wheels];

  const first = await warmupOptions(root, { manifest, pipExtraArgs });
  const report = await runWarmup(first);
  t.match(report.installed, [{ name: 'vc-alpha', version: '1.2.3' }]);
  t.same(report.found, []);
  t.same(report.failed, []);
  t.same(report.capabilities, { demo: { available: true, reason: null } });
  t.equal(report.python.mode, 'target');
  const install = first.log.lines.find((l) => l.msg === 'warmup: installing');
  t.match(install?.obj, { command: [TEST_PYTHON, '-m', 'pip', 'install', '--no-cache-dir'] });
  t.ok((install?.obj as { command: string[] }).command.includes('--target'));
  const finished = first.log.lines.filter((l) => l.msg === 'warmup finished');
  t.equal(finished.length, 1, 'one structured info line with the report');
  t.equal(finished[0]?.level, 'info');
  t.same(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');
  t.same(readdirSync(join(root, 'tmp')), ['voicecue-tmp'], 'pip\'s temp folder was made in voicecue\'s own, nowhere else');
  t.same(readdirSync(join(root, 'tmp', 'voicecue-tmp')), [], 'and removed afterwards');

  const second = await warmupOptions(root, { manifest, pipExtraArgs });
  const again = await runWarmup(second);
  t.same(again.installed, [], 'nothing reinstalled');
  t.match(again.found, [{ name: 'vc-alpha', version: '1.2.3', copies: 1 }]);
  t.match(again.found[0]?.location, join(root, 'target'));
  t.notOk(second.log.lines.some((l) => l.msg === 'warmup: installing'));
});

t.test('installs happen in manifest order, and a package whose base is missing is not installed', async (t) => {
  const root = t.testdir();
  const wheels = join(root, 'wheels');
  for (const name of ['vc-zulu', 'vc-mike', 'vc-alpha']) await makeWheel(wheels, name, '1.0');
  const opts = await warmupOptions(root, {
    manifest: [
      pkg('vc-zulu'),
      pkg('vc-absent', { serves: ['other'] }),
      pkg('vc-mike', { needs: ['vc-zulu'] }),
      pkg('vc-alpha', { needs: ['vc-absent'], serves: ['other'] }),
    ],
    pipExtraArgs: ['--no-index', '--find-links', wheels],
  });
  const report = await runWarmup(opts);
  const order = opts.log.lines.filter((l) => l.msg === 'warmup: installing').map((l) => (l.obj as { package: string }).package);
  t.same(order, ['vc-zulu', 'vc-absent', 'vc-mike'], 'manifest order, not alphabetical');
  t.same(report.installed.map((p) => p.name), ['vc-zulu', 'vc-mike']);
  t.match(report.skipped, [{ name: 'vc-alpha', reason: 'needs vc-absent, which is not available' }]);
  t.equal(report.capabilities.demo?.available, true);
  t.equal(report.capabilities.other?.available, false);
  t.match(report.capabilities.other?.reason, /missing vc-absent, vc-alpha \(vc-absent: pip failed/);
});

t.test('a venv target: pip installs into the venv and its python is the sidecar\'s', async (t) => {
  const root = t.testdir();
  const venv = join(root, 'venv');
  await execa(TEST_PYTHON, ['-m', 'venv', venv], { env: hermeticEnv() });
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-venvpkg', '0.1');
  const opts = await warmupOptions(root, { installTarget: venv, manifest: [pkg('vc-venvpkg')], pipExtraArgs: ['--no-index', '--find-links', wheels] });
  const report = await runWarmup(opts);
  t.match(report.python, { mode: 'venv', target: venv, executable: join(venv, 'bin', 'python') });
  t.match(report.installed, [{ name: 'vc-venvpkg', version: '0.1' }]);
  const again = await runWarmup(await warmupOptions(root, { installTarget: venv, manifest: [pkg('vc-venvpkg')] }));
  t.match(again.found, [{ name: 'vc-venvpkg', location: new RegExp(`^${venv}/lib/`) }]);
});

t.test('install mode missing makes a plain target a venv over the base python: no dependency is fetched twice', async (t) => {
  const root = t.testdir();
  const firstWheels = join(root, 'wheels-1');
  const laterWheels = join(root, 'wheels-2');
  await makeWheel(firstWheels, 'vc-base', '1.0');
  // vc-top needs vc-base (installed by the first warmup) and numpy (the base python's): neither is offered now.
  // The base python is .venv's, itself a venv: its numpy must be seen through the chain to it.
  await makeWheel(laterWheels, 'vc-top', '1.0', { requires: ['vc-base', 'numpy'] });
  const later = [pkg('vc-base'), pkg('vc-top', { needs: ['vc-base'] })];

  const target = join(root, 'target');
  const setup = await prepareInstallTarget({ python: TEST_PYTHON, installTarget: target, installMode: 'missing' }, hermeticEnv(), recordingLog());
  t.match(setup, { mode: 'venv', target, python: join(target, 'bin', 'python') });
  const first = await runWarmup(await warmupOptions(root, { manifest: [pkg('vc-base')], pipExtraArgs: ['--no-index', '--find-links', firstWheels] }));
  t.match(first.installed, [{ name: 'vc-base' }]);
  const second = await runWarmup(await warmupOptions(root, { manifest: later, pipExtraArgs: ['--no-index', '--find-links', laterWheels] }));
  t.same(second.found.map((p) => p.name), ['vc-base']);
  t.match(second.installed, [{ name: 'vc-top' }]);
  t.same(second.failed, []);
  const site = await readdir(join(target, 'lib'));
  const installed = await readdir(join(target, 'lib', site[0]!, 'site-packages'));
  t.notOk(installed.some((name) => name.startsWith('numpy')), 'the base python\'s numpy was not copied in');

  // The same with a plain --target folder fails: pip --target cannot see vc-base, nor numpy.
  const plain = join(root, 'plain');
  await runWarmup(await warmupOptions(root, { installTarget: plain, manifest: [pkg('vc-base')], pipExtraArgs: ['--no-index', '--find-links', firstWheels] }));
  const blind = await runWarmup(await warmupOptions(root, { installTarget: plain, manifest: later, pipExtraArgs: ['--no-index', '--find-links', laterWheels] }));
  t.match(blind.failed, [{ name: 'vc-top', reason: /No matching distribution found for (vc-base|numpy)/ }]);
});

t.test('other install modes leave the target as it is', async (t) => {
  const root = t.testdir();
  const target = join(root, 'target');
  const setup = await prepareInstallTarget({ python: TEST_PYTHON, installTarget: target, installMode: 'never' }, hermeticEnv(), recordingLog());
  t.match(setup, { mode: 'target', target });
  t.throws(() => readdirSync(target), 'nothing was created');
});
