import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, symlink, utimes, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import t from 'tap';
import { ArtifactStore, newArtifactId } from '../../src/store/artifacts.js';
import { cleanup, ensureTempDir } from '../../src/warmup/cleanup.js';
import { definePackage, runWarmup, TEMP_PREFIX, voicecueTempDir } from '../../src/warmup/index.js';
import { makeWheel } from '../fixtures/warmup/wheels.js';
import { cleanupDirs, hermeticEnv, TEST_PYTHON, warmupOptions } from '../fixtures/warmup/options.js';

const HOUR = 3600_000;

async function put(path: string, bytes: number, ageMs = 0): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, Buffer.alloc(bytes, 1));
  const when = new Date(Date.now() - ageMs);
  await utimes(path, when, when);
  return path;
}

/** Sets the mtime of path and of everything under it (links themselves) to ageMs ago. */
async function age(path: string, ageMs: number): Promise<void> {
  const info = await lstat(path);
  if (info.isDirectory()) for (const name of await readdir(path)) await age(join(path, name), ageMs);
  const when = new Date(Date.now() - ageMs);
  if (!info.isSymbolicLink()) await utimes(path, when, when);
}

/** Litters root with what cleanup should remove and what it must leave alone. */
async function litter(root: string) {
  const pip = join(root, 'pip-cache');
  const { hfCache: hf, tmp } = cleanupDirs(root); // tmp: voicecue's own, inside root/tmp
  const systemTmp = join(root, 'tmp');
  const data = join(root, 'data');
  const outside = join(root, 'outside');
  const expiredId = newArtifactId(Date.now() - 3 * 24 * HOUR);
  const freshId = newArtifactId();
  const tempDir = join(tmp, `${TEMP_PREFIX}pip-old`);
  const gone = [
    await put(join(pip, 'http-v2', 'a', 'b', 'c', 'entry'), 4000),
    await put(join(pip, 'wheels', 'ab', 'cd', 'x-1.0-py3-none-any.whl'), 3000),
    await put(join(hf, 'hub', 'models--org--m', 'blobs', 'f00d.incomplete'), 5000, 2 * HOUR),
    await put(join(hf, 'hub', '.locks', 'models--org--m', 'f00d.lock'), 0, 2 * HOUR),
    await put(join(tempDir, 'build', 'obj.o'), 2000, 2 * HOUR),
    await put(join(data, 'artifacts', expiredId, 'audio.wav'), 1000),
  ];
  const when = new Date(Date.now() - 2 * HOUR);
  for (const dir of [tempDir, join(tempDir, 'build'), join(tmp, `${TEMP_PREFIX}busy`), join(tmp, `${TEMP_PREFIX}busy`, 'deep')]) {
    await mkdir(dir, { recursive: true });
    await utimes(dir, when, when);
  }
  const kept = [
    await put(join(pip, 'selfcheck', 'state.json'), 10), // not one of pip's cache folders
    await put(join(hf, 'hub', 'models--org--m', 'blobs', 'beef'), 100, 2 * HOUR), // a finished download
    await put(join(hf, 'hub', 'models--org--m', 'blobs', 'cafe.incomplete'), 100), // still being written
    await put(join(hf, 'hub', '.locks', 'models--org--m', 'cafe.lock'), 0), // held right now
    await put(join(tmp, `${TEMP_PREFIX}upload-new`), 100), // ours but fresh
    await put(join(tmp, 'someone-else-old'), 100, 2 * HOUR), // old but not ours
    await put(join(systemTmp, `${TEMP_PREFIX}pip-legacy`, 'obj.o'), 100, 2 * HOUR), // old, ours by name, but not in voicecue's folder
    await put(join(tmp, `${TEMP_PREFIX}busy`, 'deep', 'fresh.o'), 100), // ours, old folder, active inside
    await put(join(data, 'artifacts', freshId, 'audio.wav'), 100),
    await put(join(outside, 'x.incomplete'), 100, 2 * HOUR),
    await put(join(outside, 'y.lock'), 0, 2 * HOUR),
  ];
  // A link inside the cache must not lead cleanup outside it.
  await symlink(outside, join(hf, 'hub', 'linked'));
  await symlink(join(outside, 'x.incomplete'), join(hf, 'hub', 'link.incomplete'));
  return { gone, kept, pip };
}

t.test('cleanup removes only matching files inside its locations and counts the bytes', async (t) => {
  const root = t.testdir();
  const { gone, kept } = await litter(root);
  const entries = await cleanup({
    python: TEST_PYTHON, env: hermeticEnv(), dataDir: join(root, 'data'), artifactTtlMs: 24 * HOUR, dirs: cleanupDirs(root),
  });
  for (const path of gone) t.notOk(existsSync(path), `removed ${path.slice(root.length)}`);
  for (const path of kept) t.ok(existsSync(path), `kept ${path.slice(root.length)}`);
  t.match(entries, [
    { location: 'pip-cache', removed: 2, bytes: 7000 },
    { location: 'hf-cache', removed: 2, bytes: 5000 },
    { location: 'temp', removed: 1, bytes: 2000 },
    { location: 'artifacts', removed: 1, bytes: 1000 },
  ]);
});

t.test('cleanup finds pip\'s cache folder by asking pip', async (t) => {
  const root = t.testdir();
  const pip = join(root, 'elsewhere-pip');
  const file = await put(join(pip, 'http', 'entry'), 10);
  const entries = await cleanup({
    python: TEST_PYTHON, env: hermeticEnv({ PIP_CACHE_DIR: pip }), dataDir: join(root, 'data'), artifactTtlMs: HOUR,
    dirs: { hfCache: join(root, 'hf'), tmp: cleanupDirs(root).tmp },
  });
  t.match(entries[0], { location: 'pip-cache', path: pip, removed: 1 });
  t.notOk(existsSync(file));
});

t.test('a data dir named voicecue-* in the system temp folder is not cleanup\'s: it and its results survive, and /tts still works', async (t) => {
  const root = t.testdir();
  const dirs = cleanupDirs(root);
  const data = join(root, 'tmp', 'voicecue-data'); // e.g. VOICECUE_DATA_DIR=/tmp/voicecue-data
  const store = new ArtifactStore(data);
  await store.init();
  const staged = await store.stage();
  await put(join(staged.dir, 'audio.wav'), 100);
  await store.publish(staged.id);
  const files = [
    join(data, 'artifacts', staged.id, 'audio.wav'),
    await put(join(data, 'voices', 'narrator.wav'), 100),
  ];
  const stale = await put(join(dirs.tmp, `${TEMP_PREFIX}pip-abandoned`, 'build', 'obj.o'), 100);
  await age(join(root, 'tmp'), 2 * HOUR); // untouched for two hours, all of it
  const entries = await cleanup({ python: TEST_PYTHON, env: hermeticEnv(), dataDir: data, artifactTtlMs: 24 * HOUR, store, dirs });
  for (const path of files) t.ok(existsSync(path), `kept ${relative(root, path)}`);
  t.notOk(existsSync(stale), 'the stale entry in voicecue\'s own temp folder went');
  t.notOk(existsSync(dirname(dirname(stale))));
  t.match(entries.find((e) => e.location === 'temp'), { path: dirs.tmp, removed: 1, bytes: 100 });
  // The next request still has somewhere to stage and publish.
  const next = await store.stage();
  await store.publish(next.id);
  t.ok(await store.locate(next.id));
});

t.test('cleanup never deletes, empties or reaches into the data dir, the install target or a model cache, however they are spelled', async (t) => {
  const root = t.testdir();
  const dirs = cleanupDirs(root);
  // Protected folders with voicecue-like names inside voicecue's own temp folder, stale all through.
  const data = join(dirs.tmp, `${TEMP_PREFIX}data`);
  const target = join(dirs.tmp, `${TEMP_PREFIX}target`);
  const hf = join(dirs.tmp, `${TEMP_PREFIX}hf`);
  const torch = join(dirs.tmp, `${TEMP_PREFIX}models`, 'torch'); // a folder holding a cache
  const results = [
    await put(join(data, 'artifacts', newArtifactId(), 'audio.wav'), 100),
    await put(join(data, 'voices', 'narrator.wav'), 100),
    await put(join(data, 'voices', 'take.lock'), 0), // a model-cache pattern inside the data dir
  ];
  const kept = [
    ...results,
    await put(join(target, 'lib', 'python3.11', 'site-packages', 'vc', '__init__.py'), 100),
    await put(join(hf, 'hub', 'models--org--m', 'blobs', 'beef'), 100),
    await put(join(torch, 'hub', 'checkpoints', 'm.pt'), 100),
  ];
  const gone = [await put(join(dirs.tmp, `${TEMP_PREFIX}pip-old`, 'obj.o'), 100)];
  await age(root, 2 * HOUR);
  const entries = await cleanup({
    python: TEST_PYTHON,
    env: hermeticEnv({ TORCH_HOME: `${torch}/` }),
    // A relative path with a trailing slash, and a symlink to the install target.
    dataDir: `${relative(process.cwd(), data)}/`,
    installTarget: await symlink(target, join(root, 'target-link')).then(() => join(root, 'target-link')),
    artifactTtlMs: 24 * HOUR,
    dirs: { ...dirs, hfCache: `${hf}//` },
  });
  for (const path of kept) t.ok(existsSync(path), `kept ${relative(root, path)}`);
  for (const path of gone) t.notOk(existsSync(path), `removed ${relative(root, path)}`);
  t.match(entries.find((e) => e.location === 'temp'), { removed: 1 });

  // The data dir reached only through a symlink that lies in voicecue's temp folder: the link stays.
  const viaLink = join(dirs.tmp, `${TEMP_PREFIX}data-link`);
  await symlink(data, viaLink);
  await age(dirs.tmp, 2 * HOUR);
  await cleanup({ python: TEST_PYTHON, env: hermeticEnv(), dataDir: join(viaLink, 'voices', '..'), artifactTtlMs: 24 * HOUR, dirs });
  t.ok(existsSync(join(viaLink, 'voices', 'narrator.wav')));
  for (const path of results) t.ok(existsSync(path), `still kept ${relative(root, path)}`);

  // A temp folder inside the data dir: everything in it is inside the data dir, so it stays.
  const inner = join(data, 'tmp');
  const file = await put(join(inner, `${TEMP_PREFIX}pip-old`, 'obj.o'), 100, 2 * HOUR);
  await age(inner, 2 * HOUR);
  await cleanup({ python: TEST_PYTHON, env: hermeticEnv(), dataDir: data, artifactTtlMs: 24 * HOUR, dirs: { ...dirs, tmp: inner } });
  t.ok(existsSync(file));

  // A data dir inside the hf cache: the hf step sweeps the cache's own locks, never the data dir's.
  const hfHome = join(root, 'hf-home');
  const lock = await put(join(hfHome, 'hub', '.locks', 'm', 'old.lock'), 0, 2 * HOUR);
  const ours = await put(join(hfHome, 'voicecue', 'voices', 'old.lock'), 0, 2 * HOUR);
  await cleanup({ python: TEST_PYTHON, env: hermeticEnv(), dataDir: join(hfHome, 'voicecue'), artifactTtlMs: 24 * HOUR, dirs: { ...dirs, hfCache: hfHome } });
  t.notOk(existsSync(lock));
  t.ok(existsSync(ours));
});

t.test('voicecue\'s temp folder: one per user under the temp folder, made 0700, never a planted link', async (t) => {
  const root = t.testdir();
  t.equal(voicecueTempDir(root), join(root, process.getuid ? `voicecue-tmp-${process.getuid()}` : 'voicecue-tmp'));
  const made = await ensureTempDir(join(root, 'a', 'voicecue-tmp'));
  t.equal((await lstat(made)).mode & 0o777, 0o700);
  const elsewhere = join(root, 'elsewhere');
  const victim = await put(join(elsewhere, `${TEMP_PREFIX}precious`), 100, 2 * HOUR);
  await symlink(elsewhere, join(root, 'planted'));
  await t.rejects(ensureTempDir(join(root, 'planted')), /not a folder of this user's/);
  const entries = await cleanup({ python: TEST_PYTHON, env: hermeticEnv(), dataDir: join(root, 'data'), artifactTtlMs: HOUR, dirs: { ...cleanupDirs(root), tmp: join(root, 'planted') } });
  t.ok(existsSync(victim), 'cleanup does not sweep through a link');
  t.notOk(entries.some((e) => e.location === 'temp'));
});

t.test('low disk: cleanup runs once, an install that still does not fit is skipped, the rest proceed', async (t) => {
  const root = t.testdir();
  const { gone, kept } = await litter(root);
  const wheels = join(root, 'wheels');
  for (const name of ['vc-small-a', 'vc-small-b', 'vc-huge']) await makeWheel(wheels, name, '1.0');
  const asked: string[] = [];
  const opts = await warmupOptions(root, {
    manifest: [
      definePackage({ name: 'vc-small-a', importName: 'vc_small_a', serves: ['a'], estimatedBytes: 1_000_000 }),
      definePackage({ name: 'vc-huge', importName: 'vc_huge', serves: ['huge'], estimatedBytes: 10e9 }),
      definePackage({ name: 'vc-small-b', importName: 'vc_small_b', serves: ['b'], estimatedBytes: 1_000_000 }),
    ],
    pipExtraArgs: ['--no-index', '--find-links', wheels],
    diskMarginBytes: 10_000_000,
    diskSpace: async (path) => {
      asked.push(path);
      return { free: 50_000_000, size: 100e9 };
    },
  });
  const report = await runWarmup(opts);
  t.same(report.installed.map((p) => p.name), ['vc-small-a', 'vc-small-b']);
  t.equal(report.skipped.length, 1);
  t.match(report.skipped[0], { name: 'vc-huge', reason: /not enough disk space on .*target: needs more than 10\.0 GB \(estimate 10\.0 GB \+ margin 10\.0 MB\), 50\.0 MB free/ });
  t.same(report.capabilities.huge, { available: false, reason: `missing vc-huge (vc-huge: ${report.skipped[0]?.reason})` });
  t.equal(report.cleaned.length, 4, 'cleanup ran');
  t.equal(report.bytesFreed, 15000);
  for (const path of gone) t.notOk(existsSync(path), `removed ${path.slice(root.length)}`);
  for (const path of kept) t.ok(existsSync(path), `kept ${path.slice(root.length)}`);
  t.ok(asked.every((p) => p === join(root, 'target')), 'space is measured where installs go');
  t.equal(asked.length, 4, 'a, huge, huge again after cleanup, b');
});

t.test('low disk: when cleanup frees enough, the install goes ahead', async (t) => {
  const root = t.testdir();
  const { pip } = await litter(root);
  const wheels = join(root, 'wheels');
  await makeWheel(wheels, 'vc-fits', '1.0');
  const marker = join(pip, 'wheels', 'ab', 'cd', 'x-1.0-py3-none-any.whl');
  const opts = await warmupOptions(root, {
    manifest: [definePackage({ name: 'vc-fits', importName: 'vc_fits', serves: ['x'], estimatedBytes: 1_000_000 })],
    pipExtraArgs: ['--no-index', '--find-links', wheels],
    // Short while the cache file exists, plenty once cleanup removed it.
    diskSpace: async () => ({ free: existsSync(marker) ? 5_000_000 : 500_000_000, size: 100e9 }),
  });
  const report = await runWarmup(opts);
  t.notOk(existsSync(marker));
  t.ok(report.bytesFreed > 0);
  t.same(report.skipped, []);
  t.same(report.installed.map((p) => p.name), ['vc-fits']);
});

t.test('a disk check that fails skips the install rather than risk filling the disk', async (t) => {
  const root = t.testdir();
  const opts = await warmupOptions(root, {
    manifest: [definePackage({ name: 'vc-x', importName: 'vc_x', serves: ['x'], estimatedBytes: 1 })],
    diskSpace: async () => {
      throw new Error('df exploded');
    },
  });
  const report = await runWarmup(opts);
  t.match(report.skipped, [{ name: 'vc-x', reason: /disk space unknown .*df exploded/ }]);
});
