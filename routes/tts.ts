import type { FastifyInstance } from 'fastify';
import { ApiError } from '../src/errors.js';
import { parseOrThrow, ttsBodySchema } from '../src/tts/request.js';
import { AUDIO_FILE, synthesize } from '../src/tts/synthesize.js';
import { downloadUrls } from '../src/tts/formats.js';

export default async function ttsRoutes(app: FastifyInstance): Promise<void> {
  const schema = ttsBodySchema(app.voicecue.config.maxTextChars);

  app.post('/tts', async (request, reply) => {
    if (!request.headers['content-type']?.toLowerCase().startsWith('application/json')) {
      throw new ApiError('UNSUPPORTED_MEDIA_TYPE', 'send the request as application/json');
    }
    const wantsAudio = negotiate(request.headers.accept) === 'audio';
    const body = parseOrThrow(schema, request.body);
    const outcome = await synthesize(app.voicecue, body);
    const { formats, ...rest } = outcome;
    request.log.info({ id: outcome.id, engine: outcome.engine, words: outcome.words.length, timings_ms: outcome.timings_ms }, 'synthesized');
    if (wantsAudio) {
      const dir = `${outcome.id}`;
      return reply
        .header('x-voicecue-id', outcome.id)
        .header('x-voicecue-duration', String(outcome.duration))
        .header('content-disposition', `inline; filename="${outcome.id}.wav"`)
        .sendFile(`${dir}/${AUDIO_FILE}`);
    }
    return reply.code(201).header('location', `/download/${outcome.id}`).send({
      ...rest,
      audio_url: `/download/${outcome.id}`,
      downloads: downloadUrls(outcome.id, formats),
    });
  });
}

const AUDIO_TYPES = new Set(['audio/wav', 'audio/x-wav', 'audio/wave', 'audio/vnd.wave', 'audio/*']);
const JSON_TYPES = new Set(['application/json', 'application/*', '*/*']);

/** Picks JSON or WAV from an Accept header by q-value; JSON wins ties and a missing header. */
export function negotiate(accept: string | undefined): 'json' | 'audio' {
  if (!accept) return 'json';
  let best: { kind: 'json' | 'audio'; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const q = qParam ? Number(qParam.slice(2)) : 1;
    if (!(q > 0)) continue;
    const kind = JSON_TYPES.has(type.trim()) ? 'json' : AUDIO_TYPES.has(type.trim()) ? 'audio' : undefined;
    if (kind && (!best || q > best.q || (q === best.q && kind === 'json' && type.trim() !== '*/*'))) best = { kind, q };
  }
  if (!best) throw new ApiError('NOT_ACCEPTABLE', 'this endpoint answers application/json or audio/wav');
  return best.kind;
}
