/**
 * What the sidecar's Python needs, in priority order. Warmup walks this list top to bottom, so a
 * package's bases (`needs`) come before it: torch and torchaudio first, because pip would
 * otherwise drag in whatever torch build the index offers as a dependency of f5-tts/whisperx, and
 * flash-attn builds against the torch already present (--no-build-isolation).
 */

export interface PackageSpec {
  /** Distribution name, as pip and importlib.metadata know it (also the key in the report). */
  name: string;
  /** Top-level module name, checked with importlib.util.find_spec and imported to verify. */
  importName: string;
  /** What pip installs: a requirement string, a path or a URL. */
  requirement: string;
  /** Capabilities this package serves (f5, whisperx, …). */
  serves: string[];
  /** Required for those capabilities; an optional package only improves them. */
  required: boolean;
  /** Extra pip arguments for this package only. */
  pipArgs: string[];
  /** Extra environment for pip for this package only. */
  pipEnv: Record<string, string>;
  /** Estimated installed size in bytes, dependencies pip pulls in included. */
  estimatedBytes: number;
  /** Names of earlier entries that must be present before this one is installed. */
  needs: string[];
  /** Install only when a CUDA device is visible (a build that cannot succeed without one). */
  needsCuda: boolean;
}

/** Fills the optional fields, so a test or an override can write just what matters. */
export function definePackage(
  spec: Pick<PackageSpec, 'name' | 'importName' | 'serves' | 'estimatedBytes'> & Partial<PackageSpec>,
): PackageSpec {
  return { requirement: spec.name, required: true, pipArgs: [], pipEnv: {}, needs: [], needsCuda: false, ...spec };
}

const MB = 1_000_000;
const GB = 1_000_000_000;

export const DEFAULT_MANIFEST: readonly PackageSpec[] = [
  // torch's CUDA wheels bring ~3 GB of nvidia-* libraries with them.
  definePackage({ name: 'torch', importName: 'torch', serves: ['f5', 'whisperx'], estimatedBytes: 5 * GB }),
  definePackage({ name: 'torchaudio', importName: 'torchaudio', serves: ['f5', 'whisperx'], estimatedBytes: 50 * MB, needs: ['torch'] }),
  definePackage({ name: 'transformers', importName: 'transformers', serves: ['f5', 'whisperx'], estimatedBytes: 150 * MB, needs: ['torch'] }),
  // f5-tts pulls gradio, librosa/numba, datasets/pyarrow, vocos, …
  definePackage({
    name: 'f5-tts', importName: 'f5_tts', serves: ['f5'], estimatedBytes: 1200 * MB,
    needs: ['torch', 'torchaudio', 'transformers'],
  }),
  // Built from source against the platform's CUDA and the torch above, never a prebuilt wheel:
  // --no-binary refuses the index's wheels and FLASH_ATTENTION_FORCE_BUILD stops its setup.py from
  // fetching one from GitHub. The build needs packaging, wheel (and ninja, for speed) present.
  definePackage({
    name: 'flash-attn', importName: 'flash_attn', serves: ['f5'], required: false, estimatedBytes: 1 * GB,
    pipArgs: ['--no-build-isolation', '--no-binary', 'flash-attn'],
    pipEnv: { FLASH_ATTENTION_FORCE_BUILD: 'TRUE' },
    needs: ['torch'], needsCuda: true,
  }),
  // whisperx pulls faster-whisper/ctranslate2, pyannote.audio, onnxruntime, pandas, nltk.
  definePackage({
    name: 'whisperx', importName: 'whisperx', serves: ['whisperx'], estimatedBytes: 1200 * MB,
    needs: ['torch', 'torchaudio', 'transformers'],
  }),
];

/** Problems with a manifest: duplicate names, or a base that is unknown or listed after its dependent. */
export function manifestProblems(manifest: readonly PackageSpec[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const pkg of manifest) {
    if (seen.has(pkg.name)) problems.push(`${pkg.name} is listed twice`);
    for (const base of pkg.needs) {
      if (!seen.has(base)) problems.push(`${pkg.name} needs ${base}, which must be listed before it`);
    }
    if (!(pkg.estimatedBytes >= 0)) problems.push(`${pkg.name} has no size estimate`);
    seen.add(pkg.name);
  }
  return problems;
}
