/** multipart/form-data bodies (@fastify/multipart, registered by the routes that take them). */
import type { FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { ApiError } from '../errors.js';
import { UPLOAD_FILE } from '../pipeline/index.js';
import { clip } from './clip.js';

const MAX_FORM_FIELDS = 60;

/** @fastify/multipart's limits for a route that takes one upload and text fields (4 bytes a character at most). */
export function formLimits(maxUploadBytes: number, maxTextChars: number) {
  return { fileSize: maxUploadBytes, files: 1, fields: MAX_FORM_FIELDS, parts: MAX_FORM_FIELDS + 1, fieldSize: 4 * maxTextChars + 1024, fieldNameSize: 100, headerPairs: 100 };
}

/**
 * Reads every part: the one file field `fileField` is written to UPLOAD_FILE in `dir` (a fixed
 * name, never the client's), the others are kept as strings. A field sent twice, a value cut by
 * the size limit or another file field is a 400 that names it.
 */
export async function readForm(request: FastifyRequest, dir: string, fileField: string, maxUploadBytes: number): Promise<{ fields: Record<string, string>; hasFile: boolean }> {
  const fields: Record<string, string> = {};
  let hasFile = false;
  try {
    for await (const part of request.parts()) {
      if (part.type === 'file') {
        if (part.fieldname !== fileField) throw new ApiError('VALIDATION_ERROR', `unknown file field: ${clip(part.fieldname, 40)}; send the recording as ${fileField}`);
        await pipeline(part.file, createWriteStream(join(dir, UPLOAD_FILE), { flags: 'wx' }));
        hasFile = true;
      } else {
        if (Object.hasOwn(fields, part.fieldname)) throw new ApiError('VALIDATION_ERROR', `${clip(part.fieldname, 40)} is sent more than once`);
        if (part.valueTruncated) throw new ApiError('VALIDATION_ERROR', `${clip(part.fieldname, 40)} is too long`);
        fields[part.fieldname] = String(part.value);
      }
    }
  } catch (err) {
    throw formError(err, maxUploadBytes);
  }
  return { fields, hasFile };
}

/** @fastify/multipart's limit and framing errors in the catalogue's words. */
export function formError(err: unknown, maxUploadBytes: number): unknown {
  switch ((err as { code?: string }).code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', `the recording is larger than the limit of ${maxUploadBytes} bytes`);
    case 'FST_FILES_LIMIT':
      return new ApiError('VALIDATION_ERROR', 'send one recording only (one file field)');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError('VALIDATION_ERROR', `too many form fields: at most ${MAX_FORM_FIELDS}`);
    case 'FST_PROTO_VIOLATION':
      return new ApiError('VALIDATION_ERROR', 'a form field has a reserved name');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new ApiError('VALIDATION_ERROR', 'a form field declared as JSON is not valid JSON; send fields as plain text');
    case 'FST_MP_PREMATURE_CLOSE':
      return new ApiError('MALFORMED_REQUEST', 'the multipart body ended before it was complete');
    default:
      if (err instanceof Error && !(err instanceof ApiError) && /multipart|boundary/i.test(err.message)) {
        return new ApiError('MALFORMED_REQUEST', `the multipart body is malformed: ${clip(err.message, 100)}`);
      }
      return err;
  }
}

/**
 * Form values typed as the schema expects them: "1.5" a number, "true" a boolean, where the
 * field is one; anything else is left as sent, so the schema names the field that is wrong.
 */
export function formValues(schema: z.ZodObject, fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(fields)) {
    const type = Object.hasOwn(schema.shape, name) ? baseType(schema.shape[name] as z.ZodType) : 'string';
    const trimmed = value.trim();
    if (type === 'number' && trimmed !== '' && Number.isFinite(Number(trimmed))) out[name] = Number(trimmed);
    else if (type === 'boolean' && (trimmed === 'true' || trimmed === 'false')) out[name] = trimmed === 'true';
    else out[name] = value;
  }
  return out;
}

function baseType(field: z.ZodType): string {
  let def = field._zod.def as { type: string; innerType?: z.ZodType };
  while (def.innerType) def = def.innerType._zod.def as typeof def;
  return def.type;
}
