import { mkdtemp, rm } from 'node:fs/promises';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { LaneOptions, Logger } from '../src/lanes/index.js';

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

export function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const tick = async () => {
      if (await check()) return resolve();
      if (Date.now() - started > timeoutMs) return reject(new Error(`timed out waiting for ${what}`));
      setTimeout(tick, 10);
    };
    void tick();
  });
}

/** The whole app over a temp data dir, with the real workers or the fake one; tests start the lanes. */
export async function testApp(
  t: { teardown(fn: () => unknown): void },
  { worker = 'real', env = {}, lane = {} }: { worker?: 'real' | 'fake'; env?: Record<string, string>; lane?: Partial<LaneOptions> } = {},
) {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'silent', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '0', ...env });
  const log = memoryLogger();
  const app = await buildApp({
    config,
    logger: false,
    warmup: false,
    workers: {
      autoStart: false,
      ...(worker === 'fake' ? { args: () => [FAKE_SIDECAR], env: { FAKE_START: 'ready' } } : {}),
      lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500, log, ...lane },
    },
  });
  t.teardown(() => app.close());
  return { app, workers: app.workers, store: app.store, config, readiness: app.readiness, dataDir, log };
}

/** Listens on a free loopback port (for tests that need real sockets); returns the port. */
export async function listening(app: { listen(o: object): Promise<string>; server: { address(): unknown } }): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  return (app.server.address() as AddressInfo).port;
}

/** Writes raw bytes on a fresh connection and gives back everything the server sent until it closed. */
export function rawRequest(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const socket = connect(port, '127.0.0.1', () => socket.end(request));
    socket.on('data', (c) => (out += c));
    socket.on('close', () => resolve(out));
    socket.on('error', reject);
  });
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

/** A server-sent event stream's events, in order (the `event:` and `data:` lines of each; comments dropped). */
export function parseEvents(text: string): { event: string; data: unknown }[] {
  return text.split('\n\n').filter((block) => block.trim() && !block.startsWith(':')).map((block) => {
    const lines = block.split('\n');
    const field = (name: string) => lines.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2)).join('\n');
    return { event: field('event') || 'message', data: JSON.parse(field('data')) as unknown };
  });
}
