// The README's configuration table is how operators learn the settings: every VOICECUE_* variable
// the gateway or the worker reads must be in it, and no row may name one nothing reads.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './helpers.js';

function variablesIn(dir: string, ext: string): Set<string> {
  const found = new Set<string>();
  for (const file of readdirSync(join(ROOT, dir), { recursive: true }) as string[]) {
    if (!file.endsWith(ext)) continue;
    for (const m of readFileSync(join(ROOT, dir, file), 'utf8').matchAll(/\bVOICECUE_[A-Z0-9_]*[A-Z0-9]\b/g)) found.add(m[0]);
  }
  return found;
}

t.test('every VOICECUE_* variable the code reads has a row in the README table, and every row a variable', async (t) => {
  const read = new Set([...variablesIn('src', '.ts'), ...variablesIn('worker-py/voicecue_worker', '.py')]);
  t.ok(read.size > 30, `found the variables in the code (${read.size})`);
  const rows = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n').filter((l) => l.startsWith('| `'));
  const named = new Set(rows.flatMap((row) => [...row.split('|')[1]!.matchAll(/`(VOICECUE_[A-Z0-9_]+)`/g)].map((m) => m[1]!)));
  t.same([...read].filter((v) => !named.has(v)).sort(), [], 'variables without a row');
  t.same([...named].filter((v) => !read.has(v)).sort(), [], 'rows naming no variable');
});
