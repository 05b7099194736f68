import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import { formatBytes, type DiskSpaceFn } from '../warmup/disk.js';

/**
 * Artifacts live under <dataDir>/artifacts/<id>/, one folder per request. A request writes into
 * <dataDir>/staging/<id>/ and the folder is renamed into place only once complete, so a reader
 * never sees a half-written artifact and a failure halfway leaves nothing behind.
 *
 * The store only ever removes entries of artifacts/ and staging/ whose names are artifact ids:
 * anything else in the data dir (voices/, an operator's files) is never touched.
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

/** The data volume as the store last saw it (at most diskCacheMs ago). */
export interface DiskStatus {
  /** Bytes free for this process's user; null when the volume could not be read. */
  free: number | null;
  size: number | null;
  minFree: number;
  /** Below minFree: new jobs are refused with 507. */
  low: boolean;
  /** null: no quota. */
  quota: number | null;
  /** Bytes of published results, kept with a quota only (null without). */
  used: number | null;
  /** Why the volume could not be read. */
  error?: string;
}

export interface StoreOptions {
  ttlMs?: number;
  /** A staging folder older than this was left behind; it must outlive any request's deadline. */
  stagingStaleMs?: number;
  /** Published results beyond this many bytes are evicted oldest first; 0: no quota. */
  quotaBytes?: number;
  /** Below this much free space stage() refuses with INSUFFICIENT_STORAGE; 0: no floor. */
  minFreeBytes?: number;
  /** How long a free-space figure is reused, so a burst of requests stats the disk once. */
  diskCacheMs?: number;
  diskSpace?: DiskSpaceFn;
  log?: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** statfs(2): no process spawned (unlike `df`), cheap enough for once a second. */
export const statfsDiskSpace: DiskSpaceFn = async (path) => {
  const s = await statfs(path);
  return { free: s.bavail * s.bsize, size: s.blocks * s.bsize };
};

/** How long a client is asked to wait after a 507: space comes back with the sweep, the quota or an operator. */
export const NO_SPACE_RETRY_AFTER_S = 30;

export class ArtifactStore {
  readonly artifactsDir: string;
  readonly stagingDir: string;

  readonly ttlMs: number;
  /** A staging folder older than this was left by a crash; it must outlive any request's deadline. */
  readonly stagingStaleMs: number;
  readonly quotaBytes: number;
  /** Bytes of results published (and transcodings added) since start: /metrics counts them. */
  bytesWritten = 0;
  readonly minFreeBytes: number;
  readonly diskCacheMs: number;
  /** Where free space comes from (tests swap it). */
  diskSpace: DiskSpaceFn;
  /** What the quota evicted since start. */
  readonly evicted: SweepResult = { removed: 0, bytes: 0 };
  private readonly log: StoreOptions['log'];

  /** With a quota: each published result's bytes, its ids in birth order (oldest first), and their sum. */
  private readonly sizes = new Map<string, number>();
  private order: string[] = [];
  private used = 0;
  private disk: { at: number; value: Promise<Pick<DiskStatus, 'free' | 'size' | 'error'>>; low?: boolean } | undefined;

  constructor(
    readonly dataDir: string,
    { ttlMs = 24 * 3600_000, stagingStaleMs = 10 * 60_000, quotaBytes = 0, minFreeBytes = 0, diskCacheMs = 1000, diskSpace = statfsDiskSpace, log }: StoreOptions = {},
  ) {
    this.artifactsDir = join(dataDir, 'artifacts');
    this.stagingDir = join(dataDir, 'staging');
    this.ttlMs = ttlMs;
    this.stagingStaleMs = stagingStaleMs;
    this.quotaBytes = quotaBytes;
    this.minFreeBytes = minFreeBytes;
    this.diskCacheMs = diskCacheMs;
    this.diskSpace = diskSpace;
    this.log = log;
  }

  /**
   * Makes the folders; clears staging, whose every entry belongs to a process that died (the data
   * dir is one process's); with a quota, totals the published results once and applies the quota.
   */
  async init(): Promise<{ staging: SweepResult; evicted: SweepResult }> {
    await mkdir(this.artifactsDir, { recursive: true });
    await mkdir(this.stagingDir, { recursive: true });
    const staging = await this.clearStaging();
    let evicted: SweepResult = { removed: 0, bytes: 0 };
    if (this.quotaBytes > 0) {
      for (const name of await readdir(this.artifactsDir)) {
        if (isArtifactId(name)) this.track(name, await folderBytes(join(this.artifactsDir, name)));
      }
      evicted = await this.enforceQuota();
    }
    return { staging, evicted };
  }

  /** Removes every staging folder: only when no job can be writing (at start, after the workers stopped). */
  async clearStaging(): Promise<SweepResult> {
    return removeIds(this.stagingDir, () => true);
  }

  /**
   * A fresh id with an empty staging folder; mkdir without recursive fails if the id ever existed.
   * A staging folder someone deleted (a cleanup, an operator) is made again, not a failed request.
   * Below the free-space floor nothing is made: INSUFFICIENT_STORAGE.
   */
  async stage(): Promise<{ id: string; dir: string }> {
    await this.assertRoom();
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

  /**
   * Moves a complete staging folder into place; an artifacts folder someone deleted is made again.
   * With a quota, the oldest other results are then evicted until the total fits.
   */
  async publish(id: string): Promise<void> {
    const from = join(this.stagingDir, assertId(id));
    const to = join(this.artifactsDir, id);
    const bytes = await folderBytes(from);
    try {
      await rename(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.artifactsDir, { recursive: true });
      await rename(from, to);
    }
    this.bytesWritten += bytes;
    if (this.quotaBytes <= 0) return;
    this.track(id, bytes);
    await this.enforceQuota(id).catch((err: Error) => this.log?.warn({ err: err.message }, 'applying the disk quota failed'));
  }

  /**
   * A file was added to a published result (a transcoding cached beside its WAV): with a quota
   * its bytes count like the rest, and the oldest other results make room.
   */
  async added(id: string, bytes: number): Promise<void> {
    this.bytesWritten += bytes;
    const before = this.sizes.get(id);
    if (this.quotaBytes <= 0 || before === undefined) return;
    this.sizes.set(id, before + bytes);
    this.used += bytes;
    this.disk = undefined;
    await this.enforceQuota(id).catch((err: Error) => this.log?.warn({ err: err.message }, 'applying the disk quota failed'));
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
   * With a quota the running total is reconciled with what the listing shows (an operator may have
   * removed or copied in results), then the quota applied.
   */
  async sweepExpired(ttlMs = this.ttlMs, now = Date.now(), staleMs = this.stagingStaleMs): Promise<SweepResult> {
    const quota = this.quotaBytes > 0;
    const expired = (name: string) => now - birthOf(name) > ttlMs;
    const listed = new Set<string>();
    const result = await removeIds(this.artifactsDir, (name) => (listed.add(name), expired(name)), (name) => this.untrack(name));
    if (quota) {
      for (const id of [...this.sizes.keys()]) if (!listed.has(id)) this.untrack(id);
      for (const name of listed) {
        if (!expired(name) && !this.sizes.has(name)) this.track(name, await folderBytes(join(this.artifactsDir, name)));
      }
    }
    const staging = await removeIds(this.stagingDir, (name) => now - birthOf(name) > staleMs);
    result.removed += staging.removed;
    result.bytes += staging.bytes;
    if (quota) {
      const evicted = await this.enforceQuota();
      result.removed += evicted.removed;
      result.bytes += evicted.bytes;
    }
    if (result.removed > 0) this.disk = undefined;
    return result;
  }

  /** The data volume now (a figure at most diskCacheMs old), the floor and the quota. */
  async diskStatus(now = Date.now()): Promise<DiskStatus> {
    if (!this.disk || now - this.disk.at >= this.diskCacheMs || now < this.disk.at) {
      const value = this.diskSpace(this.dataDir).then(
        ({ free, size }) => ({ free, size }),
        (err: Error) => ({ free: null, size: null, error: err.message }),
      );
      this.disk = { at: now, value };
    }
    const disk = this.disk;
    const { free, size, error } = await disk.value;
    disk.low = free !== null && free < this.minFreeBytes;
    return {
      free, size, minFree: this.minFreeBytes, low: disk.low,
      quota: this.quotaBytes > 0 ? this.quotaBytes : null, used: this.quotaBytes > 0 ? this.used : null,
      ...(error ? { error } : {}),
    };
  }

  /** Whether the volume is under the floor, from a figure still fresh; undefined when it must be read again. */
  diskLowNow(now = Date.now()): boolean | undefined {
    const disk = this.disk;
    return disk && now - disk.at < this.diskCacheMs && now >= disk.at ? disk.low : undefined;
  }

  /** A write failed for want of space: the next check reads the disk again instead of the cached figure. */
  forgetDiskFigure(): void {
    this.disk = undefined;
  }

  /** Refuses a new job below the free-space floor (an unreadable volume is not refused: the write will tell). */
  async assertRoom(): Promise<void> {
    if (this.minFreeBytes <= 0) return;
    const disk = await this.diskStatus();
    if (!disk.low) return;
    throw new ApiError(
      'INSUFFICIENT_STORAGE',
      `the data volume has ${formatBytes(disk.free ?? 0)} free, under the ${formatBytes(this.minFreeBytes)} kept free (VOICECUE_MIN_FREE_MB); retry later`,
      { 'retry-after': String(NO_SPACE_RETRY_AFTER_S) },
    );
  }

  /** Evicts the oldest published results (never `keep`, the one just published) until the total fits the quota. */
  private async enforceQuota(keep?: string): Promise<SweepResult> {
    const result: SweepResult = { removed: 0, bytes: 0 };
    while (this.used > this.quotaBytes) {
      const oldest = this.order[0] === keep ? this.order[1] : this.order[0];
      if (oldest === undefined) break;
      const bytes = this.untrack(oldest) ?? 0; // before the await: a concurrent publish picks the next one
      await rm(join(this.artifactsDir, oldest), { recursive: true, force: true });
      result.removed += 1;
      result.bytes += bytes;
    }
    if (result.removed > 0) {
      this.evicted.removed += result.removed;
      this.evicted.bytes += result.bytes;
      this.disk = undefined;
      this.log?.info({ ...result, used: this.used, quota: this.quotaBytes }, 'oldest results evicted to keep within VOICECUE_DISK_QUOTA_MB');
    }
    return result;
  }

  private track(id: string, bytes: number): void {
    this.untrack(id);
    this.sizes.set(id, bytes);
    this.used += bytes;
    // Ids sort by birth; a new one nearly always goes last.
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.order[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    this.order.splice(lo, 0, id);
  }

  /** Forgets a result; its bytes, or undefined when it was not tracked. */
  private untrack(id: string): number | undefined {
    const bytes = this.sizes.get(id);
    if (bytes === undefined) return undefined;
    this.sizes.delete(id);
    this.used -= bytes;
    const at = this.order.indexOf(id);
    if (at >= 0) this.order.splice(at, 1);
    return bytes;
  }
}

function birthOf(id: string): number {
  return parseInt(id.slice(0, 9), 36);
}

function assertId(id: string): string {
  if (!isArtifactId(id)) throw new Error(`not an artifact id: ${JSON.stringify(id)}`);
  return id;
}

/** Removes the entries of `dir` named as artifact ids that `remove` picks; `known` may say their size. */
async function removeIds(dir: string, remove: (name: string) => boolean, known?: (name: string) => number | undefined): Promise<SweepResult> {
  const result: SweepResult = { removed: 0, bytes: 0 };
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return result;
  }
  for (const name of names) {
    if (!isArtifactId(name) || !remove(name)) continue;
    const path = join(dir, name);
    result.bytes += known?.(name) ?? (await folderBytes(path));
    await rm(path, { recursive: true, force: true });
    result.removed += 1;
  }
  return result;
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
