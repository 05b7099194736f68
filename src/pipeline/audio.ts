import { join } from 'node:path';
import { ApiError } from '../errors.js';
import { synthesizeResultSchema, type SynthesizeResult } from '../lanes/index.js';
import type { EngineName } from '../services/workers.js';
import { jobOptions, timed, type StepContext } from './context.js';
import { noSpaceError } from './stage.js';

/** The audio a worker writes into the staging folder; encode and download name it too. */
export const AUDIO_FILE = 'audio.wav';

export interface AudioRequest {
  engine: EngineName;
  text: string;
  voice: string | null;
  language: string | null;
  speed: number;
}

/** Produce audio: the engine's lane writes the WAV and answers its facts and own word timings. */
export async function produceAudio(ctx: StepContext, dir: string, req: AudioRequest): Promise<SynthesizeResult> {
  const lane = ctx.workers.laneFor('engine', req.engine);
  const capability = ctx.workers.capability('engine', req.engine);
  // A lane that is not ready yet queues the job; only a worker's own "unavailable" refuses here.
  if (lane.info && !capability.available) {
    throw new ApiError('ENGINE_UNAVAILABLE', `engine ${req.engine} is not available: ${capability.reason ?? 'no reason given'}`);
  }
  const params = {
    ...req, output_path: join(dir, AUDIO_FILE), word_timings: true, max_audio_s: ctx.config.maxAudioS, max_worker_s: ctx.config.maxWorkerS,
  };
  const reply = await timed(ctx, 'worker_round_trip', () => lane.run('synthesize', params, jobOptions(ctx)))
    .catch((err: unknown) => {
      throw noSpaceError(err) ?? err; // the worker's WAV write found the disk full: 507, not 500
    });
  const parsed = synthesizeResultSchema.safeParse(reply);
  if (!parsed.success) {
    throw new ApiError('ENGINE_FAILED', 'the speech worker returned a malformed result; it has been logged', {}, parsed.error.issues);
  }
  return parsed.data;
}
