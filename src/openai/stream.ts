/**
 * POST /v1/audio/speech with stream_format: `audio` sends the encoded audio as it is produced
 * (chunked transfer: the first bytes leave once the first sentence is spoken); `sse` sends it as
 * OpenAI's server-sent events, `speech.audio.delta` with base64 audio and a final
 * `speech.audio.done` with usage, plus voicecue's `voicecue.words` with the words timed so far.
 */
import type { FastifyReply } from 'fastify';
import { PassThrough, Transform } from 'node:stream';
import { ENCODINGS } from '../pipeline/encode.js';
import type { StepContext } from '../pipeline/context.js';
import { speakLive } from '../pipeline/live.js';
import type { SpeechRequest, SpeechResult } from '../pipeline/index.js';
import type { AudioFormat } from '../audio/transcode.js';
import { ApiError } from '../errors.js';
import { downloadPath } from '../tts/formats.js';
import type { Word } from '../types.js';
import { openaiError } from './errors.js';

/** One server-sent event with only a data line, as OpenAI sends them (the type is inside the JSON). */
export const sseData = (data: object): string => `data: ${JSON.stringify(data)}\n\n`;

/**
 * OpenAI's usage, in what voicecue counts: the input's words as tokens in, 20 ms frames of audio
 * as tokens out (there is no tokenizer; the figures are for clients that expect the fields).
 */
export function usage(result: Pick<SpeechResult, 'words' | 'duration'>): { input_tokens: number; output_tokens: number; total_tokens: number } {
  const input = result.words.length;
  const output = Math.ceil(result.duration * 50);
  return { input_tokens: input, output_tokens: output, total_tokens: input + output };
}

/** A word as voicecue.words carries it: where it is said and where it is written. */
export const wordEvent = (w: Word) => ({ word: w.word, start: w.start, end: w.end, char_start: w.char_start, char_end: w.char_end });

export async function streamSpeech(ctx: StepContext, reply: FastifyReply, req: SpeechRequest, format: AudioFormat, mode: 'audio' | 'sse'): Promise<FastifyReply> {
  const out = new PassThrough();
  const live = speakLive(ctx, req, format, (chunk) => {
    if (mode === 'sse' && chunk.words.length) out.write(sseData({ type: 'voicecue.words', words: chunk.words.map(wordEvent) }));
  });
  // A failure before the first chunk is an ordinary error answer (OpenAI's shape); after it the
  // audio stream ends early (audio) or carries an error event (sse).
  const audio = await live.first;
  audio.on('error', () => undefined); // a failure after the start is handled through live.done
  const id = live.id!;
  reply.header('x-voicecue-id', id).header('location', downloadPath(id, format)).header('cache-control', 'no-store');
  if (mode === 'audio') {
    audio.pipe(out);
    live.done.then(
      (result) => ctx.log.info({ id, format, mode, words: result.words.length, timings_ms: ctx.timings }, 'speech streamed'),
      (err: unknown) => {
        ctx.log.warn({ id, err: (err as Error).message }, 'speech stream failed after it started');
        out.destroy(err as Error);
      },
    );
    return reply.header('content-type', ENCODINGS[format].contentType).send(out);
  }
  const deltas = new Transform({
    transform(bytes: Buffer, _enc, done) {
      done(null, sseData({ type: 'speech.audio.delta', audio: bytes.toString('base64') }));
    },
  });
  audio.pipe(deltas).pipe(out, { end: false });
  const ended = new Promise<void>((resolve) => deltas.once('end', resolve));
  live.done.then(
    async (result) => {
      await ended;
      out.end(sseData({ type: 'speech.audio.done', usage: usage(result) }));
      ctx.log.info({ id, format, mode, words: result.words.length, timings_ms: ctx.timings }, 'speech streamed');
    },
    (err: unknown) => {
      const apiError = err instanceof ApiError ? err : new ApiError('INTERNAL_ERROR', 'an unexpected error occurred; it has been logged');
      ctx.log.warn({ id, err: (err as Error).message }, 'speech stream failed after it started');
      out.end(sseData({ type: 'error', ...openaiError(apiError).body }));
    },
  );
  return reply.header('content-type', 'text/event-stream; charset=utf-8').header('x-accel-buffering', 'no').send(out);
}
