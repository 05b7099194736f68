// Writes openapi.yaml from the routes' schemas, and the TypeScript client's types from it
// (npm run openapi); test/contract/spec.test.ts fails when either is stale.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { specYaml } from '../dist/src/contract/spec.js';

const root = fileURLToPath(new URL('..', import.meta.url));
writeFileSync(new URL('../openapi.yaml', import.meta.url), await specYaml());
execFileSync('npx', ['openapi-typescript', 'openapi.yaml', '--default-non-nullable', 'false', '-o', 'clients/typescript/schema.d.ts'], { cwd: root, stdio: 'inherit' });
console.log('openapi.yaml and clients/typescript/schema.d.ts written');
