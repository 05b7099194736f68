import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { GoogleAligner, type GoogleEndpoint } from '../aligners/google.js';

declare module 'fastify' {
  interface FastifyInstance {
    google: GoogleAligner;
  }
}

/** The google aligner as a service: credentials read once at start, the client closed with the app. */
export default fp(
  async (app: FastifyInstance, opts: { config: Config; endpoint?: GoogleEndpoint | undefined }) => {
    const google = new GoogleAligner(opts.config.google, opts.endpoint);
    await google.init();
    const info = google.info();
    app.log.info({ aligner: 'google', ...info }, info.available ? 'google aligner ready' : 'google aligner off');
    app.decorate('google', google);
    app.addHook('onClose', () => google.close());
  },
  { name: 'google' },
);
