import { access, constants, readdir, stat } from 'node:fs/promises';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { z } from 'zod';
import { exitSummary, lastLines } from './install.js';
import type { PackageSpec } from './manifest.js';

/**
 * One Python process answers for the whole manifest: find_spec locates a module without running
 * it and importlib.metadata reads versions from dist-info files, so nothing heavy (torch, CUDA)
 * is imported and the probe costs about one interpreter start. Keep this script standard-library
 * only; it runs with exactly the python and PYTHONPATH the sidecar gets.
 */
const PROBE_SCRIPT = String.raw`
import ctypes.util, importlib.metadata as md, importlib.util, json, os, sys, sysconfig
out = {"version": sys.version.split()[0], "executable": sys.executable,
       "purelib": sysconfig.get_path("purelib"), "espeak": None, "packages": {}}
for name, mod in json.loads(sys.argv[1]):
    entry = {"present": False, "version": None, "location": None, "copies": 0}
    try:
        spec = importlib.util.find_spec(mod)
    except Exception as exc:
        spec = None
        entry["error"] = "%s: %s" % (type(exc).__name__, exc)
    if spec is not None:
        entry["present"] = True
        entry["location"] = spec.origin or next(iter(spec.submodule_search_locations or []), None)
    try:
        entry["version"] = md.version(name)
    except md.PackageNotFoundError:
        pass
    entry["copies"] = sum(1 for _ in md.distributions(name=name))
    out["packages"][name] = entry
try:  # the sidecar's override first, then the system's library search; loading it is cheap
    lib = os.environ.get("VOICECUE_ESPEAK_LIB") or ctypes.util.find_library("espeak-ng")
    if lib:
        ctypes.CDLL(lib)
        out["espeak"] = lib
except Exception:
    pass
print(json.dumps(out))
`;

const probeEntry = z.object({
  present: z.boolean(),
  version: z.string().nullable(),
  location: z.string().nullable(),
  copies: z.number(),
  error: z.string().optional(),
});
const probeOutput = z.object({
  version: z.string(),
  executable: z.string(),
  purelib: z.string(),
  espeak: z.string().nullable(),
  packages: z.record(z.string(), probeEntry),
});
export type ProbeResult = z.infer<typeof probeOutput>;
export type ProbeEntry = z.infer<typeof probeEntry>;

/** Runs the probe; throws with a short message when Python is missing or misbehaves. */
export async function probePython(
  python: string,
  env: Record<string, string | undefined>,
  manifest: readonly PackageSpec[],
): Promise<ProbeResult> {
  const pairs = manifest.map((pkg) => [pkg.name, pkg.importName]);
  const result = await execa(python, ['-c', PROBE_SCRIPT, JSON.stringify(pairs)], {
    env, extendEnv: false, reject: false, timeout: 30_000, stdin: 'ignore',
  });
  if (result.failed) {
    const tail = lastLines(result.stderr, 5);
    const how = result.timedOut ? 'timed out' : exitSummary(result);
    throw new Error(`python probe with ${python} failed (${how})${tail ? `: ${tail}` : ''}`);
  }
  // The last line is ours; a sitecustomize that prints must not break the probe.
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return probeOutput.parse(JSON.parse(line));
  } catch {
    throw new Error(`python probe gave unreadable output: ${line.slice(0, 200)}`);
  }
}

export interface SystemChecks {
  /** The sidecar's espeak engine loads libespeak-ng through ctypes (VOICECUE_ESPEAK_LIB, else the system's); checked the same way. */
  espeakNg: { found: boolean; library: string | null };
  ffmpeg: { found: boolean; path: string | null };
  cuda: CudaVisibility;
}

export interface CudaVisibility {
  visible: boolean;
  devices: string[];
  /** /proc/driver/nvidia/version exists: the NVIDIA kernel driver is loaded. */
  driver: boolean;
  nvidiaSmi: string | null;
  cudaVisibleDevices: string | null;
  reason: string | null;
}

/** Checked and reported, never installed: these come from the image or the node. `espeak` is the probe's answer. */
export async function checkSystem(env: Record<string, string | undefined>, espeak: string | null): Promise<SystemChecks> {
  const [ffmpeg, nvidiaSmi, devices, driver] = await Promise.all([
    which('ffmpeg', env.PATH),
    which('nvidia-smi', env.PATH),
    readdir('/dev').then((names) => names.filter((n) => /^nvidia\d+$/.test(n)).sort().map((n) => `/dev/${n}`), () => []),
    access('/proc/driver/nvidia/version').then(() => true, () => false),
  ]);
  return {
    espeakNg: { found: espeak !== null, library: espeak },
    ffmpeg: { found: ffmpeg !== null, path: ffmpeg },
    cuda: cudaVisibility({ devices, driver, nvidiaSmi, cudaVisibleDevices: env.CUDA_VISIBLE_DEVICES ?? null }),
  };
}

/** The sidecar's rule (worker-py detect.cuda_reason), pure so it is testable without a GPU. */
export function cudaVisibility(seen: Omit<CudaVisibility, 'visible' | 'reason'>): CudaVisibility {
  const hidden = seen.cudaVisibleDevices;
  let reason: string | null = null;
  if (hidden !== null && ['', '-1', 'none', 'NoDevFiles'].includes(hidden.trim())) {
    reason = `CUDA_VISIBLE_DEVICES=${JSON.stringify(hidden)} hides every GPU`;
  } else if (!seen.driver && seen.devices.length === 0) {
    reason = 'no CUDA device found (no NVIDIA driver or /dev/nvidia* device)';
  }
  return { visible: reason === null, ...seen, reason };
}

async function which(command: string, path: string | undefined): Promise<string | null> {
  for (const dir of (path ?? '').split(delimiter).filter(Boolean)) {
    const candidate = join(dir, command);
    try {
      await access(candidate, constants.X_OK);
      if ((await stat(candidate)).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}
