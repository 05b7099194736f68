/**
 * A lane: N supervised workers of one kind (cpu, gpu) and one bounded FIFO queue in front of
 * them. Places each job on an idle ready worker, owns the job's deadlines and its cancellation,
 * and sends cheap reader-thread calls past the queue.
 */
import { ApiError } from '../errors.js';
import { batchFor, type ProgressEvent, type ReadyInfo } from './protocol.js';
import type { RpcRequest } from './rpc.js';
import { Supervisor, type SupervisorOptions, type SupervisorState } from './supervisor.js';

/** A lane's workers are all started alike; the lane adds its queue and its deadlines. */
export interface LaneOptions extends Omit<SupervisorOptions, 'name' | 'onChange'> {
  name: string;
  workers: number;
  /** Jobs that may wait for a worker; beyond it, QUEUE_FULL. */
  maxQueue: number;
  /** A cancelled job the worker has not answered within this long gets its worker killed. */
  cancelGraceMs?: number;
  /** Deadline of a reader-thread call (tokenize, capabilities). */
  callTimeoutMs?: number;
}

export interface RunOptions {
  signal?: AbortSignal;
  /** From enqueue, and again from each progress event... */
  timeoutMs: number;
  /** ...but never beyond this from enqueue. */
  maxMs: number;
  onProgress?: (msg: ProgressEvent) => void;
}

export interface LaneStatus {
  name: string;
  state: SupervisorState;
  reason: string;
  workers: { pid: number | null; state: SupervisorState; busy: number }[];
  running: number;
  queued: number;
  restarts: number;
  /** Every worker down and failing to start again: waiting would not help. */
  crash_looping: boolean;
}

export interface LaneStats {
  /** Jobs sent to a worker. */
  sent: number;
  /** Jobs cancelled before any worker saw them. */
  cancelledQueued: number;
  /** Jobs cancelled on a worker (a cancel request was sent). */
  cancelledRunning: number;
  /** Jobs that ran past a deadline. */
  timedOut: number;
}

interface Job {
  method: string;
  params: object;
  opts: RunOptions;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  enqueuedAt: number;
  deadline: NodeJS.Timeout | undefined;
  /** The caller has its answer (which may come before the worker's, after a cancel). */
  settled: boolean;
  worker: Supervisor | undefined;
  id: number;
  /** The worker answered it, so its slot is free. */
  replied: boolean;
  grace: NodeJS.Timeout | undefined;
  onAbort: (() => void) | undefined;
}

type Phase = 'new' | 'started' | 'closing' | 'stopped';

export class Lane {
  readonly name: string;
  readonly stats: LaneStats = { sent: 0, cancelledQueued: 0, cancelledRunning: 0, timedOut: 0 };
  /** Counts every change of a worker's state: what reports what the lane can do may cache by it. */
  changes = 0;
  private readonly workers: Supervisor[];
  private readonly queue: Job[] = [];
  /** Jobs sent to a worker that has not replied yet. */
  private readonly running = new Set<Job>();
  /** Set by cancelAll: new jobs are refused with it. */
  private cancelledWith: ApiError | undefined;
  private phase: Phase = 'new';
  private firstReady: (() => void) | undefined;

  constructor(private readonly opts: LaneOptions) {
    this.name = opts.name;
    this.workers = Array.from(
      { length: Math.max(1, opts.workers) },
      (_, i) => {
        const { workers: _n, maxQueue: _q, cancelGraceMs: _g, callTimeoutMs: _c, ...worker } = opts;
        return new Supervisor({ ...worker, name: `${opts.name}#${i}`, onChange: () => this.onWorkerChange() });
      },
    );
  }

  /** Spawns every worker; resolves when the first is ready (or the lane stops). Never rejects. */
  start(): Promise<void> {
    if (this.phase !== 'new') throw new Error(`lane ${this.name} already started`);
    this.phase = 'started';
    const ready = new Promise<void>((resolve) => (this.firstReady = resolve));
    for (const worker of this.workers) worker.start();
    return ready;
  }

  /** The capabilities of a ready worker; null when none is ready. */
  get info(): ReadyInfo | null {
    return this.workers.find((w) => w.state === 'ready')?.info ?? null;
  }

  get state(): SupervisorState {
    if (this.phase === 'new' || this.phase === 'stopped') return 'stopped';
    if (this.phase === 'closing') return 'closing';
    const states = this.workers.map((w) => w.state);
    if (states.includes('ready')) return 'ready';
    if (states.every((s) => s === 'failed')) return 'failed';
    return states.includes('restarting') ? 'restarting' : 'starting';
  }

  get reason(): string {
    if (this.phase === 'new') return 'not started';
    if (this.phase !== 'started') return this.phase === 'closing' ? 'shutting down' : 'stopped';
    const ready = this.workers.filter((w) => w.state === 'ready').length;
    const down = this.workers.find((w) => w.state !== 'ready');
    if (!down) return 'ready';
    const summary = `${ready} of ${this.workers.length} workers ready`;
    return this.workers.length === 1 ? down.reason : `${summary}; ${down.reason}`;
  }

  status(): LaneStatus {
    const workers = this.workers.map((w) => ({ pid: w.pid ?? null, state: w.state, busy: w.busy }));
    return {
      name: this.name,
      state: this.state,
      reason: this.reason,
      workers,
      running: workers.reduce((n, w) => n + w.busy, 0),
      queued: this.queue.length,
      restarts: this.workers.reduce((n, w) => n + w.restarts, 0),
      crash_looping: this.crashLooping(),
    };
  }

  /** Runs a job on the first free worker, in order of arrival. */
  run<T = unknown>(method: string, params: object, opts: RunOptions): Promise<T> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    if (opts.signal?.aborted) {
      this.stats.cancelledQueued += 1;
      return Promise.reject(cancelled());
    }
    return new Promise<T>((resolve, reject) => {
      const job: Job = {
        method,
        params,
        opts,
        resolve: resolve as (v: unknown) => void,
        reject,
        enqueuedAt: Date.now(),
        deadline: undefined,
        settled: false,
        worker: undefined,
        id: 0,
        replied: false,
        grace: undefined,
        onAbort: undefined,
      };
      // Only an empty queue may be jumped: whoever waits is first.
      const worker = this.queue.length === 0 ? this.pick(job) : undefined;
      if (!worker && this.queue.length >= this.opts.maxQueue) {
        reject(new ApiError('QUEUE_FULL', `too many requests waiting (${this.queue.length}); retry shortly`, { 'retry-after': '1' }));
        return;
      }
      this.arm(job, Math.min(opts.timeoutMs, opts.maxMs));
      if (opts.signal) {
        job.onAbort = () => this.abandon(job, cancelled(), 'cancelled');
        opts.signal.addEventListener('abort', job.onAbort, { once: true });
      }
      if (worker) this.send(job, worker);
      else this.queue.push(job);
    });
  }

  /** A cheap reader-thread method (tokenize, capabilities): straight to a ready worker, never queued. */
  call<T = unknown>(method: string, params: object = {}, { timeoutMs }: { timeoutMs?: number } = {}): Promise<T> {
    const refused = this.refusal();
    if (refused) return Promise.reject(refused);
    const worker = this.leastBusy(this.workers.filter((w) => w.state === 'ready'));
    if (!worker) {
      return Promise.reject(new ApiError('SIDECAR_UNAVAILABLE', `no ${this.name} worker is ready: ${this.reason}`, { 'retry-after': '1' }));
    }
    try {
      return worker.request<T>(method, params, { timeoutMs: timeoutMs ?? this.opts.callTimeoutMs ?? 5000 }).promise;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** The last resort when the process must exit now: SIGKILL every worker. */
  kill(why: string): void {
    for (const worker of this.workers) worker.kill(why);
  }

  /**
   * The shutdown's deadline: every queued job fails with `err`, every running one is answered with
   * it at once and cancelled on its worker (killed if it does not stop within the cancel grace),
   * and any job that still comes is refused with it. The workers stay up: stop() ends them.
   */
  cancelAll(err: ApiError): { queued: number; running: number } {
    this.cancelledWith = err;
    const queued = this.queue.length;
    this.failQueue(err); // first: a worker freed by a cancel must not pick up a queued job
    const running = [...this.running].filter((job) => !job.settled);
    for (const job of running) this.abandon(job, err, 'cancelled');
    return { queued, running: running.length };
  }

  /** Fails what waits with SHUTTING_DOWN and stops every worker; running jobs may still finish. */
  async stop(): Promise<void> {
    if (this.phase === 'stopped' || this.phase === 'closing') return;
    this.phase = 'closing';
    this.failQueue(new ApiError('SHUTTING_DOWN', 'the service is shutting down; retry on another instance', { 'retry-after': '1' }));
    this.firstReady?.();
    await Promise.all(this.workers.map((w) => w.stop()));
    this.phase = 'stopped';
  }

  /** Why a new request is turned away at once, if it is. */
  private refusal(): ApiError | undefined {
    if (this.phase === 'new') return new ApiError('WARMING_UP', `the ${this.name} workers are not started yet; retry shortly`, { 'retry-after': '1' });
    if (this.phase !== 'started') return new ApiError('SHUTTING_DOWN', 'the service is shutting down');
    if (this.cancelledWith) return this.cancelledWith;
    if (this.crashLooping()) {
      return new ApiError('SIDECAR_UNAVAILABLE', `the speech workers are not running: ${this.reason}`, { 'retry-after': '5' });
    }
    return undefined;
  }

  /** No worker is ready and every one keeps failing to start: waiting would not help. */
  private crashLooping(): boolean {
    return this.workers.every((w) => w.state !== 'ready' && w.crashLooping);
  }

  private leastBusy(workers: Supervisor[]): Supervisor | undefined {
    return workers.reduce<Supervisor | undefined>((best, w) => (!best || w.busy < best.busy ? w : best), undefined);
  }

  /** The least busy ready worker with room for this job. */
  private pick(job: Job): Supervisor | undefined {
    return this.leastBusy(this.workers.filter((w) => w.state === 'ready' && w.busy < batchFor(w.info, job.params)));
  }

  private send(job: Job, worker: Supervisor): void {
    let sent: RpcRequest<unknown>;
    try {
      sent = worker.request(job.method, job.params, { job: true, onProgress: (msg) => this.progress(job, msg) });
    } catch (err) {
      return this.settle(job, err as Error); // pick() saw it ready; cannot happen, but never throw
    }
    job.worker = worker;
    job.id = sent.id;
    this.stats.sent += 1;
    this.running.add(job);
    const replied = (err: Error | null, value?: unknown) => {
      job.replied = true;
      this.running.delete(job);
      clearTimeout(job.grace);
      this.settle(job, err, value);
      this.pump();
    };
    sent.promise.then(
      (value) => replied(null, value),
      (err: Error) => replied(err),
    );
  }

  private pump(): void {
    while (this.queue.length > 0) {
      const worker = this.pick(this.queue[0]!);
      if (!worker) return;
      this.send(this.queue.shift()!, worker);
    }
  }

  /** (Re)sets the job's deadline to fire `ms` from now. */
  private arm(job: Job, ms: number): void {
    clearTimeout(job.deadline);
    job.deadline = setTimeout(() => {
      const total = Date.now() - job.enqueuedAt;
      const why =
        total >= job.opts.maxMs
          ? `the speech worker did not finish within ${job.opts.maxMs} ms`
          : `the speech worker made no progress for ${job.opts.timeoutMs} ms`;
      this.abandon(job, new ApiError('SIDECAR_TIMEOUT', why), 'timedOut');
    }, Math.max(0, ms));
    job.deadline.unref();
  }

  private progress(job: Job, msg: ProgressEvent): void {
    if (job.settled) return;
    // Progress proves the worker is moving: a fresh timeout, within the hard cap.
    this.arm(job, Math.min(job.opts.timeoutMs, job.enqueuedAt + job.opts.maxMs - Date.now()));
    try {
      job.opts.onProgress?.(msg);
    } catch (err) {
      this.opts.log.warn({ lane: this.name, err: (err as Error).message }, 'progress callback failed');
    }
  }

  /**
   * The caller gives up (abort) or its deadline passed: it is answered now. A queued job is
   * dropped; a running one is cancelled on its worker, which keeps the slot until it replies,
   * and is killed if no reply comes within the grace.
   */
  private abandon(job: Job, err: ApiError, why: 'cancelled' | 'timedOut'): void {
    if (job.settled) return;
    this.settle(job, err);
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.stats[why === 'cancelled' ? 'cancelledQueued' : 'timedOut'] += 1;
      return;
    }
    this.stats[why === 'cancelled' ? 'cancelledRunning' : 'timedOut'] += 1;
    const worker = job.worker;
    if (!worker || job.replied) return;
    worker.cancel(job.id);
    const graceMs = this.opts.cancelGraceMs ?? 2000;
    job.grace = setTimeout(() => {
      // Not replied means the same child still holds it: its exit would have failed the job.
      if (!job.replied) worker.kill(`it did not stop cancelled job ${job.id} within ${graceMs} ms`);
    }, graceMs);
    job.grace.unref();
  }

  private settle(job: Job, err: Error | null, value?: unknown): void {
    if (job.settled) return;
    job.settled = true;
    clearTimeout(job.deadline);
    if (job.onAbort) job.opts.signal?.removeEventListener('abort', job.onAbort);
    if (err) job.reject(err);
    else job.resolve(value);
  }

  private failQueue(err: ApiError): void {
    for (const job of this.queue.splice(0)) this.settle(job, err);
  }

  private onWorkerChange(): void {
    this.changes += 1;
    if (this.phase !== 'started') return;
    if (this.workers.some((w) => w.state === 'ready')) {
      this.firstReady?.();
      this.firstReady = undefined;
    } else if (this.crashLooping()) {
      this.failQueue(new ApiError('SIDECAR_UNAVAILABLE', `the speech workers are not running: ${this.reason}`, { 'retry-after': '5' }));
    }
    this.pump();
  }
}

function cancelled(): ApiError {
  return new ApiError('CANCELLED', 'the request was cancelled');
}
