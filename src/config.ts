import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/** The repository root, found from this file (src/config.ts or dist/src/config.js). */
const parent = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const ROOT_DIR = basename(parent) === 'dist' ? resolve(parent, '..') : parent;

/** An eSpeak NG voice as clients name it: en-us, gmw/en-US, en-us+f3. Never a path. */
export const VOICE_NAME = /^(?!.*\.\.)[A-Za-z0-9][\w+./-]{0,63}$/;

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
/**
 * One CPU worker per core the process may use: the cores it sees, or fewer where a cgroup quota
 * (a Kubernetes CPU limit) allows less, so a pod limited to 2 CPUs on a 64-core node starts 2.
 */
export function defaultCpuWorkers(cpuMax = readCpuMax()): number {
  const cores = availableParallelism();
  const [quota, period] = cpuMax?.trim().split(/\s+/) ?? [];
  const limit = quota && quota !== 'max' && Number(period) > 0 ? Math.ceil(Number(quota) / Number(period)) : Infinity;
  return Math.max(1, Math.min(cores, Number.isFinite(limit) ? limit : cores));
}

function readCpuMax(): string | undefined {
  try {
    return readFileSync('/sys/fs/cgroup/cpu.max', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The worker's interpreter: the project's .venv, which scripts/setup.mjs fills with the worker's
 * packages (numpy, for the dtw aligner), when it exists; else python3.
 */
function defaultPython(): string {
  const venv = resolve(ROOT_DIR, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

/** Node timers overflow past 2^31-1 ms (about 24.8 days) and then fire at once. */
const seconds = (min = 0.001) => z.coerce.number().min(min).max(2_000_000);

/**
 * Every voicecue setting, the environment variable that sets it and its default. Nothing else
 * reads VOICECUE_* variables; tools' own variables (PATH, HF_HOME, PIP_*) reach warmup and the
 * worker as they are.
 */
const schema = z.object({
  HOST: z.string().min(1).default('0.0.0.0'),
  PORT: int(0, 65535).default(8080),
  VOICECUE_DATA_DIR: z.string().min(1).default(resolve(ROOT_DIR, 'data')),
  VOICECUE_PYTHON: z.string().min(1).default(defaultPython()),
  VOICECUE_WORKER_DIR: z.string().min(1).default(resolve(ROOT_DIR, 'worker-py')),
  VOICECUE_DEFAULT_ENGINE: z.enum(['espeak', 'f5']).default('espeak'),
  VOICECUE_DEFAULT_VOICE: z.string().regex(VOICE_NAME).default('en-us'),
  VOICECUE_MAX_TEXT_CHARS: int(1, 1_000_000).default(20_000),
  VOICECUE_MAX_AUDIO_S: seconds(1).default(1800),
  VOICECUE_MAX_UPLOAD_BYTES: int(1024, 8 * 1024 ** 3).default(256 * 1024 ** 2),
  VOICECUE_MAX_ALIGN_S: seconds(1).default(7200),
  VOICECUE_MAX_ALIGN_TEXT_CHARS: int(1, 10_000_000).default(200_000),
  VOICECUE_OPENAI_MAX_INPUT: int(1, 1_000_000).default(4096),
  VOICECUE_OPENAI_VOICES: z.string().optional(),
  VOICECUE_OPENAI_MODELS: z.string().optional(),
  VOICECUE_MAX_WORKER_S: seconds(1).default(600),
  VOICECUE_BODY_LIMIT_BYTES: int(1024, 1024 ** 3).default(1024 * 1024),
  VOICECUE_BODY_TIMEOUT_S: seconds(1).default(10),
  VOICECUE_MAX_CONNECTIONS: int(16, 1_000_000).default(2048),
  VOICECUE_MAX_CONNECTIONS_PER_CLIENT: int(1, 1_000_000).default(256),
  VOICECUE_REQUEST_TIMEOUT_S: seconds().default(120),
  VOICECUE_REQUEST_MAX_S: seconds().default(1800),
  VOICECUE_SIDECAR_START_TIMEOUT_S: seconds().default(60),
  VOICECUE_CPU_WORKERS: int(1, 256).default(defaultCpuWorkers()),
  VOICECUE_GPU_WORKERS: int(0, 16).default(1),
  VOICECUE_PING_INTERVAL_S: seconds(0.01).default(1),
  VOICECUE_PING_TIMEOUT_S: seconds(0.01).default(4),
  VOICECUE_MAX_QUEUE: int(0, 100_000).default(64),
  VOICECUE_RESTART_BACKOFF_MS: int(10, 60_000).default(200),
  VOICECUE_RESTART_BACKOFF_MAX_MS: int(10, 600_000).default(10_000),
  VOICECUE_SHUTDOWN_GRACE_S: seconds().default(10),
  VOICECUE_ARTIFACT_TTL_S: seconds(60).default(24 * 3600),
  VOICECUE_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  VOICECUE_INSTALL_MODE: z.enum(['never', 'missing']).default('never'),
  VOICECUE_INSTALL_TARGET: z.string().min(1).optional(),
  VOICECUE_DISK_MARGIN_MB: int(0, 1024 * 1024).default(1024),
  VOICECUE_DISK_QUOTA_MB: int(0, 1024 * 1024 * 1024).default(0),
  VOICECUE_MIN_FREE_MB: int(0, 1024 * 1024).default(256),
  VOICECUE_API_KEYS: z.string().optional().superRefine((value, ctx) => {
    const problem = apiKeysProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  VOICECUE_API_KEYS_FILE: z.string().min(1).optional(),
  VOICECUE_RATE_LIMIT: int(0, 1_000_000_000).default(600),
  VOICECUE_RATE_WINDOW_S: seconds(1).default(60),
  VOICECUE_METRICS_OPEN: z.enum(['true', 'false']).default('false'),
  VOICECUE_MAX_VOICES: int(0, 100_000).default(500),
  // whisperx (GPU lane): align model per language, how many languages stay loaded, the torch device.
  VOICECUE_ALIGN_MODELS: z.string().optional().superRefine((value, ctx) => {
    const problem = alignModelsProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  VOICECUE_ALIGN_CACHE: int(1, 64).default(2),
  VOICECUE_ALIGN_MODEL_DIR: z.string().min(1).optional(),
  VOICECUE_PUNKT_FALLBACK: z.enum(['minimal', 'none']).default('minimal'),
  VOICECUE_DEVICE: z.string().regex(/^(auto|cpu|cuda(:\d+)?)$/, 'must be auto, cpu, cuda or cuda:N').default('auto'),
  // google (gateway): credentials from one of three places, and bounds on each call.
  VOICECUE_GOOGLE_CREDENTIALS: z.string().optional(),
  GOOGLE_CREDENTIALS_JSON: z.string().optional(),
  VOICECUE_GOOGLE_CREDENTIALS_FILE: z.string().min(1).optional(),
  GOOGLE_APPLICATION_CREDENTIALS: z.string().min(1).optional(),
  VOICECUE_GOOGLE_TIMEOUT_S: seconds(1).default(30),
  VOICECUE_GOOGLE_RETRIES: int(0, 10).default(2),
  VOICECUE_GOOGLE_CONCURRENCY: int(1, 32).default(4),
}).refine((c) => c.VOICECUE_RESTART_BACKOFF_MAX_MS >= c.VOICECUE_RESTART_BACKOFF_MS, {
  path: ['VOICECUE_RESTART_BACKOFF_MAX_MS'],
  message: 'must be at least VOICECUE_RESTART_BACKOFF_MS',
}).refine((c) => c.VOICECUE_REQUEST_MAX_S >= c.VOICECUE_REQUEST_TIMEOUT_S, {
  path: ['VOICECUE_REQUEST_MAX_S'],
  message: 'must be at least VOICECUE_REQUEST_TIMEOUT_S',
});

export interface Config {
  host: string;
  port: number;
  dataDir: string;
  python: string;
  workerDir: string;
  defaultEngine: 'espeak' | 'f5';
  defaultVoice: string;
  maxTextChars: number;
  /** POST /v1/audio/speech: the longest `input` (never past maxTextChars), OpenAI's voice names and models. */
  openai: OpenAIConfig;
  /** One request's budget: seconds of audio it may produce, seconds of worker time it may take. */
  maxAudioS: number;
  maxWorkerS: number;
  /** POST /align: the largest audio upload, its longest duration, its longest transcript. */
  align: { maxUploadBytes: number; maxAudioS: number; maxTextChars: number };
  bodyLimitBytes: number;
  /** A request's headers and body must arrive within this: a body trickled byte by byte is cut. */
  bodyTimeoutMs: number;
  maxConnections: number;
  maxConnectionsPerClient: number;
  /** A job's deadline from enqueue, reset by each progress event... */
  requestTimeoutMs: number;
  /** ...up to this hard cap. */
  requestMaxMs: number;
  sidecarStartTimeoutMs: number;
  cpuWorkers: number;
  /** 0 turns the GPU lane (f5, whisperx) off. */
  gpuWorkers: number;
  /** A busy worker is pinged this often and replaced when a pong takes longer than the timeout. */
  pingIntervalMs: number;
  pingTimeoutMs: number;
  maxQueue: number;
  restartBackoffMs: number;
  restartBackoffMaxMs: number;
  shutdownGraceMs: number;
  artifactTtlMs: number;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  installMode: 'never' | 'missing';
  installTarget: string | undefined;
  diskMarginBytes: number;
  /** Published results beyond this many bytes are evicted oldest first (on top of the TTL); 0: no quota. */
  diskQuotaBytes: number;
  /** Below this much free space on the data volume a job is refused with 507 before it writes anything. */
  minFreeBytes: number;
  /**
   * SHA-256 hex digests of the API keys (VOICECUE_API_KEYS hashed, plus VOICECUE_API_KEYS_FILE's
   * lines); never a key in clear. Empty: no key is needed.
   */
  apiKeyDigests: string[];
  /** Requests per window and client (its key, else its IP); 0 turns the limit off. */
  rateLimit: number;
  rateWindowMs: number;
  /** /metrics without a key even when keys are set (a scraper inside the cluster). */
  metricsOpen: boolean;
  /** Stored voices (POST /voices) the library holds at most. */
  maxVoices: number;
  /** VOICECUE_ALIGN_MODELS as given (a JSON object of language -> model), passed to the GPU workers. */
  alignModels: string | undefined;
  alignCache: number;
  /** whisperx's model_dir: where its default align models are cached. */
  alignModelDir: string | undefined;
  /** Without punkt_tab data for a language: build a minimal model (word times are the same) or refuse it. */
  punktFallback: 'minimal' | 'none';
  device: string;
  google: GoogleConfig;
}

/** A secret kept out of logs and JSON: `reveal()` is the only way to read it. */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '(hidden)';
  }
  toString(): string {
    return '(hidden)';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret(hidden)';
  }
}

/** Where the google aligner's credentials come from, first found wins; null: none set (google is off). */
export type GoogleCredentialSource =
  | { from: 'VOICECUE_GOOGLE_CREDENTIALS' | 'GOOGLE_CREDENTIALS_JSON'; json: Secret }
  | { from: 'VOICECUE_GOOGLE_CREDENTIALS_FILE' | 'GOOGLE_APPLICATION_CREDENTIALS'; file: string };

export interface GoogleConfig {
  credentials: GoogleCredentialSource | null;
  /** One recognize call's deadline, and how many times a call that failed for a passing reason is tried again. */
  timeoutMs: number;
  retries: number;
  /** Pieces of one long audio recognised at once. */
  concurrency: number;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment; a bad variable throws a ConfigError that names it and says why. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const known = Object.fromEntries(
    Object.keys(schema.def.shape ?? {}).flatMap((key) => (env[key] === undefined || env[key] === '' ? [] : [[key, env[key]]])),
  );
  const parsed = schema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = String(issue.path[0]);
      return `${name}=${SECRET_VARIABLES.has(name) ? '(hidden)' : JSON.stringify(env[name])}: ${issue.message}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  }
  const c = parsed.data;
  return {
    host: c.HOST,
    port: c.PORT,
    dataDir: resolve(c.VOICECUE_DATA_DIR),
    python: c.VOICECUE_PYTHON,
    workerDir: resolve(c.VOICECUE_WORKER_DIR),
    defaultEngine: c.VOICECUE_DEFAULT_ENGINE,
    defaultVoice: c.VOICECUE_DEFAULT_VOICE,
    maxTextChars: c.VOICECUE_MAX_TEXT_CHARS,
    openai: openaiConfig(c.VOICECUE_OPENAI_MAX_INPUT, c.VOICECUE_MAX_TEXT_CHARS, c.VOICECUE_OPENAI_VOICES, c.VOICECUE_OPENAI_MODELS, c.VOICECUE_GPU_WORKERS),
    maxAudioS: c.VOICECUE_MAX_AUDIO_S,
    maxWorkerS: c.VOICECUE_MAX_WORKER_S,
    align: { maxUploadBytes: c.VOICECUE_MAX_UPLOAD_BYTES, maxAudioS: c.VOICECUE_MAX_ALIGN_S, maxTextChars: c.VOICECUE_MAX_ALIGN_TEXT_CHARS },
    bodyLimitBytes: c.VOICECUE_BODY_LIMIT_BYTES,
    bodyTimeoutMs: Math.round(c.VOICECUE_BODY_TIMEOUT_S * 1000),
    maxConnections: c.VOICECUE_MAX_CONNECTIONS,
    maxConnectionsPerClient: c.VOICECUE_MAX_CONNECTIONS_PER_CLIENT,
    requestTimeoutMs: Math.round(c.VOICECUE_REQUEST_TIMEOUT_S * 1000),
    requestMaxMs: Math.round(c.VOICECUE_REQUEST_MAX_S * 1000),
    sidecarStartTimeoutMs: Math.round(c.VOICECUE_SIDECAR_START_TIMEOUT_S * 1000),
    cpuWorkers: c.VOICECUE_CPU_WORKERS,
    gpuWorkers: c.VOICECUE_GPU_WORKERS,
    pingIntervalMs: Math.round(c.VOICECUE_PING_INTERVAL_S * 1000),
    pingTimeoutMs: Math.round(c.VOICECUE_PING_TIMEOUT_S * 1000),
    maxQueue: c.VOICECUE_MAX_QUEUE,
    restartBackoffMs: c.VOICECUE_RESTART_BACKOFF_MS,
    restartBackoffMaxMs: c.VOICECUE_RESTART_BACKOFF_MAX_MS,
    shutdownGraceMs: Math.round(c.VOICECUE_SHUTDOWN_GRACE_S * 1000),
    artifactTtlMs: Math.round(c.VOICECUE_ARTIFACT_TTL_S * 1000),
    logLevel: c.VOICECUE_LOG_LEVEL,
    installMode: c.VOICECUE_INSTALL_MODE,
    installTarget: c.VOICECUE_INSTALL_TARGET ? resolve(c.VOICECUE_INSTALL_TARGET) : undefined,
    diskMarginBytes: c.VOICECUE_DISK_MARGIN_MB * 1024 * 1024,
    diskQuotaBytes: c.VOICECUE_DISK_QUOTA_MB * 1024 * 1024,
    minFreeBytes: c.VOICECUE_MIN_FREE_MB * 1024 * 1024,
    apiKeyDigests: [...new Set([...splitKeys(c.VOICECUE_API_KEYS).map(sha256Hex), ...readKeyDigests(c.VOICECUE_API_KEYS_FILE)])],
    rateLimit: c.VOICECUE_RATE_LIMIT,
    rateWindowMs: Math.round(c.VOICECUE_RATE_WINDOW_S * 1000),
    metricsOpen: c.VOICECUE_METRICS_OPEN === 'true',
    maxVoices: c.VOICECUE_MAX_VOICES,
    alignModels: c.VOICECUE_ALIGN_MODELS,
    alignCache: c.VOICECUE_ALIGN_CACHE,
    alignModelDir: c.VOICECUE_ALIGN_MODEL_DIR ? resolve(c.VOICECUE_ALIGN_MODEL_DIR) : undefined,
    punktFallback: c.VOICECUE_PUNKT_FALLBACK,
    device: c.VOICECUE_DEVICE,
    google: {
      credentials: googleSource(c),
      timeoutMs: Math.round(c.VOICECUE_GOOGLE_TIMEOUT_S * 1000),
      retries: c.VOICECUE_GOOGLE_RETRIES,
      concurrency: c.VOICECUE_GOOGLE_CONCURRENCY,
    },
  };
}

export interface OpenAIConfig {
  maxInput: number;
  /** An OpenAI voice name (alloy, nova, ...) to the eSpeak NG voice that speaks for it. */
  voices: Record<string, string>;
  /** An OpenAI model name to the engine that serves it (espeak and f5 also by their own names). */
  models: Record<string, 'espeak' | 'f5'>;
}

/** OpenAI's voices as eSpeak NG voices: American English, with variants for the female and male voices. */
export const OPENAI_VOICES: Readonly<Record<string, string>> = {
  alloy: 'en-us', ash: 'en-us+m3', ballad: 'en-gb+m1', coral: 'en-us+f2', echo: 'en-us+m2', fable: 'en-gb',
  nova: 'en-us+f3', onyx: 'en-us+m7', sage: 'en-us+f4', shimmer: 'en-us+f1', verse: 'en-us+m5', marin: 'en-us+f5', cedar: 'en-us+m6',
};

function openaiConfig(maxInput: number, maxText: number, voicesJson: string | undefined, modelsJson: string | undefined, gpuWorkers: number): OpenAIConfig {
  const json = (name: string, value: string, check: z.ZodType) => {
    let parsed: unknown;
    try {
      parsed = JSON.parse(value);
    } catch {
      throw new ConfigError(`invalid configuration: ${name}: not valid JSON`);
    }
    const result = check.safeParse(parsed);
    if (!result.success) throw new ConfigError(`invalid configuration: ${name}: ${result.error.issues[0]!.path.join('.') || 'value'} ${result.error.issues[0]!.message}`);
    return result.data as Record<string, string>;
  };
  const voices = voicesJson
    ? json('VOICECUE_OPENAI_VOICES', voicesJson, z.record(z.string().min(1).max(64), z.string().regex(VOICE_NAME, 'must be an eSpeak NG voice such as en-us+f3')))
    : {};
  const models = modelsJson ? json('VOICECUE_OPENAI_MODELS', modelsJson, z.record(z.string().min(1).max(64), z.enum(['espeak', 'f5']))) : {};
  // The "hd" and instruction-following models get F5 where a GPU lane runs it.
  const better = gpuWorkers > 0 ? 'f5' : 'espeak';
  return {
    maxInput: Math.min(maxInput, maxText),
    voices: { ...OPENAI_VOICES, ...voices },
    models: { 'tts-1': 'espeak', 'tts-1-hd': better, 'gpt-4o-mini-tts': better, ...models, espeak: 'espeak', f5: 'f5' } as OpenAIConfig['models'],
  };
}

/** Variables whose values a ConfigError never repeats. */
const SECRET_VARIABLES = new Set(['VOICECUE_API_KEYS', 'VOICECUE_GOOGLE_CREDENTIALS', 'GOOGLE_CREDENTIALS_JSON']);

function googleSource(c: {
  VOICECUE_GOOGLE_CREDENTIALS?: string | undefined; GOOGLE_CREDENTIALS_JSON?: string | undefined;
  VOICECUE_GOOGLE_CREDENTIALS_FILE?: string | undefined; GOOGLE_APPLICATION_CREDENTIALS?: string | undefined;
}): GoogleCredentialSource | null {
  if (c.VOICECUE_GOOGLE_CREDENTIALS) return { from: 'VOICECUE_GOOGLE_CREDENTIALS', json: new Secret(c.VOICECUE_GOOGLE_CREDENTIALS) };
  if (c.GOOGLE_CREDENTIALS_JSON) return { from: 'GOOGLE_CREDENTIALS_JSON', json: new Secret(c.GOOGLE_CREDENTIALS_JSON) };
  if (c.VOICECUE_GOOGLE_CREDENTIALS_FILE) return { from: 'VOICECUE_GOOGLE_CREDENTIALS_FILE', file: resolve(c.VOICECUE_GOOGLE_CREDENTIALS_FILE) };
  if (c.GOOGLE_APPLICATION_CREDENTIALS) return { from: 'GOOGLE_APPLICATION_CREDENTIALS', file: resolve(c.GOOGLE_APPLICATION_CREDENTIALS) };
  return null;
}

/** What is wrong with VOICECUE_ALIGN_MODELS: a JSON object of language code -> model name or folder. */
function alignModelsProblem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    return 'must be a JSON object such as {"en": "/models/wav2vec2-en"}';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'must be a JSON object of language -> model';
  for (const [lang, model] of Object.entries(parsed)) {
    if (!/^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$/.test(lang)) return `${JSON.stringify(lang)} is not a language code`;
    if (typeof model !== 'string' || !model) return `the model for ${lang} must be a non-empty string`;
  }
  return undefined;
}

/** A key must fit in `Authorization: Bearer <key>` (RFC 6750's b64token) and be long enough not to be guessed. */
const API_KEY = /^[A-Za-z0-9._~+/-]+=*$/;
const API_KEY_MIN_CHARS = 16;
const SHA256_HEX = /^[0-9a-f]{64}$/i;

const splitKeys = (value: string | undefined): string[] => (value ?? '').split(',').map((k) => k.trim()).filter(Boolean);
const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** What is wrong with VOICECUE_API_KEYS, without repeating any key. */
function apiKeysProblem(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const keys = splitKeys(value);
  if (keys.length === 0) return 'no key in it (comma-separated keys; unset it to run without keys)';
  const bad = keys.findIndex((key) => !API_KEY.test(key) || key.length < API_KEY_MIN_CHARS);
  if (bad === -1) return undefined;
  return `key ${bad + 1} of ${keys.length} must be at least ${API_KEY_MIN_CHARS} characters of A-Z a-z 0-9 - . _ ~ + / (then = padding only)`;
}

/**
 * VOICECUE_API_KEYS_FILE: one SHA-256 hex digest of a key per line (`node scripts/hash-key.mjs`),
 * blank lines and `#` comments allowed. Read once, at start: a file that cannot be read, a line
 * that is not a digest, or a file with no digest at all (which would leave the service open)
 * stops the start. A bad line is named by its number only: it may be a key pasted in clear.
 */
export function readKeyDigests(path: string | undefined): string[] {
  if (path === undefined) return [];
  const fail = (why: string): never => {
    throw new ConfigError(`invalid configuration: VOICECUE_API_KEYS_FILE=${JSON.stringify(path)}: ${why}`);
  };
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    fail(`cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const digests: string[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    if (!SHA256_HEX.test(line)) fail(`line ${i + 1} is not a SHA-256 hex digest (64 hex digits; hash a key with scripts/hash-key.mjs)`);
    digests.push(line.toLowerCase());
  });
  if (digests.length === 0) fail('holds no key digest (unset it to run without keys)');
  return digests;
}
