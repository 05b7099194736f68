import { randomUUID } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import { basename } from 'node:path';
import type { Duplex } from 'node:stream';
import { contentTypeOf } from './tts/formats.js';
import { ApiError, errorBody, type ErrorCode } from './errors.js';
import type { Config } from './config.js';
import readiness from './services/readiness.js';
import store from './services/store.js';
import workers, { type WorkerOverrides } from './services/workers.js';
import healthRoutes from '../routes/health.js';
import ttsRoutes from '../routes/tts.js';
import downloadRoutes from '../routes/download.js';

export interface AppOptions {
  config: Config;
  /** pino options or an instance: tests pass { level: 'silent' }. */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /** Tests swap the worker command, or start the lanes themselves. */
  workers?: WorkerOverrides;
  /** false: no warmup run (tests set app.readiness themselves). */
  warmup?: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Builds the whole HTTP app: the services (store, lanes of workers, warmup) as plugins with their
 * own close hooks, then the routes. The entry file and the tests both start here; app.close()
 * stops everything in order.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: opts.logger ?? { level: config.logLevel } }),
    bodyLimit: config.bodyLimitBytes,
    requestIdHeader: false,
    // A caller's id is kept when it is sane, so logs can be joined across services.
    genReqId: (req) => {
      const given = req.headers['x-request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    },
    // Our own hook answers while closing, in the catalogue's shape (Fastify's 503 has no code).
    return503OnClosing: false,
    clientErrorHandler,
  });
  app.decorate('config', config);
  await app.register(store, { config });
  await app.register(workers, { config, workers: opts.workers });
  await app.register(readiness, { config, warmup: opts.warmup });

  app.addHook('onSend', async (request, reply) => {
    reply.header('x-request-id', request.id);
  });
  // While the service stops, new requests are turned away; the probes still say how it stands.
  app.addHook('onRequest', async (request, reply) => {
    if (!app.readiness.stopping || request.url.startsWith('/health')) return;
    reply.header('connection', 'close');
    throw new ApiError('SHUTTING_DOWN', 'the service is shutting down; retry on another instance', { 'retry-after': '1' });
  });

  app.setErrorHandler((err: FastifyError | ApiError, request, reply) => {
    const apiError = err instanceof ApiError ? err : fromFrameworkError(err);
    if (apiError.statusCode >= 500) request.log.error({ err, detail: apiError.detail }, apiError.message);
    else request.log.info({ code: apiError.code }, apiError.message);
    return reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toJSON());
  });

  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `no route for ${request.method} ${request.url.split('?')[0]}`)),
  );

  // Downloads go through @fastify/static for Range, ETag and Last-Modified; types come from our table.
  await app.register(fastifyStatic, {
    root: app.store.artifactsDir,
    serve: false,
    contentType: false,
    // A result never changes under its id, so caches may keep it until it expires; private
    // because the text is the caller's.
    cacheControl: false,
    setHeaders: (res, path) => {
      res.setHeader('content-type', contentTypeOf(basename(path)));
      res.setHeader('cache-control', `private, max-age=${Math.floor(config.artifactTtlMs / 1000)}, immutable`);
    },
  });
  await app.register(healthRoutes);
  await app.register(ttsRoutes);
  await app.register(downloadRoutes);
  return app;
}

/**
 * Requests Node's HTTP parser rejects before Fastify sees them (a bad Content-Length, headers too
 * large, a request too slow) get the catalogue's JSON too, written straight to the socket.
 */
function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request took too long to arrive']
        : ['MALFORMED_REQUEST', `the HTTP request is malformed (${err.code ?? 'parse error'})`];
  const body = errorBody(code, message);
  const json = JSON.stringify(body);
  this.log.debug({ code: err.code }, 'malformed HTTP request');
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}

/** Maps Fastify's own errors (body parsing, limits, content types) onto the catalogue. */
function fromFrameworkError(err: FastifyError): ApiError {
  const byCode: Record<string, ErrorCode> = {
    FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
    FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
    FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_ERROR',
    FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
    FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  };
  const code = byCode[err.code ?? ''];
  if (code) return new ApiError(code, err.message);
  if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON/i.test(err.message))) {
    return new ApiError('INVALID_JSON', `the body is not valid JSON: ${err.message}`);
  }
  if (err.statusCode === 416) return new ApiError('RANGE_NOT_SATISFIABLE', 'the requested range is outside the file');
  if (err.statusCode === 412) return new ApiError('PRECONDITION_FAILED', 'the file does not match If-Match or If-Unmodified-Since');
  if (err.statusCode === 405) return new ApiError('METHOD_NOT_ALLOWED', err.message);
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return new ApiError('VALIDATION_ERROR', err.message);
  return new ApiError('INTERNAL_ERROR', 'an unexpected error occurred; it has been logged');
}
