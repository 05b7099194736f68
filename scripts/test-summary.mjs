#!/usr/bin/env node
// Reads a `npm test` log and prints "N passed, N failed" from both runners' own totals: pytest's
// summary line ("70 passed, 1 failed, 2 errors in 5.1s") and tap's closing "# { total, pass, fail }"
// (every assertion). A runner with no summary in the log counts as a failure.
import { readFileSync } from 'node:fs';

const log = readFileSync(process.argv[2] ?? 0, 'utf8');
let passed = 0;
let failed = 0;
const missing = [];

const pytest = [...log.matchAll(/^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected)(?:, )?)+) in [\d.]+s/gm)].at(-1);
if (pytest) {
  const count = (word) => Number(new RegExp(`(\\d+) ${word}`).exec(pytest[1])?.[1] ?? 0);
  passed += count('passed');
  failed += count('failed') + count('errors?');
} else missing.push('pytest');

const tap = [...log.matchAll(/^# \{ (total: \d+[^}]*)\}$/gm)].at(-1);
if (tap) {
  const count = (key) => Number(new RegExp(`${key}: (\\d+)`).exec(tap[1])?.[1] ?? 0);
  passed += count('pass');
  failed += count('fail');
} else missing.push('tap');

console.log(`${passed} passed, ${failed} failed`);
if (missing.length) console.error(`test-summary: no ${missing.join(' or ')} summary in the log; that runner did not finish`);
process.exit(failed > 0 || missing.length ? 1 : 0);
