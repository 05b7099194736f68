// Stage and publish: a result appears whole under its id, or not at all.
import t from 'tap';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { staged } from '../../src/pipeline/stage.js';
import { ArtifactStore } from '../../src/store/artifacts.js';

t.test('the steps write into staging; success publishes the folder whole', async (t) => {
  const store = new ArtifactStore(t.testdir());
  await store.init();
  const { id, value } = await staged(store, async (stagedId, dir) => {
    await writeFile(join(dir, 'audio.wav'), 'RIFF');
    t.same(await readdir(store.artifactsDir), [], 'nothing is visible while the steps run');
    return stagedId;
  });
  t.equal(value, id);
  t.same(await readdir(join(store.artifactsDir, id)), ['audio.wav']);
  t.same(await readdir(store.stagingDir), []);
});

t.test('a failing step discards the staging folder and the error reaches the caller', async (t) => {
  const store = new ArtifactStore(t.testdir());
  await store.init();
  const boom = new Error('the aligner failed');
  await t.rejects(staged(store, async (_id, dir) => {
    await writeFile(join(dir, 'audio.wav'), 'RIFF');
    throw boom;
  }), boom);
  t.same(await readdir(store.stagingDir), [], 'no partial files');
  t.same(await readdir(store.artifactsDir), [], 'nothing published');
});
