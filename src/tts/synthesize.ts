import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import type { Config } from '../config.js';
import type { SidecarClient } from '../sidecar/client.js';
import { synthesizeResult, type SynthesizeParams } from '../sidecar/protocol.js';
import type { ArtifactStore } from '../store/artifacts.js';
import { FORMATS, renderSubtitles, type Format } from '../subtitles/index.js';
import type { Word } from '../types.js';
import type { TtsBody } from './request.js';

export const AUDIO_FILE = 'audio.wav';

export interface TtsOutcome {
  id: string;
  engine: string;
  voice: string;
  language: string | null;
  speed: number;
  sample_rate: number;
  samples: number;
  duration: number;
  words: Word[];
  /** The subtitle formats written next to the audio. */
  formats: Format[];
  timings_ms: Record<string, number>;
}

interface Deps {
  config: Config;
  sidecar: SidecarClient;
  store: ArtifactStore;
}

const ms = (from: number) => Math.round((performance.now() - from) * 100) / 100;

/**
 * One /tts request: the worker writes the audio into a staging folder, the gateway adds the
 * subtitle files, and the folder is published whole. Any failure discards the staging folder.
 */
export async function synthesize({ config, sidecar, store }: Deps, body: TtsBody): Promise<TtsOutcome> {
  const started = performance.now();
  const engine = body.engine ?? config.defaultEngine;
  const availability = sidecar.info?.engines[engine];
  if (availability && !availability.available) {
    throw new ApiError('ENGINE_UNAVAILABLE', `engine ${engine} is not available: ${availability.reason ?? 'no reason given'}`);
  }
  const voice = body.voice ?? (body.language ? null : config.defaultVoice);
  const { id, dir } = await store.stage();
  try {
    const params: SynthesizeParams = {
      engine,
      text: body.text,
      voice,
      language: body.language ?? null,
      speed: body.speed,
      output_path: join(dir, AUDIO_FILE),
      // Subtitles need the timings even when the caller does not want them in the answer.
      word_timings: true,
    };
    const sent = performance.now();
    const parsed = synthesizeResult.safeParse(await sidecar.request('synthesize', params));
    const roundTrip = ms(sent);
    if (!parsed.success) {
      throw new ApiError('ENGINE_FAILED', 'the speech worker returned a malformed result; it has been logged', {}, parsed.error.issues);
    }
    const result = parsed.data;

    const subtitlesStarted = performance.now();
    // The JSON words are always kept: they are the result itself, whatever subtitles were asked for.
    const { files } = renderSubtitles(result.words, body, { duration: result.duration, text: body.text }, ['json']);
    const subtitlesMs = ms(subtitlesStarted);

    const storeStarted = performance.now();
    const formats = Object.keys(files) as Format[];
    // Written synchronously: a few small files cost microseconds each, while the thread pool's
    // three round trips a file (open, write, close) cost milliseconds on the hot path.
    for (const f of formats) writeFileSync(join(dir, FORMATS[f].fileName), files[f]!);
    const workerMs = Object.values(result.timings_ms).reduce((a, b) => a + b, 0);
    await store.publish(id); // last: nothing after it can fail and leave a half-answered result
    return {
      id,
      engine: result.engine,
      voice: result.voice,
      language: body.language ?? null,
      speed: body.speed,
      sample_rate: result.sample_rate,
      samples: result.samples,
      duration: result.duration,
      words: body.return_word_timings ? result.words : [],
      formats,
      timings_ms: {
        ...prefixed('worker_', result.timings_ms),
        worker: Math.round(workerMs * 100) / 100,
        worker_round_trip: roundTrip,
        subtitles: subtitlesMs,
        store: ms(storeStarted),
        total: ms(started),
      },
    };
  } catch (err) {
    await store.discard(id).catch(() => undefined);
    throw err;
  }
}

function prefixed(prefix: string, values: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));
}
