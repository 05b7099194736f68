/**
 * The page at / (web/index.html, its style and dist/web/app.js, compiled from web/app.ts): three
 * files read once at start, open without a key (the page asks for one and sends it with its API
 * calls). A strict Content-Security-Policy: nothing but this origin, audio from blob: URLs.
 */
import type { FastifyInstance } from 'fastify';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../src/version.js';

const CSP = "default-src 'self'; media-src 'self' blob:; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";
const FILES = {
  '/': { path: 'web/index.html', type: 'text/html; charset=utf-8' },
  '/web/style.css': { path: 'web/style.css', type: 'text/css; charset=utf-8' },
  '/web/app.js': { path: 'dist/web/app.js', type: 'text/javascript; charset=utf-8' },
} as const;

export default async function webRoutes(app: FastifyInstance): Promise<void> {
  for (const [url, { path, type }] of Object.entries(FILES)) {
    // Missing only where the page was not built (npm run build makes dist/web): the API still serves.
    const body = await readFile(join(PACKAGE_ROOT, path)).catch(() => null);
    app.get(url, { schema: { hide: true } }, async (_request, reply) => {
      if (!body) return reply.code(404).type('text/plain; charset=utf-8').send('the page is not built: run npm run build');
      return reply.type(type).header('content-security-policy', CSP).header('cache-control', 'no-cache').send(body);
    });
  }
}
