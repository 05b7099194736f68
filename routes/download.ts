import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../src/errors.js';
import { isArtifactId } from '../src/store/artifacts.js';
import { DOWNLOAD_FORMATS, type DownloadFormat } from '../src/tts/formats.js';
import { parseOrThrow } from '../src/http/body.js';

const formats = Object.keys(DOWNLOAD_FORMATS) as [DownloadFormat, ...DownloadFormat[]];
const query = z.object({ format: z.enum(formats, { error: `must be one of: ${formats.join(', ')}` }).default('wav') });

export default async function downloadRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>('/download/:id', async (request, reply) => {
    const { id } = request.params;
    // The id is checked against its exact shape before it comes near a path.
    if (!isArtifactId(id)) throw new ApiError('INVALID_ID', 'not a voicecue id');
    const { format } = parseOrThrow(query, request.query, 'query');
    const dir = await app.store.locate(id);
    if (!dir) throw new ApiError('NOT_FOUND', `no result with id ${id}; results expire after a while`);
    const { file } = DOWNLOAD_FORMATS[format];
    try {
      await access(join(dir, file));
    } catch {
      throw new ApiError('NOT_FOUND', `result ${id} has no ${format} file`);
    }
    // Subtitles and word files are for saving; the audio plays in place.
    const disposition = format === 'wav' ? 'inline' : 'attachment';
    return reply.header('content-disposition', `${disposition}; filename="${id}.${format}"`).sendFile(`${id}/${file}`);
  });
}
