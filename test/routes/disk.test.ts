// A full disk, for real: a small tmpfs as the data dir, the real worker. The worker's WAV write
// that runs out of space is 507 INSUFFICIENT_STORAGE with no partial file left; below the
// free-space floor a request is refused before anything is written and /health says so; once
// space is freed the service serves again.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { testApp, tempDir } from '../helpers.js';

const SENTENCE = 'Hello world, this is voicecue.';
// About a minute of speech: a WAV of some 2.5 MB.
const MINUTE = 'The quick brown fox jumps over the lazy dog near the riverbank, twice a day. '.repeat(12);
const MB = 1024 * 1024;

async function freeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}

/** Grows `file` until the volume has at most `leave` bytes free (0: until a write fails with ENOSPC). */
async function fill(file: string, leave: number): Promise<void> {
  const handle = await open(file, 'a');
  try {
    for (let chunk = MB; chunk >= 4096; ) {
      const room = (await freeBytes(file.slice(0, file.lastIndexOf('/')))) - leave;
      if (room <= 0) return;
      try {
        await handle.write(Buffer.alloc(Math.min(chunk, room)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        chunk /= 4;
      }
    }
  } finally {
    await handle.close();
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const notRoot = process.getuid?.() === 0 ? false : 'not root: mounting a tmpfs needs root (run the tests as root to fill a real disk)';
if (notRoot) console.log(`# skipping the real full-disk test: ${notRoot}`);

t.test('disk full on a real tmpfs: 507 JSON, nothing left behind, /health says low, then recovery', { skip: notRoot }, async (t) => {
  const dataDir = await tempDir(t, 'voicecue-tmpfs-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dataDir], { stdio: 'pipe' });
  } catch (err) {
    console.log(`# skipping the real full-disk test: mount -t tmpfs failed: ${(err as Error).message}`);
    return t.plan(0, 'mount -t tmpfs is not allowed here');
  }
  const { app, workers, store } = await testApp(t, { env: { VOICECUE_DATA_DIR: dataDir, VOICECUE_MIN_FREE_MB: '1' } });
  // Registered after the app's close, so it runs after it (tap runs teardowns in order).
  t.teardown(() => {
    try {
      execFileSync('umount', [dataDir]);
    } catch {
      execFileSync('umount', ['-l', dataDir]);
    }
  });
  const voice = join(dataDir, 'voices', 'narrator.wav');
  await mkdir(join(dataDir, 'voices'), { recursive: true });
  await writeFile(voice, Buffer.alloc(4096));
  await workers.start();
  const first = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(first.statusCode, 201);

  // A minute of audio needs some 2.5 MB; leave 1.5 MB (above the 1 MB floor): the worker's write
  // runs out of space halfway.
  const filler = join(dataDir, 'filler');
  await fill(filler, 1.5 * MB);
  t.ok((await freeBytes(dataDir)) > MB, 'above the floor: the request is let in');
  const full = await app.inject({ method: 'POST', url: '/tts', payload: { text: MINUTE } });
  t.equal(full.statusCode, 507);
  t.match(full.headers['content-type'], /application\/json/);
  t.match(full.json(), { statusCode: 507, code: 'INSUFFICIENT_STORAGE', error: 'Insufficient Storage', message: /the data volume is full/ });
  t.equal(full.headers['retry-after'], '30');
  t.same(await readdir(store.stagingDir), [], 'no partial file in staging');
  t.same(await readdir(store.artifactsDir), [first.json().id], 'nothing published');

  // Now below the floor: refused before anything is written.
  await fill(filler, 0);
  await pause(1100); // the free-space figure is cached for a second
  const refused = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.equal(refused.statusCode, 507);
  t.match(refused.json(), { code: 'INSUFFICIENT_STORAGE', message: /free, under the 1\.0 MB kept free \(VOICECUE_MIN_FREE_MB\)/ });
  t.equal(refused.headers['retry-after'], '30');
  t.same(await readdir(store.stagingDir), [], 'nothing written');
  const health = await app.inject('/health');
  t.equal(health.statusCode, 200, 'low disk is not a 503: results stored here are still served');
  t.match(health.json(), { status: 'ready', disk: { low: true, reason: /under VOICECUE_MIN_FREE_MB \(1\.0 MB\): new requests get 507/ } });
  const verbose = (await app.inject('/health?verbose=1')).json();
  t.match(verbose.disk, { low: true, min_free: MB, size: 8 * MB, quota: null });
  t.ok(verbose.disk.free < MB);
  const download = await app.inject(`/download/${first.json().id}`);
  t.equal(download.statusCode, 200, 'downloads still work');

  // Space freed: served again.
  await rm(filler);
  await pause(1100);
  const again = await app.inject({ method: 'POST', url: '/tts', payload: { text: MINUTE } });
  t.equal(again.statusCode, 201, 'recovered once space was freed');
  const healthy = await app.inject('/health');
  t.equal(healthy.json().disk, undefined, 'the small answer says nothing of a healthy disk');
  t.ok(existsSync(voice), 'voices/ untouched');
});

t.test('/health reports a low disk (without root: the figure swapped)', async (t) => {
  const { app, workers, store } = await testApp(t, { worker: 'fake' });
  await workers.start();
  store.diskSpace = async () => ({ free: 10 * MB, size: 100 * MB });
  const low = await app.inject('/health');
  t.equal(low.statusCode, 200);
  t.match(low.json(), { status: 'ready', disk: { low: true, reason: /only 10\.5 MB free on the data volume, under VOICECUE_MIN_FREE_MB \(268\.4 MB\)/ } });
  t.same(Object.keys(low.json().disk).sort(), ['low', 'reason'], 'the small answer: only that it is low, and why');
  const verbose = (await app.inject('/health?verbose=1')).json();
  t.same(verbose.disk, { low: true, reason: low.json().disk.reason, free: 10 * MB, size: 100 * MB, min_free: 256 * MB, quota: null, used: null });
  const tts = await app.inject({ method: 'POST', url: '/tts', payload: { text: SENTENCE } });
  t.match(tts.json(), { statusCode: 507, code: 'INSUFFICIENT_STORAGE' });

  store.diskSpace = async () => ({ free: 300 * MB, size: 1000 * MB });
  await pause(1100);
  t.equal((await app.inject('/health')).json().disk, undefined);
  t.match((await app.inject('/health?verbose=1')).json().disk, { low: false, free: 300 * MB });
});
