import { ApiError } from '../errors.js';
import { alignResultSchema, type Chunk, type ProgressEvent } from '../lanes/index.js';
import type { AlignerName } from '../services/workers.js';
import type { Word } from '../types.js';
import { jobOptions, timed, type StepContext } from './context.js';

/** What a client may ask for in `timing_method`: one step of the chain, or `auto` for the chain. */
export const TIMING_METHODS = ['auto', 'native', 'whisperx', 'pocketsphinx', 'dtw', 'google'] as const;
export type TimingMethod = (typeof TIMING_METHODS)[number];
type StepName = Exclude<TimingMethod, 'auto'>;

/**
 * The steps `auto` tries, best first: the engine's own timings (espeak), the worker aligners, then
 * the cloud. The offline aligners go between whisperx and google (pocketsphinx, dtw): one entry
 * here and one in STEPS each.
 */
export const AUTO_CHAIN: readonly StepName[] = ['native', 'whisperx', 'pocketsphinx', 'dtw', 'google'];

export interface Skipped {
  aligner: string;
  reason: string;
}

export interface Timing {
  /** What the client asked for. */
  method: TimingMethod;
  /** The step that timed the words: `native` (the engine's own events) or an aligner's name; null when none could. */
  aligner: string | null;
  /** The words' `source`; null when no step timed them. */
  source: string | null;
  /** The steps before it, each with why it did not time them. */
  skipped: Skipped[];
  /** Set when no step could time the words: the audio is delivered without words or subtitles. */
  error?: { code: 'TIMING_UNAVAILABLE'; message: string };
}

export interface WordsRequest {
  audioPath: string;
  text: string;
  /** The request's language, else the voice's (BCP-47 or an espeak voice name such as en-us). */
  language: string | null;
  engine: string;
  /** The engine's own timings (the native aligner), empty when it has none. */
  engineWords: Word[];
  /** Where each chunk the engine spoke lies (f5): each one is aligned as one segment. */
  chunks?: Chunk[] | undefined;
  method?: TimingMethod;
}

/** The gateway's own aligner (google), when the app has one. */
export interface GatewayAligner {
  /** Null when it can run, else why not (no credentials). */
  unavailable(): string | null;
  align(ctx: StepContext, req: WordsRequest): Promise<Word[]>;
}

/** A step that cannot run for this request: skipped with its reason, not counted as a failure. */
class Skip extends Error {}

type Step = (ctx: StepContext, req: WordsRequest) => Promise<Word[]>;

const workerStep = (name: AlignerName): Step => async (ctx, req) => {
  const capability = ctx.workers.capability('aligner', name);
  if (!capability.available) throw new Skip(capability.reason ?? 'unavailable');
  const language = req.language?.toLowerCase().split(/[-_+]/)[0];
  if (language && Array.isArray(capability.languages) && !capability.languages.includes(language)) {
    throw new Skip(`no ${name} model for language ${language}`);
  }
  const params = {
    aligner: name, audio_path: req.audioPath, text: req.text, language: req.language,
    ...(req.chunks?.length ? { segments: req.chunks } : {}),
  };
  const report = (done: number, total: number) => ctx.progress?.({ stage: 'align', aligner: name, done, total });
  const options = { ...jobOptions(ctx), onProgress: (msg: ProgressEvent) => report(msg.done, msg.total) };
  report(0, 1);
  const reply = await timed(ctx, `align_${name}`, () => ctx.workers.laneFor('aligner', name).run('align', params, options));
  const parsed = alignResultSchema.safeParse(reply);
  if (!parsed.success) throw new Error('a malformed result');
  return parsed.data.words;
};

const STEPS: Record<StepName, Step> = {
  native: async (_ctx, req) => {
    if (req.engineWords.length === 0) throw new Skip(`engine ${req.engine} gives no word timings of its own`);
    return req.engineWords;
  },
  whisperx: workerStep('whisperx'),
  pocketsphinx: workerStep('pocketsphinx'),
  dtw: workerStep('dtw'),
  google: async (ctx, req) => {
    const why = ctx.google ? ctx.google.unavailable() : 'the google aligner is not set up in this gateway';
    if (why) throw new Skip(why);
    ctx.progress?.({ stage: 'align', aligner: 'google', done: 0, total: 1 });
    return timed(ctx, 'align_google', () => ctx.google!.align(ctx, req));
  },
};

/** Errors that end the request rather than let the next aligner try. */
const FINAL = new Set(['CANCELLED', 'SHUTTING_DOWN']);

/**
 * Time the words: `auto` tries AUTO_CHAIN in order, any other method only that step. A step that
 * cannot run or fails falls through to the next (a failure is logged); the answer names the step
 * that timed the words and why the ones before it did not. When none can, the words are empty
 * and `timing.error` says why: never invented times.
 */
export async function timeWords(ctx: StepContext, req: WordsRequest): Promise<{ words: Word[]; timing: Timing }> {
  const method = req.method ?? 'auto';
  const chain = method === 'auto' ? AUTO_CHAIN : [method];
  const skipped: Skipped[] = [];
  for (const name of chain) {
    try {
      const words = await STEPS[name](ctx, req);
      if (words.length === 0) throw new Error('it returned no words');
      return { words, timing: { method, aligner: name, source: name === 'native' ? words[0]!.source : name, skipped } };
    } catch (err) {
      if (err instanceof ApiError && FINAL.has(err.code)) throw err;
      if (err instanceof Skip) {
        skipped.push({ aligner: name, reason: err.message });
        continue;
      }
      ctx.log.warn({ aligner: name, err: (err as Error).message }, 'aligner failed; trying the next');
      skipped.push({ aligner: name, reason: `failed: ${(err as Error).message}` });
    }
  }
  const message = `no aligner could time the words (timing_method ${method}): ${skipped.map((s) => `${s.aligner}: ${s.reason}`).join('; ')}`;
  ctx.log.warn({ method, skipped }, 'no aligner could time the words; delivering the audio without them');
  return { words: [], timing: { method, aligner: null, source: null, skipped, error: { code: 'TIMING_UNAVAILABLE', message } } };
}
