import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import type { Config } from '../config.js';
import { ensureTempDir, TEMP_PREFIX } from './cleanup.js';
import type { PackageSpec } from './manifest.js';

/**
 * Where installs go and, therefore, which python and PYTHONPATH the sidecar must run with:
 * - venv: installTarget is a virtualenv (<target>/bin/python exists); its python is used for
 *   everything and pip installs into it. With install mode missing, prepareInstallTarget makes a
 *   plain target folder such a venv, over the base python with --system-site-packages: pip then
 *   sees what the image bakes (torch) and what earlier installs put there, and installs neither
 *   again.
 * - target: installTarget is a plain folder, read through PYTHONPATH (install mode never, or a
 *   venv could not be made). pip --target ignores packages installed elsewhere and would fetch
 *   every dependency again, copies of baked ones included; the probe reports copies > 1.
 * - env: no installTarget; pip installs into config.python's own environment.
 */
export interface PythonSetup {
  python: string;
  /** Additions to the environment for the sidecar, the probe, pip and the import checks. */
  env: Record<string, string>;
  mode: 'venv' | 'target' | 'env';
  target: string | null;
}

export function sidecarPython(
  config: Pick<Config, 'python' | 'installTarget'>,
  env: Record<string, string | undefined> = process.env,
): PythonSetup {
  const target = config.installTarget;
  if (!target) return { python: config.python, env: {}, mode: 'env', target: null };
  const venvPython = join(target, 'bin', 'python');
  if (existsSync(venvPython)) return { python: venvPython, env: {}, mode: 'venv', target };
  // After any PYTHONPATH the operator set, so their entries keep precedence.
  const entries = (env.PYTHONPATH ?? '').split(delimiter).filter(Boolean);
  if (!entries.includes(target)) entries.push(target);
  return { python: config.python, env: { PYTHONPATH: entries.join(delimiter) }, mode: 'target', target };
}

/**
 * In install mode missing, turns a plain target folder into a venv over the base python
 * (--system-site-packages, --without-pip: the base's pip serves it), then returns the setup the
 * sidecar and warmup use. Anything else, or a failure, leaves the setup as sidecarPython gives it.
 */
export async function prepareInstallTarget(
  config: Pick<Config, 'python' | 'installTarget' | 'installMode'>,
  env: Record<string, string | undefined>,
  log: { warn(obj: object, msg: string): void },
): Promise<PythonSetup> {
  const setup = sidecarPython(config, env);
  if (config.installMode !== 'missing' || setup.mode !== 'target' || !setup.target) return setup;
  const made = await execa(config.python, ['-m', 'venv', '--system-site-packages', '--without-pip', setup.target], {
    env, extendEnv: false, reject: false, timeout: 120_000, stdin: 'ignore', all: true,
  });
  if (made.failed) {
    log.warn({ target: setup.target, output: lastLines(made.all ?? '', 5) }, 'warmup: could not make the install target a venv; installing with --target');
    return setup;
  }
  const venv = sidecarPython(config, env);
  await chainBaseVenv(config.python, venv.python, env).catch((err: Error) => {
    log.warn({ target: setup.target, err: err.message }, 'warmup: the base python is a venv whose packages the install target cannot see');
  });
  return venv;
}

const SITE_DIRS_SCRIPT = String.raw`
import json, sys, sysconfig
paths = [sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
print(json.dumps(list(dict.fromkeys(paths)) if sys.prefix != sys.base_prefix else []))
`;

/**
 * venv builds a new environment over the base interpreter of the one it runs in, so a venv made
 * from a venv python (a project's .venv, an image's /opt/venv) would not see that venv's packages,
 * --system-site-packages or not. A .pth file in the new venv's site-packages adds them, after its
 * own, so pip there sees them as installed too.
 */
async function chainBaseVenv(basePython: string, venvPython: string, env: Record<string, string | undefined>): Promise<void> {
  const opts = { env, extendEnv: false, timeout: 30_000, stdin: 'ignore' } as const;
  const dirs = JSON.parse((await execa(basePython, ['-c', SITE_DIRS_SCRIPT], opts)).stdout.trim().split('\n').pop() ?? '[]') as string[];
  if (dirs.length === 0) return;
  const site = (await execa(venvPython, ['-c', 'import sysconfig; print(sysconfig.get_path("purelib"))'], opts)).stdout.trim().split('\n').pop() ?? '';
  await writeFile(join(site, 'voicecue-base-venv.pth'), `${dirs.join('\n')}\n`);
}

export interface InstallCommand {
  argv: string[];
  env: Record<string, string>;
}

/** The exact pip invocation for one package; pure, so tests can assert on it. */
export function buildInstallCommand(pkg: PackageSpec, setup: PythonSetup, extraArgs: readonly string[] = []): InstallCommand {
  const argv = [
    setup.python, '-m', 'pip', 'install',
    // A cache would only duplicate gigabytes of wheels on the disk we are guarding.
    '--no-cache-dir', '--disable-pip-version-check', '--no-input', '--progress-bar', 'off',
    ...(setup.mode === 'target' && setup.target ? ['--target', setup.target] : []),
    ...pkg.pipArgs, ...extraArgs, pkg.requirement,
  ];
  return { argv, env: { ...setup.env, ...pkg.pipEnv } };
}

export interface StepResult {
  ok: boolean;
  reason: string | null;
}

/**
 * Runs pip with its TMPDIR in a voicecue-prefixed folder inside voicecue's own temp folder
 * (tmpRoot, created when missing): removed afterwards, and if the gateway dies mid-build the next
 * warmup's cleanup finds the leftovers there.
 */
export async function runInstall(
  cmd: InstallCommand,
  baseEnv: Record<string, string | undefined>,
  tmpRoot: string,
  timeoutMs: number,
): Promise<StepResult> {
  const tmp = await mkdtemp(join(await ensureTempDir(tmpRoot), `${TEMP_PREFIX}pip-`));
  try {
    const [file, ...args] = cmd.argv as [string, ...string[]];
    const result = await execa(file, args, {
      env: { ...baseEnv, ...cmd.env, TMPDIR: tmp }, extendEnv: false,
      all: true, reject: false, timeout: timeoutMs, stdin: 'ignore',
    });
    if (!result.failed) return { ok: true, reason: null };
    const why = result.timedOut ? `pip timed out after ${timeoutMs} ms` : `pip failed (${exitSummary(result)})`;
    return { ok: false, reason: redact(`${why}:\n${lastLines(result.all ?? '', 15)}`) };
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

export interface InstallContext {
  env: Record<string, string | undefined>;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  extraArgs: readonly string[];
  tmpRoot: string;
  timeoutMs: number;
}

export type InstallOutcome =
  | { ok: true; version: string | null; elapsedMs: number }
  | { ok: false; reason: string; elapsedMs: number };

/** pip install, then an import in a fresh process; a failure is logged with pip's last lines. */
export async function installPackage(pkg: PackageSpec, setup: PythonSetup, ctx: InstallContext): Promise<InstallOutcome> {
  const t0 = performance.now();
  const cmd = buildInstallCommand(pkg, setup, ctx.extraArgs);
  ctx.log.info({ package: pkg.name, command: cmd.argv.map(redact) }, 'warmup: installing');
  let reason: string;
  try {
    const installed = await runInstall(cmd, ctx.env, ctx.tmpRoot, ctx.timeoutMs);
    const verified = installed.ok ? await verifyImport(pkg, setup, ctx.env) : null;
    if (verified?.ok) return { ok: true, version: verified.version, elapsedMs: Math.round(performance.now() - t0) };
    reason = (verified ?? installed).reason ?? 'install failed';
  } catch (err) {
    // e.g. no writable temp folder: still just this package's failure, not warmup's.
    reason = redact(`install could not run: ${(err as Error).message}`);
  }
  const elapsedMs = Math.round(performance.now() - t0);
  ctx.log.warn({ package: pkg.name, reason }, 'warmup: install failed; carrying on without it');
  return { ok: false, reason, elapsedMs };
}

const VERIFY_SCRIPT = String.raw`
import importlib, importlib.metadata as md, sys
importlib.import_module(sys.argv[1])
try:
    print(md.version(sys.argv[2]))
except md.PackageNotFoundError:
    print("")
`;

/** Imports the package in a fresh interpreter, as the sidecar will; returns its version. */
export async function verifyImport(
  pkg: PackageSpec,
  setup: PythonSetup,
  baseEnv: Record<string, string | undefined>,
): Promise<StepResult & { version: string | null }> {
  const result = await execa(setup.python, ['-c', VERIFY_SCRIPT, pkg.importName, pkg.name], {
    env: { ...baseEnv, ...setup.env }, extendEnv: false, reject: false, timeout: 300_000, stdin: 'ignore',
  });
  if (!result.failed) return { ok: true, reason: null, version: result.stdout.trim().split('\n').pop() || null };
  return { ok: false, reason: redact(`installed but "import ${pkg.importName}" failed:\n${lastLines(result.stderr, 5)}`), version: null };
}

/** The last n non-empty lines of a process's output, capped. */
export function lastLines(text: string, n: number, maxChars = 2000): string {
  const lines = text.split(/\r?\n/).map((l) => l.trimEnd()).filter(Boolean);
  return lines.slice(-n).join('\n').slice(-maxChars);
}

/** How a process ended, without execa's echo of the whole command line. */
export function exitSummary(result: { exitCode?: number; signal?: string; originalMessage?: string }): string {
  if (result.exitCode !== undefined) return `exit code ${result.exitCode}`;
  if (result.signal !== undefined) return `signal ${result.signal}`;
  return result.originalMessage ?? 'did not start';
}

/** Hides credentials in URLs (https://user:token@host) before anything reaches a log or a report. */
export function redact(text: string): string {
  return text.replace(/([a-z][a-z0-9+.-]*:\/\/)[^/\s@]+@/gi, '$1***@');
}
