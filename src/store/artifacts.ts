import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Artifacts live under <dataDir>/artifacts/<id>/, one folder per request. A request writes into
 * <dataDir>/staging/<id>/ and the folder is renamed into place only once complete, so a reader
 * never sees a half-written artifact and a failure halfway leaves nothing behind.
 */

/** 9 base-36 digits of milliseconds (sortable, good until 5188) + 16 base64url chars (96 random bits). */
export const ID_PATTERN = /^[0-9a-z]{9}[A-Za-z0-9_-]{16}$/;

export function isArtifactId(value: string): boolean {
  return ID_PATTERN.test(value);
}

export function newArtifactId(now = Date.now()): string {
  return now.toString(36).padStart(9, '0') + randomBytes(12).toString('base64url');
}

export interface SweepResult {
  removed: number;
  bytes: number;
}

export class ArtifactStore {
  readonly artifactsDir: string;
  readonly stagingDir: string;

  readonly ttlMs: number;
  /** A staging folder older than this was left by a crash; it must outlive any request's deadline. */
  readonly stagingStaleMs: number;

  constructor(
    readonly dataDir: string,
    { ttlMs = 24 * 3600_000, stagingStaleMs = 10 * 60_000 }: { ttlMs?: number; stagingStaleMs?: number } = {},
  ) {
    this.artifactsDir = join(dataDir, 'artifacts');
    this.stagingDir = join(dataDir, 'staging');
    this.ttlMs = ttlMs;
    this.stagingStaleMs = stagingStaleMs;
  }

  async init(): Promise<void> {
    await mkdir(this.artifactsDir, { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
  }

  /**
   * A fresh id with an empty staging folder; mkdir without recursive fails if the id ever existed.
   * A staging folder someone deleted (a cleanup, an operator) is made again, not a failed request.
   */
  async stage(): Promise<{ id: string; dir: string }> {
    for (let recreated = 0; ; ) {
      const id = newArtifactId();
      const dir = join(this.stagingDir, id);
      try {
        await mkdir(dir);
        return { id, dir };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' && recreated++ < 3) await mkdir(this.stagingDir, { recursive: true });
        else if (code !== 'EEXIST') throw err;
      }
    }
  }

  /** Moves a complete staging folder into place; an artifacts folder someone deleted is made again. */
  async publish(id: string): Promise<void> {
    const from = join(this.stagingDir, assertId(id));
    const to = join(this.artifactsDir, id);
    try {
      await rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.artifactsDir, { recursive: true });
      await rename(from, to);
    }
  }

  async discard(id: string): Promise<void> {
    await rm(join(this.stagingDir, assertId(id)), { recursive: true, force: true });
  }

  /** The folder of a published artifact, or null for a malformed, unknown or expired id. */
  async locate(id: string, now = Date.now()): Promise<string | null> {
    if (!isArtifactId(id) || now - birthOf(id) > this.ttlMs) return null;
    const dir = join(this.artifactsDir, id);
    try {
      return (await stat(dir)).isDirectory() ? dir : null;
    } catch {
      return null;
    }
  }

  /**
   * Removes published artifacts older than ttlMs and staging folders older than staleMs (left by a
   * crash mid-request). Age comes from the id's own timestamp, so a touched folder cannot live on.
   */
  async sweepExpired(ttlMs = this.ttlMs, now = Date.now(), staleMs = this.stagingStaleMs): Promise<SweepResult> {
    const result: SweepResult = { removed: 0, bytes: 0 };
    for (const [dir, maxAge] of [[this.artifactsDir, ttlMs], [this.stagingDir, staleMs]] as const) {
      let names: string[];
      try {
        names = await readdir(dir);
      } catch {
        continue;
      }
      for (const name of names) {
        if (!isArtifactId(name)) continue;
        if (now - birthOf(name) <= maxAge) continue;
        const path = join(dir, name);
        result.bytes += await folderBytes(path);
        await rm(path, { recursive: true, force: true });
        result.removed += 1;
      }
    }
    return result;
  }
}

function birthOf(id: string): number {
  return parseInt(id.slice(0, 9), 36);
}

function assertId(id: string): string {
  if (!isArtifactId(id)) throw new Error(`not an artifact id: ${JSON.stringify(id)}`);
  return id;
}

async function folderBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await folderBytes(path);
    else total += (await stat(path).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
