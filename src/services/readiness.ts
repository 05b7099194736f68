import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config.js';
import { runWarmup } from '../warmup/index.js';

/** What /health reports beyond the lanes: warmup's progress and report, and shutdown. */
export interface Readiness {
  warmup: { state: 'idle' | 'running' | 'done'; report?: unknown };
  stopping: boolean;
}

declare module 'fastify' {
  interface FastifyInstance {
    readiness: Readiness;
  }
}

/**
 * Warmup as a service: `app.readiness`. Warmup checks the workers' Python packages in the
 * background (installing what is missing in install mode `missing`, then starting the workers,
 * which must see what it installed). `stopping` turns on as the app starts to close.
 */
export default fp(
  async (app: FastifyInstance, opts: { config: Config; warmup?: boolean }) => {
    const readiness: Readiness = { warmup: { state: 'idle' }, stopping: false };
    app.decorate('readiness', readiness);
    app.addHook('preClose', async () => void (readiness.stopping = true));
    if (opts.warmup === false) return;
    readiness.warmup.state = 'running';
    const log = app.log.child({ component: 'warmup' });
    void runWarmup({ ...opts.config, store: app.store, log })
      .then(
        (report) => void (readiness.warmup = { state: 'done', report }),
        (err: Error) => {
          log.error({ err: err.message }, 'warmup failed');
          readiness.warmup = { state: 'done', report: { error: err.message } };
        },
      )
      .then(() => {
        if (opts.config.installMode === 'missing' && !readiness.stopping) void app.workers.start();
      });
  },
  { name: 'readiness', dependencies: ['store', 'workers'] },
);
