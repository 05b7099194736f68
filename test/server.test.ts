// The entry file as a process: config errors, readiness, and a graceful stop under load.
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, tempDir, waitFor } from './helpers.js';

const SERVER = join(ROOT, 'dist/src/server.js');

function start(env: Record<string, string>): { proc: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let out = '';
  const proc = spawn(process.execPath, [SERVER], { env: { ...process.env, HOST: '127.0.0.1', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (c) => (out += c));
  proc.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  return { proc, output: () => out, exited };
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

t.test('a bad variable stops the start with a message naming it', async (t) => {
  const { exited, output } = start({ PORT: 'eighty', VOICECUE_DATA_DIR: await tempDir(t) });
  t.equal(await exited, 2);
  t.match(output(), /invalid configuration: PORT="eighty"/);
  const speed = start({ VOICECUE_MAX_QUEUE: '-1', VOICECUE_DATA_DIR: await tempDir(t) });
  t.equal(await speed.exited, 2);
  t.match(speed.output(), /VOICECUE_MAX_QUEUE="-1"/);
});

t.test('serves, turns ready, and on SIGTERM finishes the request in flight, then stops every worker', async (t) => {
  const port = 19000 + Math.floor(Math.random() * 2000);
  const server = start({
    PORT: String(port), VOICECUE_DATA_DIR: await tempDir(t), VOICECUE_LOG_LEVEL: 'info', VOICECUE_CPU_WORKERS: '2', VOICECUE_GPU_WORKERS: '1',
    // Room for the long request on a loaded machine: past the grace it would rightly get a 503.
    VOICECUE_SHUTDOWN_GRACE_S: '60',
  });
  t.teardown(() => void server.proc.kill('SIGKILL'));
  const base = `http://127.0.0.1:${port}`;
  let statuses: number[] = [];
  await waitFor(() => {
    fetch(`${base}/health`).then((r) => statuses.push(r.status), () => undefined);
    return statuses.includes(200);
  }, 20_000, 'readiness');
  t.ok(statuses.includes(200));
  await waitFor(() => childPids(server.proc.pid!).length === 3, 10_000, 'every worker');
  const worker = childPids(server.proc.pid!);
  t.equal(worker.length, 3, 'two CPU workers and one GPU worker');

  const long = 'A sentence that keeps the worker busy for a little while. '.repeat(300);
  const inFlight = fetch(`${base}/tts`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ text: long }) });
  await new Promise((r) => setTimeout(r, 100));
  server.proc.kill('SIGTERM');
  const res = await inFlight;
  t.equal(res.status, 201, 'the request in flight finished');
  t.ok(((await res.json()) as { words: unknown[] }).words.length > 1000);
  t.equal(await server.exited, 0);
  for (const pid of worker) t.throws(() => process.kill(pid, 0), `worker ${pid} is gone`);
  t.match(server.output(), /shutting down/);
  statuses = [];
});
