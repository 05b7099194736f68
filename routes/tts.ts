import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { ApiError } from '../src/errors.js';
import { clientGone } from '../src/http/abort.js';
import { assertSpeakable, jsonBody, parseOrThrow } from '../src/http/body.js';
import { formLimits, formValues, readForm } from '../src/http/form.js';
import { negotiate } from '../src/http/negotiate.js';
import { speak, type SpeechRequest, type SpeechResult } from '../src/pipeline/index.js';
import { PROGRESS_EVENT_SCHEMA, streamProgress } from '../src/http/events.js';
import { streamFailure } from '../src/http/framework.js';
import { F5_OPTIONS, ttsBodySchema, type TtsBody } from '../src/tts/request.js';
import { downloadPath, downloadUrls } from '../src/tts/formats.js';
import { COMMON, errors, media, ref } from '../src/contract/openapi.js';
import { clip } from '../src/http/clip.js';
import { isVoiceId } from '../src/voices/library.js';

const RESULT_HEADERS = { Location: { type: 'string', description: "The audio's download path." } };
const schemaOfTts = {
  tags: ['speech'],
  operationId: 'synthesize',
  summary: 'Synthesize speech with word timings',
  description:
    'JSON, or multipart/form-data for f5 with a voice to clone (ref_audio). The answer is the stored result as JSON (201), with `Accept: audio/*` the audio itself (200) in `audio_format`, or with `Accept: text/event-stream` progress events and then the result; the words and subtitle files download from GET /download/{id} either way.',
  body: { content: { 'application/json': { schema: ref('TtsRequest') }, 'multipart/form-data': { schema: ref('TtsForm') } } },
  response: {
    201: { description: 'The result, stored under its id.', headers: RESULT_HEADERS, content: { 'application/json': { schema: ref('TtsResult') } } },
    200: {
      description: 'With `Accept: audio/*`: the audio itself, in `audio_format` (default wav). With `Accept: text/event-stream`: a progress event per chunk spoken and per aligner step, then the `result` event (the 201 answer) or an `error` event.',
      headers: {
        ...RESULT_HEADERS,
        'X-Voicecue-Id': { type: 'string', description: "The result's id." },
        'X-Voicecue-Duration': { type: 'number', description: 'Seconds of audio.' },
        'X-Voicecue-Timing': { type: 'string', description: 'The aligner that timed the words, or `unavailable`.' },
      },
      content: { ...media.audio, 'text/event-stream': { schema: PROGRESS_EVENT_SCHEMA } },
    },
    ...errors(...COMMON, 406, 413, 415, 422, 504, 507),
  },
};

export default async function ttsRoutes(app: FastifyInstance): Promise<void> {
  const schema = ttsBodySchema(app.config.maxTextChars);
  // multipart (a reference recording for f5) only here and on /align; everything else is JSON.
  await app.register(multipart, { limits: formLimits(app.config.align.maxUploadBytes, app.config.maxTextChars) });

  /** The validated body as the pipeline takes it; f5's fields are refused for other engines. */
  const toRequest = (body: TtsBody, uploaded: boolean): { req: SpeechRequest; body: TtsBody } => {
    assertSpeakable(body.text);
    const { config } = app;
    const { text, engine = config.defaultEngine, voice, language, speed, return_word_timings: _, timing_method, audio_format, ref_text, ...rest } = body;
    const options: Record<string, number | boolean> = {};
    const subtitles: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(rest)) {
      if ((F5_OPTIONS as string[]).includes(k)) options[k] = v as number | boolean;
      else subtitles[k] = v;
    }
    const f5Only = [...Object.keys(options), ...(ref_text !== undefined ? ['ref_text'] : []), ...(uploaded ? ['ref_audio'] : [])];
    if (engine !== 'f5' && f5Only.length) throw new ApiError('VALIDATION_ERROR', `${f5Only.join(', ')} ${f5Only.length > 1 ? 'are' : 'is'} for engine f5 (a cloned voice); engine ${engine} does not take ${f5Only.length > 1 ? 'them' : 'it'}`);
    if (ref_text !== undefined && !uploaded) throw new ApiError('VALIDATION_ERROR', 'ref_text comes with ref_audio: send both as multipart/form-data');
    return {
      body,
      req: {
        // f5's voice is a stored voice or the upload, never an eSpeak NG default.
        engine, text, voice: voice ?? (language || engine === 'f5' ? null : config.defaultVoice), language: language ?? null, speed, subtitles, timingMethod: timing_method, audioFormat: audio_format,
        ...(Object.keys(options).length ? { options } : {}),
        ...(uploaded ? { uploadedReference: { text: ref_text ?? '' } } : {}),
      },
    };
  };

  /** f5 speaks a stored voice (or an uploaded reference); espeak its own voices, never a stored one. */
  const withStoredVoice = async (req: SpeechRequest): Promise<SpeechRequest> => {
    const { voice } = req;
    if (req.engine !== 'f5') {
      if (voice && isVoiceId(voice)) {
        throw new ApiError('UNKNOWN_VOICE', `${voice} is a stored voice, which only f5 (voice cloning) speaks: send engine f5 with it, or an eSpeak NG voice such as en-us`);
      }
      return req;
    }
    if (!voice) return req; // the upload; without one the worker says what to send
    if (req.uploadedReference) throw new ApiError('VALIDATION_ERROR', 'send either voice (a stored voice) or ref_audio, not both');
    const stored = isVoiceId(voice) ? await app.voices.reference(voice) : null;
    if (!stored) {
      throw new ApiError('UNKNOWN_VOICE', isVoiceId(voice)
        ? `no stored voice ${voice}: GET /voices lists them`
        : `f5 speaks stored voices, and ${clip(voice, 64)} is not one: store one with POST /voices, or send ref_audio`);
    }
    const { language, ...storedVoice } = stored;
    return { ...req, storedVoice, language: req.language ?? language };
  };

  /** A multipart /tts: the fields as the JSON body's, and ref_audio written into the staging folder. */
  const receive = (request: FastifyRequest, got: (body: TtsBody) => void) => async (dir: string): Promise<SpeechRequest> => {
    const { fields, hasFile } = await readForm(request, dir, 'ref_audio', app.config.align.maxUploadBytes);
    const { req, body } = toRequest(parseOrThrow(schema, formValues(schema, fields)), hasFile);
    if (!hasFile) throw new ApiError('VALIDATION_ERROR', 'ref_audio is required: multipart/form-data is for f5 with a voice to clone; send JSON otherwise');
    got(body);
    return withStoredVoice(req);
  };

  app.post('/tts', { schema: schemaOfTts }, async (request, reply) => {
    const form = request.isMultipart();
    const answer = negotiate(request.headers.accept);
    let body: TtsBody | undefined;
    let req: SpeechRequest | undefined;
    if (!form) {
      ({ req, body } = toRequest(parseOrThrow(schema, jsonBody(request)), false));
      req = await withStoredVoice(req);
    }
    const { config, workers, store } = app;
    const timings: Record<string, number> = {};
    const ctx = { config, workers, store, log: request.log, signal: clientGone(reply), timings, google: app.google, metrics: app.metrics };
    const speech = req ?? receive(request, (b) => (body = b));
    const logged = (result: SpeechResult) => {
      request.log.info({ id: result.id, engine: result.engine, words: result.words.length, aligner: result.timing.aligner, timings_ms: timings }, 'synthesized');
      return result;
    };
    const json = (result: SpeechResult) => {
      const { language, speed, return_word_timings, audio_format } = body!;
      return {
        id: result.id,
        engine: result.engine,
        voice: result.voice,
        language: language ?? null,
        speed,
        sample_rate: result.sample_rate,
        samples: result.samples,
        duration: result.duration,
        words: return_word_timings ? result.words : [],
        ...result.engineReport,
        timing: result.timing,
        subtitles: result.subtitles,
        timings_ms: timings,
        audio_url: downloadPath(result.id, audio_format === 'wav' ? undefined : audio_format),
        audio_format,
        downloads: downloadUrls(result.id, result.formats, audio_format),
      };
    };
    if (answer === 'events') {
      return streamProgress(reply, (progress) => speak({ ...ctx, progress }, speech), (result) => json(logged(result)), (err) => streamFailure(request, err));
    }
    const result = logged(await speak(ctx, speech));
    const { audio_format } = body!;
    if (answer === 'audio') {
      // Streamed directly: Range and conditional requests belong to GET /download, not to a POST.
      return reply
        .header('content-type', result.audio.contentType)
        .header('content-length', result.audio.bytes)
        .header('x-voicecue-id', result.id)
        .header('x-voicecue-duration', String(result.duration))
        .header('x-voicecue-timing', result.timing.aligner ?? 'unavailable')
        .header('content-disposition', `inline; filename="${result.id}.${audio_format}"`)
        .header('location', downloadPath(result.id, audio_format === 'wav' ? undefined : audio_format))
        .send(createReadStream(join(store.artifactsDir, result.id, result.audio.file)));
    }
    const answered = json(result);
    return reply.code(201).header('location', answered.audio_url).send(answered);
  });
}
