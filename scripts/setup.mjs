#!/usr/bin/env node
// Idempotent setup run before `npm start` and `npm test`: installs what is missing and nothing
// else. Uses only Node's standard library, since it runs before node_modules exists.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const say = (msg) => process.stderr.write(`setup: ${msg}\n`);
const has = (cmd, args = ['-version']) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

// 1. System packages: the service's (scripts/install/debian-packages.txt, the list the images
//    install too) and the tests' own: Festival and three of its voices, for the aligners' test
//    corpus (bench/corpus/make.py), speech not made by espeak; Chromium for the page's tests.
//    dpkg says what is installed.
const listed = readFileSync(join(root, 'scripts/install/debian-packages.txt'), 'utf8').split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);
// Chromium: the page's end-to-end tests (test/web), driven by playwright-core.
const wanted = [...listed, 'festival', 'festvox-kallpc16k', 'festvox-kdlpc16k', 'festvox-us-slt-hts', 'chromium'];
// (dpkg-query exits 1 when one is unknown, and still lists the others.)
const dpkg = spawnSync('dpkg-query', ['-W', '-f', '${Package} ${Status}\n', ...wanted], { encoding: 'utf8' }).stdout ?? '';
const installed = new Set(dpkg.split('\n').filter((l) => l.endsWith(' installed')).map((l) => l.split(' ')[0]));
if (!has('dpkg-query', ['--version'])) say(`not a Debian system: make sure these (or their equivalents) are installed: ${wanted.join(' ')}`);
else {
  const missing = wanted.filter((p) => !installed.has(p));
  if (missing.length) aptInstall(missing);
}

// 2. Python 3.11+ for the worker, the base of .venv (step 4).
const python = process.env.VOICECUE_PYTHON || 'python3';
const [version = '', basePython = ''] = run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2]); print(sys._base_executable)']).trim().split('\n');
const [major, minor] = version.split('.').map(Number);
if (!(major === 3 && minor >= 11)) {
  say(`the worker needs Python 3.11 or newer; "${python}" is ${version || 'not found'} (set VOICECUE_PYTHON to another interpreter)`);
  process.exit(1);
}

// 3. npm packages, reinstalled only when package-lock.json changed since the last install.
const lock = join(root, 'package-lock.json');
const stamp = join(root, 'node_modules', '.voicecue-setup');
const hash = createHash('sha256').update(readFileSync(lock)).digest('hex');
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== hash) {
  say('installing npm packages (npm ci)');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
  writeFileSync(stamp, hash);
}

// 4. The worker's Python packages (numpy, worker-py/requirements.txt) and the tests' (pytest;
//    requirements-dev.txt, which includes the other) in a virtualenv, .venv, the service's default
//    worker interpreter: Debian's python3 is externally managed, so pip installs only into a venv.
//    Reinstalled only when those files (or the python's version) changed since the last install.
//    Made over the base interpreter of the python above (itself, unless that is a venv, .venv's
//    own included).
const venv = join(root, '.venv');
const venvPython = join(venv, 'bin', 'python');
const requirements = join(root, 'worker-py', 'requirements-dev.txt');
const venvStamp = join(venv, '.voicecue-setup');
const venvHash = createHash('sha256').update(readFileSync(requirements)).update(readFileSync(join(root, 'worker-py', 'requirements.txt')))
  .update(`\0python ${version}`).digest('hex');
if (!existsSync(venvPython) || !existsSync(venvStamp) || readFileSync(venvStamp, 'utf8') !== venvHash) {
  if (spawnSync(venvPython, ['-m', 'pip', '--version'], { stdio: 'ignore' }).status !== 0) makeVenv(basePython || python);
  say('installing the worker\'s and the tests\' Python packages into .venv (worker-py/requirements*.txt)');
  execFileSync(venvPython, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-q', '-r', requirements], { cwd: root, stdio: 'inherit' });
  writeFileSync(venvStamp, venvHash);
}

/** python -m venv; where ensurepip is missing (Debian without python3-venv), apt-get it and retry. */
function makeVenv(base) {
  say(`creating .venv with ${base}`);
  let made = spawnSync(base, ['-m', 'venv', '--clear', venv], { encoding: 'utf8' });
  const output = `${made.stdout ?? ''}${made.stderr ?? ''}`;
  if (made.status !== 0 && /ensurepip/.test(output)) {
    // Python's own message names the package ("apt install python3.11-venv").
    const pkg = /apt(?:-get)? install (python3[\d.]*-venv)/.exec(output)?.[1] ?? 'python3-venv';
    say(`${base} has no ensurepip (venv needs it)`);
    aptInstall([pkg]);
    made = spawnSync(base, ['-m', 'venv', '--clear', venv], { encoding: 'utf8' });
  }
  if (made.status !== 0) {
    say(`could not create .venv with ${base}:\n${`${made.stdout ?? ''}${made.stderr ?? ''}`.trim()}`);
    process.exit(1);
  }
}

/** apt-get install as root or with password-less sudo; otherwise stop and name the command. */
function aptInstall(packages) {
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && has('sudo', ['-n', 'true']) ? ['sudo', '-n'] : null;
  if (!asRoot && !sudo) {
    say(`missing system packages: ${packages.join(', ')}. Install them with: sudo apt-get install -y ${packages.join(' ')}`);
    process.exit(1);
  }
  say(`installing ${packages.join(', ')} with apt-get`);
  const apt = (args) => execFileSync(sudo ? sudo[0] : 'apt-get', sudo ? [...sudo.slice(1), 'apt-get', ...args] : args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...packages]);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}
