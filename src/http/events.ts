/**
 * A job's progress as server-sent events (`Accept: text/event-stream` on /tts and /align):
 * `progress` events while it runs, then one `result` (the JSON answer) or one `error` (the
 * catalogue's error body). The stream starts with the first progress event, so a request refused
 * before any work (a bad field, an upload that does not decode) is still an ordinary 4xx answer.
 */
import type { FastifyReply } from 'fastify';
import { PassThrough } from 'node:stream';
import type { ApiError } from '../errors.js';
import type { Progress } from '../pipeline/context.js';

/** Proxies drop a connection that stays silent; a comment line every this often keeps it open. */
const KEEPALIVE_MS = 15_000;

export const sseEvent = (event: string, data: object): string => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;

/** The event stream's schema in the spec: one event (before OpenAPI 3.2, a stream's schema describes each event). */
export const PROGRESS_EVENT_SCHEMA = {
  type: 'object',
  description:
    'One server-sent event: `progress` (data: {stage, ...}: `synthesize` {done, total} per chunk, `decode` {duration}, `align` {aligner, done, total}), then `result` (data: the JSON answer) or `error` (data: an Error).',
  required: ['data'],
  properties: { data: { type: 'string', contentMediaType: 'application/json' }, event: { type: 'string', enum: ['progress', 'result', 'error'] }, id: { type: 'string' }, retry: { type: 'integer' } },
};

/**
 * Runs `job` with a progress sink and answers as an event stream. A failure before the first
 * progress event rejects (the error handler answers it as usual); one after it is the stream's
 * `error` event, as `onError` maps it. `answer` turns the job's value into the `result` event's data.
 */
export async function streamProgress<T>(
  reply: FastifyReply,
  job: (progress: Progress) => Promise<T>,
  answer: (value: T) => object,
  onError: (err: unknown) => ApiError,
): Promise<FastifyReply> {
  const out = new PassThrough();
  let begin!: () => void;
  const begun = new Promise<void>((resolve) => (begin = resolve));
  const write = (chunk: string) => {
    if (!out.writableEnded && !out.destroyed) out.write(chunk); // the client may have gone
  };
  const done = job((event) => {
    write(sseEvent('progress', event));
    begin();
  });
  // Nothing to stream yet: the job's own answer (its value or its error) decides.
  await Promise.race([begun, done]);
  const keepalive = setInterval(() => write(': keep-alive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  done.then(answer).then(
    (body) => out.end(sseEvent('result', body)),
    (err: unknown) => out.end(sseEvent('error', onError(err).toJSON())),
  ).finally(() => clearInterval(keepalive));
  return reply
    .header('content-type', 'text/event-stream; charset=utf-8')
    .header('cache-control', 'no-store')
    .header('x-accel-buffering', 'no')
    .send(out);
}
