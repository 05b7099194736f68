import { join } from 'node:path';
import { execa } from 'execa';
import t from 'tap';
import { runWarmup } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { hermeticEnv, testPackage as pkg, warmupOptions } from '../fixtures/warmup/options.js';

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
  t.match(install?.obj, { command: ['python3', '-m', 'pip', 'install', '--no-cache-dir'] });
  t.ok((install?.obj as { command: string[] }).command.includes('--target'));
  const finished = first.log.lines.filter((l) => l.msg === 'warmup finished');
  t.equal(finished.length, 1, 'one structured info line with the report');
  t.equal(finished[0]?.level, 'info');
  t.same(JSON.parse(JSON.stringify(report)), report, 'the report is plain JSON');

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
  await execa('python3', ['-m', 'venv', venv], { env: hermeticEnv() });
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-venvpkg', '0.1');
  const opts = await warmupOptions(root, { installTarget: venv, manifest: [pkg('vc-venvpkg')], pipExtraArgs: ['--no-index', '--find-links', wheels] });
  const report = await runWarmup(opts);
  t.match(report.python, { mode: 'venv', target: venv, executable: join(venv, 'bin', 'python') });
  t.match(report.installed, [{ name: 'vc-venvpkg', version: '0.1' }]);
  const again = await runWarmup(await warmupOptions(root, { installTarget: venv, manifest: [pkg('vc-venvpkg')] }));
  t.match(again.found, [{ name: 'vc-venvpkg', location: new RegExp(`^${venv}/lib/`) }]);
});
