import { join } from 'node:path';
import t from 'tap';
import { definePackage, runWarmup } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { warmupOptions } from '../fixtures/warmup/options.js';

// Names no real index carries, so nothing but the test's own wheels can satisfy them.
const pkg = (name: string, extra: Parameters<typeof definePackage>[0] extends infer P ? Partial<P> : never = {}) =>
  definePackage({ name, importName: name.replace(/-/g, '_'), serves: ['demo'], estimatedBytes: 1000, ...extra });

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

t.test('a failed install leaves its capability unavailable with pip\'s last lines; warmup resolves', async (t) => {
  const root = t.testdir();
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-good', '2.0');
  await makeWheel(wheels, 'vc-broken', '1.0', { broken: true });
  await makeWheel(wheels, 'vc-boom', '1.0', { body: 'raise ImportError("boom at import")\n' });
  const opts = await warmupOptions(root, {
    manifest: [
      pkg('vc-nothere', { serves: ['f5'] }),
      pkg('vc-broken', { serves: ['whisperx'] }),
      pkg('vc-boom', { serves: ['boom'] }),
      pkg('vc-good', { serves: ['good'] }),
      pkg('vc-extra', { serves: ['good'], required: false }),
    ],
    pipExtraArgs: ['--no-index', '--find-links', wheels],
  });
  const report = await runWarmup(opts);
  t.same(report.installed.map((p) => p.name), ['vc-good'], 'the others do not stop the rest');
  t.same(report.failed.map((p) => p.name), ['vc-nothere', 'vc-broken', 'vc-boom', 'vc-extra']);
  t.match(report.failed[0]?.reason, /pip failed \(exit code 1\):[\s\S]*No matching distribution found for vc-nothere/);
  t.match(report.failed[1]?.reason, /is invalid/);
  t.match(report.failed[2]?.reason, /installed but "import vc_boom" failed:[\s\S]*ImportError: boom at import/);
  t.same(report.capabilities.f5, { available: false, reason: `missing vc-nothere (vc-nothere: ${report.failed[0]?.reason})` });
  t.equal(report.capabilities.whisperx?.available, false);
  t.equal(report.capabilities.boom?.available, false);
  t.same(report.capabilities.good, { available: true, reason: null }, 'an optional package does not take its capability down');
  const warned = opts.log.lines.filter((l) => l.level === 'warn' && l.msg.includes('install failed'));
  t.equal(warned.length, 4);
  t.match(warned[0]?.obj, { package: 'vc-nothere', reason: /No matching distribution/ });
});

t.test('credentials in pip arguments never reach the log or the report', async (t) => {
  const root = t.testdir();
  const opts = await warmupOptions(root, {
    manifest: [pkg('vc-nothere')],
    pipExtraArgs: ['--no-index', '--find-links', 'http://bob:s3cr3t-t0ken@127.0.0.1:9/simple', '--retries', '0', '--timeout', '1'],
  });
  const report = await runWarmup(opts);
  t.equal(report.failed.length, 1);
  const everything = JSON.stringify(opts.log.lines) + JSON.stringify(report);
  t.notOk(everything.includes('s3cr3t'), 'secret absent');
  t.ok(everything.includes('bob') || everything.includes('***'), 'the URL itself is still reported');
});
