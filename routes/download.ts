import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from '../src/errors.js';
import { isArtifactId } from '../src/store/artifacts.js';
import { DOWNLOAD_FORMATS, type DownloadFormat } from '../src/tts/formats.js';
import { parseOrThrow } from '../src/http/body.js';
import { clientGone } from '../src/http/abort.js';
import { cachedAudio } from '../src/audio/cache.js';
import { isTranscoded } from '../src/audio/transcode.js';
import { FORMATS, FORMAT_NAMES } from '../src/subtitles/index.js';
import { COMMON, errors, media, ref } from '../src/contract/openapi.js';

const formats = Object.keys(DOWNLOAD_FORMATS) as [DownloadFormat, ...DownloadFormat[]];
const query = z.object({ format: z.enum(formats, { error: `must be one of: ${formats.join(', ')}` }).default('wav') });

const text = { type: 'string' };
const schemaOfDownload = {
  tags: ['results'],
  operationId: 'download',
  summary: "A stored result's audio or timing file (Range, ETag and If-None-Match supported)",
  params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-z]{9}[A-Za-z0-9_-]{16}$', description: 'The id /tts or /align answered.' } } },
  querystring: { type: 'object', properties: { format: { ...ref('DownloadFormat'), default: 'wav' } } },
  response: {
    200: {
      description: 'The file, with Content-Disposition naming it (inline for audio, attachment for the rest).',
      headers: { ETag: text, 'Last-Modified': text, 'Accept-Ranges': text },
      content: {
        ...media.audio,
        ...Object.fromEntries(
          FORMAT_NAMES.map((f) => [FORMATS[f].contentType.split(';')[0], { schema: f === 'json' ? ref('WordsFile') : text }]),
        ),
      },
    },
    206: {
      description: 'A byte range: one range, `bytes=first-last`, `first-` or `-suffix`. A Range header that is not valid (RFC 9110), or asks for several ranges, is ignored and the whole file sent (200).',
      headers: { 'Content-Range': text },
      content: { 'application/octet-stream': { schema: media.binary } },
    },
    304: { description: 'Not modified (the ETag matched).', type: 'null' },
    ...errors(...COMMON, 404, 412, 416),
  },
};

export default async function downloadRoutes(app: FastifyInstance): Promise<void> {
  app.get<{ Params: { id: string } }>('/download/:id', { schema: schemaOfDownload }, async (request, reply) => {
    const { id } = request.params;
    // The id is checked against its exact shape before it comes near a path.
    if (!isArtifactId(id)) throw new ApiError('INVALID_ID', 'not a voicecue id');
    const { format } = parseOrThrow(query, request.query, 'query');
    const dir = await app.store.locate(id);
    if (!dir) throw new ApiError('NOT_FOUND', `no result with id ${id}; results expire after a while`);
    const { file } = DOWNLOAD_FORMATS[format];
    // Compressed audio is made from the WAV on first request, then served like any other file.
    if (isTranscoded(format)) await cachedAudio(app.store, id, dir, format, clientGone(reply));
    let size: number;
    try {
      size = (await stat(join(dir, file))).size;
    } catch {
      throw new ApiError('NOT_FOUND', `result ${id} has no ${format} file`);
    }
    // @fastify/send reads Range leniently (parseInt: 1e3 is 1, 0x10 is 0, "bytes=3" the last 3
    // bytes); it sees only what RFC 9110 makes of the header. It still applies If-Range and the
    // preconditions first, so a 412 or a stale If-Range wins over the range.
    const range = byteRange(request.headers.range, size);
    if (range === undefined) delete request.raw.headers.range;
    else request.raw.headers.range = range === 'unsatisfiable' ? `bytes=${size}-` : `bytes=${range.start}-${range.end}`;
    // Subtitles and word files are for saving; the audio plays in place. (An error answer drops it.)
    const disposition = format === 'wav' || isTranscoded(format) ? 'inline' : 'attachment';
    return reply.header('content-disposition', `${disposition}; filename="${id}.${format}"`).sendFile(`${id}/${file}`);
  });
}

/**
 * A Range header read by RFC 9110 §14: one `bytes` range, `first-last`, `first-` or `-suffix`,
 * digits only. Anything else is ignored (undefined: the whole file, 200), as the RFC lets a server
 * do: another unit, a syntax error (`1e3-2e3`, `0x10-`, `-`, `5-3`), and several ranges, which we
 * do not serve as multipart. A valid range that starts at or past the end, or a zero-length
 * suffix, cannot be satisfied (416). Numbers of any length are compared exactly.
 */
export function byteRange(header: string | string[] | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  if (typeof header !== 'string') return undefined;
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== 'bytes') return undefined;
  // A list may carry empty elements and whitespace around its commas (RFC 9110 §5.6.1).
  const specs = header.slice(eq + 1).split(',').map((s) => s.trim()).filter(Boolean);
  if (specs.length !== 1) return undefined;
  const match = /^(\d*)-(\d*)$/.exec(specs[0]!);
  if (!match || (!match[1] && !match[2])) return undefined;
  const total = BigInt(size);
  if (!match[1]) {
    const suffix = BigInt(match[2]!);
    if (suffix === 0n || total === 0n) return 'unsatisfiable';
    return { start: Number(suffix >= total ? 0n : total - suffix), end: size - 1 };
  }
  const first = BigInt(match[1]);
  const last = match[2] ? BigInt(match[2]) : undefined;
  if (last !== undefined && last < first) return undefined;
  if (first >= total) return 'unsatisfiable';
  return { start: Number(first), end: Number(last === undefined || last >= total ? total - 1n : last) };
}
