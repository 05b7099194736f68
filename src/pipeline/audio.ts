import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../errors.js';
import { chunkProgressSchema, synthesizeResultSchema, type ChunkProgress, type ProgressEvent, type SynthesizeResult } from '../lanes/index.js';
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
  /** f5: the voice to clone (a mono 24 kHz WAV in the staging folder) and its transcript. */
  reference?: { audio_path: string; text: string; voice?: string };
  /** f5: overrides of its defaults (nfe_step, cfg_strength, seed, ...). */
  options?: Record<string, number | boolean>;
}

/** The WAV's header as the workers write it (worker-py/voicecue_worker/wav.py): the samples follow. */
const WAV_HEADER_BYTES = 44;
/** The temp name a worker writes the WAV under before its rename: audio.wav.tmp-<pid>. */
const TEMP_WAV = /^audio\.wav\.tmp-\d{1,10}$/;

/**
 * Takes the audio while it is produced: each chunk's 16-bit mono PCM, in order, with its progress
 * event (char span, sample span, the words timed for good). Awaited: a slow consumer slows the
 * reading, never the worker.
 */
export interface AudioListener {
  chunk(pcm: Buffer, progress: ChunkProgress): Promise<void> | void;
}

/**
 * Produce audio: the engine's lane writes the WAV and answers its facts and own word timings.
 * With a listener, each chunk the worker reports is read from the growing temp WAV by its sample
 * span (the worker flushes it first; the open file stays readable across the rename) and handed
 * over before this resolves; whatever no event covered is read from the finished WAV.
 */
export async function produceAudio(ctx: StepContext, dir: string, req: AudioRequest, listener?: AudioListener): Promise<SynthesizeResult> {
  const lane = ctx.workers.laneFor('engine', req.engine);
  const capability = ctx.workers.capability('engine', req.engine);
  // A lane that is not ready yet queues the job; only a worker's own "unavailable" refuses here.
  if (lane.info && !capability.available) {
    throw new ApiError('ENGINE_UNAVAILABLE', `engine ${req.engine} is not available: ${capability.reason ?? 'no reason given'}`);
  }
  const params = {
    ...req, output_path: join(dir, AUDIO_FILE), word_timings: true, max_audio_s: ctx.config.maxAudioS, max_worker_s: ctx.config.maxWorkerS,
  };
  const reader = listener ? new ChunkReader(dir, listener, ctx.signal) : undefined;
  const onProgress = (msg: ProgressEvent) => {
    reader?.progress(msg);
    ctx.progress?.({ stage: 'synthesize', done: msg.done, total: msg.total });
  };
  const options = { ...jobOptions(ctx), ...(reader || ctx.progress ? { onProgress } : {}) };
  try {
    const reply = await timed(ctx, 'worker_round_trip', () => lane.run('synthesize', params, options))
      .catch((err: unknown) => {
        throw noSpaceError(err) ?? err; // the worker's WAV write found the disk full: 507, not 500
      });
    const parsed = synthesizeResultSchema.safeParse(reply);
    if (!parsed.success) {
      throw new ApiError('ENGINE_FAILED', 'the speech worker returned a malformed result; it has been logged', {}, parsed.error.issues);
    }
    await reader?.finish(parsed.data);
    return parsed.data;
  } finally {
    await reader?.close();
  }
}

/** Reads each reported chunk from the worker's temp WAV, one after another, for a listener. */
class ChunkReader {
  private file: FileHandle | undefined;
  private chain: Promise<void> = Promise.resolve();
  private failed: unknown;
  /** Samples and words handed over so far. */
  private samples = 0;
  private words = 0;

  constructor(private readonly dir: string, private readonly listener: AudioListener, private readonly signal: AbortSignal) {}

  progress(msg: ProgressEvent): void {
    const parsed = chunkProgressSchema.safeParse(msg);
    // Only a name of the worker's own pattern is opened, inside this request's folder.
    if (!parsed.success || !TEMP_WAV.test(parsed.data.file)) return;
    const chunk = parsed.data;
    this.chain = this.chain.then(async () => {
      if (this.failed || this.signal.aborted) return;
      const [start, end] = chunk.samples;
      if (start !== this.samples) throw new Error(`chunk ${chunk.done} starts at sample ${start}, not ${this.samples}`);
      this.file ??= await openEither(join(this.dir, chunk.file), join(this.dir, AUDIO_FILE));
      const pcm = await readAt(this.file, WAV_HEADER_BYTES + start * 2, (end - start) * 2);
      this.samples = end;
      this.words += chunk.words.length;
      await this.listener.chunk(pcm, chunk);
    }).catch((err: unknown) => {
      this.failed ??= err;
    });
  }

  /** Waits for the chunks under way; hands over what no event covered (an engine without chunk events). */
  async finish(result: SynthesizeResult): Promise<void> {
    await this.chain;
    if (this.failed) throw this.failed;
    if (this.samples >= result.samples && this.words >= result.words.length) return;
    await this.close();
    const wav = await open(join(this.dir, AUDIO_FILE), 'r');
    try {
      const pcm = await readAt(wav, WAV_HEADER_BYTES + this.samples * 2, (result.samples - this.samples) * 2);
      await this.listener.chunk(pcm, {
        id: 0, event: 'progress', done: 1, total: 1, file: AUDIO_FILE, sample_rate: result.sample_rate,
        chars: [0, 0], samples: [this.samples, result.samples], words: result.words.slice(this.words),
      });
    } finally {
      await wav.close();
    }
  }

  async close(): Promise<void> {
    const file = this.file;
    this.file = undefined;
    await file?.close().catch(() => undefined);
  }
}

/** The temp WAV, or the WAV it was renamed to in the meantime (the last chunk's event can arrive after the rename). */
async function openEither(temp: string, final: string): Promise<FileHandle> {
  try {
    return await open(temp, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return open(final, 'r');
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await file.read(out, got, length - got, position + got);
    if (bytesRead === 0) throw new Error(`the WAV ends ${length - got} bytes before the reported samples`);
    got += bytesRead;
  }
  return out;
}
