/** Entry point: load config, listen, warm up, start the worker, and shut down with grace. */
import { pino } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { newReadiness } from './readiness.js';
import { SidecarClient } from './sidecar/client.js';
import { ArtifactStore } from './store/artifacts.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`voicecue: ${err.message}\n`);
  process.exit(2);
}

const log = pino({ level: config.logLevel, base: { service: 'voicecue' } });
const store = new ArtifactStore(config.dataDir);
await store.init();
const readiness = newReadiness();
const sidecar = new SidecarClient({
  command: config.python,
  args: ['-m', 'voicecue_worker'],
  cwd: config.workerDir,
  env: { VOICECUE_DATA_DIR: config.dataDir, PYTHONUNBUFFERED: '1' },
  requestTimeoutMs: config.requestTimeoutMs,
  startTimeoutMs: config.sidecarStartTimeoutMs,
  maxInFlight: config.maxInFlight,
  maxQueue: config.maxQueue,
  backoffMs: config.restartBackoffMs,
  backoffMaxMs: config.restartBackoffMaxMs,
  log: log.child({ component: 'sidecar' }),
});
const app = await buildApp({ config, sidecar, store, readiness, loggerInstance: log });

// Expired results are swept now and then; the id carries its own birth time.
const sweep = setInterval(() => {
  store.sweepExpired(config.artifactTtlMs).then(
    (r) => r.removed && log.info(r, 'expired results removed'),
    (err: Error) => log.warn({ err: err.message }, 'sweeping expired results failed'),
  );
}, Math.min(config.artifactTtlMs, 10 * 60_000));
sweep.unref();

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  readiness.stopping = true;
  log.info({ signal }, 'shutting down: finishing requests in flight');
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    process.exit(1);
  }, config.shutdownGraceMs + 5000);
  force.unref();
  try {
    await app.close(); // stops accepting, waits for requests in flight
    await sidecar.stop(); // stdin close → SIGTERM → SIGKILL
  } finally {
    clearInterval(sweep);
    log.info('stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
sidecar.start().catch((err: Error) => log.error({ err: err.message }, 'sidecar failed to start'));
