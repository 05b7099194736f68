import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { ArtifactStore } from '../store/artifacts.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: ArtifactStore;
  }
}

/**
 * The results on disk as a service: `app.store`, with a sweep of expired results now and then.
 * At start staging is cleared (whatever is there was left by a process that died); at close,
 * after the workers stopped, again (a job cancelled at the shutdown deadline leaves nothing).
 */
export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const log = app.log.child({ component: 'store' });
    // A request may wait its whole hard deadline: staging must outlive it.
    const store = new ArtifactStore(config.dataDir, {
      ttlMs: config.artifactTtlMs,
      stagingStaleMs: config.requestMaxMs + 60_000,
      quotaBytes: config.diskQuotaBytes,
      minFreeBytes: config.minFreeBytes,
      log,
    });
    const { staging, evicted } = await store.init();
    if (staging.removed) log.info(staging, 'staging left by a previous process removed');
    if (evicted.removed) log.info(evicted, 'results over the disk quota removed at start');
    app.decorate('store', store);
    // The id carries its own birth time, so the sweep needs no index.
    const sweep = setInterval(() => {
      store.sweepExpired().then(
        (r) => r.removed && log.info(r, 'expired results removed'),
        (err: Error) => log.warn({ err: err.message }, 'sweeping expired results failed'),
      );
    }, Math.min(config.artifactTtlMs, 10 * 60_000));
    sweep.unref();
    // Registered first, so closed last: the workers have stopped and nothing writes into staging.
    app.addHook('onClose', async () => {
      clearInterval(sweep);
      const left = await store.clearStaging().catch(() => ({ removed: 0, bytes: 0 }));
      if (left.removed) log.info(left, 'staging of cancelled jobs removed');
    });
  },
  { name: 'store' },
);
