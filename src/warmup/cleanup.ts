import { lstat, readdir, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { isAbsolute, join, resolve, sep } from 'node:path';
import { execa } from 'execa';
import { ArtifactStore } from '../store/artifacts.js';

/**
 * Frees disk when an install would not fit. Each step deletes only inside its own location and
 * only what matches its pattern; nothing here follows a symlink, so a link inside a cache cannot
 * lead the walk (or a delete) anywhere else.
 */

/** Temp entries voicecue creates (pip's TMPDIR during installs, uploads, …) start with this. */
export const TEMP_PREFIX = 'voicecue-';
/** A lock or temp entry untouched this long belongs to nobody alive. */
export const STALE_MS = 60 * 60_000;
/** A download writes continuously; an .incomplete file untouched this long was abandoned. */
export const ABANDONED_DOWNLOAD_MS = 10 * 60_000;
/** What pip keeps in its cache folder (the same set `pip cache purge` empties). */
const PIP_CACHE_ENTRIES = ['http', 'http-v2', 'wheels'];

export interface CleanupDirs {
  pipCache?: string;
  hfCache?: string;
  tmp?: string;
}

export interface CleanupEntry {
  location: 'pip-cache' | 'hf-cache' | 'temp' | 'artifacts';
  path: string;
  removed: number;
  bytes: number;
}

export interface CleanupOptions {
  python: string;
  env: Record<string, string | undefined>;
  dataDir: string;
  artifactTtlMs: number;
  /** The service's store, whose staging rules protect requests in flight; else one for dataDir. */
  store?: ArtifactStore;
  dirs?: CleanupDirs;
  now?: number;
}

export async function cleanup(opts: CleanupOptions): Promise<CleanupEntry[]> {
  const now = opts.now ?? Date.now();
  const dirs = opts.dirs ?? {};
  const entries: CleanupEntry[] = [];

  const pipCache = dirs.pipCache ?? (await pipCacheDir(opts.python, opts.env));
  if (safeRoot(pipCache)) {
    const stats = { removed: 0, bytes: 0 };
    for (const name of PIP_CACHE_ENTRIES) await removeTree(join(pipCache, name), stats, now, 0);
    entries.push({ location: 'pip-cache', path: pipCache, ...stats });
  }

  const hfCache = dirs.hfCache ?? hfCacheDir(opts.env);
  if (safeRoot(hfCache)) {
    const stats = { removed: 0, bytes: 0 };
    await sweepDownloads(hfCache, now, stats);
    entries.push({ location: 'hf-cache', path: hfCache, ...stats });
  }

  const tmp = dirs.tmp ?? tmpdir();
  if (safeRoot(tmp)) {
    const stats = { removed: 0, bytes: 0 };
    for (const name of await readdir(tmp).catch(() => [] as string[])) {
      if (name.startsWith(TEMP_PREFIX)) await removeTree(join(tmp, name), stats, now, STALE_MS);
    }
    entries.push({ location: 'temp', path: tmp, ...stats });
  }

  // Artifacts have their own expiry rules; the store applies them.
  const swept = await (opts.store ?? new ArtifactStore(opts.dataDir)).sweepExpired(opts.artifactTtlMs, now);
  entries.push({ location: 'artifacts', path: opts.dataDir, ...swept });
  return entries;
}

/** pip's own answer (it honours PIP_CACHE_DIR and XDG_CACHE_HOME), else the conventional place. */
export async function pipCacheDir(python: string, env: Record<string, string | undefined>): Promise<string> {
  const result = await execa(python, ['-m', 'pip', 'cache', 'dir'], {
    env, extendEnv: false, reject: false, timeout: 20_000, stdin: 'ignore',
  });
  const answer = result.failed ? '' : result.stdout.trim().split('\n').pop()?.trim() ?? '';
  return isAbsolute(answer) ? answer : join(cacheHome(env), 'pip');
}

export function hfCacheDir(env: Record<string, string | undefined>): string {
  return env.HF_HOME ? resolve(env.HF_HOME) : join(cacheHome(env), 'huggingface');
}

function cacheHome(env: Record<string, string | undefined>): string {
  return env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(env.HOME ?? homedir(), '.cache');
}

/** A cleanup root must be an absolute path below the filesystem root. */
function safeRoot(dir: string): boolean {
  return isAbsolute(dir) && resolve(dir) !== sep;
}

/** Removes abandoned *.incomplete downloads and stale *.lock files anywhere under root. */
async function sweepDownloads(root: string, now: number, stats: { removed: number; bytes: number }): Promise<void> {
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) {
      await sweepDownloads(path, now, stats);
      continue;
    }
    if (!entry.isFile()) continue;
    const maxAge = entry.name.endsWith('.incomplete') ? ABANDONED_DOWNLOAD_MS : entry.name.endsWith('.lock') ? STALE_MS : null;
    if (maxAge === null) continue;
    const info = await lstat(path).catch(() => null);
    if (!info || now - info.mtimeMs <= maxAge) continue;
    await rm(path, { force: true });
    stats.removed += 1;
    stats.bytes += info.size;
  }
}

/**
 * Removes path (a file, link or folder) when nothing in it changed for minAgeMs, counting its files
 * and bytes. The newest mtime in the whole tree decides: a long build deep inside a temp folder
 * keeps the folder alive even though the folder's own mtime is old.
 */
async function removeTree(path: string, stats: { removed: number; bytes: number }, now: number, minAgeMs: number): Promise<void> {
  const tree = { files: 0, bytes: 0, newest: 0 };
  await measure(path, tree);
  if (tree.newest === 0) return; // nothing there
  if (minAgeMs > 0 && now - tree.newest <= minAgeMs) return;
  await rm(path, { recursive: true, force: true });
  stats.removed += tree.files;
  stats.bytes += tree.bytes;
}

async function measure(path: string, tree: { files: number; bytes: number; newest: number }): Promise<void> {
  const info = await lstat(path).catch(() => null);
  if (!info) return;
  tree.newest = Math.max(tree.newest, info.mtimeMs);
  if (!info.isDirectory()) {
    tree.files += 1;
    tree.bytes += info.size;
    return;
  }
  for (const name of await readdir(path).catch(() => [] as string[])) await measure(join(path, name), tree);
}
