/**
 * JSON lines over a pair of byte streams (a worker's stdout and stdin), and its stderr into the
 * log. Knows nothing of ids or methods: that is rpc.ts.
 */
import type { Readable, Writable } from 'node:stream';

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type JsonObject = Record<string, unknown>;

/** What rpc.ts needs of a transport: a way to send, and a hook for what arrives. */
export interface MessageTransport {
  send(msg: object): void;
  onMessage: ((msg: JsonObject) => void) | undefined;
}

/** Longer stderr lines (a library's progress bar) are cut in the log. */
export const MAX_STDERR_LINE = 8192;
export const DEFAULT_MAX_LINE_BYTES = 64 * 1024 * 1024;

export interface LineTransportOptions {
  input: Readable;
  output: Writable;
  log: Logger;
  /** A protocol line longer than this means the peer is broken. */
  maxLineBytes?: number;
  /** Called once per over-long line; the supervisor kills the child. */
  onOverflow?: () => void;
  /** Fields added to every log line (which worker). */
  fields?: object;
}

export class LineTransport implements MessageTransport {
  onMessage: ((msg: JsonObject) => void) | undefined;
  private readonly backlog: string[] = [];
  /** write() returned false: wait for 'drain' before writing more. */
  private blocked = false;
  private closed = false;

  constructor(private readonly opts: LineTransportOptions) {
    const fields = opts.fields ?? {};
    // A dead peer makes its pipes fail (EPIPE); that is seen through the process's exit.
    opts.input.on('error', (err) => opts.log.warn({ ...fields, err: err.message }, 'worker stdout error'));
    opts.output.on('error', (err) => opts.log.warn({ ...fields, err: err.message }, 'worker stdin error'));
    opts.output.on('drain', () => this.flush());
    readLines(opts.input, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES, (line) => this.receive(line), () => {
      opts.log.error({ ...fields, limit: opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES }, 'worker wrote an over-long line');
      opts.onOverflow?.();
    });
  }

  /** Lines not yet handed to the stream because it asked us to wait. */
  get queued(): number {
    return this.backlog.length;
  }

  /** Sends one object as one line. Never loses or interleaves: while blocked, lines wait in order. */
  send(msg: object): void {
    if (this.closed) return;
    this.backlog.push(JSON.stringify(msg) + '\n');
    if (!this.blocked) this.flush();
  }

  /** Stops sending and delivering; what waits is dropped (the peer is gone). */
  close(): void {
    this.closed = true;
    this.backlog.length = 0;
    this.onMessage = undefined;
  }

  private flush(): void {
    this.blocked = false;
    while (!this.closed && this.backlog.length > 0) {
      const line = this.backlog.shift()!;
      // false: the line is taken, but the stream is full; the rest waits for 'drain'.
      if (!this.opts.output.write(line)) {
        this.blocked = true;
        return;
      }
    }
  }

  private receive(line: string): void {
    let msg: unknown;
    try {
      msg = JSON.parse(line);
    } catch {
      msg = undefined;
    }
    if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) {
      this.opts.log.warn({ ...this.opts.fields, line: line.slice(0, 200) }, 'ignoring a worker line that is not a JSON object');
      return;
    }
    this.onMessage?.(msg as JsonObject);
  }
}

/**
 * Forwards a worker's stderr to the log, one entry a line, at the level the line starts with
 * (`INFO ...`, `WARNING ...`, `ERROR ...`; no prefix: info).
 */
export function forwardStderr(stream: Readable, log: Logger, fields: object = {}): void {
  stream.on('error', () => undefined); // a dead worker's pipe; its exit says more
  readLines(
    stream,
    MAX_STDERR_LINE,
    (line) => logLine(log, fields, line),
    () => logLine(log, fields, 'WARNING (an over-long stderr line was dropped)'),
    true,
  );
}

function logLine(log: Logger, fields: object, line: string): void {
  const match = /^(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)\s+(.*)$/s.exec(line);
  const level = match?.[1];
  const msg = match?.[2] ?? line;
  if (level === 'ERROR' || level === 'CRITICAL') log.error(fields, msg);
  else if (level === 'WARNING' || level === 'WARN') log.warn(fields, msg);
  else if (level === 'DEBUG') log.debug(fields, msg);
  else log.info(fields, msg);
}

/**
 * Splits a byte stream into UTF-8 lines, with a cap on one line's bytes. An over-long line is
 * reported once and skipped up to its end. Bytes are joined before decoding, so a character
 * split across chunks survives.
 */
export function readLines(
  stream: Readable,
  maxBytes: number,
  onLine: (line: string) => void,
  onOverflow: () => void,
  splitOnCarriageReturn = false,
): void {
  let parts: Buffer[] = [];
  let size = 0;
  /** Inside an over-long line: drop bytes until its end. */
  let skipping = false;
  // Progress bars redraw with \r: on stderr each redraw is a line of its own.
  const nextBreak = (chunk: Buffer, from: number) => {
    const nl = chunk.indexOf(10, from);
    if (!splitOnCarriageReturn) return nl;
    const cr = chunk.indexOf(13, from);
    return cr === -1 ? nl : nl === -1 ? cr : Math.min(cr, nl);
  };
  // A handler bug must not take the gateway down from inside a stream event.
  const guarded = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      process.emitWarning(`worker line handler failed: ${(err as Error).message}`);
    }
  };
  stream.on('data', (data: Buffer | string) => {
    const chunk = typeof data === 'string' ? Buffer.from(data) : data;
    let from = 0;
    for (let nl = nextBreak(chunk, 0); nl !== -1; nl = nextBreak(chunk, from)) {
      const tooLong = !skipping && size + nl - from > maxBytes;
      const line = skipping || tooLong ? '' : Buffer.concat([...parts, chunk.subarray(from, nl)]).toString('utf8');
      parts = [];
      size = 0;
      from = nl + 1;
      if (skipping) skipping = false;
      else if (tooLong) guarded(onOverflow);
      else if (line.trim()) guarded(() => onLine(line));
    }
    if (from < chunk.length && !skipping) {
      parts.push(chunk.subarray(from));
      size += chunk.length - from;
      if (size > maxBytes) {
        parts = [];
        size = 0;
        skipping = true;
        guarded(onOverflow);
      }
    }
  });
}
