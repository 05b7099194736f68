import type { Readable } from 'node:stream';
import { liveEncoder, type LiveEncoder } from '../audio/live.js';
import type { AudioFormat } from '../audio/transcode.js';
import type { ChunkProgress } from '../lanes/index.js';
import type { StepContext } from './context.js';
import { speak, type SpeechRequest, type SpeechResult } from './index.js';

export interface LiveSpeech {
  /** The result's id, known before any audio (set when its folder is staged). */
  id: string | undefined;
  /** Resolves with the encoded audio once the first chunk is ready; rejects if the request failed before. */
  first: Promise<Readable>;
  /** Resolves when all audio is encoded and the result published; the audio stream is destroyed on a failure after `first`. */
  done: Promise<SpeechResult>;
}

/**
 * speak() with the audio encoded as it is produced: each chunk's PCM goes into one encoder for
 * the request (started with the first chunk), whose output the caller streams. `onChunk` hears
 * each chunk's progress (its words) when its audio goes into the encoder. The stored result
 * keeps the WAV; other formats of it are made on download.
 */
export function speakLive(ctx: StepContext, req: SpeechRequest, format: AudioFormat, onChunk?: (p: ChunkProgress) => void): LiveSpeech {
  let encoder: LiveEncoder | undefined;
  let gotFirst!: (out: Readable) => void;
  const first = new Promise<Readable>((resolve) => (gotFirst = resolve));
  const run = speak(ctx, { ...req, audioFormat: 'wav' }, {
    staged: (id) => (live.id = id),
    chunk: async (pcm, progress) => {
      if (!encoder) {
        encoder = liveEncoder(format, progress.sample_rate, ctx.signal);
        gotFirst(encoder.output);
      }
      onChunk?.(progress);
      await encoder.write(pcm);
    },
  });
  const done = run.then(
    async (result) => {
      await encoder?.end();
      return result;
    },
    (err: unknown) => {
      encoder?.output.destroy(err as Error);
      throw err;
    },
  );
  // Whoever waits on `first` hears a failure before it; one after it ends the audio stream.
  const live: LiveSpeech = { id: undefined, first: Promise.race([first, done.then(() => first)]), done };
  return live;
}
