import type { FastifyInstance } from 'fastify';
import { createReadStream } from 'node:fs';
import { join } from 'node:path';
import { clientGone } from '../src/http/abort.js';
import { assertWellFormed, jsonBody, parseOrThrow } from '../src/http/body.js';
import { negotiate } from '../src/http/negotiate.js';
import { speak } from '../src/pipeline/index.js';
import { ttsBodySchema } from '../src/tts/request.js';
import { downloadPath, downloadUrls } from '../src/tts/formats.js';

export default async function ttsRoutes(app: FastifyInstance): Promise<void> {
  const schema = ttsBodySchema(app.config.maxTextChars);

  app.post('/tts', async (request, reply) => {
    const raw = jsonBody(request);
    const answer = negotiate(request.headers.accept);
    const wantsAudio = answer === 'audio';
    const body = parseOrThrow(schema, raw);
    assertWellFormed(body.text);
    const { config, workers, store } = app;
    const timings: Record<string, number> = {};
    const { text, engine = config.defaultEngine, voice, language, speed, return_word_timings, timing_method, audio_format, ...subtitles } = body;
    const result = await speak(
      { config, workers, store, log: request.log, signal: clientGone(reply), timings, google: app.google },
      { engine, text, voice: voice ?? (language ? null : config.defaultVoice), language: language ?? null, speed, subtitles, timingMethod: timing_method, audioFormat: audio_format },
    );
    request.log.info({ id: result.id, engine: result.engine, words: result.words.length, aligner: result.timing.aligner, timings_ms: timings }, 'synthesized');
    if (wantsAudio) {
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
    const audioUrl = downloadPath(result.id, audio_format === 'wav' ? undefined : audio_format);
    return reply.code(201).header('location', audioUrl).send({
      id: result.id,
      engine: result.engine,
      voice: result.voice,
      language: language ?? null,
      speed,
      sample_rate: result.sample_rate,
      samples: result.samples,
      duration: result.duration,
      words: return_word_timings ? result.words : [],
      timing: result.timing,
      subtitles: result.subtitles,
      timings_ms: timings,
      audio_url: audioUrl,
      audio_format,
      downloads: downloadUrls(result.id, result.formats, audio_format),
    });
  });
}
