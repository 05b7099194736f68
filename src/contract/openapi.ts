/**
 * The OpenAPI 3.1 contract, generated: the zod schemas the routes validate with (and the answers'
 * in ./schemas.ts) become JSON Schema components, each route carries a Fastify schema built from
 * them, and @fastify/swagger assembles openapi.yaml (`npm run openapi` writes it; a test fails
 * when the committed file differs). /docs serves Swagger UI from the npm package, no CDN.
 *
 * The route schemas describe; they do not validate: the routes keep their zod parsing (its
 * messages name the field and the limit), so Fastify's ajv and fast-json-stringify are switched off.
 */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ERROR_STATUS } from '../errors.js';
import { TRANSCODED } from '../audio/transcode.js';
import { loadConfig } from '../config.js';
import { alignFieldsSchema } from '../align/request.js';
import { F5_OPTIONS, ttsBodySchema } from '../tts/request.js';
import { speechBodySchema, modelListSchema, voiceListSchema, openaiErrorSchema } from '../openai/schema.js';
import { voiceChangeSchema, voiceFieldsSchema } from '../voices/request.js';
import * as answers from './schemas.js';

const defaults = loadConfig({});

/** A file field of a multipart form. */
const file = (description: string) => z.custom<never>().meta({ type: 'string', format: 'binary', description });

/** Request bodies: fields with a default are optional. Forms send every field as text. */
const REQUESTS = {
  // ref_text belongs to the form, with its ref_audio.
  TtsRequest: ttsBodySchema(defaults.maxTextChars).omit({ ref_text: true }),
  // The form is f5 with an uploaded reference: no stored voice beside it.
  TtsForm: ttsBodySchema(defaults.maxTextChars)
    .omit({ voice: true })
    .extend({
      engine: z.literal('f5'),
      ref_audio: file('The voice to clone, any format ffmpeg decodes; at most 60 s, cut to 12 s at a pause. Never kept.'),
    })
    .meta({ description: "f5 with a voice to clone: the JSON body's fields as form fields, and the reference recording as ref_audio." }),
  AlignRequest: alignFieldsSchema(defaults.align.maxTextChars)
    .extend({ audio: file('The recording, any format ffmpeg decodes: at most VOICECUE_MAX_UPLOAD_BYTES (256 MiB) and VOICECUE_MAX_ALIGN_S (2 h).') })
    .meta({ description: 'Form fields are text; numbers and true/false are read as the option expects.' }),
  SpeechRequest: speechBodySchema(defaults.openai.maxInput),
  VoiceForm: voiceFieldsSchema.extend({ audio: file('The recording: 1 to 30 s of one person speaking, any format ffmpeg decodes.') }),
  VoiceChange: voiceChangeSchema,
};
/** Answers: what the service sends. */
const ANSWERS = {
  Error: answers.errorSchema,
  Word: answers.wordSchema,
  Timing: answers.timingSchema,
  SubtitleReport: answers.subtitleReportSchema,
  TtsResult: answers.ttsResultSchema,
  AlignResult: answers.alignResultSchema,
  WordsFile: answers.wordsFileSchema,
  Health: answers.healthSchema,
  Live: answers.liveSchema,
  DownloadFormat: answers.downloadFormatSchema,
  ModelList: modelListSchema,
  VoiceList: voiceListSchema,
  AudioModelList: answers.audioModelListSchema,
  OpenAIError: openaiErrorSchema,
  StoredVoice: answers.storedVoiceSchema,
  StoredVoiceList: answers.storedVoiceListSchema,
};
export type ComponentName = keyof typeof REQUESTS | keyof typeof ANSWERS;

/** JSON Schema (2020-12, OpenAPI 3.1's dialect) for a set of zod schemas, cross-referenced by `Name#`. */
function components(schemas: Record<string, z.ZodType>, io: 'input' | 'output'): Record<string, Record<string, unknown>> {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const { schemas: out } = z.toJSONSchema(registry, { uri: (id) => `${id}#`, io, target: 'draft-2020-12', unrepresentable: 'any' });
  return Object.fromEntries(Object.entries(out).map(([id, { $schema: _, $id: __, ...schema }]) => [id, { $id: id, ...schema }]));
}

export const ref = (id: ComponentName) => ({ $ref: `${id}#` });
const binary = { type: 'string', format: 'binary' };

const ERROR_HEADERS: Record<number, Record<string, unknown>> = {
  401: { 'WWW-Authenticate': { type: 'string', description: '`Bearer realm="voicecue"`, with `, error="invalid_token"` when a key was sent but is not valid.' } },
  405: { Allow: { type: 'string', description: 'The methods the path answers.' } },
  416: { 'Content-Range': { type: 'string', description: '`bytes */<size>`.' } },
  429: { 'Retry-After': { type: 'integer', description: 'Seconds until a retry may succeed.' } },
  503: { 'Retry-After': { type: 'integer', description: 'Seconds until a retry may succeed (queue full, warming up, shutting down).' } },
};

/** Error answers in the catalogue's shape: for each status, the codes it carries. */
export function errors(...statuses: number[]): Record<string, object> {
  const out: Record<string, object> = {};
  for (const status of statuses) {
    const codes = Object.entries(ERROR_STATUS).filter(([, s]) => s === status).map(([c]) => `\`${c}\``);
    out[status] = {
      description: codes.join(', '),
      ...(ERROR_HEADERS[status] ? { headers: ERROR_HEADERS[status] } : {}),
      content: { 'application/json': { schema: ref('Error') } },
    };
  }
  // Anything else (a closed connection's 499 aside) is an error in the catalogue too.
  out.default = { description: 'Any other error in the catalogue.', content: { 'application/json': { schema: ref('Error') } } };
  return out;
}

/** Statuses every route may answer whatever it does: a malformed URL, the auth and rate limits, a slow body, shutdown. */
export const COMMON = [400, 401, 408, 429, 503] as const;

export const media = { binary, audio: audioContent() };

/** Each audio format a result can be answered in. */
function audioContent(): Record<string, object> {
  const pcm = { description: '24 kHz 16-bit mono little-endian, no header.' };
  const types = ['audio/wav', ...Object.values(TRANSCODED).map((t) => t.contentType)];
  return Object.fromEntries(types.map((type) => [type, { schema: { ...binary, ...(type === 'audio/pcm' ? pcm : {}) } }]));
}

const TAGS = [
  { name: 'speech', description: 'Text in; speech and word-timed subtitles out.' },
  { name: 'align', description: 'A recording you have, timed against its script.' },
  { name: 'voices', description: 'Stored voices to clone with f5.' },
  { name: 'results', description: 'Stored results: the audio and the subtitle files.' },
  { name: 'health', description: 'Probes for Kubernetes and load balancers.' },
  { name: 'openai', description: "OpenAI's audio API (`/v1`), for OpenAI clients; errors in OpenAI's shape." },
  { name: 'metrics', description: 'Prometheus.' },
];

/** Stateful links for clients and fuzzers: a result's id leads to its download, a voice's to its routes. */
const byId = (operationId: string, description?: string) => ({ operationId, parameters: { id: '$response.body#/id' }, ...(description ? { description } : {}) });
const download = { DownloadResult: byId('download', 'The stored audio and subtitles.') };
const LINKS = {
  '/voices': { post: { '201': { GetVoice: byId('getVoice'), GetVoiceAudio: byId('getVoiceAudio'), UpdateVoice: byId('updateVoice'), DeleteVoice: byId('deleteVoice') } } },
  '/tts': { post: { '201': download } },
  '/align': { post: { '201': download } },
} as const;

/**
 * Registers the components, @fastify/swagger and /docs. Call before the routes: @fastify/swagger
 * collects routes as they are added.
 */
export async function registerContract(app: FastifyInstance, version: string): Promise<void> {
  // Descriptions, not validators (see the head of this file).
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  const requests = components(REQUESTS, 'input');
  // What routes/tts.ts refuses with a 400, said in the schema: f5's fields only with engine f5 (the form is f5's only).
  const f5Only = (fields: string[]) => ({ not: { anyOf: fields.map((field) => ({ properties: { [field]: true }, required: [field] })) } });
  Object.assign(requests.TtsRequest!, { if: { properties: { engine: { const: 'f5' } }, required: ['engine'] }, else: f5Only(F5_OPTIONS) });
  // Unknown models are refused (400): the spec lists the default configuration's.
  (requests.SpeechRequest!.properties as Record<string, Record<string, unknown>>).model!.enum = Object.keys(defaults.openai.models);
  for (const schema of [...Object.values(requests), ...Object.values(components(ANSWERS, 'output'))]) app.addSchema(schema);

  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'voicecue',
        version,
        description: [
          'Text in; speech out, with word-level timings as subtitles (SRT, WebVTT, ASS, TTML, CSV, JSON). Recordings you already have are timed against their script the same way.',
          '',
          'Every error is JSON `{statusCode, code, error, message}` with a stable `code`, and every answer carries `X-Request-Id`. A method a path does not answer is 405 `METHOD_NOT_ALLOWED` with an `Allow` header; a path no route has is 404 `NOT_FOUND`. Limits named after a variable (VOICECUE_*) are the operator\'s; the figures given are their defaults.',
        ].join('\n'),
        license: { name: 'MIT', identifier: 'MIT' },
      },
      servers: [{ url: '/', description: 'The service that serves this document.' }],
      tags: TAGS,
      // A key is needed only where the operator set some (VOICECUE_API_KEYS, VOICECUE_API_KEYS_FILE).
      security: [{ bearerAuth: [] }, {}],
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', description: 'An API key, as `Authorization: Bearer <key>`; needed on every route but /health and /health/live when the service has keys.' },
        },
      },
    },
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
    transformObject: (doc) => ('openapiObject' in doc ? withLinks(doc.openapiObject as Spec) : doc.swaggerObject),
    // Swagger UI's own routes are not the API.
    transform: ({ schema, url }) => ({ schema: url.startsWith('/docs') ? { ...schema, hide: true } : schema, url }),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { validatorUrl: null, deepLinking: true }, staticCSP: true });
}

type Spec = { paths: Record<string, Record<string, { responses: Record<string, Record<string, unknown>> }>> };

function withLinks(spec: Spec): Spec {
  for (const [path, methods] of Object.entries(LINKS)) {
    for (const [method, statuses] of Object.entries(methods)) {
      for (const [status, links] of Object.entries(statuses as Record<string, object>)) {
        const response = spec.paths[path]?.[method]?.responses[status];
        if (response) response.links = links;
      }
    }
  }
  return spec;
}
