/** Entry point: load config, build the app (which starts the workers and warmup), listen, close with grace. */
import { pino } from 'pino';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';

let config: Config;
try {
  config = loadConfig();
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`voicecue: ${err.message}\n`);
  process.exit(2);
}

const log = pino({ level: config.logLevel, base: { service: 'voicecue' } });
const app = await buildApp({ config, loggerInstance: log });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'shutting down: finishing requests in flight');
  const force = setTimeout(() => {
    log.error('shutdown took too long; exiting');
    for (const lane of Object.values(app.workers.lanes)) lane.kill('the service is exiting');
    process.exit(1);
  }, config.shutdownGraceMs);
  force.unref();
  // Keep-alive connections would hold close() open; drop each as soon as it has nothing in flight.
  const reaper = setInterval(() => app.server.closeIdleConnections(), 100);
  try {
    await app.close(); // stops accepting, answers what is in flight, then stops the workers
  } finally {
    clearInterval(reaper);
    log.info('stopped');
    process.exit(0);
  }
}
process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

await app.listen({ host: config.host, port: config.port });
