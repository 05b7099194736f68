import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ApiError } from '../errors.js';

/** Validates with a schema; the first problem becomes a 400 that names its field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where = 'body'): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : where;
  const message =
    issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''}: ${issue.keys.join(', ')}` : `${field} ${issue.message}`;
  throw new ApiError('VALIDATION_ERROR', message);
}

/** The JSON body of a request that must be sent as application/json. */
export function jsonBody(request: FastifyRequest): unknown {
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
  return request.body;
}

/** Text that cannot be encoded as UTF-8 (String.prototype.isWellFormed, which ES2023 types lack). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function assertWellFormed(text: string, field = 'text'): void {
  if (LONE_SURROGATE.test(text)) throw new ApiError('VALIDATION_ERROR', `${field} contains an unpaired UTF-16 surrogate`);
}
