/**
 * One worker process, kept alive: spawn, wait for a valid ready event, restart with backoff when
 * it dies, notice a crash loop, find a hung worker by heartbeat, stop it gracefully. Requests go
 * through its RpcChannel; queueing and job placement are lane.ts's.
 */
import { spawn as spawnProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { ApiError } from '../errors.js';
import { readyEventSchema, type ReadyInfo } from './protocol.js';
import { RpcChannel, type RequestHandlers, type RpcRequest } from './rpc.js';
import { forwardStderr, LineTransport, type JsonObject, type Logger } from './transport.js';

export type SupervisorState = 'starting' | 'ready' | 'restarting' | 'failed' | 'closing' | 'stopped';

/** What the supervisor needs of a child process; tests pass PassThrough streams and an EventEmitter. */
export interface ChildLike {
  readonly pid?: number | undefined;
  readonly stdin: Writable;
  readonly stdout: Readable;
  readonly stderr: Readable;
  kill(signal?: NodeJS.Signals): boolean;
  /** 'exit' (code, signal), 'close' (code, signal) after the pipes closed, 'error' (err). */
  on(event: 'exit' | 'close', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
}

export interface SpawnOptions {
  command: string;
  args: string[];
  cwd?: string | undefined;
  /** Added to the gateway's environment; an undefined value unsets the variable. */
  env?: Record<string, string | undefined> | undefined;
}

export type SpawnFn = (opts: SpawnOptions) => ChildLike;

/** The default: a real process with three pipes. */
export const spawnChild: SpawnFn = ({ command, args, cwd, env }) => {
  const child = spawnProcess(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  return child as ChildLike; // stdio 'pipe' ×3: the three streams exist
};

export interface SupervisorOptions extends SpawnOptions {
  /** For logs and /health: the lane and the worker's index ("cpu#0"). */
  name: string;
  spawn?: SpawnFn;
  startTimeoutMs: number;
  backoffMs: number;
  backoffMaxMs: number;
  /** stdin close → SIGTERM → SIGKILL, each step waiting this long. */
  stopStepMs?: number;
  pingIntervalMs: number;
  pingTimeoutMs: number;
  maxLineBytes?: number;
  log: Logger;
  /** Called when the worker becomes ready, exits, or stops. */
  onChange?: () => void;
}

export interface SupervisorRequestOptions extends RequestHandlers {
  /** A job (counts as busy and is watched by the heartbeat), not a reader-thread call. */
  job?: boolean;
}

/** A worker that stayed ready this long has earned a fresh backoff when it dies. */
export const STABLE_MS = 10_000;
/** Failed starts in a row after which the worker counts as failed (callers fail fast). */
export const CRASH_LOOP = 3;
/** After 'exit', how long to wait for the pipes to close, so a last reply still arrives. */
const EXIT_GRACE_MS = 200;

export class Supervisor {
  state: SupervisorState = 'stopped';
  /** Why the worker is not ready, for /health. */
  reason = 'not started';
  restarts = 0;
  info: ReadyInfo | null = null;

  private child: ChildLike | undefined;
  private rpc: RpcChannel | undefined;
  private transport: LineTransport | undefined;
  private exited: Promise<void> = Promise.resolve();
  /** Ids of jobs sent to the current child and not answered yet. */
  private readonly jobs = new Set<number>();
  private failures = 0;
  private failedStarts = 0;
  private readySince = 0;
  /** Why we killed the current child, for the reason shown after its exit. */
  private killedBecause: string | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private pinging = false;

  constructor(private readonly opts: SupervisorOptions) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Jobs in flight on this worker, cancelled ones included until the worker answers them. */
  get busy(): number {
    return this.jobs.size;
  }

  /** It failed to start CRASH_LOOP times in a row; it is still retried, at the longest backoff. */
  get crashLooping(): boolean {
    return this.failedStarts >= CRASH_LOOP;
  }

  hasJob(id: number): boolean {
    return this.jobs.has(id);
  }

  start(): void {
    if (this.state !== 'stopped' || this.child) throw new Error(`worker ${this.opts.name} already ${this.state}`);
    this.spawn();
  }

  /** Sends a request to the ready worker. Throws SIDECAR_UNAVAILABLE when it is not ready. */
  request<T = unknown>(method: string, params: object, options: SupervisorRequestOptions = {}): RpcRequest<T> {
    if (this.state !== 'ready' || !this.rpc) {
      throw new ApiError('SIDECAR_UNAVAILABLE', `the speech worker is not ready: ${this.reason}`, { 'retry-after': '1' });
    }
    const { job, ...handlers } = options;
    const sent = this.rpc.request<T>(method, params, handlers);
    if (job) {
      // Registered before any caller's handlers, so the slot is free when they run.
      this.jobs.add(sent.id);
      const done = () => {
        this.jobs.delete(sent.id);
        this.syncHeartbeat();
      };
      sent.promise.then(done, done);
      this.syncHeartbeat();
    }
    return sent;
  }

  /** Asks the worker to stop job `id`; the job still ends with the worker's own reply. */
  cancel(id: number): void {
    if (!this.rpc || !this.jobs.has(id)) return;
    this.rpc.cancel(id, this.opts.pingTimeoutMs).promise.catch(() => undefined); // its answer changes nothing
  }

  /** SIGKILL for the current child (it is restarted); `why` goes to the log and the reason. */
  kill(why: string): void {
    if (!this.child) return;
    this.opts.log.error({ worker: this.opts.name, pid: this.child.pid, why }, `killing worker: ${why}`);
    this.killedBecause = why;
    this.signal(this.child, 'SIGKILL');
  }

  /** Graceful stop: close stdin (an idle worker exits), then SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' && !this.child) return;
    this.setState('closing', 'shutting down');
    clearTimeout(this.restartTimer);
    clearTimeout(this.startTimer);
    this.stopHeartbeat();
    const child = this.child;
    if (child) {
      const step = this.opts.stopStepMs ?? 2000;
      const exited = this.exited.then(() => true);
      const within = (ms: number) => Promise.race([exited, new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
      try {
        child.stdin.end();
      } catch {
        // already closed
      }
      if (!(await within(step))) {
        this.signal(child, 'SIGTERM');
        if (!(await within(step))) {
          this.signal(child, 'SIGKILL');
          await exited;
        }
      }
    }
    this.setState('stopped', 'stopped');
    this.opts.onChange?.();
  }

  private setState(state: SupervisorState, reason: string): void {
    this.state = state;
    this.reason = reason;
  }

  private signal(child: ChildLike, signal: NodeJS.Signals): void {
    try {
      child.kill(signal);
    } catch (err) {
      this.opts.log.warn({ worker: this.opts.name, err: (err as Error).message }, `could not send ${signal}`);
    }
  }

  private spawn(): void {
    const first = this.restarts === 0;
    if (this.crashLooping) this.state = 'failed'; // keeps the reason that says why
    else this.setState(first ? 'starting' : 'restarting', first ? 'worker starting' : 'worker restarting');
    this.info = null;
    this.killedBecause = undefined;
    let child: ChildLike;
    try {
      child = (this.opts.spawn ?? spawnChild)(this.opts);
    } catch (err) {
      // A synchronous spawn failure (bad arguments): handled like a child that exited at once.
      return this.onExit(undefined, null, null, (err as Error).message);
    }
    this.child = child;
    const fields = { worker: this.opts.name, pid: child.pid };
    this.transport = new LineTransport({
      input: child.stdout,
      output: child.stdin,
      log: this.opts.log,
      fields,
      ...(this.opts.maxLineBytes === undefined ? {} : { maxLineBytes: this.opts.maxLineBytes }),
      onOverflow: () => child === this.child && this.kill('it wrote an over-long line'),
    });
    this.rpc = new RpcChannel(this.transport, { log: this.opts.log, fields, onNotification: (msg) => this.onNotification(child, msg) });
    forwardStderr(child.stderr, this.opts.log, fields);

    let spawnError: string | undefined;
    let markExited!: () => void;
    this.exited = new Promise<void>((resolve) => (markExited = resolve));
    let grace: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (code: number | null, signal: NodeJS.Signals | null) => {
      if (done) return;
      done = true;
      clearTimeout(grace);
      markExited();
      this.onExit(child, code, signal, spawnError);
    };
    // 'close' comes once the pipes are drained too; 'exit' alone can leave a last reply unread.
    child.on('exit', (code, signal) => {
      grace = setTimeout(() => finish(code, signal), EXIT_GRACE_MS);
      grace.unref();
    });
    child.on('close', (code, signal) => finish(code, signal));
    child.on('error', (err) => {
      if (child.pid === undefined) spawnError = err.message; // it never ran (ENOENT); 'close' follows
      else this.opts.log.warn({ ...fields, err: err.message }, 'worker process error');
    });

    this.startTimer = setTimeout(() => {
      if (child === this.child) this.kill(`it did not say ready within ${this.opts.startTimeoutMs} ms`);
    }, this.opts.startTimeoutMs);
    this.startTimer.unref();
  }

  private onNotification(child: ChildLike, msg: JsonObject): void {
    if (child !== this.child) return;
    if (msg.event !== 'ready') {
      this.opts.log.debug({ worker: this.opts.name, event: msg.event }, 'worker event for no request');
      return;
    }
    if (this.state === 'closing' || this.state === 'stopped') return;
    if (this.state === 'ready') {
      this.opts.log.warn({ worker: this.opts.name }, 'worker said ready twice; ignoring the second');
      return;
    }
    const ready = readyEventSchema.safeParse(msg);
    if (!ready.success) {
      this.opts.log.error({ worker: this.opts.name, issues: ready.error.issues.slice(0, 5) }, 'malformed ready event');
      return this.kill('its ready event did not match the protocol');
    }
    clearTimeout(this.startTimer);
    const { event: _event, ...info } = ready.data;
    this.info = info;
    this.readySince = Date.now();
    this.failedStarts = 0;
    this.setState('ready', 'ready');
    const engines = Object.fromEntries(Object.entries(info.engines).map(([name, e]) => [name, e.available]));
    this.opts.log.info({ worker: this.opts.name, pid: info.pid, engines }, 'worker ready');
    this.opts.onChange?.();
  }

  private onExit(child: ChildLike | undefined, code: number | null, signal: NodeJS.Signals | null, why?: string): void {
    if (child !== this.child) return;
    clearTimeout(this.startTimer);
    this.stopHeartbeat();
    this.transport?.close();
    const rpc = this.rpc;
    this.child = this.rpc = this.transport = undefined;
    this.info = null;
    this.jobs.clear();
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const closing = this.state === 'closing' || this.state === 'stopped';
    rpc?.failAll(
      closing
        ? new ApiError('SHUTTING_DOWN', 'the service is shutting down')
        : new ApiError('SIDECAR_UNAVAILABLE', `the speech worker stopped (${how}) while handling the request; retry shortly`, {
            'retry-after': '1',
          }),
    );
    if (closing) {
      this.opts.log.info({ worker: this.opts.name, how }, 'worker stopped');
      return;
    }
    const wasReady = this.readySince > 0;
    this.failures = wasReady && Date.now() - this.readySince >= STABLE_MS ? 1 : this.failures + 1;
    this.failedStarts = wasReady ? 0 : this.failedStarts + 1;
    this.readySince = 0;
    this.restarts += 1;
    const delay = this.crashLooping ? this.opts.backoffMaxMs : Math.min(this.opts.backoffMaxMs, this.opts.backoffMs * 2 ** (this.failures - 1));
    // A child that never ran (a wrong python path) has no exit code; the spawn error says why.
    const cause = [why ?? how, this.killedBecause && `killed because ${this.killedBecause}`].filter(Boolean).join(', ');
    if (this.crashLooping) {
      this.setState('failed', `worker failed to start ${this.failedStarts} times in a row (last: ${cause}); retrying every ${delay} ms`);
    } else {
      this.setState('restarting', `worker exited (${cause}); restarting in ${delay} ms`);
    }
    this.opts.log.error({ worker: this.opts.name, how, why, delay, restarts: this.restarts }, 'worker exited');
    this.restartTimer = setTimeout(() => this.spawn(), delay);
    this.restartTimer.unref();
    this.opts.onChange?.();
  }

  /** While a job runs, ping now and then: the reader thread answers at once unless the process is stuck. */
  private syncHeartbeat(): void {
    if (this.jobs.size === 0 || this.state !== 'ready') return this.stopHeartbeat();
    if (this.heartbeat) return;
    this.heartbeat = setInterval(() => this.beat(), this.opts.pingIntervalMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.pinging = false;
  }

  private beat(): void {
    const { child, rpc } = this;
    if (this.pinging || !child || !rpc) return;
    this.pinging = true;
    rpc.request('ping', {}, { timeoutMs: this.opts.pingTimeoutMs }).promise.then(
      () => (this.pinging = false),
      (err: unknown) => {
        this.pinging = false;
        // SIDECAR_UNAVAILABLE: it died meanwhile, which its exit already handles.
        if (child === this.child && err instanceof ApiError && err.code === 'SIDECAR_TIMEOUT') {
          this.kill(`worker hung: no answer to ping within ${this.opts.pingTimeoutMs} ms`);
        }
      },
    );
  }
}
