import type { FastifyReply } from 'fastify';

/**
 * A signal that aborts when the client goes away before its answer is sent: a job still queued
 * is then dropped, one running is cancelled on its worker.
 */
export function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const res = reply.raw;
  const onClose = () => {
    if (!res.writableFinished) controller.abort(new Error('the client closed the connection'));
  };
  res.once('close', onClose);
  return controller.signal;
}
