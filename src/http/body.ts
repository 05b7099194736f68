import { contentLength } from '../text/blank.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { ApiError } from '../errors.js';
import { clip } from './clip.js';

/** Validates with a schema; the first problem becomes a 400 that names its field. */
export function parseOrThrow<T>(schema: z.ZodType<T>, value: unknown, where = 'body'): T {
  // Messages the schema does not spell out itself come from describe(): the same words for every
  // field, naming the field's real limits.
  const parsed = schema.safeParse(value, { error: describe });
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const field = issue.path.length ? issue.path.map((p) => clip(String(p), 40)).join('.') : where;
  const message = issue.code === 'unrecognized_keys' ? unknownFields(issue.keys) : `${field} ${issue.message}`;
  throw new ApiError('VALIDATION_ERROR', message);
}

function unknownFields(keys: readonly string[]): string {
  const shown = keys.slice(0, 5).map((k) => clip(k, 40));
  const more = keys.length > shown.length ? ` and ${keys.length - shown.length} more` : '';
  return `unknown field${keys.length > 1 ? 's' : ''}: ${shown.join(', ')}${more}`;
}

interface Bounds {
  minValue?: number | null;
  maxValue?: number | null;
  format?: string | null;
}

type Issue = Parameters<z.core.$ZodErrorMap>[0];

/** A person's message for one of zod's issues, from the schema that raised it. */
function describe(issue: Issue): string | undefined {
  const bounds = (issue.schema ?? {}) as Bounds;
  const isInt = bounds.format === 'safeint' || bounds.format === 'int32' || bounds.format === 'uint32';
  const atMost = () => `must be at most ${bounds.maxValue ?? ('maximum' in issue ? String(issue.maximum) : '?')}`;
  const atLeast = () => `must be at least ${bounds.minValue ?? ('minimum' in issue ? String(issue.minimum) : '?')}`;
  switch (issue.code) {
    case 'invalid_type': {
      const { input } = issue;
      if (issue.expected === 'number' || issue.expected === 'int') {
        // 1e309 is JSON for a number too large for a double: it parses as Infinity.
        if (input === Infinity) return atMost();
        if (input === -Infinity) return atLeast();
        if (typeof input === 'number' && !Number.isNaN(input)) return 'must be a whole number';
        return isInt ? 'must be a whole number' : 'must be a number';
      }
      if (issue.expected === 'string') return 'must be a string';
      if (issue.expected === 'boolean') return 'must be true or false';
      if (issue.expected === 'object') return 'must be a JSON object';
      if (issue.expected === 'array') return 'must be a list';
      return `must be of type ${issue.expected}`;
    }
    case 'too_big':
      if (issue.origin === 'number' || issue.origin === 'int') return issue.inclusive === false ? `must be less than ${bounds.maxValue ?? issue.maximum}` : atMost();
      return `must be at most ${String(issue.maximum)} long`;
    case 'too_small':
      if (issue.origin === 'number' || issue.origin === 'int') return issue.inclusive === false ? `must be more than ${bounds.minValue ?? issue.minimum}` : atLeast();
      return `must be at least ${String(issue.minimum)} long`;
    case 'invalid_value':
      return `must be one of: ${issue.values.map((v) => String(v)).join(', ')}`;
    case 'invalid_format':
      return 'is not in the expected format';
    default:
      return undefined;
  }
}

/** The JSON body of a request that must be sent as application/json. */
export function jsonBody(request: FastifyRequest): unknown {
  const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
  return request.body;
}

/** Text that cannot be encoded as UTF-8 (String.prototype.isWellFormed, which ES2023 types lack). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A text the schema let through that still cannot be spoken: one UTF-8 cannot encode is malformed
 * (400); one of blanks only is well-formed but holds nothing to speak or align (422 NO_SPEECH, as
 * text of punctuation only).
 */
export function assertSpeakable(text: string, field = 'text'): void {
  if (LONE_SURROGATE.test(text)) throw new ApiError('VALIDATION_ERROR', `${field} contains an unpaired UTF-16 surrogate`);
  if (contentLength(text) === 0) throw new ApiError('NO_SPEECH', `${field} is only whitespace: there is nothing to speak`);
}

/**
 * Our application/json parser in place of Fastify's: the same body limit (Fastify reads the body
 * and enforces it before we see the bytes) and the same prototype-poisoning rules, but bytes that
 * are not UTF-8 are refused rather than silently turned into U+FFFD, a charset other than UTF-8 is
 * a 415, and each refusal says what was wrong.
 */
export function registerJsonParser(app: FastifyInstance): void {
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    done(null, parseJsonBody(request.headers['content-type'], body as Buffer));
  });
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });
/** The WHATWG labels of UTF-8 a client is likely to send. */
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8']);

export function parseJsonBody(contentType: string | undefined, body: Buffer): unknown {
  const charset = charsetOf(contentType);
  if (charset !== undefined && !UTF8_LABELS.has(charset.toLowerCase())) {
    throw new ApiError('UNSUPPORTED_MEDIA_TYPE', `charset "${clip(charset, 40)}" is not supported: send the JSON as UTF-8`);
  }
  let text: string;
  try {
    text = UTF8.decode(body); // a UTF-8 byte order mark is dropped, as RFC 8259 allows
  } catch {
    throw new ApiError('INVALID_JSON', `the body is not valid UTF-8 (byte ${firstInvalidUtf8(body)})`);
  }
  if (/^[ \t\n\r]*$/.test(text)) throw new ApiError('INVALID_JSON', 'the body is empty: send a JSON object');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ApiError('INVALID_JSON', `the body is not valid JSON: ${clip((err as Error).message)}`);
  }
  const forbidden = poisonedKey(text, value);
  if (forbidden) throw new ApiError('VALIDATION_ERROR', `the body must not contain a ${forbidden} key`);
  return value;
}

/** The charset parameter of a Content-Type, unquoted; undefined when there is none. */
function charsetOf(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq < 0 || param.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const value = param.slice(eq + 1).trim();
    return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
  }
  return undefined;
}

/**
 * Fastify's own rules (secure-json-parse, both set to 'error'): no `__proto__` key anywhere, and no
 * `constructor` object holding a `prototype`. Walked without recursion, so deep nesting is safe.
 */
function poisonedKey(text: string, value: unknown): string | undefined {
  // Keys can be spelt with escapes (\u005f_proto__): only a body with neither word nor an escape is skipped.
  if (!text.includes('proto') && !text.includes('constructor') && !text.includes('\\u')) return undefined;
  const stack: unknown[] = [value];
  while (stack.length) {
    const node = stack.pop();
    if (node === null || typeof node !== 'object') continue;
    if (!Array.isArray(node)) {
      if (Object.hasOwn(node, '__proto__')) return '__proto__';
      const ctor = (node as { constructor?: unknown }).constructor;
      if (Object.hasOwn(node, 'constructor') && ctor !== null && typeof ctor === 'object' && Object.hasOwn(ctor, 'prototype')) {
        return 'constructor.prototype';
      }
    }
    for (const child of Object.values(node)) if (child !== null && typeof child === 'object') stack.push(child);
  }
  return undefined;
}

/** Where the first ill-formed UTF-8 sequence starts (its lead byte, or a stray continuation byte). */
export function firstInvalidUtf8(buf: Uint8Array): number {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    // Lead byte: its length, and the range of its first continuation (no overlongs, no surrogates, ≤ U+10FFFF).
    const [len, lo, hi] =
      b >= 0xc2 && b <= 0xdf ? [2, 0x80, 0xbf]
        : b === 0xe0 ? [3, 0xa0, 0xbf]
          : b === 0xed ? [3, 0x80, 0x9f]
            : b >= 0xe1 && b <= 0xef ? [3, 0x80, 0xbf]
              : b === 0xf0 ? [4, 0x90, 0xbf]
                : b >= 0xf1 && b <= 0xf3 ? [4, 0x80, 0xbf]
                  : b === 0xf4 ? [4, 0x80, 0x8f]
                    : [0, 0, 0];
    if (len === 0) return i;
    for (let k = 1; k < len; k++) {
      const c = buf[i + k];
      if (c === undefined) return i;
      if (k === 1 ? c < lo || c > hi : c < 0x80 || c > 0xbf) return i;
    }
    i += len;
  }
  return -1;
}
