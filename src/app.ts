import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify';
import fastifyStatic from '@fastify/static';
import { basename } from 'node:path';
import { contentTypeOf } from './tts/formats.js';
import { ApiError } from './errors.js';
import { registerJsonParser } from './http/body.js';
import { clientErrorHandler, errorHandler, frameworkErrors, MAX_PARAM_LENGTH, notFoundHandler, trackRoutes } from './http/framework.js';
import { limitConnections } from './http/connections.js';
import { probeServer, type ProbeHooks } from './http/probes.js';
import { lazyChildLogger } from './http/logger.js';
import { registerContract } from './contract/openapi.js';
import { VERSION } from './version.js';
import type { Config } from './config.js';
import auth, { withRedaction } from './services/auth.js';
import readiness from './services/readiness.js';
import metrics from './services/metrics.js';
import voices from './services/voices.js';
import store from './services/store.js';
import workers, { type WorkerOverrides } from './services/workers.js';
import google from './services/google.js';
import type { GoogleEndpoint } from './aligners/google.js';
import healthRoutes from '../routes/health.js';
import ttsRoutes from '../routes/tts.js';
import downloadRoutes from '../routes/download.js';
import openaiRoutes from '../routes/openai.js';
import alignRoutes from '../routes/align.js';
import voiceRoutes from '../routes/voices.js';
import webRoutes from '../routes/web.js';

export interface AppOptions {
  config: Config;
  /** pino options or an instance: tests pass { level: 'silent' }. */
  logger?: FastifyServerOptions['logger'];
  loggerInstance?: FastifyServerOptions['loggerInstance'];
  /** Tests swap the worker command, or start the lanes themselves. */
  workers?: WorkerOverrides;
  /** false: no warmup run (tests set app.readiness themselves). */
  warmup?: boolean;
  /** Tests point the google aligner at a local Speech server. */
  google?: GoogleEndpoint;
}

declare module 'fastify' {
  interface FastifyInstance {
    config: Config;
  }
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;
const BOOT_ID = randomBytes(9).toString('base64url');
let requests = 0;

/** A caller's id is kept when it is sane, so logs can be joined across services; ours are this
 * process's random prefix and a counter (unique, and cheaper than a UUID per request). */
function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : `${BOOT_ID}-${(++requests).toString(36)}`;
}

/**
 * Builds the whole HTTP app: the services (store, lanes of workers, warmup) as plugins with their
 * own close hooks, then the routes. The entry file and the tests both start here; app.close()
 * stops everything in order.
 */
export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const { config } = opts;
  let probes: ProbeHooks | undefined;
  const app = Fastify({
    ...(opts.loggerInstance ? { loggerInstance: opts.loggerInstance } : { logger: withRedaction(opts.logger ?? { level: config.logLevel }) }),
    bodyLimit: config.bodyLimitBytes,
    // Headers and body within the timeout (Fastify leaves it off): a trickled body is cut with a 408,
    // checked every second rather than Node's default 30 s.
    requestTimeout: config.bodyTimeoutMs,
    http: { headersTimeout: config.bodyTimeoutMs, connectionsCheckingInterval: Math.min(1000, config.bodyTimeoutMs) },
    requestIdHeader: false,
    genReqId: requestId,
    serverFactory: probeServer(() => probes),
    childLoggerFactory: lazyChildLogger,
    // Our own hook answers while closing, in the catalogue's shape (Fastify's 503 has no code).
    return503OnClosing: false,
    clientErrorHandler,
    // A URL Fastify cannot decode, or a path parameter past this length, is catalogue JSON too.
    frameworkErrors,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
  });
  app.decorate('config', config);
  // Before any route: which methods each path answers (405 vs 404), and our application/json parser.
  const allowedMethods = trackRoutes(app);
  registerJsonParser(app);
  const connections = limitConnections(app.server, { max: config.maxConnections, perClient: config.maxConnectionsPerClient });
  // Every answer names its request. While the service stops, new requests are turned away; the
  // probes still say how it stands. (A callback hook: no promise per request on the hot path.)
  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id);
    // No Connection: close here: closing before the body is read would reset the client's send;
    // the refused connection is closed once idle.
    if (connections.refused(request.raw.socket)) {
      return done(new ApiError('TOO_MANY_CONNECTIONS', 'too many open connections from this client; close some and retry', { 'retry-after': '1' }));
    }
    if (!app.readiness.stopping || request.url.startsWith('/health')) return done();
    reply.header('connection', 'close');
    done(new ApiError('SHUTTING_DOWN', 'the service is shutting down; retry on another instance', { 'retry-after': '1' }));
  });

  await app.register(store, { config });
  await app.register(voices, { config });
  await app.register(workers, { config, workers: opts.workers });
  await app.register(google, { config, endpoint: opts.google });
  await app.register(readiness, { config, warmup: opts.warmup });
  await app.register(auth, { config });
  app.setErrorHandler(errorHandler);
  // Before any route: @fastify/swagger collects the routes as they are added.
  await registerContract(app, VERSION);
  await app.register(metrics, { config });
  const notFound = notFoundHandler(allowedMethods);
  app.setNotFoundHandler(notFound);
  // Answered before the body is read (after the auth and rate limit): a wrong method or path costs
  // no upload, and a QUERY or PROPFIND without Content-Type is a 405, not a body-parser 400.
  app.addHook('onRequest', (request, reply, done) => {
    if (request.is404) notFound(request, reply);
    else done();
  });

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
  probes = { answer: (url) => app.probeAnswer(url), requestId, answered: (route, status) => app.metrics.probed(route, status) };
  await app.register(ttsRoutes);
  await app.register(downloadRoutes);
  await app.register(openaiRoutes);
  await app.register(alignRoutes);
  await app.register(voiceRoutes);
  await app.register(webRoutes);
  return app;
}
