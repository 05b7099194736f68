import { ApiError } from '../errors.js';
import { NO_SPACE_RETRY_AFTER_S, type ArtifactStore } from '../store/artifacts.js';

/**
 * The first and last steps: a fresh id with an empty staging folder, the steps in between
 * writing into it, and the folder published whole — or discarded on any failure, so a result
 * is all there or not at all. A write that found the disk full is 507 INSUFFICIENT_STORAGE,
 * whichever step (the worker's WAV, the gateway's subtitles, the publish) it was.
 */
export async function staged<T>(store: ArtifactStore, steps: (id: string, dir: string) => Promise<T>): Promise<{ id: string; value: T }> {
  let staging: { id: string; dir: string };
  try {
    staging = await store.stage(); // refuses below the free-space floor before writing anything
  } catch (err) {
    throw noSpace(store, err);
  }
  const { id, dir } = staging;
  try {
    const value = await steps(id, dir);
    await store.publish(id); // last: nothing after it can fail and leave a half-answered result
    return { id, value };
  } catch (err) {
    await store.discard(id).catch(() => undefined);
    throw noSpace(store, err);
  }
}

function noSpace(store: ArtifactStore, err: unknown): unknown {
  const mapped = noSpaceError(err);
  if (!mapped) return err;
  store.forgetDiskFigure();
  return mapped;
}

const NO_SPACE_CODES = new Set(['ENOSPC', 'EDQUOT']);
const NO_SPACE_TEXT = /No space left on device|ENOSPC|Disk quota exceeded|EDQUOT/i;

/**
 * 507 for an error that says the disk is full: the gateway's own write (errno ENOSPC or EDQUOT),
 * or the worker's, which arrives as ENGINE_FAILED or INTERNAL with the OS's words in its message.
 * Undefined for any other error.
 */
export function noSpaceError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) {
    if (err.code === 'INSUFFICIENT_STORAGE') return err;
    if (err.code !== 'ENGINE_FAILED' && err.code !== 'INTERNAL_ERROR') return undefined;
    const detail = err.detail as { message?: unknown } | undefined;
    const said = `${err.message} ${typeof detail?.message === 'string' ? detail.message : ''}`;
    if (!NO_SPACE_TEXT.test(said)) return undefined;
    return insufficientStorage('the speech worker could not write the audio', err.detail ?? err.message);
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === 'string' && NO_SPACE_CODES.has(code)) {
    return insufficientStorage('a result file could not be written', { code, message: (err as Error).message });
  }
  return undefined;
}

function insufficientStorage(what: string, detail: unknown): ApiError {
  return new ApiError('INSUFFICIENT_STORAGE', `the data volume is full: ${what}; nothing was kept, retry later`,
    { 'retry-after': String(NO_SPACE_RETRY_AFTER_S) }, detail);
}
