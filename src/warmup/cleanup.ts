import { lstat, mkdir, readdir, realpath, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { execa } from 'execa';
import { ArtifactStore } from '../store/artifacts.js';

/**
 * Frees disk when an install would not fit. Each step deletes only inside its own location and
 * only what matches its pattern; nothing here follows a symlink, so a link inside a cache cannot
 * lead the walk (or a delete) anywhere else. And no step deletes a path that is, contains or lies
 * inside a protected folder: the data dir (results, voices), the install target, the model caches
 * (see protectedDirs), compared both as given and with symlinks resolved.
 */

/** Temp entries voicecue creates (pip's TMPDIR during installs, …) start with this. */
export const TEMP_PREFIX = 'voicecue-';

/**
 * voicecue's own temp folder, <tmpdir>/voicecue-tmp-<uid>: every temp entry voicecue makes goes in
 * here, and cleanup's temp step looks nowhere else: never at the system temp folder, where a data
 * dir such as /tmp/voicecue-data may live. Per user, so two users on one host never share it.
 */
export function voicecueTempDir(base: string = tmpdir()): string {
  const uid = process.getuid?.();
  return join(base, uid === undefined ? 'voicecue-tmp' : `voicecue-tmp-${uid}`);
}

/**
 * Creates voicecue's temp folder when missing (mode 0700) and checks it is a real folder of this
 * user's, not a symlink someone planted in a shared /tmp; throws otherwise.
 */
export async function ensureTempDir(dir: string): Promise<string> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!(await ownFolder(dir))) throw new Error(`${dir} is not a folder of this user's (a symlink, a file or another user's)`);
  return dir;
}
/** A lock or temp entry untouched this long belongs to nobody alive. */
export const STALE_MS = 60 * 60_000;
/** A download writes continuously; an .incomplete file untouched this long was abandoned. */
export const ABANDONED_DOWNLOAD_MS = 10 * 60_000;
/** What pip keeps in its cache folder (the same set `pip cache purge` empties). */
const PIP_CACHE_ENTRIES = ['http', 'http-v2', 'wheels'];

export interface CleanupDirs {
  pipCache?: string;
  hfCache?: string;
  /** voicecue's own temp folder; default voicecueTempDir(). */
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
  /** Where installs go (a venv or a folder): protected like the data dir. */
  installTarget?: string;
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
  const hfCache = dirs.hfCache ?? hfCacheDir(opts.env);
  const owned = [opts.dataDir, opts.installTarget];
  const everything = await guard([...owned, ...protectedCaches(hfCache, opts.env)]);

  if (safeRoot(pipCache)) {
    const stats = { removed: 0, bytes: 0 };
    for (const name of PIP_CACHE_ENTRIES) {
      const path = join(pipCache, name);
      if (await everything.allows(path)) await removeTree(path, stats, now, 0);
    }
    entries.push({ location: 'pip-cache', path: pipCache, ...stats });
  }

  if (safeRoot(hfCache)) {
    const stats = { removed: 0, bytes: 0 };
    // The walk never follows a link, so below the real root every path it meets is real.
    const root = await realpath(hfCache).catch(() => null);
    if (root !== null) await sweepDownloads(root, now, stats, await guard(owned));
    entries.push({ location: 'hf-cache', path: hfCache, ...stats });
  }

  const tmp = dirs.tmp ?? voicecueTempDir();
  if (safeRoot(tmp) && (await ownFolder(tmp))) {
    const stats = { removed: 0, bytes: 0 };
    const real = await realpath(tmp);
    for (const name of await readdir(real).catch(() => [] as string[])) {
      if (!name.startsWith(TEMP_PREFIX)) continue;
      if (!(await everything.allows(join(tmp, name), join(real, name)))) continue;
      await removeTree(join(real, name), stats, now, STALE_MS);
    }
    entries.push({ location: 'temp', path: tmp, ...stats });
  }

  // Artifacts have their own expiry rules; the store applies them.
  const swept = await (opts.store ?? new ArtifactStore(opts.dataDir)).sweepExpired(opts.artifactTtlMs, now);
  entries.push({ location: 'artifacts', path: opts.dataDir, ...swept });
  return entries;
}

/**
 * The model caches cleanup must not delete wholesale: the hf cache it sweeps (only abandoned
 * downloads and stale locks inside it go) and wherever the environment points Hugging Face and
 * torch.
 */
function protectedCaches(hfCache: string, env: Record<string, string | undefined>): string[] {
  const vars = ['HF_HOME', 'HF_HUB_CACHE', 'HUGGINGFACE_HUB_CACHE', 'TRANSFORMERS_CACHE', 'HF_DATASETS_CACHE', 'TORCH_HOME'];
  return [hfCache, ...vars.map((name) => env[name]).filter((v): v is string => !!v)];
}

export interface Guard {
  /** False when any of the paths (one location, several spellings) is, contains or lies inside a protected folder. */
  allows(...paths: string[]): Promise<boolean>;
}

/**
 * A guard over the given folders (relative paths resolve against the working directory, as the
 * service resolves them; undefined entries are ignored). Each folder and each path asked about is
 * compared in every spelling that names it: as given, with its parent's symlinks resolved, and
 * fully resolved. So a trailing slash, a relative path, a symlinked data dir or a link to it
 * changes nothing; a folder that does not exist yet is still protected where it would be.
 */
export async function guard(folders: readonly (string | undefined)[]): Promise<Guard> {
  const kept = (await Promise.all(folders.filter((f): f is string => !!f).map(spellings))).flat();
  return {
    async allows(...paths: string[]): Promise<boolean> {
      const asked = (await Promise.all(paths.map(spellings))).flat();
      return !asked.some((a) => kept.some((k) => a === k || within(a, k) || within(k, a)));
    },
  };
}

async function spellings(path: string): Promise<string[]> {
  const abs = resolve(path);
  const parent = dirname(abs);
  const viaParent = parent === abs ? abs : join(await realpathLoose(parent), basename(abs));
  return [...new Set([abs, viaParent, await realpathLoose(abs)])];
}

/** realpath of the longest part that exists, with the rest appended. */
async function realpathLoose(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(await realpathLoose(parent), basename(path));
  }
}

/** Whether child lies strictly inside parent (both absolute and normalised). */
function within(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

/** A real folder (not a link) owned by this user: the only kind of temp folder cleanup sweeps. */
async function ownFolder(dir: string): Promise<boolean> {
  const info = await lstat(dir).catch(() => null);
  if (!info || !info.isDirectory()) return false;
  const uid = process.getuid?.();
  return uid === undefined || info.uid === uid;
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

/** Removes abandoned *.incomplete downloads and stale *.lock files anywhere under root, except inside a protected folder. */
async function sweepDownloads(root: string, now: number, stats: { removed: number; bytes: number }, keep: Guard): Promise<void> {
  for (const entry of await readdir(root, { withFileTypes: true }).catch(() => [])) {
    const path = join(root, entry.name);
    if (entry.isDirectory()) {
      await sweepDownloads(path, now, stats, keep);
      continue;
    }
    if (!entry.isFile()) continue;
    const maxAge = entry.name.endsWith('.incomplete') ? ABANDONED_DOWNLOAD_MS : entry.name.endsWith('.lock') ? STALE_MS : null;
    if (maxAge === null) continue;
    const info = await lstat(path).catch(() => null);
    if (!info || now - info.mtimeMs <= maxAge) continue;
    if (!(await keep.allows(path))) continue;
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
