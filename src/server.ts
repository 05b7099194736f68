/** Entry point: load config, start the worker and warmup, listen, and shut down with grace. */
import { pino } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { newReadiness } from './readiness.js';
import { SidecarClient } from './sidecar/client.js';
import { ArtifactStore } from './store/artifacts.js';
import { prepareInstallTarget, runWarmup } from './warmup/index.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`voicecue: ${err.message}\n`);
  process.exit(2);
}

const log = pino({ level: config.logLevel, base: { service: 'voicecue' } });
// A request may wait its deadline, then hold its slot one more: staging must outlive both.
const store = new ArtifactStore(config.dataDir, { ttlMs: config.artifactTtlMs, stagingStaleMs: 2 * config.requestTimeoutMs + 60_000 });
await store.init();
const readiness = newReadiness();
readiness.warmup.state = 'running';

const python = await prepareInstallTarget(config, process.env, log.child({ component: 'warmup' }));
const sidecar = new SidecarClient({
  command: python.python,
  args: ['-m', 'voicecue_worker'],
  cwd: config.workerDir,
  env: {
    ...python.env,
    VOICECUE_DATA_DIR: config.dataDir,
    VOICECUE_MAX_TEXT_CHARS: String(config.maxTextChars),
    PYTHONUNBUFFERED: '1',
    // The worker never talks to Google: the cloud credentials stay with the gateway.
    GOOGLE_CREDENTIALS_JSON: undefined,
    GOOGLE_APPLICATION_CREDENTIALS: undefined,
  },
  requestTimeoutMs: config.requestTimeoutMs,
  startTimeoutMs: config.sidecarStartTimeoutMs,
  maxInFlight: config.maxInFlight,
  maxQueue: config.maxQueue,
  backoffMs: config.restartBackoffMs,
  backoffMaxMs: config.restartBackoffMaxMs,
  log: log.child({ component: 'sidecar' }),
});
// start() never rejects: a failing worker is retried, and /health says why meanwhile.
const startSidecar = () => void sidecar.start();

// With installs allowed, the worker must see what warmup installs, so it starts afterwards.
// Otherwise warmup only reports, and the worker starts at once, while the HTTP layer loads.
if (config.installMode === 'never') startSidecar();
runWarmup({ ...config, store, log: log.child({ component: 'warmup' }) })
  .then(
    (report) => void (readiness.warmup = { state: 'done', report }),
    (err: Error) => {
      log.error({ err: err.message }, 'warmup failed');
      readiness.warmup = { state: 'done', report: { error: err.message } };
    },
  )
  .then(() => {
    if (config.installMode === 'missing') startSidecar();
  });

// Imported late so that the worker's start overlaps the loading of Fastify and its plugins.
const { buildApp } = await import('./app.js');
const app = await buildApp({ config, sidecar, store, readiness, loggerInstance: log });

// Expired results are swept now and then; the id carries its own birth time.
const sweep = setInterval(() => {
  store.sweepExpired().then(
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
    sidecar.kill();
    process.exit(1);
  }, config.shutdownGraceMs);
  force.unref();
  // Keep-alive connections would hold close() open; drop each as soon as it has nothing in flight.
  const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
  try {
    await app.close(); // stops accepting, waits for requests in flight
    await sidecar.stop(); // stdin close → SIGTERM → SIGKILL
  } finally {
    clearInterval(reaper);
    clearInterval(sweep);
    log.info('stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
