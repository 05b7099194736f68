#!/usr/bin/env node
// The real helm, built from source through the Go module proxy and cached outside the checkout
// (~/.cache/voicecue/helm-<version>), so CI on a fresh clone builds it once. Prints its path.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

const VERSION = 'v3.21.4';
const cache = process.env.VOICECUE_ENGINES_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'voicecue');
const dir = join(cache, `helm-${VERSION}`);
const helm = join(dir, 'helm');
if (!existsSync(helm)) {
  process.stderr.write(`helm: building ${VERSION} from source with go (once)\n`);
  const building = `${dir}.building-${process.pid}`;
  mkdirSync(building, { recursive: true });
  execFileSync('go', ['install', `helm.sh/helm/v3/cmd/helm@${VERSION}`], { env: { ...process.env, GOBIN: building, CGO_ENABLED: '0' }, stdio: ['ignore', 2, 2] });
  rmSync(dir, { recursive: true, force: true });
  renameSync(building, dir); // whole or not at all
}
process.stdout.write(`${helm}\n`);
