/** Entry point: load config, build the app (which starts the workers and warmup), listen, close with grace. */
import { pino } from 'pino';
import { buildApp } from './app.js';
import { LOG_REDACT } from './services/auth.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { ApiError } from './errors.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`voicecue: ${err.message}\n`);
  process.exit(2);
}

const log = pino({ level: config.logLevel, base: { service: 'voicecue' }, redact: LOG_REDACT });
const app = await buildApp({ config, loggerInstance: log });

/**
 * The graceful stop, in this order:
 *  1. stop accepting: the listener closes and /health says `stopping`; a request that still comes
 *     on an open keep-alive connection gets 503 SHUTTING_DOWN (app.ts), and each connection is
 *     closed as soon as it has nothing in flight;
 *  2. what runs and what is queued goes on, and is answered as usual if it finishes in time;
 *  3. at VOICECUE_SHUTDOWN_GRACE_S minus a margin, whatever is still queued or running is answered
 *     503 SHUTTING_DOWN with Retry-After, never a dropped connection, and the running jobs are
 *     cancelled on their workers (their staging folders are discarded);
 *  4. once every request has its answer, the workers stop (stdin closed, then SIGTERM, SIGKILL)
 *     and staging is cleared: the services' close hooks, in app.close();
 *  5. exit 0. Only if all that is not done by the grace itself: the workers are SIGKILLed, exit 1.
 */
let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  const graceMs = config.shutdownGraceMs;
  // Room after the cancel for the answers to go out and the workers to stop.
  const cancelAtMs = graceMs - Math.min(2000, Math.round(graceMs / 4));
  log.info({ signal, grace_ms: graceMs, cancel_at_ms: cancelAtMs }, 'shutting down: finishing requests in flight');
  const cancel = setTimeout(() => {
    const err = new ApiError('SHUTTING_DOWN', 'the service is shutting down and could not finish this request in time; retry on another instance', {
      'retry-after': '1',
    });
    for (const lane of Object.values(app.workers.lanes)) {
      const cancelled = lane.cancelAll(err);
      if (cancelled.queued || cancelled.running) log.warn({ lane: lane.name, ...cancelled }, 'shutdown grace nearly over: cancelled what was still queued or running');
    }
  }, cancelAtMs);
  cancel.unref();
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    for (const lane of Object.values(app.workers.lanes)) lane.kill('the service is exiting');
    process.exit(1);
  }, graceMs);
  force.unref();
  // Keep-alive connections would hold close() open; drop each as soon as it has nothing in flight.
  const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
  let code = 0;
  try {
    await app.close(); // 1, 2 and 4: stops accepting, answers what is in flight, stops the workers, clears staging
  } catch (err) {
    log.error({ err: (err as Error).message }, 'closing failed');
    code = 1;
  } finally {
    clearTimeout(cancel);
    clearInterval(reaper);
    log.info('stopped');
    process.exit(code);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
