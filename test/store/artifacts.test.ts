import t from 'tap';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ArtifactStore, isArtifactId, newArtifactId } from '../../src/store/artifacts.js';

const tempDir = async (t: { testdir(): string }) => t.testdir();

t.test('ids are well-formed, distinct, and carry their birth time', async (t) => {
  const ids = new Set(Array.from({ length: 2000 }, () => newArtifactId()));
  t.equal(ids.size, 2000);
  for (const id of [...ids].slice(0, 20)) t.ok(isArtifactId(id), id);
  for (const bad of ['', '../../etc/passwd', 'A'.repeat(25), `${newArtifactId()}x`, newArtifactId().replace(/^./, '.')]) {
    t.notOk(isArtifactId(bad), JSON.stringify(bad));
  }
  t.ok(newArtifactId(1000) < newArtifactId(2000), 'ids sort by time');
});

t.test('stage, publish, discard, locate', async (t) => {
  const store = new ArtifactStore(await tempDir(t), { ttlMs: 60_000 });
  await store.init();
  const a = await store.stage();
  await writeFile(join(a.dir, 'audio.wav'), 'x');
  t.equal(await store.locate(a.id), null, 'not visible while staged');
  await store.publish(a.id);
  t.equal(await store.locate(a.id), join(store.artifactsDir, a.id));
  t.same(await readdir(join(store.artifactsDir, a.id)), ['audio.wav']);
  const b = await store.stage();
  await store.discard(b.id);
  t.same(await readdir(store.stagingDir), []);
  t.equal(await store.locate('../../etc'), null);
  t.equal(await store.locate(newArtifactId()), null, 'unknown');
  t.equal(await store.locate(a.id, Date.now() + 61_000), null, 'expired results are gone even before a sweep');
  await t.rejects(store.publish('../x'), /not an artifact id/);
});

t.test('sweeping removes expired results and stale staging, nothing else', async (t) => {
  const dir = await tempDir(t);
  const store = new ArtifactStore(dir, { ttlMs: 3600_000, stagingStaleMs: 600_000 });
  await store.init();
  const now = Date.now();
  const old = newArtifactId(now - 2 * 3600_000);
  const fresh = newArtifactId(now - 60_000);
  const staleStaging = newArtifactId(now - 700_000);
  const activeStaging = newArtifactId(now - 100_000);
  for (const id of [old, fresh]) {
    await mkdir(join(store.artifactsDir, id));
    await writeFile(join(store.artifactsDir, id, 'audio.wav'), Buffer.alloc(1000));
  }
  for (const id of [staleStaging, activeStaging]) await mkdir(join(store.stagingDir, id));
  await mkdir(join(store.artifactsDir, 'not-an-id'));
  const result = await store.sweepExpired(undefined, now);
  t.same(result, { removed: 2, bytes: 1000 });
  t.same((await readdir(store.artifactsDir)).sort(), [fresh, 'not-an-id'].sort());
  t.same(await readdir(store.stagingDir), [activeStaging]);
});

t.test('a staging folder someone deleted is made again: stage() still works', async (t) => {
  const store = new ArtifactStore(await tempDir(t));
  await store.init();
  await rm(store.stagingDir, { recursive: true, force: true });
  const a = await store.stage();
  t.same(await readdir(store.stagingDir), [a.id]);
  await writeFile(join(a.dir, 'audio.wav'), 'x');
  await store.publish(a.id);
  t.ok(await store.locate(a.id));

  await rm(store.dataDir, { recursive: true, force: true }); // the whole data dir, even
  const b = await store.stage();
  t.same(await readdir(b.dir), []);
});

t.test('an artifacts folder someone deleted is made again: publish() still works', async (t) => {
  const store = new ArtifactStore(await tempDir(t));
  await store.init();
  const a = await store.stage();
  await writeFile(join(a.dir, 'audio.wav'), 'x');
  await rm(store.artifactsDir, { recursive: true, force: true });
  await store.publish(a.id);
  t.equal(await readFile(join(store.artifactsDir, a.id, 'audio.wav'), 'utf8'), 'x');
  t.equal(await store.locate(a.id), join(store.artifactsDir, a.id));
  await t.rejects(store.publish(newArtifactId()), { code: 'ENOENT' }, 'a staging folder that never was still fails');
});
