import { createHash, timingSafeEqual } from 'node:crypto';
import fp from 'fastify-plugin';
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyServerOptions } from 'fastify';
import type { Config } from '../config.js';
import { ApiError } from '../errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The caller's key as logs and limits may name it: its digest's first 12 hex digits; null without one. */
    apiKey: string | null;
  }
}

/** The probes: open without a key and never rate-limited, so an orchestrator always gets through. */
export const OPEN_ROUTES: ReadonlySet<string> = new Set(['/health', '/health/live']);
/** The API's documentation (/docs, its assets, the spec) and the page at / are open too: they hold nothing of anyone's. */
const isPublic = (url: string) => url === '/docs' || url.startsWith('/docs/') || url === '/' || url.startsWith('/web/');

/** What pino replaces with "[redacted]" wherever a logger of ours writes it. */
export const LOG_REDACT = {
  paths: [
    'req.headers.authorization',
    'req.headers.cookie',
    'req.headers["x-api-key"]',
    'headers.authorization',
    'headers.cookie',
    'headers["x-api-key"]',
    'apiKeyDigests',
    'config.apiKeyDigests',
    '*.apiKeyDigests',
  ],
  censor: '[redacted]',
};

/** Fastify's `logger` option with our redaction added (false stays false). */
export function withRedaction(logger: FastifyServerOptions['logger']): FastifyServerOptions['logger'] {
  if (logger === true) return { redact: LOG_REDACT };
  return logger && typeof logger === 'object' ? { redact: LOG_REDACT, ...logger } : logger;
}

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/**
 * Which configured key a presented token is, in constant time: the token is hashed, so every
 * comparison is between two 32-byte SHA-256 digests (no length to leak, nothing for
 * timingSafeEqual to throw on), and every digest is compared: there is no early exit on a match.
 * Returns the digest's index, or -1.
 */
export function findKey(token: string, digests: readonly Buffer[]): number {
  const presented = sha256(token);
  let found = -1;
  for (let i = 0; i < digests.length; i++) {
    const hit = timingSafeEqual(presented, digests[i]!);
    found = hit && found === -1 ? i : found;
  }
  return found;
}

/** Constant-time equality of two strings of any lengths (both hashed first). */
export function safeEqual(a: string, b: string): boolean {
  return timingSafeEqual(sha256(a), sha256(b));
}

/** The token of `Authorization: Bearer <token>`; undefined without the header, null when it is not a bearer token. */
export function bearerToken(header: string | undefined): string | null | undefined {
  if (header === undefined) return undefined;
  const match = /^Bearer +(\S+) *$/i.exec(header);
  return match ? match[1]! : null;
}

const CHALLENGE = 'Bearer realm="voicecue"';

/**
 * API keys and the rate limit, as one onRequest hook on every route but the probes (404s
 * included, so unknown paths cannot be probed for free). With keys configured a request needs
 * `Authorization: Bearer <key>`. The limit counts per key, or per IP (an IPv6 /64) for callers
 * without a valid key, and runs before the 401: guessing keys spends quota like anything else.
 * Both answer in the catalogue's JSON through the app's error handler.
 */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const digests = config.apiKeyDigests.map((hex) => Buffer.from(hex, 'hex'));
    if (digests.some((d) => d.length !== 32)) throw new Error('apiKeyDigests must be SHA-256 hex digests');
    app.decorateRequest('apiKey', null);

    let limit: ReturnType<FastifyInstance['rateLimit']> | undefined;
    if (config.rateLimit > 0) {
      await app.register(rateLimit, {
        global: false, // our hook below applies it, after the key is known
        max: config.rateLimit,
        timeWindow: config.rateWindowMs,
        keyGenerator: (request) => (request.apiKey ? `key:${request.apiKey}` : `ip:${normalizeIP(request.ip)}`),
        errorResponseBuilder: (_request, context) =>
          new ApiError(
            'RATE_LIMITED',
            `too many requests: at most ${context.max} every ${config.rateWindowMs / 1000} s; retry in ${context.after}`,
            { 'retry-after': String(Math.max(1, Math.ceil(context.ttl / 1000))) },
          ),
      });
      limit = app.rateLimit();
    }

    app.addHook('onRequest', async (request, reply) => {
      const route = request.routeOptions.url ?? '';
      if (OPEN_ROUTES.has(route) || isPublic(route) || (route === '/metrics' && config.metricsOpen)) return;
      let refused: ApiError | undefined;
      if (digests.length > 0) {
        const token = bearerToken(request.headers.authorization);
        const index = typeof token === 'string' ? findKey(token, digests) : -1;
        if (index >= 0) request.apiKey = config.apiKeyDigests[index]!.slice(0, 12);
        else if (token === undefined) {
          refused = new ApiError('UNAUTHORIZED', 'an API key is needed: send Authorization: Bearer <key>', { 'www-authenticate': CHALLENGE });
        } else {
          refused = new ApiError('UNAUTHORIZED', 'the API key is not valid', { 'www-authenticate': `${CHALLENGE}, error="invalid_token"` });
        }
      }
      if (limit) await limit.call(app, request, reply);
      if (refused) throw refused;
    });
  },
  { name: 'auth' },
);
