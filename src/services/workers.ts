import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';
import { Lane, type Capability, type LaneOptions, type ReadyInfo } from '../lanes/index.js';
import { prepareInstallTarget, type PythonSetup } from '../warmup/index.js';

export type LaneName = 'cpu' | 'gpu';

/** Where each engine and aligner runs; the worker of that lane reports whether it can. */
export const ENGINE_LANES = { espeak: 'cpu', f5: 'gpu' } as const satisfies Record<string, LaneName>;
export const ALIGNER_LANES = { native: 'cpu', whisperx: 'gpu', pocketsphinx: 'cpu', dtw: 'cpu' } as const satisfies Record<string, LaneName>;
export type EngineName = keyof typeof ENGINE_LANES;
export type AlignerName = keyof typeof ALIGNER_LANES;

/** What a lane is started with, beyond the config: tests swap the worker command or its env. */
export interface WorkerOverrides {
  command?: string;
  args?: (lane: LaneName) => string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  lane?: Partial<LaneOptions>;
  /** Start the lanes when the app is ready (default); false leaves it to whoever calls start(). */
  autoStart?: boolean;
}

/**
 * The router in front of the lanes: picks the lane by engine or aligner, merges what the lanes
 * report for /health, and starts and stops them together.
 */
export class Workers {
  readonly lanes: Partial<Record<LaneName, Lane>>;
  private started: Promise<void> | undefined;

  constructor(lanes: Partial<Record<LaneName, Lane>>, private readonly defaultEngine: EngineName) {
    this.lanes = lanes;
  }

  /** Starts every lane; resolves once each has a ready worker (never rejects). Idempotent. */
  start(): Promise<void> {
    this.started ??= Promise.all(Object.values(this.lanes).map((lane) => lane.start())).then(() => undefined);
    return this.started;
  }

  async stop(): Promise<void> {
    await Promise.all(Object.values(this.lanes).map((lane) => lane.stop()));
  }

  laneFor(kind: 'engine', name: EngineName): Lane;
  laneFor(kind: 'aligner', name: AlignerName): Lane;
  laneFor(kind: Kind, name: string): Lane {
    const laneName = laneOf(kind, name);
    const lane = laneName && this.lanes[laneName];
    if (!lane) throw new ApiError('ENGINE_UNAVAILABLE', laneName ? offReason(name, laneName) : `no such ${kind}: ${name}`);
    return lane;
  }

  /** What is known of an engine or aligner now: the worker's own report, or why there is none. */
  capability(kind: Kind, name: string): Capability {
    const laneName = laneOf(kind, name);
    const lane = laneName ? this.lanes[laneName] : undefined;
    if (!laneName) return { available: false, reason: `no such ${kind}`, lane: 'none', batch: 1 };
    if (!lane) return { available: false, reason: offReason(name, laneName), lane: laneName, batch: 1 };
    const info = lane.info;
    const reported = info ? (kind === 'engine' ? info.engines : info.aligners)[name] : undefined;
    if (reported) return reported;
    const reason = info ? `the ${laneName} worker does not serve ${name}` : `the ${laneName} lane is not ready: ${lane.status().reason}`;
    return { available: false, reason, lane: laneName, batch: 1 };
  }

  /** Every engine and aligner voicecue knows, with what its lane reports. */
  capabilities(): { engines: Record<string, Capability>; aligners: Record<string, Capability> } {
    const all = (kind: Kind, names: string[]) => Object.fromEntries(names.map((n) => [n, this.capability(kind, n)]));
    return { engines: all('engine', Object.keys(ENGINE_LANES)), aligners: all('aligner', Object.keys(ALIGNER_LANES)) };
  }

  /** The default engine's lane: it must be ready for the service to be. */
  get mainLane(): Lane {
    return this.laneFor('engine', this.defaultEngine);
  }

  /** Changes when any lane's state or capabilities may have: a cache key for /health. */
  get version(): string {
    return Object.values(this.lanes).map((lane) => `${lane.changes}:${lane.state}`).join(',');
  }

  versions(): ReadyInfo['versions'] {
    return Object.assign({}, ...Object.values(this.lanes).map((lane) => lane.info?.versions ?? {}));
  }
}

type Kind = 'engine' | 'aligner';

function laneOf(kind: Kind, name: string): LaneName | undefined {
  const table: Record<string, LaneName> = kind === 'engine' ? ENGINE_LANES : ALIGNER_LANES;
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

function offReason(name: string, lane: LaneName): string {
  return `${name} runs in the ${lane} lane, which is off (VOICECUE_${lane.toUpperCase()}_WORKERS=0)`;
}

declare module 'fastify' {
  interface FastifyInstance {
    workers: Workers;
  }
}

/** One lane per kind of worker; the GPU lane only when VOICECUE_GPU_WORKERS > 0. */
export function createWorkers(config: Config, python: Pick<PythonSetup, 'python' | 'env'>, log: FastifyInstance['log'], overrides: WorkerOverrides = {}): Workers {
  const make = (name: LaneName, workers: number) =>
    new Lane({
      name,
      workers,
      command: overrides.command ?? python.python,
      args: overrides.args?.(name) ?? ['-m', 'voicecue_worker', '--lane', name],
      cwd: overrides.cwd ?? config.workerDir,
      env: {
        ...python.env,
        ...overrides.env,
        VOICECUE_DATA_DIR: config.dataDir,
        VOICECUE_MAX_TEXT_CHARS: String(config.maxTextChars),
        VOICECUE_MAX_ALIGN_TEXT_CHARS: String(config.align.maxTextChars),
        PYTHONUNBUFFERED: '1',
        VOICECUE_ALIGN_MODELS: config.alignModels,
        VOICECUE_ALIGN_CACHE: String(config.alignCache),
        VOICECUE_ALIGN_MODEL_DIR: config.alignModelDir,
        VOICECUE_PUNKT_FALLBACK: config.punktFallback,
        VOICECUE_DEVICE: config.device,
        // The workers never talk to Google: the cloud credentials stay with the gateway.
        GOOGLE_CREDENTIALS_JSON: undefined,
        GOOGLE_APPLICATION_CREDENTIALS: undefined,
        VOICECUE_GOOGLE_CREDENTIALS: undefined,
        VOICECUE_GOOGLE_CREDENTIALS_FILE: undefined,
      },
      maxQueue: config.maxQueue,
      startTimeoutMs: config.sidecarStartTimeoutMs,
      backoffMs: config.restartBackoffMs,
      backoffMaxMs: config.restartBackoffMaxMs,
      pingIntervalMs: config.pingIntervalMs,
      pingTimeoutMs: config.pingTimeoutMs,
      log: log.child({ lane: name }),
      ...overrides.lane,
    });
  const lanes: Partial<Record<LaneName, Lane>> = { cpu: make('cpu', config.cpuWorkers) };
  if (config.gpuWorkers > 0) lanes.gpu = make('gpu', config.gpuWorkers);
  return new Workers(lanes, config.defaultEngine);
}

/** The lanes as a service: decorated as `app.workers`, stopped when the app closes. */
export default fp(
  async (app: FastifyInstance, opts: { config: Config; workers?: WorkerOverrides }) => {
    // The install target (a venv on a volume) decides which python the workers run.
    const python = await prepareInstallTarget(opts.config, process.env, app.log.child({ component: 'warmup' }));
    const workers = createWorkers(opts.config, python, app.log, opts.workers);
    app.decorate('workers', workers);
    // Last, after the server stopped taking requests and those in flight were answered.
    app.addHook('onClose', () => workers.stop());
    // With installs allowed the workers must see what warmup installs: warmup starts them.
    if (opts.workers?.autoStart !== false && opts.config.installMode === 'never') void workers.start();
  },
  { name: 'workers' },
);
