#!/usr/bin/env node
// A virtualenv cached outside the checkout, keyed by its requirement files' hash, so a fresh clone
// on the same machine (CI's) reuses it: `cached-venv.mjs <name> <requirements.txt>...` prints its
// python on stdout. `engines` (the default) is the real GPU-lane libraries (f5-tts, whisperx, torch:
// a few GB the first time); `contract` is schemathesis.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [name = 'engines', ...given] = process.argv.slice(2);
const say = (msg) => process.stderr.write(`cached-venv ${name}: ${msg}\n`);
const files = given.length ? given.map((f) => resolve(f)) : ['requirements-gpu.txt', 'requirements-dev.txt'].map((f) => join(root, 'worker-py', f));
const python = process.env.VOICECUE_PYTHON || 'python3';
const pyVersion = spawnSync(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { encoding: 'utf8' }).stdout?.trim();
const hash = createHash('sha256');
for (const f of files) hash.update(readFileSync(f));
const key = hash.update(`\0python ${pyVersion}`).digest('hex').slice(0, 16);

const cache = process.env.VOICECUE_ENGINES_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'voicecue');
const venv = join(cache, `${name}-${key}`);
const venvPython = join(venv, 'bin', 'python');
const stamp = join(venv, '.voicecue-complete');

mkdirSync(cache, { recursive: true });
// One builder at a time (two clones testing at once): the others wait for its stamp.
const lock = `${venv}.lock`;
while (!existsSync(stamp) && !tryLock()) await new Promise((r) => setTimeout(r, 2000));
if (!existsSync(stamp)) {
  // The stamp is written last: an interrupted install is cleared and done again, never reused.
  // A changed pin reuses the last complete venv (renamed; torch alone is GBs): pip moves it to the
  // new pins and what the files no longer list is uninstalled, so it ends as a fresh build would.
  const previous = readdirSync(cache).find((n) => n.startsWith(`${name}-`) && /-[0-9a-f]{16}$/.test(n) && existsSync(join(cache, n, '.voicecue-complete')));
  if (previous && !existsSync(venv)) {
    say(`updating ${join(cache, previous)} to the new pins as ${venv}`);
    renameSync(join(cache, previous), venv);
    rmSync(join(venv, '.voicecue-complete'));
  } else {
    say(`building ${venv} from PyPI`);
    execFileSync(python, ['-m', 'venv', '--clear', venv], { stdio: ['ignore', 2, 2] });
  }
  const pip = (...args) => execFileSync(venvPython, ['-m', 'pip', ...args, '--disable-pip-version-check', '--no-input'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 2] });
  for (const f of files) pip('install', '-q', '-r', f);
  const listed = new Set(files.flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/^([A-Za-z0-9._-]+)==/gm)].map((m) => normal(m[1]))));
  const extra = JSON.parse(pip('list', '--format=json')).map((p) => p.name).filter((n) => !listed.has(normal(n)) && !['pip', 'setuptools', 'wheel'].includes(normal(n)));
  if (extra.length) pip('uninstall', '-y', '-q', ...extra);
  writeFileSync(stamp, key);
  // Older keys are superseded; each is several GB.
  for (const entry of readdirSync(cache)) {
    if (/-[0-9a-f]{16}$/.test(entry) && entry.startsWith(`${name}-`) && !entry.startsWith(`${name}-${key}`)) rmSync(join(cache, entry), { recursive: true, force: true });
  }
}
rmSync(lock, { force: true });

/** The lock file holds its builder's pid; one whose builder died is taken over. */
function tryLock() {
  try {
    writeFileSync(lock, String(process.pid), { flag: 'wx' });
    return true;
  } catch {
    try {
      const pid = Number(readFileSync(lock, 'utf8'));
      if (!(pid > 0)) throw new Error('no pid');
      process.kill(pid, 0);
      return false;
    } catch {
      rmSync(lock, { force: true });
      return false;
    }
  }
}
process.stdout.write(`${venvPython}\n`);

/** Package names as pip compares them (PEP 503). */
function normal(name) {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}
