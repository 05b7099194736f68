import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { newReadiness } from '../src/readiness.js';
import { SidecarClient, type Logger, type SidecarOptions } from '../src/sidecar/client.js';
import { ArtifactStore } from '../src/store/artifacts.js';

export const ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '..');
export const FAKE_SIDECAR = join(ROOT, 'test/fixtures/fake-sidecar.py');

/** A logger that keeps its lines so tests can assert on what was logged. */
export function memoryLogger(): Logger & { lines: { level: string; obj: object; msg?: string }[] } {
  const lines: { level: string; obj: object; msg?: string }[] = [];
  const at = (level: string) => (obj: object, msg?: string) => void lines.push({ level, obj, msg });
  return { lines, debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

export async function tempDir(t: { teardown(fn: () => unknown): void }, prefix = 'voicecue-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    tick();
  });
}

/** The whole app over a temp data dir, with the real worker or the fake one. */
export async function testApp(
  t: { teardown(fn: () => unknown): void },
  { worker = 'real', env = {}, sidecar: sidecarOptions = {} }: { worker?: 'real' | 'fake'; env?: Record<string, string>; sidecar?: Partial<SidecarOptions> } = {},
) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'silent', ...env });
  const store = new ArtifactStore(config.dataDir, { ttlMs: config.artifactTtlMs });
  await store.init();
  const log = memoryLogger();
  const sidecar = new SidecarClient({
    command: config.python,
    args: worker === 'real' ? ['-m', 'voicecue_worker'] : [FAKE_SIDECAR],
    cwd: config.workerDir,
    env: { VOICECUE_DATA_DIR: config.dataDir, VOICECUE_MAX_TEXT_CHARS: String(config.maxTextChars), ...(worker === 'fake' ? { FAKE_START: 'ready' } : {}) },
    requestTimeoutMs: config.requestTimeoutMs,
    startTimeoutMs: config.sidecarStartTimeoutMs,
    maxInFlight: config.maxInFlight,
    maxQueue: config.maxQueue,
    backoffMs: 50,
    backoffMaxMs: 500,
    stopStepMs: 500,
    log,
    ...sidecarOptions,
  });
  const readiness = newReadiness();
  const app = await buildApp({ config, sidecar, store, readiness, logger: false });
  t.teardown(async () => {
    await app.close();
    await sidecar.stop();
  });
  return { app, sidecar, store, config, readiness, dataDir, log };
}

/** Reads a PCM WAV's header: enough to check it is well-formed and how long it lasts. */
export function parseWav(buf: Buffer): { sampleRate: number; channels: number; bits: number; dataBytes: number; duration: number } {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  if (buf.readUInt32LE(4) !== buf.length - 8) throw new Error('RIFF size does not match the file');
  let offset = 12;
  let fmt: { sampleRate: number; channels: number; bits: number } | undefined;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ') {
      if (buf.readUInt16LE(offset + 8) !== 1) throw new Error('not PCM');
      fmt = { channels: buf.readUInt16LE(offset + 10), sampleRate: buf.readUInt32LE(offset + 12), bits: buf.readUInt16LE(offset + 22) };
    } else if (id === 'data') {
      if (!fmt) throw new Error('data before fmt');
      if (offset + 8 + size > buf.length) throw new Error('data chunk runs past the end');
      return { ...fmt, dataBytes: size, duration: size / (fmt.sampleRate * fmt.channels * (fmt.bits / 8)) };
    }
    offset += 8 + size + (size % 2);
  }
  throw new Error('no data chunk');
}
