/**
 * The probes' fast path: GET /health and /health/live answered at the HTTP server, before
 * Fastify's routing and hooks, whenever the answer is already known (the readiness answer the
 * /health route cached for the current state; liveness always). Orchestrators and load balancers
 * ask many times a second; anything else (a query, a changed state, a stale disk figure) goes
 * through Fastify as usual, which refreshes the cached answer.
 */
import http from 'node:http';
import type { FastifyServerFactory } from 'fastify';
import type { ProbeAnswer } from '../../routes/health.js';

export interface ProbeHooks {
  answer(url: string): ProbeAnswer | null;
  requestId(req: http.IncomingMessage): string;
  answered(route: '/health' | '/health/live', status: number): void;
}

/** A Fastify serverFactory: the HTTP server Fastify would make, with the fast path in front. */
export function probeServer(hooks: () => ProbeHooks | undefined): FastifyServerFactory {
  return (handler, options) => {
    const server = http.createServer(options.http ?? {}, (req, res) => {
      if (req.method === 'GET' && (req.url === '/health' || req.url === '/health/live')) {
        const h = hooks();
        const answer = h?.answer(req.url);
        if (h && answer) {
          res.writeHead(answer.status, {
            'content-type': 'application/json; charset=utf-8',
            'content-length': Buffer.byteLength(answer.body),
            'x-request-id': h.requestId(req),
          });
          res.end(answer.body);
          h.answered(req.url, answer.status);
          return;
        }
      }
      handler(req, res);
    });
    // What Fastify sets on the server it makes itself (lib/server.js), from its defaulted options.
    const opts = options as { keepAliveTimeout?: number; requestTimeout?: number; connectionTimeout?: number };
    server.keepAliveTimeout = opts.keepAliveTimeout ?? 72_000;
    if (opts.requestTimeout !== undefined) server.requestTimeout = opts.requestTimeout;
    server.setTimeout(opts.connectionTimeout ?? 0);
    return server;
  };
}
