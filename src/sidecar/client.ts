import { execa, type ResultPromise } from 'execa';
import { ApiError, isErrorCode } from '../errors.js';
import type { ReadyInfo, SidecarMessage } from './protocol.js';

export type SidecarState = 'stopped' | 'starting' | 'ready' | 'restarting' | 'closing';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SidecarOptions {
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string | undefined>;
  requestTimeoutMs: number;
  startTimeoutMs: number;
  maxInFlight: number;
  maxQueue: number;
  backoffMs: number;
  backoffMaxMs: number;
  /** stdin close → SIGTERM → SIGKILL, each step waiting this long. */
  stopStepMs?: number;
  /** A protocol line longer than this means the child is broken; it is restarted. */
  maxLineBytes?: number;
  log: Logger;
}

export interface RequestOptions {
  timeoutMs?: number;
  onProgress?: (done: number, total: number) => void;
}

interface Pending {
  id: number;
  method: string;
  params: unknown;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  onProgress: ((done: number, total: number) => void) | undefined;
  timeoutMs: number;
  timer: NodeJS.Timeout | undefined;
  /** Its caller already got a timeout; a reply is still awaited to free the slot. */
  abandoned: boolean;
}

/** A child that stayed ready this long has earned a fresh backoff when it dies. */
const STABLE_MS = 10_000;
/** Failed starts in a row after which requests are refused rather than queued. */
const CRASH_LOOP = 3;
/** Longer stderr lines (a library's progress bar) are cut in the log. */
const MAX_STDERR_LINE = 8192;

/**
 * One long-lived sidecar process speaking JSON lines. Correlates ids, times out each request,
 * caps requests in flight and queues the rest (bounded), fails what is in flight when the child
 * dies, restarts it with exponential backoff, and stops it gracefully.
 */
export class SidecarClient {
  state: SidecarState = 'stopped';
  info: ReadyInfo | null = null;
  /** Why the sidecar is not ready, for /health. */
  reason = 'sidecar not started';
  restarts = 0;

  private child: ResultPromise | undefined;
  private nextId = 1;
  private readonly inFlight = new Map<number, Pending>();
  private readonly queue: Pending[] = [];
  private failures = 0;
  /** Exits in a row of a child that never said ready. */
  private failedStarts = 0;
  private readySince = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private startTimer: NodeJS.Timeout | undefined;
  private firstReady: (() => void) | undefined;

  constructor(private readonly opts: SidecarOptions) {}

  /**
   * Spawns the child and resolves once it has said ready. It never rejects: a child that fails
   * is restarted with backoff, and `reason` says why it is not ready in the meantime.
   */
  start(): Promise<void> {
    if (this.state !== 'stopped') throw new Error(`sidecar already ${this.state}`);
    const ready = new Promise<void>((resolve) => (this.firstReady = resolve));
    this.spawnChild();
    return ready;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get pending(): { inFlight: number; queued: number } {
    return { inFlight: this.inFlight.size, queued: this.queue.length };
  }

  request<T = unknown>(method: string, params: unknown = {}, options: RequestOptions = {}): Promise<T> {
    if (this.state === 'closing' || this.state === 'stopped') {
      return Promise.reject(new ApiError('SHUTTING_DOWN', 'the service is shutting down'));
    }
    // A worker that keeps dying will not serve a queue soon: fail fast instead of holding callers.
    if (this.state !== 'ready' && this.failedStarts >= CRASH_LOOP) {
      return Promise.reject(new ApiError('SIDECAR_UNAVAILABLE', `the speech worker is not running: ${this.reason}`, { 'retry-after': '5' }));
    }
    // The queue holds only what is not yet sent, so its bound holds whatever the worker's state.
    const slotFree = this.state === 'ready' && this.inFlight.size < this.opts.maxInFlight;
    if (!slotFree && this.queue.length >= this.opts.maxQueue) {
      return Promise.reject(
        new ApiError('QUEUE_FULL', `too many requests waiting (${this.queue.length}); retry shortly`, { 'retry-after': '1' }),
      );
    }
    return new Promise<T>((resolve, reject) => {
      const job: Pending = {
        id: this.nextId++,
        method,
        params,
        resolve: resolve as (value: unknown) => void,
        reject,
        onProgress: options.onProgress,
        timeoutMs: options.timeoutMs ?? this.opts.requestTimeoutMs,
        timer: undefined,
        abandoned: false,
      };
      // One deadline from enqueue to reply: a caller never waits longer than its timeout.
      job.timer = setTimeout(() => this.timeOut(job), job.timeoutMs);
      this.queue.push(job);
      this.pump();
    });
  }

  /** Graceful stop: fail what waits, close stdin, then SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'closing';
    this.reason = 'shutting down';
    clearTimeout(this.restartTimer);
    clearTimeout(this.startTimer);
    for (const job of this.queue.splice(0)) this.settle(job, new ApiError('SHUTTING_DOWN', 'the service is shutting down'));
    const child = this.child;
    if (child && child.exitCode === null && child.signalCode === null) {
      const step = this.opts.stopStepMs ?? 2000;
      // execa's promise settles after its own exit handling (onExit) has run.
      const exited = child.then(() => undefined);
      const within = (ms: number) =>
        Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms).unref())]);
      child.stdin?.end();
      if (!(await within(step))) {
        child.kill('SIGTERM');
        if (!(await within(step))) {
          child.kill('SIGKILL');
          await exited;
        }
      }
    }
    this.state = 'stopped';
  }

  /** Last resort when the process itself must exit now. */
  kill(): void {
    this.child?.kill('SIGKILL');
  }

  private setState(state: SidecarState, reason: string): void {
    this.state = state;
    this.reason = reason;
  }

  private spawnChild(): void {
    this.setState(this.restarts === 0 ? 'starting' : 'restarting', this.restarts === 0 ? 'sidecar starting' : 'sidecar restarting');
    this.info = null;
    const child = execa(this.opts.command, this.opts.args, {
      cwd: this.opts.cwd,
      env: this.opts.env,
      extendEnv: true,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      stripFinalNewline: false,
      encoding: 'buffer',
    });
    this.child = child;
    // execa resolves (reject: false) once the child has exited and its streams are done.
    child.then((result) => this.onExit(child, result.exitCode, result.signal, result.failed ? result.shortMessage : undefined));
    child.stdin.on('error', (err) => this.opts.log.warn({ err: err.message }, 'sidecar stdin error'));
    const maxLine = this.opts.maxLineBytes ?? 64 * 1024 * 1024;
    readLines(child.stdout, maxLine, (line) => this.onLine(line), () => {
      this.opts.log.error({ limit: maxLine }, 'sidecar wrote an over-long line; restarting it');
      child.kill('SIGKILL');
    });
    readLines(child.stderr, MAX_STDERR_LINE, (line) => this.onStderr(line), () => this.onStderr('WARNING (an over-long stderr line was dropped)'), true);
    this.startTimer = setTimeout(() => {
      this.opts.log.error({ timeoutMs: this.opts.startTimeoutMs }, 'sidecar did not say ready in time; killing it');
      child.kill('SIGKILL');
    }, this.opts.startTimeoutMs);
    this.startTimer.unref();
  }

  private onStderr(line: string): void {
    // The sidecar prefixes its lines with a level; keep that level in our log.
    const match = /^(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+(.*)$/.exec(line);
    const level = match?.[1];
    const msg = match?.[2] ?? line;
    const fields = { sidecar: this.child?.pid };
    if (level === 'ERROR' || level === 'CRITICAL') this.opts.log.error(fields, msg);
    else if (level === 'WARNING' || level === 'WARN') this.opts.log.warn(fields, msg);
    else if (level === 'DEBUG') this.opts.log.debug(fields, msg);
    else this.opts.log.info(fields, msg);
  }

  private onLine(line: string): void {
    let msg: SidecarMessage;
    try {
      msg = JSON.parse(line) as SidecarMessage;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      this.opts.log.warn({ line: line.slice(0, 200) }, 'ignoring a sidecar line that is not a JSON object');
      return;
    }
    if (msg.event === 'ready' && (msg.id === undefined || msg.id === null)) return this.onReady(msg);
    if (typeof msg.id !== 'number') {
      this.opts.log.warn({ msg: line.slice(0, 200) }, 'sidecar message without a request id');
      return;
    }
    const job = this.inFlight.get(msg.id);
    if (!job) {
      this.opts.log.debug({ id: msg.id }, 'reply for an unknown request');
      return;
    }
    if (msg.event === 'progress') {
      try {
        if (!job.abandoned) job.onProgress?.(Number(msg.done), Number(msg.total));
      } catch (err) {
        this.opts.log.warn({ err: (err as Error).message }, 'progress callback failed');
      }
      return;
    }
    this.inFlight.delete(job.id);
    if (msg.error) {
      const err = sidecarError(String(msg.error.code), String(msg.error.message));
      if (err.statusCode >= 500) this.opts.log.error({ id: job.id, method: job.method, worker: msg.error }, 'speech worker error');
      this.settle(job, err);
    }
    else this.settle(job, null, msg.result);
    this.pump();
  }

  private onReady(msg: SidecarMessage): void {
    if (this.state === 'closing' || this.state === 'stopped') return;
    clearTimeout(this.startTimer);
    this.info = {
      pid: Number(msg.pid ?? this.child?.pid),
      engines: (msg.engines ?? {}) as ReadyInfo['engines'],
      aligners: (msg.aligners ?? {}) as ReadyInfo['aligners'],
      versions: (msg.versions ?? {}) as ReadyInfo['versions'],
    };
    this.readySince = Date.now();
    this.setState('ready', 'ready');
    this.opts.log.info({ pid: this.info.pid, engines: summarize(this.info.engines) }, 'sidecar ready');
    this.firstReady?.();
    this.firstReady = undefined;
    this.pump();
  }

  private onExit(child: ResultPromise, code: number | undefined, signal: string | undefined, why?: string): void {
    if (child !== this.child) return;
    clearTimeout(this.startTimer);
    this.child = undefined;
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    const failure = new ApiError('SIDECAR_UNAVAILABLE', `the speech worker stopped (${how}) while handling the request; retry shortly`, {
      'retry-after': '1',
    });
    for (const job of this.inFlight.values()) this.settle(job, failure);
    this.inFlight.clear();
    if (this.state === 'closing' || this.state === 'stopped') {
      this.opts.log.info({ how }, 'sidecar stopped');
      return;
    }
    this.failures = this.readySince && Date.now() - this.readySince > STABLE_MS ? 1 : this.failures + 1;
    this.failedStarts = this.readySince ? 0 : this.failedStarts + 1;
    if (this.failedStarts >= CRASH_LOOP) {
      const down = new ApiError('SIDECAR_UNAVAILABLE', `the speech worker is not running: it failed to start ${this.failedStarts} times`, {
        'retry-after': '5',
      });
      for (const job of this.queue.splice(0)) this.settle(job, down);
    }
    this.readySince = 0;
    const delay = Math.min(this.opts.backoffMaxMs, this.opts.backoffMs * 2 ** (this.failures - 1));
    this.restarts += 1;
    // A child that never ran (a wrong VOICECUE_PYTHON) has no exit code; execa's message says why.
    const cause = code === undefined && !signal && why ? why : how;
    this.setState('restarting', `sidecar exited (${cause}); restarting in ${delay} ms`);
    this.opts.log.error({ how, delay, restarts: this.restarts, why }, 'sidecar exited');
    this.restartTimer = setTimeout(() => this.spawnChild(), delay);
    this.restartTimer.unref();
  }

  /** Sends queued jobs while the child is ready and there is room in flight. */
  private pump(): void {
    const stdin = this.child?.stdin;
    while (this.state === 'ready' && stdin && this.inFlight.size < this.opts.maxInFlight && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.inFlight.set(job.id, job);
      // Requests are small; Node buffers past the high-water mark, so drain is not awaited here.
      stdin.write(JSON.stringify({ id: job.id, method: job.method, params: job.params }) + '\n');
    }
  }

  private timeOut(job: Pending): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) this.queue.splice(queued, 1);
    this.settle(job, new ApiError('SIDECAR_TIMEOUT', `the speech worker did not answer within ${job.timeoutMs} ms`));
    if (queued >= 0 || !this.inFlight.has(job.id)) return;
    // Sent but unanswered: keep its slot until the reply comes. If none comes within another
    // timeout the worker is stuck, and restarting it is the only way to free the engine.
    job.abandoned = true;
    job.timer = setTimeout(() => {
      if (!this.inFlight.has(job.id)) return;
      this.opts.log.error({ id: job.id, method: job.method }, 'sidecar is stuck on a request; restarting it');
      this.child?.kill('SIGKILL');
    }, job.timeoutMs);
    job.timer.unref();
  }

  private settle(job: Pending, err: Error | null, value?: unknown): void {
    clearTimeout(job.timer);
    if (job.abandoned) return;
    job.abandoned = true;
    if (err) job.reject(err);
    else job.resolve(value);
  }
}

/** The worker's own codes pass through; anything else is our bug, told to the client without internals. */
function sidecarError(code: string, message: string): ApiError {
  if (isErrorCode(code)) return new ApiError(code, message);
  return new ApiError('INTERNAL_ERROR', `the speech worker failed (${code}); the details are in the service log`, {}, { code, message });
}

function summarize(engines: Record<string, { available: boolean }>): Record<string, boolean> {
  return Object.fromEntries(Object.entries(engines).map(([name, e]) => [name, e.available]));
}

/** Splits a byte stream into UTF-8 lines, with a cap on one line's length. */
function readLines(
  stream: NodeJS.ReadableStream,
  maxBytes: number,
  onLine: (line: string) => void,
  onOverflow: () => void,
  splitOnCarriageReturn = false,
): void {
  let parts: Buffer[] = [];
  let size = 0;
  // Progress bars redraw with \r: on stderr each redraw is a line of its own.
  const nextBreak = (chunk: Buffer, from: number) => {
    const nl = chunk.indexOf(10, from);
    if (!splitOnCarriageReturn) return nl;
    const cr = chunk.indexOf(13, from);
    return cr === -1 ? nl : nl === -1 ? cr : Math.min(cr, nl);
  };
  stream.on('data', (chunk: Buffer) => {
    let from = 0;
    for (let nl = nextBreak(chunk, 0); nl !== -1; nl = nextBreak(chunk, from)) {
      const tooLong = size + nl - from > maxBytes;
      parts.push(chunk.subarray(from, nl));
      const line = tooLong ? '' : Buffer.concat(parts).toString('utf8');
      parts = [];
      size = 0;
      from = nl + 1;
      try {
        if (tooLong) onOverflow();
        else if (line.trim()) onLine(line);
      } catch (err) {
        // A handler bug must not take the gateway down from inside a stream event.
        process.emitWarning(`sidecar line handler failed: ${(err as Error).message}`);
      }
    }
    if (from < chunk.length) {
      parts.push(chunk.subarray(from));
      size += chunk.length - from;
      if (size > maxBytes) {
        parts = [];
        size = 0;
        onOverflow();
      }
    }
  });
}
