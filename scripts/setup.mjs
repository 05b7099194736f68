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

// 1. System packages: libespeak-ng (the CPU engine), ffmpeg (subtitle checks, burn-in) and a font
//    for libass to draw subtitles with in the burn-in test.
const espeakLibs = ['/usr/lib/x86_64-linux-gnu/libespeak-ng.so.1', '/usr/lib/aarch64-linux-gnu/libespeak-ng.so.1', '/usr/lib/libespeak-ng.so.1'];
const haveEspeak = espeakLibs.some((p) => existsSync(p)) || /libespeak-ng\.so\.1/.test(run('ldconfig', ['-p']));
const haveFont = run('fc-list', []).trim() !== '';
const missing = [...(haveEspeak ? [] : ['espeak-ng']), ...(has('ffmpeg') ? [] : ['ffmpeg']), ...(haveFont ? [] : ['fonts-dejavu-core'])];
if (missing.length) {
  const asRoot = process.getuid?.() === 0;
  const sudo = !asRoot && has('sudo', ['-n', 'true']) ? ['sudo', '-n'] : null;
  if (!asRoot && !sudo) {
    say(`missing system packages: ${missing.join(', ')}. Install them with: sudo apt-get install -y ${missing.join(' ')}`);
    process.exit(1);
  }
  say(`installing ${missing.join(', ')} with apt-get`);
  const apt = (args) => execFileSync(sudo ? sudo[0] : 'apt-get', sudo ? [...sudo.slice(1), 'apt-get', ...args] : args, {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
}

// 2. Python 3.11+ for the worker.
const python = process.env.VOICECUE_PYTHON || 'python3';
const version = run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])']).trim();
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

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout : '';
}
