// Disk space: the quota evicts the oldest results, the free-space floor refuses before anything is
// written, a full disk is 507 (and leaves no partial files), staging is cleared at start, and
// nothing outside artifacts/ and staging/ (voices/) is ever touched.
import t from 'tap';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../../src/errors.js';
import { noSpaceError, staged } from '../../src/pipeline/stage.js';
import { workerError } from '../../src/lanes/protocol.js';
import { ArtifactStore, newArtifactId } from '../../src/store/artifacts.js';

const KB = 1000;

/** A published result of `bytes` born at `born`, written straight into artifacts/. */
async function result(store: ArtifactStore, born: number, bytes: number): Promise<string> {
  const id = newArtifactId(born);
  await mkdir(join(store.artifactsDir, id), { recursive: true });
  await writeFile(join(store.artifactsDir, id, 'audio.wav'), Buffer.alloc(bytes));
  return id;
}

/** A result published through the store, as the pipeline does. */
async function publish(store: ArtifactStore, bytes: number): Promise<string> {
  const { id } = await staged(store, async (_id, dir) => writeFile(join(dir, 'audio.wav'), Buffer.alloc(bytes)));
  return id;
}

async function voices(dataDir: string): Promise<string> {
  const voice = join(dataDir, 'voices', 'narrator.wav');
  await mkdir(join(dataDir, 'voices'), { recursive: true });
  await writeFile(voice, Buffer.alloc(50 * KB));
  // An id-shaped name inside voices/ is still not the store's.
  await mkdir(join(dataDir, 'voices', newArtifactId(0)), { recursive: true });
  return voice;
}

t.test('the quota: results beyond it are evicted oldest first, the one just published never, voices/ never', async (t) => {
  const dataDir = t.testdir();
  const voice = await voices(dataDir);
  const now = Date.now();
  // Left by an earlier run: 3 × 10 kB, totalled once at start.
  const seed = new ArtifactStore(dataDir);
  await seed.init();
  const old = [await result(seed, now - 3000, 10 * KB), await result(seed, now - 2000, 10 * KB), await result(seed, now - 1000, 10 * KB)];
  const store = new ArtifactStore(dataDir, { quotaBytes: 35 * KB });
  await store.init();
  t.equal((await store.diskStatus()).used, 30 * KB, 'the total is computed at start');
  t.equal((await store.diskStatus()).quota, 35 * KB);

  const a = await publish(store, 10 * KB); // 40 kB > 35: the oldest goes
  t.same((await readdir(store.artifactsDir)).sort(), [old[1], old[2], a].sort());
  t.equal((await store.diskStatus()).used, 30 * KB);
  const b = await publish(store, 20 * KB); // 50 kB: the two oldest go
  t.same((await readdir(store.artifactsDir)).sort(), [a, b].sort());
  t.equal((await store.diskStatus()).used, 30 * KB);
  const huge = await publish(store, 60 * KB); // alone over the quota: everything else goes, it stays
  t.same(await readdir(store.artifactsDir), [huge], 'the result just published is never evicted');
  t.ok(await store.locate(huge));
  t.equal(await store.locate(a), null, 'an evicted result is gone for downloads too');
  t.same(store.evicted, { removed: 5, bytes: 60 * KB });
  t.ok(existsSync(voice), 'voices/ is untouched');
  t.same((await readdir(join(dataDir, 'voices'))).length, 2);
  t.same(await readdir(store.stagingDir), []);
});

t.test('the quota at start: results over it (a quota lowered since) are evicted, oldest first', async (t) => {
  const dataDir = t.testdir();
  const voice = await voices(dataDir);
  const seed = new ArtifactStore(dataDir);
  await seed.init();
  const now = Date.now();
  const ids = [];
  for (let i = 5; i > 0; i -= 1) ids.push(await result(seed, now - i * 1000, 10 * KB));
  const store = new ArtifactStore(dataDir, { quotaBytes: 25 * KB });
  const { evicted } = await store.init();
  t.same(evicted, { removed: 3, bytes: 30 * KB });
  t.same((await readdir(store.artifactsDir)).sort(), ids.slice(3).sort());
  t.ok(existsSync(voice));
});

t.test('the running total follows the sweep: expired results and results removed by hand leave it', async (t) => {
  const dataDir = t.testdir();
  const store = new ArtifactStore(dataDir, { quotaBytes: 1000 * KB, ttlMs: 3600_000 });
  await store.init();
  const now = Date.now();
  const expired = await result(store, now - 2 * 3600_000, 10 * KB);
  const kept = await publish(store, 20 * KB);
  const dropped = await publish(store, 5 * KB);
  t.equal((await store.diskStatus()).used, 25 * KB, 'only what it published (the other was written behind its back)');
  const { rm } = await import('node:fs/promises');
  await rm(join(store.artifactsDir, dropped), { recursive: true });
  const swept = await store.sweepExpired(undefined, now);
  t.same(swept, { removed: 1, bytes: 10 * KB });
  t.equal((await store.diskStatus()).used, 20 * KB, 'reconciled with the listing');
  t.same(await readdir(store.artifactsDir), [kept]);
  t.not(expired, kept);
});

t.test('without a quota no total is kept and nothing is evicted', async (t) => {
  const store = new ArtifactStore(t.testdir());
  await store.init();
  for (let i = 0; i < 3; i += 1) await publish(store, 10 * KB);
  t.equal((await readdir(store.artifactsDir)).length, 3);
  t.match(await store.diskStatus(), { quota: null, used: null });
});

t.test('staging is cleared at start, whatever its age: it belongs to a process that died', async (t) => {
  const dataDir = t.testdir();
  const voice = await voices(dataDir);
  const first = new ArtifactStore(dataDir);
  await first.init();
  const fresh = await first.stage(); // a job in flight when the process died
  await writeFile(join(fresh.dir, 'audio.wav.tmp-123'), Buffer.alloc(KB));
  await mkdir(join(first.stagingDir, 'not-an-id'));
  const published = await publish(first, KB);
  const second = new ArtifactStore(dataDir);
  const { staging } = await second.init();
  t.same(staging, { removed: 1, bytes: KB });
  t.same(await readdir(second.stagingDir), ['not-an-id'], 'only entries named as ids');
  t.ok(await second.locate(published), 'published results stay');
  t.ok(existsSync(voice));
});

t.test('below the free-space floor stage() refuses with 507 and Retry-After, writing nothing; the figure is cached ~1 s', async (t) => {
  let free = 100 * 1024 * 1024;
  let calls = 0;
  const store = new ArtifactStore(t.testdir(), {
    minFreeBytes: 256 * 1024 * 1024,
    diskCacheMs: 300,
    diskSpace: async () => (calls++, { free, size: 1024 ** 3 }),
  });
  await store.init();
  const err = await store.stage().catch((e: unknown) => e);
  t.ok(err instanceof ApiError);
  t.match(err, { code: 'INSUFFICIENT_STORAGE', statusCode: 507, headers: { 'retry-after': '30' }, message: /104\.9 MB free, under the 268\.4 MB kept free/ });
  t.same(await readdir(store.stagingDir), [], 'nothing written');
  await Promise.all(Array.from({ length: 50 }, () => store.stage().catch(() => undefined)));
  t.equal(calls, 1, 'a burst reads the disk once');
  t.match(await store.diskStatus(), { low: true, free, minFree: 256 * 1024 * 1024 });

  free = 300 * 1024 * 1024;
  t.equal((await store.diskStatus()).low, true, 'still the cached figure');
  await new Promise((resolve) => setTimeout(resolve, 310));
  t.match(await store.diskStatus(), { low: false, free });
  const staged = await store.stage();
  t.same(await readdir(store.stagingDir), [staged.id]);
  t.equal(calls, 2);
  t.equal(new ArtifactStore(t.testdir()).diskCacheMs, 1000, 'a second by default');
});

t.test('a volume that cannot be read is not refused: the write will say', async (t) => {
  const store = new ArtifactStore(t.testdir(), { minFreeBytes: 1, diskSpace: async () => Promise.reject(new Error('EIO')) });
  await store.init();
  t.ok(await store.stage());
  t.match(await store.diskStatus(), { free: null, low: false, error: 'EIO' });
});

t.test('a full disk mid-job is 507 INSUFFICIENT_STORAGE and leaves no partial files', async (t) => {
  const store = new ArtifactStore(t.testdir());
  await store.init();
  let calls = 0;
  store.diskSpace = async () => (calls++, { free: 1, size: 2 });
  await store.diskStatus();
  // The gateway's own write (a subtitle file) fails with ENOSPC.
  const enospc = Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28 });
  const err = await staged(store, async (_id, dir) => {
    await writeFile(join(dir, 'audio.wav'), Buffer.alloc(KB));
    throw enospc;
  }).catch((e: unknown) => e);
  t.match(err, { code: 'INSUFFICIENT_STORAGE', statusCode: 507, headers: { 'retry-after': '30' } });
  t.same(await readdir(store.stagingDir), [], 'the partial files are gone');
  t.same(await readdir(store.artifactsDir), []);
  await store.diskStatus();
  t.equal(calls, 2, 'the cached figure was dropped: the next check reads the disk');
});

t.test('which errors are a full disk', async (t) => {
  const worker = (code: string, message: string) => workerError(code, message);
  t.match(noSpaceError(worker('INTERNAL', "OSError: [Errno 28] No space left on device: '/data/staging/x/audio.wav.tmp-1'")), { code: 'INSUFFICIENT_STORAGE' });
  t.match(noSpaceError(worker('ENGINE_FAILED', 'espeak synthesis failed: OSError: [Errno 28] No space left on device')), { code: 'INSUFFICIENT_STORAGE' });
  t.match(noSpaceError(worker('INTERNAL', 'OSError: [Errno 122] Disk quota exceeded')), { code: 'INSUFFICIENT_STORAGE' });
  t.match(noSpaceError(Object.assign(new Error('x'), { code: 'EDQUOT' })), { code: 'INSUFFICIENT_STORAGE' });
  t.equal(noSpaceError(worker('INTERNAL', 'ValueError: bad')), undefined);
  t.equal(noSpaceError(worker('NO_SPEECH', 'No space left on device')), undefined, 'only failures, not a verdict on the text');
  t.equal(noSpaceError(Object.assign(new Error('x'), { code: 'EACCES' })), undefined);
  t.equal(noSpaceError(new Error('No space left on device')), undefined, 'a plain error with no code is not guessed at');
  t.equal(noSpaceError(undefined), undefined);
});
