import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { alignFieldsSchema, formValues } from '../src/align/request.js';
import { ApiError } from '../src/errors.js';
import { clientGone } from '../src/http/abort.js';
import { assertWellFormed, parseOrThrow } from '../src/http/body.js';
import { clip } from '../src/http/clip.js';
import { align, UPLOAD_FILE, type AlignRequest } from '../src/pipeline/index.js';
import { downloadPath, downloadUrls } from '../src/tts/formats.js';

const MAX_FIELDS = 30;

/** POST /align: a recording (multipart file `audio`) and its script → word timings and subtitle files, stored like /tts's. */
export default async function alignRoutes(app: FastifyInstance): Promise<void> {
  const { maxUploadBytes, maxTextChars } = app.config.align;
  const schema = alignFieldsSchema(maxTextChars);
  // Scoped to this plugin: /tts keeps accepting only JSON.
  await app.register(multipart, {
    limits: { fileSize: maxUploadBytes, files: 1, fields: MAX_FIELDS, parts: MAX_FIELDS + 1, fieldSize: 4 * maxTextChars + 1024, fieldNameSize: 100, headerPairs: 100 },
  });

  app.post('/align', async (request, reply) => {
    if (!request.isMultipart()) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as multipart/form-data: the recording as a file field named audio, its script as text');
    }
    const { config, workers, store } = app;
    const timings: Record<string, number> = {};
    let fields: ReturnType<typeof schema.parse> | undefined;
    const receive = async (dir: string): Promise<AlignRequest> => {
      const sent: Record<string, string> = {};
      let hasAudio = false;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'file') {
            if (part.fieldname !== 'audio') throw new ApiError('VALIDATION_ERROR', `unknown file field: ${clip(part.fieldname, 40)}; send the recording as audio`);
            await pipeline(part.file, createWriteStream(join(dir, UPLOAD_FILE), { flags: 'wx' }));
            hasAudio = true;
          } else {
            if (Object.hasOwn(sent, part.fieldname)) throw new ApiError('VALIDATION_ERROR', `${clip(part.fieldname, 40)} is sent more than once`);
            if (part.valueTruncated) throw new ApiError('VALIDATION_ERROR', `${clip(part.fieldname, 40)} is too long`);
            sent[part.fieldname] = String(part.value);
          }
        }
      } catch (err) {
        throw formError(err, maxUploadBytes);
      }
      if (!hasAudio) throw new ApiError('VALIDATION_ERROR', 'audio is required: send the recording as a file field named audio');
      fields = parseOrThrow(schema, formValues(schema, sent));
      assertWellFormed(fields.text);
      const { text, language, timing_method, return_word_timings: _, ...subtitles } = fields;
      return { text, language: language ?? null, timingMethod: timing_method, subtitles };
    };
    const result = await align({ config, workers, store, log: request.log, signal: clientGone(reply), timings, google: app.google }, receive);
    request.log.info({ id: result.id, words: result.words.length, aligner: result.timing.aligner, duration: result.duration, timings_ms: timings }, 'aligned');
    const audioUrl = downloadPath(result.id);
    return reply.code(201).header('location', audioUrl).send({
      id: result.id,
      language: fields!.language ?? null,
      sample_rate: result.sample_rate,
      samples: result.samples,
      duration: result.duration,
      words: fields!.return_word_timings ? result.words : [],
      timing: result.timing,
      subtitles: result.subtitles,
      timings_ms: timings,
      audio_url: audioUrl,
      downloads: downloadUrls(result.id, result.formats, 'wav'),
    });
  });
}

/** @fastify/multipart's limit and framing errors in the catalogue's words. */
function formError(err: unknown, maxUploadBytes: number): unknown {
  switch ((err as { code?: string }).code) {
    case 'FST_REQ_FILE_TOO_LARGE':
      return new ApiError('PAYLOAD_TOO_LARGE', `audio is larger than the limit of ${maxUploadBytes} bytes`);
    case 'FST_FILES_LIMIT':
      return new ApiError('VALIDATION_ERROR', 'send one recording only (one file field named audio)');
    case 'FST_PARTS_LIMIT':
    case 'FST_FIELDS_LIMIT':
      return new ApiError('VALIDATION_ERROR', `too many form fields: at most ${MAX_FIELDS}`);
    case 'FST_PROTO_VIOLATION':
      return new ApiError('VALIDATION_ERROR', 'a form field has a reserved name');
    case 'FST_INVALID_JSON_FIELD_ERROR':
      return new ApiError('VALIDATION_ERROR', 'a form field declared as JSON is not valid JSON; send fields as plain text');
    case 'FST_MP_PREMATURE_CLOSE':
      return new ApiError('MALFORMED_REQUEST', 'the multipart body ended before it was complete');
    default:
      if (err instanceof Error && /multipart|boundary/i.test(err.message) && !(err instanceof ApiError)) {
        return new ApiError('MALFORMED_REQUEST', `the multipart body is malformed: ${clip(err.message, 100)}`);
      }
      return err;
  }
}
