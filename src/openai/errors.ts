import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, type ErrorCode } from '../errors.js';
import { fromFrameworkError, logError } from '../http/framework.js';
import type { OpenAIErrorBody } from './schema.js';

/** A refusal that names the request field it is about, as OpenAI's `error.param` does. */
export class ParamError extends ApiError {
  constructor(readonly param: string, message: string, code: ErrorCode = 'VALIDATION_ERROR', readonly openaiCode: string | null = 'invalid_value') {
    super(code, message);
  }
}

/** OpenAI's `error.type` for a status. */
function typeOf(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'server_error';
  return 'invalid_request_error';
}

/** The worker's refusals that are about one field of the request. */
const PARAM_OF: Partial<Record<ErrorCode, string>> = { UNKNOWN_VOICE: 'voice' };

/** The body of an error on /v1/*: `{"error": {"message", "type", "param", "code"}}`; status and headers stay ours. */
export function openaiError(err: ApiError): { status: number; body: OpenAIErrorBody } {
  const param = err instanceof ParamError ? err.param : (PARAM_OF[err.code] ?? null);
  // A voice the engine does not know is the client's mistake about one field: 400, as OpenAI answers it.
  const status = param && err.statusCode === 422 ? 400 : err.statusCode;
  const code = err instanceof ParamError ? err.openaiCode : err.code.toLowerCase();
  return { status, body: { error: { message: err.message, type: typeOf(status), param, code } } };
}

/**
 * The error handler of the /v1 routes: the same mapping and logging as everywhere, answered in
 * OpenAI's shape, which the official SDKs read into APIError (status, type, param, code).
 */
export function openaiErrorHandler(err: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const apiError = err instanceof ApiError ? err : fromFrameworkError(err, request);
  logError(request, apiError, err);
  const { status, body } = openaiError(apiError);
  reply.removeHeader('content-disposition');
  return reply.code(status).headers(apiError.headers).send(body);
}
