import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildApp } from '../app.js';
import { loadConfig } from '../config.js';

const HEADER = "# Generated from the routes' schemas by `npm run openapi` (src/contract/): do not edit by hand.\n";

/**
 * openapi.yaml as the app describes itself, with the default configuration (the spec names the
 * variables that change a limit) and no worker started.
 */
export async function specYaml(): Promise<string> {
  const dataDir = await mkdtemp(join(tmpdir(), 'voicecue-spec-'));
  const app = await buildApp({ config: loadConfig({ VOICECUE_DATA_DIR: dataDir }), logger: false, warmup: false, workers: { autoStart: false } });
  try {
    await app.ready();
    // No YAML anchors (a reader should not chase them) and no folding (diffs stay line by line).
    return HEADER + stringify(app.swagger(), { aliasDuplicateObjects: false, lineWidth: 0 });
  } finally {
    await app.close();
    await rm(dataDir, { recursive: true, force: true });
  }
}
