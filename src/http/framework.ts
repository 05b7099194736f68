/**
 * Every answer that is not a success is catalogue JSON with an x-request-id, Fastify's own and
 * Node's HTTP parser's included: the error handler, the 404/405 handler, Fastify's
 * `frameworkErrors` (a URL it cannot decode, an over-long path parameter) and the
 * clientErrorHandler for requests that never become requests. Messages quote at most ~100
 * characters of what the client sent.
 */
import { randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, ERROR_STATUS, errorBody, type ErrorCode } from '../errors.js';
import { clip } from './clip.js';

/** find-my-way's default: a path parameter longer than this never reaches a handler. */
export const MAX_PARAM_LENGTH = 100;

/**
 * The error handler: catalogue JSON, logged by what it is. Refusals the service expects (4xx, and
 * the 503s that say "later": queue full, warming up, shutting down) are one info or warn line
 * with the code and no stack; faults (other 5xx) are one error line with the stack and detail.
 */
export function errorHandler(err: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = err instanceof ApiError ? err : fromFrameworkError(err, request);
  logError(request, apiError, err);
  // Headers set for a file that is not being sent (a download's name) do not belong on its error.
  reply.removeHeader('content-disposition');
  return reply.code(apiError.statusCode).headers(apiError.headers).send(apiError.toJSON());
}

/** A failure after a streamed answer began: mapped and logged as the error handler would, for the stream to answer. */
export function streamFailure(request: FastifyRequest, err: unknown): ApiError {
  const apiError = err instanceof ApiError ? err : fromFrameworkError(err as FastifyError, request);
  logError(request, apiError, err);
  return apiError;
}

export function logError(request: FastifyRequest, apiError: ApiError, err: unknown): void {
  const status = apiError.statusCode;
  if (status >= 500 && status !== 503) request.log.error({ err, code: apiError.code, detail: apiError.detail }, apiError.message);
  else if (status === 503 || status === 429) request.log.warn({ code: apiError.code }, apiError.message);
  else request.log.info({ code: apiError.code }, apiError.message);
}

/** For statuses with several codes, the one a generic error of that status gets. */
const GENERIC: Partial<Record<number, ErrorCode>> = { 400: 'VALIDATION_ERROR', 422: 'INVALID_PARAMS' };

function codeForStatus(status: number): ErrorCode | undefined {
  if (GENERIC[status]) return GENERIC[status];
  return (Object.keys(ERROR_STATUS) as ErrorCode[]).find((code) => ERROR_STATUS[code] === status);
}

/** Maps Fastify's own errors (body parsing, limits, content types, URLs) and @fastify/send's onto the catalogue. */
export function fromFrameworkError(err: FastifyError, request?: FastifyRequest): ApiError {
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE': {
      const limit = request?.routeOptions?.bodyLimit;
      return new ApiError('PAYLOAD_TOO_LARGE', limit ? `the body is larger than the limit of ${limit} bytes` : 'the body is too large');
    }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE': {
      const type = request?.headers['content-type'];
      return new ApiError('UNSUPPORTED_MEDIA_TYPE', type ? `Content-Type "${clip(type, 60)}" is not accepted: send application/json` : 'send the request as application/json');
    }
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ApiError('MALFORMED_REQUEST', 'the body is not as long as its Content-Length says');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new ApiError('INVALID_JSON', 'the body is empty: send a JSON object');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new ApiError('INVALID_JSON', 'the body is not valid JSON');
    case 'FST_ERR_BAD_URL':
      return new ApiError('MALFORMED_REQUEST', 'the URL path is not valid: it has a malformed percent-encoding');
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return new ApiError('INVALID_ID', `a path segment is longer than ${MAX_PARAM_LENGTH} characters: no id is that long`);
  }
  if (err instanceof SyntaxError) return new ApiError('INVALID_JSON', `the body is not valid JSON: ${clip(err.message)}`);
  const status = err.statusCode ?? 500;
  if (status === 416) {
    // @fastify/send's RangeNotSatisfiable carries Content-Range: bytes */<size>.
    const headers = (err as { headers?: Record<string, string> }).headers ?? {};
    const range = headers['Content-Range'] ?? headers['content-range'];
    return new ApiError('RANGE_NOT_SATISFIABLE', 'no part of the requested range is within the file', range ? { 'content-range': range } : {});
  }
  if (status === 412) return new ApiError('PRECONDITION_FAILED', 'the file does not match If-Match or If-Unmodified-Since');
  if (status >= 400 && status < 500) {
    const code = codeForStatus(status) ?? 'VALIDATION_ERROR';
    const headers = (err as { headers?: unknown }).headers;
    return new ApiError(code, clip(err.message || 'the request was refused', 200), isHeaderRecord(headers) ? headers : {});
  }
  return new ApiError('INTERNAL_ERROR', 'an unexpected error occurred; it has been logged');
}

function isHeaderRecord(value: unknown): value is Record<string, string> {
  return typeof value === 'object' && value !== null && Object.values(value).every((v) => typeof v === 'string');
}

/** Fastify's `frameworkErrors`: a URL it cannot decode or a parameter too long, before any route or hook runs. */
export function frameworkErrors(err: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const apiError = fromFrameworkError(err, request);
  logError(request, apiError, err);
  // No onSend hook runs for these: the id is set here.
  void reply.code(apiError.statusCode).header('x-request-id', request.id).send(apiError.toJSON());
}

/**
 * The methods each route answers, learned from the routes as they are added, so that a wrong
 * method on a path that exists is a 405 with Allow rather than a 404. Call before the routes.
 */
export function trackRoutes(app: FastifyInstance): (path: string) => string[] {
  const routes: { pattern: RegExp; methods: Set<string> }[] = [];
  app.addHook('onRoute', (route) => {
    const pattern = routePattern(route.url ?? route.path);
    const methods = [route.method].flat().map((m) => String(m).toUpperCase());
    if (methods.includes('GET')) methods.push('HEAD'); // exposeHeadRoutes
    const known = routes.find((r) => r.pattern.source === pattern.source);
    if (known) for (const m of methods) known.methods.add(m);
    else routes.push({ pattern, methods: new Set(methods) });
  });
  return (path) => {
    const allowed = new Set<string>();
    for (const route of routes) if (route.pattern.test(path)) for (const m of route.methods) allowed.add(m);
    return [...allowed];
  };
}

/** A route's URL (`/download/:id`, `/files/*`) as a regular expression over a request's path. */
function routePattern(url: string): RegExp {
  let source = '';
  for (const part of url.split(/(:[A-Za-z_$][\w$]*(?:\([^)]*\))?|\*)/)) {
    if (!part) continue;
    if (part === '*') source += '.*';
    else if (part.startsWith(':') && part.length > 1) source += '[^/]+';
    else source += part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/** 404 for a path no route has, 405 (with Allow) for a method the path's route does not answer. */
export function notFoundHandler(allowedFor: (path: string) => string[]) {
  return (request: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const path = request.url.split('?')[0] || '/';
    const allowed = allowedFor(path);
    const method = clip(request.method, 20);
    let code: ErrorCode;
    let message: string;
    if (allowed.length && !allowed.includes(request.method)) {
      code = 'METHOD_NOT_ALLOWED';
      message = `${method} is not allowed on ${clip(path)}: use ${allowed.join(' or ')}`;
      reply.header('allow', allowed.join(', '));
    } else {
      // A route that exists and sent us here (a file gone between the check and the send) is a plain 404.
      code = 'NOT_FOUND';
      message = allowed.length ? `nothing found at ${clip(path)}` : `no route for ${method} ${clip(path)}`;
    }
    request.log.info({ code }, message);
    reply.removeHeader('content-disposition');
    return reply.code(ERROR_STATUS[code]).send(errorBody(code, message));
  };
}

/** What Node's HTTP parser says, for a person. */
const PARSE_ERRORS: Record<string, string> = {
  HPE_INVALID_METHOD: 'the request method is not valid',
  HPE_INVALID_URL: 'the request target is not valid',
  HPE_INVALID_VERSION: 'the HTTP version is not valid',
  HPE_INVALID_CONSTANT: 'the request line is not valid HTTP',
  HPE_INVALID_HEADER_TOKEN: 'a header name or value has characters HTTP does not allow',
  HPE_INVALID_CONTENT_LENGTH: 'the Content-Length header is not a number',
  HPE_UNEXPECTED_CONTENT_LENGTH: 'the request has both Content-Length and Transfer-Encoding',
  HPE_INVALID_TRANSFER_ENCODING: 'the Transfer-Encoding header is not valid',
  HPE_INVALID_CHUNK_SIZE: 'a chunk of the body has an invalid size',
  HPE_CR_EXPECTED: 'the request has a bare LF where HTTP wants CRLF',
  HPE_LF_EXPECTED: 'the request has a bare CR where HTTP wants CRLF',
  HPE_STRICT: 'the request is not valid HTTP',
};

/**
 * Requests Node's HTTP parser rejects before Fastify sees them (a bad Content-Length, headers too
 * large, a request too slow) get the catalogue's JSON too, written straight to the socket; with
 * a fresh x-request-id, since the caller's headers could not be read.
 */
export function clientErrorHandler(this: FastifyInstance, err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [code, message]: [ErrorCode, string] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? ['HEADERS_TOO_LARGE', 'the request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? ['REQUEST_TIMEOUT', 'the request took too long to arrive']
        : ['MALFORMED_REQUEST', PARSE_ERRORS[err.code ?? ''] ?? 'the HTTP request is malformed'];
  const body = errorBody(code, message);
  const json = JSON.stringify(body);
  const id = randomUUID();
  this.log.info({ code, reason: err.code, reqId: id }, message);
  // A response already under way on this connection (pipelining) must not be cut into.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (socket.writable && !inFlight?.headersSent) {
    socket.write(
      `HTTP/1.1 ${body.statusCode} ${body.error}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(json)}\r\nX-Request-Id: ${id}\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy();
}
