/**
 * Requests and replies over a message transport: ids, the pending map, routing of progress and
 * other events by id, cancel. One channel per worker process; it knows nothing of processes.
 */
import { ApiError } from '../errors.js';
import { errorReplySchema, progressEventSchema, resultReplySchema, workerError, type ProgressEvent } from './protocol.js';
import type { JsonObject, Logger, MessageTransport } from './transport.js';

export interface RequestHandlers {
  onProgress?: (msg: ProgressEvent) => void;
  /** Any other event for this id. */
  onEvent?: (msg: JsonObject) => void;
  /** Gives up with SIDECAR_TIMEOUT after this long (for short calls; jobs keep their own deadlines). */
  timeoutMs?: number;
}

export interface RpcRequest<T> {
  id: number;
  promise: Promise<T>;
}

export interface RpcChannelOptions {
  log: Logger;
  /** Messages that belong to no request (the ready event). */
  onNotification?: (msg: JsonObject) => void;
  /** Fields added to every log line (which worker). */
  fields?: object;
}

interface Pending {
  method: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  handlers: RequestHandlers;
  timer: NodeJS.Timeout | undefined;
}

export class RpcChannel {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    private readonly transport: MessageTransport,
    private readonly opts: RpcChannelOptions,
  ) {
    transport.onMessage = (msg) => this.receive(msg);
  }

  /** Ids of the requests still awaiting a reply. */
  get inFlight(): number[] {
    return [...this.pending.keys()];
  }

  has(id: number): boolean {
    return this.pending.has(id);
  }

  request<T = unknown>(method: string, params: object = {}, handlers: RequestHandlers = {}): RpcRequest<T> {
    const id = this.nextId++;
    const promise = new Promise<T>((resolve, reject) => {
      const entry: Pending = { method, resolve: resolve as (v: unknown) => void, reject, handlers, timer: undefined };
      if (handlers.timeoutMs !== undefined) {
        entry.timer = setTimeout(
          () => this.settle(id, new ApiError('SIDECAR_TIMEOUT', `the speech worker did not answer ${method} within ${handlers.timeoutMs} ms`)),
          handlers.timeoutMs,
        );
        entry.timer.unref();
      }
      this.pending.set(id, entry);
    });
    this.transport.send({ id, method, params });
    return { id, promise };
  }

  /** Asks the worker to stop request `id`; the request itself still ends with its own reply. */
  cancel(id: number, timeoutMs?: number): RpcRequest<{ cancelled: boolean }> {
    return this.request<{ cancelled: boolean }>('cancel', { id }, timeoutMs === undefined ? {} : { timeoutMs });
  }

  /** The process is gone: every pending request fails with `err`. */
  failAll(err: Error): void {
    for (const id of [...this.pending.keys()]) this.settle(id, err);
  }

  private receive(msg: JsonObject): void {
    const id = msg.id;
    if (id === undefined || id === null) {
      const error = errorReplySchema.safeParse(msg);
      if (error.success) this.opts.log.warn({ ...this.opts.fields, worker: error.data.error }, 'worker reported an error for no request');
      else this.opts.onNotification?.(msg);
      return;
    }
    const entry = typeof id === 'number' ? this.pending.get(id) : undefined;
    if (!entry) {
      // A late reply to a request that timed out or was failed already.
      this.opts.log.debug({ ...this.opts.fields, id }, 'reply for an unknown request');
      return;
    }
    if (typeof msg.event === 'string') return this.event(entry, msg);
    const ok = resultReplySchema.safeParse(msg);
    if (ok.success) return this.settle(id as number, null, ok.data.result);
    const bad = errorReplySchema.safeParse(msg);
    if (bad.success) {
      const err = workerError(bad.data.error.code, bad.data.error.message);
      if (err.statusCode >= 500) this.opts.log.error({ ...this.opts.fields, id, method: entry.method, worker: bad.data.error }, 'speech worker error');
      return this.settle(id as number, err);
    }
    this.opts.log.error({ ...this.opts.fields, id, method: entry.method, line: JSON.stringify(msg).slice(0, 200) }, 'malformed worker reply');
    this.settle(id as number, new ApiError('INTERNAL_ERROR', 'the speech worker sent a malformed reply; the details are in the service log'));
  }

  private event(entry: Pending, msg: JsonObject): void {
    try {
      if (msg.event === 'progress') {
        const progress = progressEventSchema.safeParse(msg);
        if (progress.success) entry.handlers.onProgress?.(progress.data);
        else this.opts.log.warn({ ...this.opts.fields, line: JSON.stringify(msg).slice(0, 200) }, 'malformed progress event');
      } else entry.handlers.onEvent?.(msg);
    } catch (err) {
      this.opts.log.warn({ ...this.opts.fields, err: (err as Error).message }, 'event handler failed');
    }
  }

  private settle(id: number, err: Error | null, value?: unknown): void {
    const entry = this.pending.get(id);
    if (!entry) return;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (err) entry.reject(err);
    else entry.resolve(value);
  }
}
