import type { Metrics } from '../services/metrics.js';
import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.js';
import type { Workers } from '../services/workers.js';
import type { ArtifactStore } from '../store/artifacts.js';
import type { GatewayAligner } from './words.js';

/** What every step of a request's pipeline gets: the services, the request's abort signal, its deadlines. */
export interface StepContext {
  config: Config;
  workers: Workers;
  store: ArtifactStore;
  log: FastifyBaseLogger;
  /** Aborted when the client goes away: queued jobs are dropped, running ones cancelled. */
  signal: AbortSignal;
  /** Milliseconds spent per step, for the answer's timings_ms. */
  timings: Record<string, number>;
  /** The gateway's own aligner (google), where the app has one. */
  google?: GatewayAligner | undefined;
  /** Where the work done is counted (/metrics). */
  metrics?: Metrics | undefined;
  /** Hears each step's progress (a streamed answer, Accept: text/event-stream). */
  progress?: Progress | undefined;
}

/** A step's progress as a streamed answer carries it. */
export type ProgressUpdate =
  | { stage: 'synthesize'; done: number; total: number }
  | { stage: 'decode'; duration: number }
  | { stage: 'align'; aligner: string; done: number; total: number };

export type Progress = (update: ProgressUpdate) => void;

/** Runs one step and records how long it took under `name`. */
export async function timed<T>(ctx: StepContext, name: string, step: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await step();
  } finally {
    ctx.timings[name] = Math.round((performance.now() - started) * 100) / 100;
  }
}

/** A worker job with this request's signal and deadlines. */
export function jobOptions(ctx: StepContext) {
  return { signal: ctx.signal, timeoutMs: ctx.config.requestTimeoutMs, maxMs: ctx.config.requestMaxMs };
}
