import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../src/errors.js';
import { parseOrThrow, ttsBodySchema } from '../src/tts/request.js';
import { AUDIO_FILE, synthesize } from '../src/tts/synthesize.js';
import { downloadPath, downloadUrls } from '../src/tts/formats.js';

export default async function ttsRoutes(app: FastifyInstance): Promise<void> {
  const schema = ttsBodySchema(app.voicecue.config.maxTextChars);

  app.post('/tts', async (request, reply) => {
    const mediaType = request.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (mediaType !== 'application/json') {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
    }
    const wantsAudio = negotiate(request.headers.accept) === 'audio';
    const body = parseOrThrow(schema, request.body);
    if (LONE_SURROGATE.test(body.text)) throw new ApiError('VALIDATION_ERROR', 'text contains an unpaired UTF-16 surrogate');
    const outcome = await synthesize(app.voicecue, body);
    const { formats, ...rest } = outcome;
    request.log.info({ id: outcome.id, engine: outcome.engine, words: outcome.words.length, timings_ms: outcome.timings_ms }, 'synthesized');
    if (wantsAudio) {
      // Streamed directly: Range and conditional requests belong to GET /download, not to a POST.
      const path = join(app.voicecue.store.artifactsDir, outcome.id, AUDIO_FILE);
      return reply
        .header('content-type', 'audio/wav')
        .header('content-length', (await stat(path)).size)
        .header('x-voicecue-id', outcome.id)
        .header('x-voicecue-duration', String(outcome.duration))
        .header('content-disposition', `inline; filename="${outcome.id}.wav"`)
        .header('location', downloadPath(outcome.id))
        .send(createReadStream(path));
    }
    const audioUrl = downloadPath(outcome.id);
    return reply.code(201).header('location', audioUrl).send({
      ...rest,
      audio_url: audioUrl,
      downloads: downloadUrls(outcome.id, formats),
    });
  });
}

/** Text that cannot be encoded as UTF-8 (String.prototype.isWellFormed, which ES2023 types lack). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const OFFERS = {
  json: ['application/json'],
  audio: ['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave'],
} as const;

/**
 * Picks JSON or WAV from an Accept header (RFC 9110): each offer takes the q of the most specific
 * range that matches it (an exact type, then a type wildcard, then the full wildcard), so an
 * explicit application/json;q=0 excludes JSON even next to a wildcard. The higher q wins; JSON
 * wins a tie and a missing header.
 */
export function negotiate(accept: string | undefined): 'json' | 'audio' {
  if (!accept?.trim()) return 'json';
  const ranges = accept.split(',').map((part) => {
    const [type = '', ...params] = part.trim().toLowerCase().split(';').map((p) => p.trim());
    const q = params.find((p) => p.startsWith('q='));
    return { type, q: q ? Number(q.slice(2)) || 0 : 1 };
  });
  const qOf = (types: readonly string[]): number => {
    let best = { specificity: -1, q: 0 };
    for (const { type, q } of ranges) {
      const specificity = types.includes(type) ? 2 : types.some((t) => type === `${t.split('/')[0]}/*`) ? 1 : type === '*/*' ? 0 : -1;
      if (specificity > best.specificity) best = { specificity, q };
    }
    return best.q;
  };
  const json = qOf(OFFERS.json);
  const audio = qOf(OFFERS.audio);
  if (json <= 0 && audio <= 0) throw new ApiError('NOT_ACCEPTABLE', 'this endpoint answers application/json or audio/wav');
  return audio > json ? 'audio' : 'json';
}
