/**
 * The OpenAI-compatible surface: POST /v1/audio/speech, GET /v1/models, GET /v1/audio/voices
 * (and /v1/audio/models, which Open WebUI-style clients ask for). Errors here, and only here,
 * are in OpenAI's shape. Each speech is also a stored voicecue result (X-Voicecue-Id, Location):
 * its words and subtitles download like /tts's.
 */
import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { clientGone } from '../src/http/abort.js';
import { jsonBody } from '../src/http/body.js';
import { speak } from '../src/pipeline/index.js';
import { downloadPath } from '../src/tts/formats.js';
import { openaiErrorHandler, ParamError } from '../src/openai/errors.js';
import { speechBodySchema, type SpeechBody } from '../src/openai/schema.js';
import { resolveModel, resolveVoice, voiceLibraryOf } from '../src/openai/voices.js';
import { streamSpeech } from '../src/openai/stream.js';
import type { EngineName } from '../src/services/workers.js';
import { COMMON, media, ref } from '../src/contract/openapi.js';
import { isVoiceId } from '../src/voices/library.js';

/** /v1 answers errors in OpenAI's shape, for every status. */
const openaiErrors = Object.fromEntries(
  [...COMMON, 404, 413, 415, 422, 504, 507, 'default'].map((s) => [s, { description: "An error in OpenAI's shape.", content: { 'application/json': { schema: ref('OpenAIError') } } }]),
);
const SSE_EVENT = {
  type: 'object',
  description: 'One server-sent event. `data` is JSON: `speech.audio.delta` {audio: base64}, `voicecue.words` {words}, `speech.audio.done` {usage}, or `error`.',
  required: ['data'],
  properties: { data: { type: 'string', contentMediaType: 'application/json' }, event: { type: 'string' }, id: { type: 'string' }, retry: { type: 'integer' } },
};
const v1 = (operationId: string, summary: string, answer: object) => ({ tags: ['openai'], operationId, summary, response: { 200: answer, ...openaiErrors } });

/** What each engine can do with `speed` (espeak's rate 87..350 words a minute). */
const ENGINE_SPEED: Record<EngineName, { min: number; max: number }> = { espeak: { min: 0.5, max: 2 }, f5: { min: 0.5, max: 2 } };
/** Engines that follow `instructions` (none yet: F5 takes its style from the reference voice). */
const FOLLOWS_INSTRUCTIONS: ReadonlySet<EngineName> = new Set();
/** /v1/models' `created`: fixed, so the answer never changes under a client's cache. */
const CREATED = 1_735_689_600; // 2025-01-01

export default async function openaiRoutes(app: FastifyInstance): Promise<void> {
  app.setErrorHandler(openaiErrorHandler);
  const schema = speechBodySchema(app.config.openai.maxInput);

  app.post('/v1/audio/speech', {
    schema: {
      ...v1('createSpeech', "OpenAI's speech endpoint: the audio in response_format (default mp3), whole or streamed", {
        description: 'The audio, or with `stream_format: sse` `speech.audio.delta` events (base64 audio), `voicecue.words` events and `speech.audio.done`.',
        headers: {
          'X-Voicecue-Id': { type: 'string', description: 'The stored result: its words and subtitles download from /download/{id}.' },
          'X-Voicecue-Engine': { type: 'string' },
          'X-Voicecue-Voice': { type: 'string' },
          'X-Voicecue-Notice': { type: 'string', description: 'What was changed or ignored (speed clamped, instructions).' },
        },
        // Before OpenAPI 3.2 (itemSchema), an event stream's schema describes each event.
        content: { ...media.audio, 'text/event-stream': { schema: SSE_EVENT } },
      }),
      body: { content: { 'application/json': { schema: ref('SpeechRequest') } } },
    },
  }, async (request, reply) => {
    const body = parseSpeech(schema, jsonBody(request));
    const { config, workers, store } = app;
    const model = resolveModel(config.openai, body.model);
    const { engine, voice, notices } = await resolveVoice(config.openai, workers, voiceLibraryOf(app), model, body.voice);
    const range = ENGINE_SPEED[engine];
    const speed = Math.min(range.max, Math.max(range.min, body.speed));
    if (speed !== body.speed) notices.push(`speed ${body.speed} is outside ${engine}'s ${range.min}-${range.max}: spoken at ${speed}`);
    if (body.instructions !== undefined && !FOLLOWS_INSTRUCTIONS.has(engine)) notices.push(`instructions are ignored: ${engine} does not follow them`);
    reply
      .header('x-voicecue-engine', engine)
      .header('x-voicecue-voice', voice)
      .header('x-voicecue-speed', String(speed));
    if (body.instructions !== undefined) reply.header('x-voicecue-instructions', FOLLOWS_INSTRUCTIONS.has(engine) ? 'applied' : 'ignored');
    if (notices.length) reply.header('x-voicecue-notice', notices.join('; '));

    const signal = clientGone(reply);
    const timings: Record<string, number> = {};
    const ctx = { config, workers, store, log: request.log, signal, timings, metrics: app.metrics };
    // A stored voice is f5's reference.
    const stored = engine === 'f5' && isVoiceId(voice) ? await app.voices.reference(voice) : null;
    const speech = {
      engine, text: body.input, voice, language: stored?.language ?? null, speed, subtitles: {},
      ...(stored ? { storedVoice: { id: stored.id, text: stored.text, audioPath: stored.audioPath } } : {}),
    };
    if (body.stream_format) return streamSpeech(ctx, reply, speech, body.response_format, body.stream_format);

    const result = await speak(ctx, { ...speech, audioFormat: body.response_format });
    request.log.info({ id: result.id, engine, format: body.response_format, words: result.words.length, timings_ms: timings }, 'speech');
    const format = body.response_format;
    return reply
      .header('content-type', result.audio.contentType)
      .header('content-length', result.audio.bytes)
      .header('x-voicecue-id', result.id)
      .header('x-voicecue-duration', String(result.duration))
      .header('location', downloadPath(result.id, format))
      .send(createReadStream(join(store.artifactsDir, result.id, result.audio.file)));
  });

  app.get('/v1/models', { schema: v1('listModels', 'The models: each an engine (tts-1, tts-1-hd, gpt-4o-mini-tts and f5 by default)', ref('ModelList')) }, async () => ({
    object: 'list',
    data: Object.keys(app.config.openai.models).map((id) => ({ id, object: 'model', created: CREATED, owned_by: 'voicecue' })),
  }));

  // Open WebUI asks its TTS server for {models: [{id}]} and {voices: [{id, name}]}.
  app.get('/v1/audio/models', { schema: v1('listAudioModels', 'The models, as Open WebUI asks for them', ref('AudioModelList')) }, async () => ({ models: Object.keys(app.config.openai.models).map((id) => ({ id })) }));

  app.get('/v1/audio/voices', { schema: v1('listOpenAIVoices', "The voices: OpenAI's names (mapped to eSpeak NG voices) and stored voices", ref('VoiceList')) }, async () => {
    const named = Object.entries(app.config.openai.voices).map(([id, voice]) => ({ id, name: id, engine: 'espeak' as const, voice }));
    const stored = (await voiceLibraryOf(app)?.list()) ?? [];
    return { voices: [...named, ...stored.map((v) => ({ id: v.id, name: v.name, engine: v.engine, voice: v.voice }))] };
  });
}

/** The body, or a 400 that names the field (OpenAI's `param`). */
function parseSpeech(schema: ReturnType<typeof speechBodySchema>, raw: unknown): SpeechBody {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const param = issue.path.map(String).join('.') || null;
    const message = param ? `${param} ${issue.message}` : `the body ${issue.message}`;
    throw new ParamError(param ?? 'body', message);
  }
  const body = parsed.data;
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(body.input)) throw new ParamError('input', 'input contains an unpaired UTF-16 surrogate');
  return body;
}

