#!/usr/bin/env node
// `npm run test:engines`: the real GPU-lane libraries (requirements-gpu.txt) on CPU with tiny models
// the tests build. Runs worker-py/engine_tests (pytest) and test/engines (tap, through HTTP) with
// the cached engines venv's python, offline, every Python process refusing connections off loopback
// (engine_tests/netguard); any attempt fails the suite.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = execFileSync(process.execPath, [join(root, 'scripts', 'cached-venv.mjs'), 'engines'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
const scratch = mkdtempSync(join(tmpdir(), 'voicecue-engines-'));
const netlog = join(scratch, 'netguard.log');
const env = {
  ...process.env,
  VOICECUE_ENGINES_PYTHON: python,
  PYTHONPATH: join(root, 'worker-py', 'engine_tests', 'netguard'),
  VOICECUE_NETGUARD_LOG: netlog,
  HF_HUB_OFFLINE: '1',
  TRANSFORMERS_OFFLINE: '1',
  HF_HOME: join(scratch, 'hf'),
  NLTK_DATA: join(scratch, 'nltk'),
  MPLCONFIGDIR: join(scratch, 'mpl'),
  WANDB_MODE: 'disabled',
  TOKENIZERS_PARALLELISM: 'false',
};
const run = (cmd, args, cwd) => spawnSync(cmd, args, { cwd, env, stdio: 'inherit' }).status ?? 1;

let status = run(python, ['-m', 'pytest', '-q', '-p', 'no:cacheprovider', 'engine_tests'], join(root, 'worker-py'));
status = run('npx', ['tap', '--disable-coverage', '--timeout=600', 'test/engines/'], root) || status;
const attempts = existsSync(netlog) ? readFileSync(netlog, 'utf8').trim() : '';
if (attempts) {
  console.error(`connections off loopback were attempted (refused):\n${attempts}`);
  status = 1;
}
rmSync(scratch, { recursive: true, force: true });
process.exit(status);
