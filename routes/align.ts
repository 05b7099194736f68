import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { alignFieldsSchema } from '../src/align/request.js';
import { ApiError } from '../src/errors.js';
import { clientGone } from '../src/http/abort.js';
import { assertSpeakable, parseOrThrow } from '../src/http/body.js';
import { formLimits, formValues, readForm } from '../src/http/form.js';
import { align, type AlignRequest, type AlignResult } from '../src/pipeline/index.js';
import { streamProgress, PROGRESS_EVENT_SCHEMA } from '../src/http/events.js';
import { streamFailure } from '../src/http/framework.js';
import { negotiate } from '../src/http/negotiate.js';
import { downloadPath, downloadUrls } from '../src/tts/formats.js';
import { COMMON, errors, ref } from '../src/contract/openapi.js';

const schemaOfAlign = {
  tags: ['align'],
  operationId: 'align',
  summary: 'Time the words of a recording you already have against its script',
  description:
    'The recording is decoded once to 24 kHz mono WAV and timed by the aligner chain (auto: whisperx where it runs, then pocketsphinx for English, then dtw, then google). Words the audio lacks are still placed, inside the audio, with low confidence. Stored like a /tts result: the WAV and the subtitle files download from GET /download/{id}.',
  body: { content: { 'multipart/form-data': { schema: ref('AlignRequest') } } },
  response: {
    201: {
      description: 'The words, stored under an id with the WAV and the subtitle files.',
      headers: { Location: { type: 'string', description: "The WAV's download path." } },
      content: { 'application/json': { schema: ref('AlignResult') } },
    },
    200: {
      description: 'With `Accept: text/event-stream`: progress events once the recording is decoded, then the `result` event (the 201 answer) or an `error` event.',
      content: { 'text/event-stream': { schema: PROGRESS_EVENT_SCHEMA } },
    },
    ...errors(...COMMON, 413, 415, 422, 504, 507),
  },
};

/** POST /align: a recording (multipart file `audio`) and its script → word timings and subtitle files, stored like /tts's. */
export default async function alignRoutes(app: FastifyInstance): Promise<void> {
  const { maxUploadBytes, maxTextChars } = app.config.align;
  const schema = alignFieldsSchema(maxTextChars);
  // Scoped to this plugin: other routes keep their own body types.
  await app.register(multipart, { limits: formLimits(maxUploadBytes, maxTextChars) });

  app.post('/align', { schema: schemaOfAlign }, async (request, reply) => {
    if (!request.isMultipart()) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as multipart/form-data: the recording as a file field named audio, its script as text');
    }
    const { config, workers, store } = app;
    const timings: Record<string, number> = {};
    let fields: ReturnType<typeof schema.parse> | undefined;
    const receive = async (dir: string): Promise<AlignRequest> => {
      const form = await readForm(request, dir, 'audio', maxUploadBytes);
      if (!form.hasFile) throw new ApiError('VALIDATION_ERROR', 'audio is required: send the recording as a file field named audio');
      fields = parseOrThrow(schema, formValues(schema, form.fields));
      assertSpeakable(fields.text);
      const { text, language, timing_method, return_word_timings: _, ...subtitles } = fields;
      return { text, language: language ?? null, timingMethod: timing_method, subtitles };
    };
    const ctx = { config, workers, store, log: request.log, signal: clientGone(reply), timings, google: app.google, metrics: app.metrics };
    const answer = (result: AlignResult) => {
      request.log.info({ id: result.id, words: result.words.length, aligner: result.timing.aligner, duration: result.duration, timings_ms: timings }, 'aligned');
      return {
        id: result.id,
        language: fields!.language ?? null,
        sample_rate: result.sample_rate,
        samples: result.samples,
        duration: result.duration,
        words: fields!.return_word_timings ? result.words : [],
        timing: result.timing,
        subtitles: result.subtitles,
        timings_ms: timings,
        audio_url: downloadPath(result.id),
        downloads: downloadUrls(result.id, result.formats, 'wav'),
      };
    };
    if (negotiate(request.headers.accept) === 'events') {
      return streamProgress(reply, (progress) => align({ ...ctx, progress }, receive), answer, (err) => streamFailure(request, err));
    }
    const result = await align(ctx, receive);
    return reply.code(201).header('location', downloadPath(result.id)).send(answer(result));
  });
}
