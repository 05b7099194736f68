import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { noSpaceError } from '../pipeline/stage.js';
import { AUDIO_FILE } from '../pipeline/audio.js';
import type { ArtifactStore } from '../store/artifacts.js';
import { TRANSCODED, transcodeToFile, type TranscodedFormat } from './transcode.js';

interface Pending {
  done: Promise<void>;
  controller: AbortController;
  waiters: number;
}

/** Transcodings under way, one per result and format, whoever asked first. */
const pending = new Map<string, Pending>();

/**
 * The result's audio in `format`, made once from its WAV and kept beside it: written under a
 * temp name and renamed, so a reader sees the whole file or none; counted in the disk quota.
 * Concurrent requests share one ffmpeg, which is stopped only when all of them went away.
 * Returns the file's name inside `dir`.
 */
export async function cachedAudio(store: ArtifactStore, id: string, dir: string, format: TranscodedFormat, signal: AbortSignal): Promise<string> {
  const { file } = TRANSCODED[format];
  if (await exists(join(dir, file))) return file;
  const key = `${id}/${format}`;
  let job = pending.get(key);
  if (!job) {
    const controller = new AbortController();
    const done = make(store, id, dir, format, controller.signal).finally(() => pending.delete(key));
    job = { done, controller, waiters: 0 };
    pending.set(key, job);
  }
  const shared = job;
  shared.waiters++;
  const leave = () => {
    if (--shared.waiters === 0) shared.controller.abort(new Error('every client went away'));
  };
  signal.addEventListener('abort', leave, { once: true });
  try {
    await shared.done;
  } finally {
    signal.removeEventListener('abort', leave);
    if (!signal.aborted) shared.waiters--;
  }
  return file;
}

async function make(store: ArtifactStore, id: string, dir: string, format: TranscodedFormat, signal: AbortSignal): Promise<void> {
  const target = join(dir, TRANSCODED[format].file);
  const temp = `${target}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await store.assertRoom();
    await transcodeToFile(createReadStream(join(dir, AUDIO_FILE)), format, temp, signal);
    const { size } = await stat(temp);
    await rename(temp, target);
    await store.added(id, size);
  } catch (err) {
    await rm(temp, { force: true });
    throw noSpaceError(err) ?? err;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
