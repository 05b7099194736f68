/**
 * The gateway's one written definition of the worker protocol: JSON objects, one a line, both
 * ways (DESIGN.md, "The worker protocol"). worker-py/voicecue_worker/protocol.py is the worker's
 * side of the same table; the contract test holds every real reply to the schemas below.
 */
import { z } from 'zod';
import { ApiError, isErrorCode } from '../errors.js';

export const PROTOCOL_VERSION = 1;

/** The codes a worker may put in an error reply. */
export const WORKER_ERROR_CODES = [
  'PARSE_ERROR',
  'INVALID_REQUEST',
  'METHOD_NOT_FOUND',
  'INVALID_PARAMS',
  'ENGINE_UNAVAILABLE',
  'UNKNOWN_VOICE',
  'NO_SPEECH',
  'ENGINE_FAILED',
  'CANCELLED',
  'BUDGET_EXCEEDED',
  'INTERNAL',
] as const;
export type WorkerErrorCode = (typeof WORKER_ERROR_CODES)[number];

// ---------------------------------------------------------------- ready / capabilities

/** What one engine or aligner can do; workers may add more facts (voices, kind, ...). */
export const capabilitySchema = z.looseObject({
  available: z.boolean(),
  reason: z.string().optional(),
  lane: z.string(),
  languages: z.array(z.string()).nullable().optional(),
  sample_rate: z.number().int().positive().optional(),
  /** Jobs for this engine/aligner one worker may run at once. */
  batch: z.number().int().positive(),
});
export type Capability = z.infer<typeof capabilitySchema>;
/** The old name (src/sidecar/protocol.ts) of the same thing. */
export type Availability = Capability;

/** The ready event's body, which is also the `capabilities` result. */
export const readyInfoSchema = z.object({
  pid: z.number().int().positive(),
  lane: z.enum(['cpu', 'gpu']),
  protocol: z.literal(PROTOCOL_VERSION),
  methods: z.array(z.string()),
  errors: z.array(z.string()),
  engines: z.record(z.string(), capabilitySchema),
  aligners: z.record(z.string(), capabilitySchema),
  /** A library's version, or null where it is missing (espeak-ng without libespeak-ng). */
  versions: z.record(z.string(), z.string().nullable()),
});
export type ReadyInfo = z.infer<typeof readyInfoSchema>;

export const readyEventSchema = readyInfoSchema.extend({ event: z.literal('ready') });
export type ReadyEvent = z.infer<typeof readyEventSchema>;

// ---------------------------------------------------------------- replies and events

export const errorPayloadSchema = z.object({ code: z.string(), message: z.string() });
export type WorkerErrorPayload = z.infer<typeof errorPayloadSchema>;

export const resultReplySchema = z.object({ id: z.number().int(), result: z.record(z.string(), z.unknown()) });
/** id is null when the worker could not tell which request failed (a line it could not parse). */
export const errorReplySchema = z.object({ id: z.number().int().nullable(), error: errorPayloadSchema });
export const replySchema = z.union([resultReplySchema, errorReplySchema]);
export type Reply = z.infer<typeof replySchema>;

/** Progress of a job; engines may add facts (a chunk's sample span, ...). */
export const progressEventSchema = z.looseObject({
  id: z.number().int(),
  event: z.literal('progress'),
  done: z.number(),
  total: z.number(),
});
export type ProgressEvent = z.infer<typeof progressEventSchema>;

const pair = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]).refine(([a, b]) => a <= b, 'must be [start, end]');

/**
 * A synthesize job's progress once a chunk (a sentence) is on disk: its characters in the text,
 * its samples in the WAV being written (`file`, the temp name beside output_path, flushed before
 * the event is sent), and the words timed for good so far; all chunks' words together are the
 * result's words. Streaming reads the audio by these spans while the rest is spoken.
 */
export const chunkProgressSchema = progressEventSchema.extend({
  file: z.string(),
  sample_rate: z.number().int().positive(),
  chars: pair,
  samples: pair,
  words: z.array(z.lazy(() => wordSchema)),
});
export type ChunkProgress = z.infer<typeof chunkProgressSchema>;

// ---------------------------------------------------------------- method params and results

export const wordSchema = z.object({
  word: z.string(),
  start: z.number().nonnegative(),
  end: z.number().nonnegative(),
  char_start: z.number().int().nonnegative(),
  char_end: z.number().int().nonnegative(),
  source: z.string(),
  confidence: z.number().nullable(),
});
export type Word = z.infer<typeof wordSchema>;

const timingsMs = z.record(z.string(), z.number());

/** A piece of the text synthesized as one unit, with where it lies in the audio (seconds). */
export const chunkSchema = z.object({
  char_start: z.number().int().nonnegative(),
  char_end: z.number().int().nonnegative(),
  start: z.number().nonnegative(),
  end: z.number().nonnegative(),
});
export type Chunk = z.infer<typeof chunkSchema>;

export const synthesizeParamsSchema = z.object({
  engine: z.string(),
  text: z.string(),
  voice: z.string().nullable(),
  language: z.string().nullable(),
  speed: z.number(),
  output_path: z.string(),
  word_timings: z.boolean(),
  /** The request's budget: seconds of audio (refused up front from an estimate, stopped past it) and of worker time. */
  max_audio_s: z.number().positive().optional(),
  max_worker_s: z.number().positive().optional(),
  /** f5: the voice to clone, a mono 24 kHz WAV inside the data dir, and its transcript. */
  reference: z.object({ audio_path: z.string(), text: z.string(), voice: z.string().optional() }).optional(),
  /** f5: per-request overrides of its defaults (the worker checks each bound again). */
  options: z.record(z.string(), z.union([z.number(), z.boolean()])).optional(),
});
export type SynthesizeParams = z.infer<typeof synthesizeParamsSchema>;

/** The worker's answer is checked before anything is built on it. */
export const synthesizeResultSchema = z.object({
  engine: z.string(),
  voice: z.string(),
  sample_rate: z.number().int().positive(),
  samples: z.number().int().nonnegative(),
  duration: z.number().nonnegative(),
  words: z.array(wordSchema),
  /** Engines that speak in chunks say where each one lies (f5); espeak does not. */
  chunks: z.array(chunkSchema).optional(),
  timings_ms: timingsMs,
  /** f5: the seed it spoke with (so the answer can be replayed), what the installed F5 does not take, and its notes. */
  seed: z.number().int().nonnegative().optional(),
  dropped: z.array(z.string()).optional(),
  notes: z.array(z.string()).optional(),
});
export type SynthesizeResult = z.infer<typeof synthesizeResultSchema>;

export const alignParamsSchema = z.object({
  aligner: z.string(),
  text: z.string(),
  audio_path: z.string(),
  language: z.string().nullable().optional(),
  segments: z.array(chunkSchema).nullable().optional(),
});
export type AlignParams = z.infer<typeof alignParamsSchema>;

export const alignResultSchema = z.object({ aligner: z.string(), words: z.array(wordSchema), timings_ms: timingsMs });
export type AlignResult = z.infer<typeof alignResultSchema>;

const span = z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()]);
export const tokenizeResultSchema = z.object({ spans: z.array(span), content: span });
export type TokenizeResult = z.infer<typeof tokenizeResultSchema>;

export const pingResultSchema = z.object({ pong: z.literal(true), pid: z.number().int(), busy: z.array(z.number().int()) });
export type PingResult = z.infer<typeof pingResultSchema>;

export const cancelResultSchema = z.object({ cancelled: z.boolean() });
export type CancelResult = z.infer<typeof cancelResultSchema>;

export const shutdownResultSchema = z.object({ ok: z.literal(true) });

const empty = z.object({}).strict();

/**
 * Every method: "call" runs on the worker's reader thread and is answered at once, even while a
 * job runs; "job" runs on the job thread, one at a time (or `batch` at a time).
 */
export const METHODS = {
  ping: { kind: 'call', params: empty, result: pingResultSchema },
  capabilities: { kind: 'call', params: empty, result: readyInfoSchema },
  tokenize: { kind: 'call', params: z.object({ text: z.string() }), result: tokenizeResultSchema },
  cancel: { kind: 'call', params: z.object({ id: z.number().int() }), result: cancelResultSchema },
  shutdown: { kind: 'call', params: empty, result: shutdownResultSchema },
  synthesize: { kind: 'job', params: synthesizeParamsSchema, result: synthesizeResultSchema },
  align: { kind: 'job', params: alignParamsSchema, result: alignResultSchema },
} as const satisfies Record<string, { kind: 'call' | 'job'; params: z.ZodType; result: z.ZodType }>;
export type MethodName = keyof typeof METHODS;
export type MethodResult<M extends MethodName> = z.infer<(typeof METHODS)[M]['result']>;

// ---------------------------------------------------------------- errors

/**
 * A worker's error reply as the client sees it: codes the API knows pass through; anything else
 * is our bug, told without internals (the worker's text is kept in `detail`, for the log only).
 */
export function workerError(code: string, message: string): ApiError {
  if (isErrorCode(code)) return new ApiError(code, message, {}, { code, message });
  return new ApiError('INTERNAL_ERROR', `the speech worker failed (${code}); the details are in the service log`, {}, { code, message });
}

/** The batch a worker reported for the engine or aligner a job names; 1 when it names none. */
export function batchFor(info: ReadyInfo | null, params: unknown): number {
  const p = (params ?? {}) as { engine?: unknown; aligner?: unknown };
  const cap =
    typeof p.engine === 'string' ? info?.engines[p.engine] : typeof p.aligner === 'string' ? info?.aligners[p.aligner] : undefined;
  return Math.max(1, Math.floor(cap?.batch ?? 1));
}
