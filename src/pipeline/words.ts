import { ApiError } from '../errors.js';
import { alignResultSchema } from '../lanes/index.js';
import type { AlignerName } from '../services/workers.js';
import type { Word } from '../types.js';
import { jobOptions, timed, type StepContext } from './context.js';

/** Worker aligners that time any audio, in the order the chain tries them. */
export const WORKER_CHAIN: readonly AlignerName[] = ['whisperx'];

export interface Skipped {
  aligner: string;
  reason: string;
}

export interface Timing {
  /** The step that timed the words: `native` (the engine's own events) or an aligner's name. */
  aligner: string;
  /** The words' `source`. */
  source: string;
  /** The steps before it, each with why it did not time them. */
  skipped: Skipped[];
}

export interface WordsRequest {
  audioPath: string;
  text: string;
  language: string | null;
  engine: string;
  /** The engine's own timings (the native aligner), empty when it has none. */
  engineWords: Word[];
}

/** Errors that end the request rather than let the next aligner try. */
const FINAL = new Set(['CANCELLED', 'SHUTTING_DOWN']);

/**
 * Time the words: the engine's own timings, then each worker aligner, then (with the cloud
 * issue) the gateway's own. A step that cannot or fails falls through to the next; the answer
 * names the step that timed the words and why the ones before it did not.
 */
export async function timeWords(ctx: StepContext, req: WordsRequest): Promise<{ words: Word[]; timing: Timing }> {
  const skipped: Skipped[] = [];
  if (req.engineWords.length > 0) {
    return { words: req.engineWords, timing: { aligner: 'native', source: req.engineWords[0]!.source, skipped } };
  }
  skipped.push({ aligner: 'native', reason: `engine ${req.engine} gives no word timings of its own` });
  for (const name of WORKER_CHAIN) {
    const capability = ctx.workers.capability('aligner', name);
    const language = req.language?.toLowerCase().split(/[-_]/)[0];
    if (!capability.available) {
      skipped.push({ aligner: name, reason: capability.reason ?? 'unavailable' });
      continue;
    }
    if (language && Array.isArray(capability.languages) && !capability.languages.includes(language)) {
      skipped.push({ aligner: name, reason: `no ${name} model for language ${language}` });
      continue;
    }
    try {
      const params = { aligner: name, audio_path: req.audioPath, text: req.text, language: req.language };
      const reply = await timed(ctx, `align_${name}`, () => ctx.workers.laneFor('aligner', name).run('align', params, jobOptions(ctx)));
      const parsed = alignResultSchema.safeParse(reply);
      if (!parsed.success) throw new Error('a malformed result');
      return { words: parsed.data.words, timing: { aligner: name, source: name, skipped } };
    } catch (err) {
      if (err instanceof ApiError && FINAL.has(err.code)) throw err;
      ctx.log.warn({ aligner: name, err: (err as Error).message }, 'aligner failed; trying the next');
      skipped.push({ aligner: name, reason: `failed: ${(err as Error).message}` });
    }
  }
  throw new ApiError('TIMING_UNAVAILABLE', `no aligner could time the words: ${skipped.map((s) => `${s.aligner}: ${s.reason}`).join('; ')}`);
}
