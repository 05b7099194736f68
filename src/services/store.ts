import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ArtifactStore } from '../store/artifacts.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: ArtifactStore;
  }
}

/** The results on disk as a service: `app.store`, with a sweep of expired results now and then. */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    // A request may wait its whole hard deadline: staging must outlive it.
    const store = new ArtifactStore(config.dataDir, { ttlMs: config.artifactTtlMs, stagingStaleMs: config.requestMaxMs + 60_000 });
    await store.init();
    app.decorate('store', store);
    // The id carries its own birth time, so the sweep needs no index.
    const sweep = setInterval(() => {
      store.sweepExpired().then(
        (r) => r.removed && app.log.info(r, 'expired results removed'),
        (err: Error) => app.log.warn({ err: err.message }, 'sweeping expired results failed'),
      );
    }, Math.min(config.artifactTtlMs, 10 * 60_000));
    sweep.unref();
    app.addHook('onClose', async () => clearInterval(sweep));
  },
  { name: 'store' },
);
