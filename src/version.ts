import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// src/ when run from source (tests), dist/src/ when built.
const file = [new URL('../package.json', import.meta.url), new URL('../../package.json', import.meta.url)].find((u) => existsSync(u))!;

/** The package's folder: where web/ and, once built, dist/web/ are. */
export const PACKAGE_ROOT = fileURLToPath(new URL('.', file));

/** The package's version (the spec and /metrics name it). */
export const VERSION: string = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
