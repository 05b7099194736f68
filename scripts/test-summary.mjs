#!/usr/bin/env node
// Reads test logs and prints "N passed, N failed" from the runners' own totals: pytest's summary
// line ("70 passed, 1 failed, 2 errors in 5.1s") and tap's closing "# { total, pass, fail }" (every
// assertion), the last of each in each log. The `npm test` log (the first) must have both; a
// runner with no summary where it should have one counts as a failure.
import { readFileSync } from 'node:fs';

const PYTEST = /^=*\s*((?:\d+ (?:passed|failed|errors?|skipped|xfailed|xpassed|warnings?|deselected)(?:, )?)+) in [\d.]+s/gm;
const TAP = /^# \{ (total: \d+[^}]*)\}$/gm;

const files = process.argv.length > 2 ? process.argv.slice(2) : [0];
let passed = 0;
let failed = 0;
const missing = [];

files.forEach((file, i) => {
  const log = readFileSync(file, 'utf8');
  const pytest = [...log.matchAll(PYTEST)].at(-1)?.[1];
  if (pytest) {
    passed += number(pytest, /(\d+) passed/);
    failed += number(pytest, /(\d+) failed/) + number(pytest, /(\d+) errors?/);
  } else if (i === 0) missing.push(`pytest (${file})`);
  const tap = [...log.matchAll(TAP)].at(-1)?.[1];
  if (tap) {
    passed += number(tap, /pass: (\d+)/);
    failed += number(tap, /fail: (\d+)/);
  } else missing.push(`tap (${file})`);
});

console.log(`${passed} passed, ${failed} failed`);
if (missing.length) console.error(`test-summary: no summary from ${missing.join(', ')}; that runner did not finish`);
process.exit(failed > 0 || missing.length ? 1 : 0);

function number(text, pattern) {
  return Number(pattern.exec(text)?.[1] ?? 0);
}
