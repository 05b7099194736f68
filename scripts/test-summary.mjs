#!/usr/bin/env node
// Counts results in a `npm test` log: pytest's summary line, plus every leaf assertion in tap's
// TAP output (a result line that closes a subtest is not counted again). Prints "N passed, N failed".
import { readFileSync } from 'node:fs';

const lines = readFileSync(process.argv[2] ?? 0, 'utf8').split('\n');
let passed = 0;
let failed = 0;
let sawPytest = false;
let sawTap = false;

for (const line of lines) {
  // pytest -q: "== 41 passed, 1 failed, 2 skipped in 3.2s ==" or "41 passed in 3.2s"
  const py = /^=*\s*(?:(\d+) failed, )?(\d+) passed(?:, (\d+) failed)?.* in [\d.]+s/.exec(line);
  const pyFailedOnly = /^=*\s*(\d+) failed.* in [\d.]+s/.exec(line);
  if (py) {
    sawPytest = true;
    passed += Number(py[2]);
    failed += Number(py[1] ?? 0) + Number(py[3] ?? 0);
  } else if (pyFailedOnly) {
    sawPytest = true;
    failed += Number(pyFailedOnly[1]);
  }
}

// TAP: "ok N - name" / "not ok N - name", indented per subtest level. A result line closes a
// subtest when the previous non-blank line is indented deeper (the subtest's plan or time).
const indent = (l) => l.length - l.trimStart().length;
let previous = '';
for (const line of lines) {
  if (!line.trim()) continue;
  const m = /^(\s*)(not ok|ok) \d+/.exec(line);
  if (m) {
    sawTap = true;
    const closesSubtest = previous && indent(previous) > indent(line) && /^\s*(1\.\.\d+|# time=)/.test(previous);
    const skipped = /# (SKIP|TODO)\b/i.test(line);
    if (!closesSubtest && !skipped) {
      if (m[2] === 'ok') passed++;
      else failed++;
    }
  }
  previous = line;
}

console.log(`${passed} passed, ${failed} failed`);
if (!sawPytest || !sawTap) {
  console.error(`test-summary: ${sawPytest ? '' : 'no pytest summary '}${sawTap ? '' : 'no TAP results '}found`);
  process.exit(1);
}
process.exit(failed > 0 ? 1 : 0);
