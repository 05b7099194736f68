/**
 * The voice library: POST /voices (multipart: name, audio, ref_text, language), GET /voices,
 * GET /voices/:id, GET /voices/:id/audio, PATCH /voices/:id, DELETE /voices/:id. A voice is
 * decoded and trimmed once at upload and kept until deleted; f5 speaks with it as `voice`.
 */
import multipart from '@fastify/multipart';
import type { FastifyInstance } from 'fastify';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeReference, VOICE_UPLOAD_S } from '../src/audio/decode.js';
import { ApiError } from '../src/errors.js';
import { clip } from '../src/http/clip.js';
import { clientGone } from '../src/http/abort.js';
import { jsonBody, parseOrThrow } from '../src/http/body.js';
import { formLimits, readForm } from '../src/http/form.js';
import { UPLOAD_FILE } from '../src/pipeline/index.js';
import { noSpaceError } from '../src/pipeline/stage.js';
import { isVoiceId, VOICE_AUDIO_FILE, type Voice } from '../src/voices/library.js';
import { voiceChangeSchema, voiceFieldsSchema } from '../src/voices/request.js';
import { COMMON, errors, media, ref } from '../src/contract/openapi.js';

const idParam = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^vc_[0-9a-z]{20}$' } } };
const one = (description: string) => ({ description, content: { 'application/json': { schema: ref('StoredVoice') } } });
const tags = ['voices'];

export default async function voiceRoutes(app: FastifyInstance): Promise<void> {
  const { maxUploadBytes } = app.config.align;
  await app.register(multipart, { limits: formLimits(maxUploadBytes, 2000) });

  const answer = (v: Voice) => ({ ...v, audio_url: `/voices/${v.id}/audio` });
  const found = async (id: string): Promise<Voice> => {
    // Ids are opaque to callers: one of another shape is simply not a voice (and never near a path).
    const voice = isVoiceId(id) ? await app.voices.get(id) : null;
    if (!voice) throw new ApiError('NOT_FOUND', `no voice with id ${clip(id, 40)}`);
    return voice;
  };

  app.post('/voices', {
    schema: {
      tags, operationId: 'createVoice', summary: 'Store a voice to clone: a 1–30 s recording and its transcript',
      description: 'The recording (any format ffmpeg decodes) is decoded once to mono 24 kHz; over 12 s it is cut at a pause, and the answer says from how long. Nothing is kept of a refused upload.',
      body: { content: { 'multipart/form-data': { schema: ref('VoiceForm') } } },
      response: {
        201: { ...one('The stored voice.'), headers: { Location: { type: 'string' } } },
        ...errors(...COMMON, 413, 415, 422, 507),
      },
    },
  }, async (request, reply) => {
    if (!request.isMultipart()) throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the voice as multipart/form-data: the recording as a file field named audio, with name and ref_text');
    let staging: { id: string; dir: string };
    try {
      staging = await app.store.stage(); // refuses below the free-space floor before writing anything
    } catch (err) {
      throw noSpaceError(err) ?? err;
    }
    const { id: stagingId, dir } = staging;
    try {
      const form = await readForm(request, dir, 'audio', maxUploadBytes);
      if (!form.hasFile) throw new ApiError('VALIDATION_ERROR', 'audio is required: send the recording as a file field named audio');
      const fields = parseOrThrow(voiceFieldsSchema, form.fields);
      const upload = join(dir, UPLOAD_FILE);
      const { duration, uploaded } = await decodeReference(upload, join(dir, VOICE_AUDIO_FILE), clientGone(reply), VOICE_UPLOAD_S.max);
      if (uploaded < VOICE_UPLOAD_S.min) throw new ApiError('INVALID_AUDIO', `audio is ${uploaded.toFixed(2)} s: a voice needs ${VOICE_UPLOAD_S.min} to ${VOICE_UPLOAD_S.max} s of speech`);
      await rm(upload);
      const voice = await app.voices.add(dir, {
        name: fields.name, ref_text: fields.ref_text, language: fields.language ?? null,
        duration: Math.round(duration * 1000) / 1000, ...(uploaded > duration ? { trimmed_from: Math.round(uploaded * 1000) / 1000 } : {}),
      });
      request.log.info({ voice: voice.id, duration: voice.duration }, 'voice stored');
      return reply.code(201).header('location', `/voices/${voice.id}`).send(answer(voice));
    } catch (err) {
      await app.store.discard(stagingId).catch(() => undefined);
      throw noSpaceError(err) ?? err;
    }
  });

  app.get('/voices', {
    schema: { tags, operationId: 'listVoices', summary: 'The stored voices, oldest first', response: { 200: { description: 'The voices.', content: { 'application/json': { schema: ref('StoredVoiceList') } } }, ...errors(...COMMON) } },
  }, async () => ({ voices: (await app.voices.list()).map(answer) }));

  app.get<{ Params: { id: string } }>('/voices/:id', {
    schema: { tags, operationId: 'getVoice', summary: 'One stored voice', params: idParam, response: { 200: one('The voice.'), ...errors(...COMMON, 404) } },
  }, async (request) => answer(await found(request.params.id)));

  app.get<{ Params: { id: string } }>('/voices/:id/audio', {
    schema: {
      tags, operationId: 'getVoiceAudio', summary: "A stored voice's reference recording (mono 24 kHz WAV)", params: idParam,
      response: { 200: { description: 'The WAV.', content: { 'audio/wav': media.audio['audio/wav'] } }, ...errors(...COMMON, 404, 416) },
    },
  }, async (request, reply) => {
    const voice = await found(request.params.id);
    return reply.header('content-disposition', `inline; filename="${voice.id}.wav"`).sendFile(VOICE_AUDIO_FILE, app.voices.folder(voice.id));
  });

  app.patch<{ Params: { id: string } }>('/voices/:id', {
    schema: {
      tags, operationId: 'updateVoice', summary: "Rename a voice or correct its transcript", params: idParam,
      body: { content: { 'application/json': { schema: ref('VoiceChange') } } },
      response: { 200: one('The voice as it is now.'), ...errors(...COMMON, 404, 415) },
    },
  }, async (request) => {
    const change = parseOrThrow(voiceChangeSchema, jsonBody(request));
    await found(request.params.id);
    const voice = await app.voices.update(request.params.id, change);
    if (!voice) throw new ApiError('NOT_FOUND', `no voice with id ${request.params.id}`);
    return answer(voice);
  });

  app.delete<{ Params: { id: string } }>('/voices/:id', {
    schema: { tags, operationId: 'deleteVoice', summary: 'Delete a stored voice', params: idParam, response: { 204: { description: 'Deleted.', type: 'null' }, ...errors(...COMMON, 404) } },
  }, async (request, reply) => {
    await found(request.params.id);
    if (!(await app.voices.remove(request.params.id, app.store.stagingDir))) throw new ApiError('NOT_FOUND', `no voice with id ${request.params.id}`); // deleted meanwhile
    request.log.info({ voice: request.params.id }, 'voice deleted');
    return reply.code(204).send();
  });
}
