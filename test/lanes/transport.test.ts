// The line transport over plain streams: framing, the line cap, garbage, backpressure, stderr.
import t from 'tap';
import { PassThrough, Writable } from 'node:stream';
import { forwardStderr, LineTransport, type JsonObject } from '../../src/lanes/index.js';
import { memoryLogger, sleep } from '../fixtures/lanes.js';

function transport(maxLineBytes?: number) {
  const input = new PassThrough();
  const output = new PassThrough();
  const log = memoryLogger();
  let overflows = 0;
  const tr = new LineTransport({ input, output, log, onOverflow: () => overflows++, ...(maxLineBytes ? { maxLineBytes } : {}) });
  const got: JsonObject[] = [];
  tr.onMessage = (m) => got.push(m);
  return { input, output, log, tr, got, overflows: () => overflows };
}

t.test('objects split across chunks, several to a chunk, and multi-byte characters arrive whole', async (t) => {
  const { input, got } = transport();
  const text = JSON.stringify({ id: 1, result: { word: 'naïve – 日本' } }) + '\n';
  const bytes = Buffer.from(text + '{"id":2}\n{"id":3}\n');
  const cut = Buffer.from(text).indexOf(Buffer.from('日')) + 1; // inside a 3-byte character
  input.write(bytes.subarray(0, cut));
  input.write(bytes.subarray(cut, cut + 5));
  input.write(bytes.subarray(cut + 5));
  await sleep(10);
  t.same(got, [{ id: 1, result: { word: 'naïve – 日本' } }, { id: 2 }, { id: 3 }]);
});

t.test('garbage lines are logged and skipped; blank lines are ignored', async (t) => {
  const { input, got, log } = transport();
  input.write('not json\n[1,2]\n"a string"\n42\nnull\n\n   \n{"id":7}\n{broken\n');
  await sleep(10);
  t.same(got, [{ id: 7 }]);
  t.equal(log.lines.filter((l) => /not a JSON object/.test(l.msg ?? '')).length, 6);
});

t.test('a line over the cap calls overflow once and is skipped to its end', async (t) => {
  const { input, got, overflows } = transport(100);
  input.write('{"id":1}\n');
  input.write('{"blob":"' + 'x'.repeat(80));
  input.write('x'.repeat(80)); // the cap is crossed inside an unfinished line
  input.write('x'.repeat(80) + '"}\n{"id":2}\n');
  input.write('{"blob":"' + 'y'.repeat(200) + '"}\n{"id":3}\n'); // and within one chunk
  await sleep(10);
  t.equal(overflows(), 2);
  t.same(got, [{ id: 1 }, { id: 2 }, { id: 3 }], 'no fragment of the long lines is parsed');
});

t.test('a handler that throws does not break the stream', async (t) => {
  const { input, tr } = transport();
  const seen: number[] = [];
  tr.onMessage = (m) => {
    seen.push(m.id as number);
    if (m.id === 1) throw new Error('handler bug');
  };
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  input.write('{"id":1}\n{"id":2}\n');
  await sleep(20);
  t.same(seen, [1, 2]);
  t.match(warnings.join(), /handler bug/);
});

t.test('backpressure: sends queue in order while the stream is full, none lost or interleaved', async (t) => {
  const written: string[] = [];
  let release: (() => void) | undefined;
  // A slow pipe with a tiny buffer: each write waits until released.
  const output = new Writable({
    highWaterMark: 64,
    write(chunk: Buffer, _enc, done) {
      written.push(chunk.toString('utf8'));
      release = done;
    },
  });
  const tr = new LineTransport({ input: new PassThrough(), output, log: memoryLogger() });
  const big = 'z'.repeat(100);
  for (let i = 0; i < 20; i++) tr.send({ id: i, big });
  t.ok(tr.queued > 0, 'later sends wait in the transport, not in the stream');
  t.ok(written.length <= 1);
  while (written.length < 20) {
    await waitForRelease();
    const done = release!;
    release = undefined;
    done(); // may take the next write at once
  }
  t.same(
    written.map((line) => JSON.parse(line).id),
    [...Array(20).keys()],
    'every line arrives once, in order',
  );
  t.ok(written.every((line) => line.endsWith('\n') && line.indexOf('\n') === line.length - 1), 'one whole line a write');
  t.equal(tr.queued, 0);

  async function waitForRelease() {
    for (let i = 0; i < 200 && !release; i++) await sleep(1);
    if (!release) throw new Error('the stream took no write');
  }
});

t.test('after close, sends are dropped and nothing more is delivered', async (t) => {
  const { input, output, tr, got } = transport();
  const out: string[] = [];
  output.on('data', (c: Buffer) => out.push(c.toString()));
  tr.close();
  tr.send({ id: 1 });
  input.write('{"id":1}\n');
  await sleep(10);
  t.same(out, []);
  t.same(got, []);
});

t.test('stderr: each line (\\r too) logged at its level; a huge line is cut', async (t) => {
  const stderr = new PassThrough();
  const log = memoryLogger();
  forwardStderr(stderr, log, { worker: 'cpu#0' });
  stderr.write('INFO 10%\rINFO 20%\r' + 'x'.repeat(20_000) + '\nWARNING careful\r\nERROR bad\nDEBUG fine\nno prefix\n');
  await sleep(10);
  t.same(
    log.lines.map((l) => [l.level, l.msg]),
    [
      ['info', '10%'],
      ['info', '20%'],
      ['warn', '(an over-long stderr line was dropped)'],
      ['warn', 'careful'],
      ['error', 'bad'],
      ['debug', 'fine'],
      ['info', 'no prefix'],
    ],
  );
  t.same(log.lines[0]!.obj, { worker: 'cpu#0' });
});
