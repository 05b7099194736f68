import { performance } from 'node:perf_hooks';
import type { Config } from '../config.js';
import type { ArtifactStore } from '../store/artifacts.js';
import { cleanup, voicecueTempDir, type CleanupDirs, type CleanupEntry } from './cleanup.js';
import { checkRoom, defaultDiskSpace, formatBytes, type DiskSpaceFn } from './disk.js';
import { installPackage, redact, sidecarPython } from './install.js';
import { DEFAULT_MANIFEST, manifestProblems, type PackageSpec } from './manifest.js';
import { checkSystem, probePython, type ProbeResult, type SystemChecks } from './probe.js';

export { DEFAULT_MANIFEST, definePackage, manifestProblems, type PackageSpec } from './manifest.js';
export { buildInstallCommand, prepareInstallTarget, redact, sidecarPython, type InstallCommand, type PythonSetup } from './install.js';
export { cudaVisibility, type CudaVisibility, type SystemChecks } from './probe.js';
export { TEMP_PREFIX, voicecueTempDir, type CleanupDirs, type CleanupEntry } from './cleanup.js';
export { defaultDiskSpace, type DiskSpaceFn } from './disk.js';

/** pino and Fastify's logger fit this. */
export interface WarmupLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WarmupOptions
  extends Pick<Config, 'python' | 'dataDir' | 'installMode' | 'installTarget' | 'diskMarginBytes' | 'artifactTtlMs'> {
  log: WarmupLogger;
  /** The service's artifact store, for the cleanup of expired results. */
  store?: ArtifactStore;
  manifest?: readonly PackageSpec[];
  diskSpace?: DiskSpaceFn;
  cleanupDirs?: CleanupDirs;
  /** Appended to every pip install (tests: --no-index --find-links DIR). */
  pipExtraArgs?: string[];
  /** The environment the sidecar will inherit; default process.env. */
  env?: Record<string, string | undefined>;
  /** Per install; a flash-attn build from source can take most of an hour. Default 90 min. */
  installTimeoutMs?: number;
}

export interface WarmupReport {
  startedAt: string;
  elapsedMs: number;
  installMode: 'never' | 'missing';
  python: { executable: string; version: string | null; mode: 'venv' | 'target' | 'env'; target: string | null; error: string | null };
  found: { name: string; version: string | null; location: string | null; copies: number }[];
  installed: { name: string; version: string | null; elapsedMs: number }[];
  /** Not installed by rule: install mode, a missing base, no CUDA, no room on disk. */
  skipped: { name: string; reason: string }[];
  /** Install attempted and failed (pip's last lines), or installed but not importable. */
  failed: { name: string; reason: string; elapsedMs: number }[];
  cleaned: CleanupEntry[];
  bytesFreed: number;
  system: SystemChecks;
  flashAttn: { present: boolean; version: string | null };
  capabilities: Record<string, { available: boolean; reason: string | null }>;
}

/**
 * Checks the sidecar's Python against the manifest, installs what is missing when allowed and
 * when it fits on disk, and reports. Never rejects for an install or probe problem: the service
 * carries on with what it has. Only an invalid manifest (a programming error) throws.
 */
export async function runWarmup(opts: WarmupOptions): Promise<WarmupReport> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const manifest = opts.manifest ?? DEFAULT_MANIFEST;
  const problems = manifestProblems(manifest);
  if (problems.length > 0) throw new TypeError(`invalid warmup manifest: ${problems.join('; ')}`);
  const { log } = opts;
  const env = opts.env ?? process.env;
  const setup = sidecarPython(opts, env);
  const diskSpace = opts.diskSpace ?? defaultDiskSpace;

  let probe: ProbeResult | null = null;
  let probeError: string | null = null;
  try {
    probe = await probePython(setup.python, { ...env, ...setup.env }, manifest);
  } catch (err) {
    probeError = redact((err as Error).message);
    log.error({ python: setup.python, err: probeError }, 'warmup: cannot inspect the sidecar python');
  }
  const system = await checkSystem(env, probe?.espeak ?? null);

  const report: WarmupReport = {
    startedAt,
    elapsedMs: 0,
    installMode: opts.installMode,
    python: { executable: probe?.executable ?? setup.python, version: probe?.version ?? null, mode: setup.mode, target: setup.target, error: probeError },
    found: [], installed: [], skipped: [], failed: [], cleaned: [], bytesFreed: 0,
    system,
    flashAttn: { present: false, version: null },
    capabilities: {},
  };
  if (opts.installMode === 'missing' && setup.mode === 'env') {
    log.warn({ python: report.python.executable }, 'warmup: no install target; installs go into the python\'s own environment and are lost with the container');
  }

  // Why each package is unavailable; a present package maps to null.
  const missing = new Map<string, string | null>();
  let cleanedUp = false;

  /** The reason not to install pkg now, or null to go ahead. Cleans up (once) when disk is short. */
  const whyNot = async (pkg: PackageSpec, diskPath: string): Promise<string | null> => {
    if (opts.installMode === 'never') return 'not present; install mode is never';
    const base = pkg.needs.find((name) => missing.get(name) !== null);
    if (base !== undefined) return `needs ${base}, which is not available`;
    if (pkg.needsCuda && !system.cuda.visible) return `needs a CUDA device: ${system.cuda.reason}`;
    const margin = opts.diskMarginBytes;
    let room;
    try {
      room = await checkRoom(diskSpace, diskPath, pkg.estimatedBytes, margin);
      if (!room.fits && !cleanedUp) {
        cleanedUp = true;
        log.warn({ package: pkg.name, free: room.free, needed: room.needed }, 'warmup: low on disk, cleaning up');
        report.cleaned = await cleanup({
          python: setup.python, env: { ...env, ...setup.env }, dataDir: opts.dataDir, installTarget: opts.installTarget, artifactTtlMs: opts.artifactTtlMs, store: opts.store, dirs: opts.cleanupDirs,
        }).catch((err: Error) => {
          log.warn({ err: err.message }, 'warmup: cleanup failed');
          return [];
        });
        room = await checkRoom(diskSpace, diskPath, pkg.estimatedBytes, margin);
      }
    } catch (err) {
      return `disk space unknown on ${diskPath}: ${(err as Error).message}`;
    }
    if (room.fits) return null;
    return `not enough disk space on ${diskPath}: needs more than ${formatBytes(room.needed)} `
      + `(estimate ${formatBytes(pkg.estimatedBytes)} + margin ${formatBytes(margin)}), ${formatBytes(room.free)} free`;
  };

  for (const pkg of manifest) {
    const seen = probe?.packages[pkg.name];
    if (seen?.present) {
      report.found.push({ name: pkg.name, version: seen.version, location: seen.location, copies: seen.copies });
      if (seen.copies > 1) log.warn({ package: pkg.name, copies: seen.copies }, 'warmup: several installed copies; the first on sys.path wins');
      missing.set(pkg.name, null);
      continue;
    }
    const skip = probe === null ? `not checked: ${probeError}` : await whyNot(pkg, setup.target ?? probe.purelib);
    if (skip !== null) {
      if (opts.installMode !== 'never') log.warn({ package: pkg.name, reason: skip }, 'warmup: not installing');
      report.skipped.push({ name: pkg.name, reason: skip });
      missing.set(pkg.name, skip);
      continue;
    }
    const result = await installPackage(pkg, setup, {
      env, log, extraArgs: opts.pipExtraArgs ?? [], tmpRoot: opts.cleanupDirs?.tmp ?? voicecueTempDir(), timeoutMs: opts.installTimeoutMs ?? 90 * 60_000,
    });
    if (result.ok) report.installed.push({ name: pkg.name, version: result.version, elapsedMs: result.elapsedMs });
    else report.failed.push({ name: pkg.name, reason: result.reason, elapsedMs: result.elapsedMs });
    missing.set(pkg.name, result.ok ? null : result.reason);
  }

  const flash = [...report.found, ...report.installed].find((p) => p.name === 'flash-attn');
  report.flashAttn = { present: flash !== undefined, version: flash?.version ?? null };
  report.capabilities = capabilities(manifest, missing);
  report.bytesFreed = report.cleaned.reduce((sum, e) => sum + e.bytes, 0);
  report.elapsedMs = Math.round(performance.now() - started);
  log.info({ warmup: report }, 'warmup finished');
  return report;
}

function capabilities(manifest: readonly PackageSpec[], missing: Map<string, string | null>): WarmupReport['capabilities'] {
  const result: WarmupReport['capabilities'] = {};
  for (const cap of new Set(manifest.flatMap((pkg) => pkg.serves))) {
    const absent = manifest.filter((pkg) => pkg.required && pkg.serves.includes(cap) && missing.get(pkg.name) !== null);
    const first = absent[0];
    result[cap] = first
      ? { available: false, reason: `missing ${absent.map((p) => p.name).join(', ')} (${first.name}: ${missing.get(first.name)})` }
      : { available: true, reason: null };
  }
  return result;
}
