import type { ArtifactStore } from '../store/artifacts.js';

/**
 * The first and last steps: a fresh id with an empty staging folder, the steps in between
 * writing into it, and the folder published whole — or discarded on any failure, so a result
 * is all there or not at all.
 */
export async function staged<T>(store: ArtifactStore, steps: (id: string, dir: string) => Promise<T>): Promise<{ id: string; value: T }> {
  const { id, dir } = await store.stage();
  try {
    const value = await steps(id, dir);
    await store.publish(id); // last: nothing after it can fail and leave a half-answered result
    return { id, value };
  } catch (err) {
    await store.discard(id).catch(() => undefined);
    throw err;
  }
}
