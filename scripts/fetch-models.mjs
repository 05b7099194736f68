#!/usr/bin/env node
// `npm run fetch-models -- [--languages en,de] [--asr] [--dry-run]`: fills the model cache (HF_HOME,
// torch hub, NLTK_DATA) ahead of time with what the GPU worker loads, through
// voicecue_worker.fetch_models. Needs the GPU libraries: VOICECUE_PYTHON names their interpreter
// (the image's /opt/venv/bin/python; on a dev machine the engine suite's venv).
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const python = process.env.VOICECUE_PYTHON || join(root, '.venv', 'bin', 'python');
const probe = spawnSync(python, ['-c', 'import huggingface_hub, torchaudio, whisperx'], { stdio: 'ignore' });
if (probe.status !== 0) {
  console.error(`fetch-models: ${python} lacks the GPU libraries (worker-py/requirements-gpu.txt); set VOICECUE_PYTHON to their interpreter`);
  process.exit(2);
}
const { status } = spawnSync(python, ['-m', 'voicecue_worker.fetch_models', ...process.argv.slice(2)], { cwd: join(root, 'worker-py'), stdio: 'inherit' });
process.exit(status ?? 1);
