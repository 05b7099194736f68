/**
 * The error catalogue: every error the API returns has a stable `code`, an HTTP status and a
 * message meant for a person. Responses are always {statusCode, code, error, message}.
 */
import { STATUS_CODES } from 'node:http';

export const ERROR_STATUS = {
  MALFORMED_REQUEST: 400,
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  INVALID_ID: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  REQUEST_TIMEOUT: 408,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  /** POST /align: the recording is longer than VOICECUE_MAX_ALIGN_S. */
  AUDIO_TOO_LONG: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  TOO_MANY_CONNECTIONS: 429,
  UNKNOWN_VOICE: 422,
  NO_SPEECH: 422,
  /** POST /align: the upload is not a recording ffmpeg can decode, or holds no sound. */
  INVALID_AUDIO: 422,
  BUDGET_EXCEEDED: 422,
  INVALID_PARAMS: 422,
  /** POST /voices: the library holds VOICECUE_MAX_VOICES voices already. */
  TOO_MANY_VOICES: 422,
  CANCELLED: 499,
  QUEUE_FULL: 503,
  WARMING_UP: 503,
  ENGINE_UNAVAILABLE: 503,
  TIMING_UNAVAILABLE: 503,
  SIDECAR_UNAVAILABLE: 503,
  /** ffmpeg is missing: only wav can be served. */
  ENCODER_UNAVAILABLE: 503,
  SHUTTING_DOWN: 503,
  SIDECAR_TIMEOUT: 504,
  /** The data volume is (nearly) full: below VOICECUE_MIN_FREE_MB, or a write failed with ENOSPC. */
  INSUFFICIENT_STORAGE: 507,
  ENGINE_FAILED: 500,
  INTERNAL_ERROR: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** Statuses outside RFC 9110 that node:http has no text for (499 is nginx's, for a caller that gave up). */
const EXTRA_STATUS: Record<number, string> = { 499: 'Client Closed Request' };

export interface ErrorBody {
  statusCode: number;
  code: ErrorCode;
  error: string;
  message: string;
}

export class ApiError extends Error {
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly headers: Record<string, string> = {},
    /** For the log only, never the client: what went wrong inside. */
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = ERROR_STATUS[code];
  }

  toJSON(): ErrorBody {
    return errorBody(this.code, this.message);
  }
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  const statusCode = ERROR_STATUS[code];
  return { statusCode, code, error: STATUS_CODES[statusCode] ?? EXTRA_STATUS[statusCode] ?? 'Error', message };
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_STATUS, value);
}
