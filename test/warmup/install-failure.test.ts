import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { runWarmup } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { testPackage as pkg, warmupOptions } from '../fixtures/warmup/options.js';

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
  t.match(report.failed[1]?.reason, /invalid|BadZipFile|not a zip/i);
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

t.test('an install that cannot even start is that package\'s failure, not warmup\'s', async (t) => {
  const root = t.testdir();
  const opts = await warmupOptions(root, { manifest: [pkg('vc-x')] });
  // voicecue's temp folder cannot be made: a file stands where its parent should be.
  await writeFile(join(root, 'not-a-folder'), '');
  opts.cleanupDirs = { ...opts.cleanupDirs, tmp: join(root, 'not-a-folder', 'voicecue-tmp') };
  const report = await runWarmup(opts);
  t.match(report.failed, [{ name: 'vc-x', reason: /^install could not run: ENOTDIR/ }]);
});
