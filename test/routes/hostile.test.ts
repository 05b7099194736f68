// Hostile input, one kind at a time: Fastify's own errors, 404 vs 405 and HEAD, Range by RFC 9110,
// JSON bodies (UTF-8, charsets, prototype keys, numeric limits) and what a refusal writes to the log.
import t, { type Test } from 'tap';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { parse } from 'yaml';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { ERROR_STATUS, isErrorCode } from '../../src/errors.js';
import { newArtifactId } from '../../src/store/artifacts.js';
import { FAKE_SIDECAR, listening, memoryLogger, rawRequest, ROOT, tempDir, testApp } from '../helpers.js';

type Res = Awaited<ReturnType<Awaited<ReturnType<typeof testApp>>['app']['inject']>>;

/** Catalogue JSON with the given code (and its status), and an x-request-id. */
function catalogue(t: Test, res: Res, code: keyof typeof ERROR_STATUS, what: string): { message: string } {
  t.equal(res.statusCode, ERROR_STATUS[code], `${what}: status`);
  t.match(res.headers['x-request-id'], /.+/, `${what}: x-request-id`);
  t.match(res.headers['content-type'], /^application\/json/, `${what}: JSON`);
  const body = res.json();
  t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode'], `${what}: catalogue shape`);
  t.equal(body.code, code, `${what}: code`);
  t.ok(isErrorCode(body.code), `${what}: a catalogue code`);
  t.equal(body.statusCode, res.statusCode, `${what}: statusCode field`);
  return body;
}

const json = { 'content-type': 'application/json' };

t.test("Fastify's own errors are catalogue JSON and never echo much of the URL", async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const longParam = await app.inject({ url: `/download/${'a'.repeat(200)}`, headers: { 'x-request-id': 'caller-1' } });
  const body = catalogue(t, longParam, 'INVALID_ID', 'over-long id (maxParamLength)');
  t.equal(longParam.headers['x-request-id'], 'caller-1', "the caller's id is kept");
  t.notMatch(body.message, /aaaaaaaaaa|FST_/);

  for (const url of ['/download/%zz', '/download/%E0%A4%A', `/nope/%E0%A4%A${'x'.repeat(8000)}`]) {
    const res = await app.inject({ url });
    const { message } = catalogue(t, res, 'MALFORMED_REQUEST', `bad percent-encoding ${url.slice(0, 30)}`);
    t.match(message, /percent-encoding/);
    t.ok(res.body.length < 300, 'the URL is not echoed');
    t.notMatch(res.body, /FST_ERR|xxxxxxxxxx/);
  }

  const long404 = catalogue(t, await app.inject({ url: `/${'y'.repeat(8000)}?q=1` }), 'NOT_FOUND', 'an 8 KB unknown path');
  t.equal(long404.message, `no route for GET /${'y'.repeat(99)}…`, 'the path is cut at 100 characters');

  const keys = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`${'k'.repeat(500)}${i}`, 1]));
  const unknown = catalogue(t, await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hi', ...keys } }), 'VALIDATION_ERROR', '1000 long unknown fields');
  t.match(unknown.message, /^unknown fields: k{40}…, k{40}…, k{40}…, k{40}…, k{40}… and 995 more$/);
});

t.test('requests Node rejects get catalogue JSON with an x-request-id, in words', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const port = await listening(app);
  const raw = (request: string) => rawRequest(port, request);
  for (const [request, message] of [
    ['FOO /tts HTTP/1.1\r\nHost: x\r\n\r\n', 'the request method is not valid'],
    ['POST /tts HTTP/1.1\r\nHost: x\r\nContent-Length: 1x\r\n\r\n{}', 'the Content-Length header is not a number'],
    ['GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n', 'a header name or value has characters HTTP does not allow'],
  ] as const) {
    const response = await raw(request);
    t.match(response, /^HTTP\/1.1 400 /, message);
    t.match(response, /\r\nx-request-id: [0-9a-f-]{36}\r\n/i, 'an x-request-id');
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
    t.same(body, { statusCode: 400, code: 'MALFORMED_REQUEST', error: 'Bad Request', message });
  }
});

t.test('a wrong method on a path that exists is 405 with Allow; HEAD works where GET does', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const cases: [string, string, string][] = [
    ['DELETE', '/tts', 'POST'],
    ['GET', '/tts', 'POST'],
    ['PUT', '/tts', 'POST'],
    ['OPTIONS', '/tts', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['DELETE', '/health/live', 'GET, HEAD'],
    ['PUT', `/download/${newArtifactId()}`, 'GET, HEAD'],
    ['PATCH', '/download/anything', 'GET, HEAD'],
  ];
  for (const [method, url, allow] of cases) {
    const res = await app.inject({ method: method as 'GET', url });
    const { message } = catalogue(t, res, 'METHOD_NOT_ALLOWED', `${method} ${url}`);
    t.equal(res.headers.allow, allow, `${method} ${url}: Allow`);
    t.match(message, new RegExp(`^${method} is not allowed on `));
  }
  const headTts = await app.inject({ method: 'HEAD', url: '/tts' });
  t.equal(headTts.statusCode, 405, 'HEAD on a POST-only path');
  t.equal(headTts.headers.allow, 'POST');
  t.equal(headTts.body, '', 'no body to a HEAD');
  t.match(headTts.headers['x-request-id'], /.+/);

  for (const url of ['/nope', '/tts/', '/TTS', '/download', '/health/live/extra']) {
    catalogue(t, await app.inject({ method: 'DELETE', url }), 'NOT_FOUND', `DELETE ${url}`);
  }
  const headMissing = await app.inject({ method: 'HEAD', url: '/nope' });
  t.equal(headMissing.statusCode, 404);
  t.equal(headMissing.body, '');

  const live = await app.inject({ method: 'HEAD', url: '/health/live' });
  t.equal(live.statusCode, 200);
  t.equal(live.body, '');
  const { audio_url: url } = (await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } })).json();
  const full = await app.inject({ url });
  const head = await app.inject({ method: 'HEAD', url });
  t.equal(head.statusCode, 200, 'HEAD on a download');
  t.equal(head.body, '');
  t.equal(Number(head.headers['content-length']), full.rawPayload.length, 'HEAD says the size');
  t.equal(head.headers.etag, full.headers.etag);
  const headRange = await app.inject({ method: 'HEAD', url, headers: { range: 'bytes=0-3' } });
  t.equal(headRange.statusCode, 206);
  t.equal(headRange.headers['content-range'], `bytes 0-3/${full.rawPayload.length}`);
  t.equal(headRange.body, '');
});

t.test('Range on downloads follows RFC 9110: ignored when invalid, 416 when unsatisfiable, never a wrong slice', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const { audio_url: url, id } = (await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } })).json();
  const full = (await app.inject({ url })).rawPayload;
  const size = full.length;
  t.equal(size, 44_144, "the fake worker's WAV");
  type Want = { status: 200 } | { status: 416 } | { status: 206; start: number; end: number };
  const whole: Want = { status: 200 };
  const slice = (start: number, end: number): Want => ({ status: 206, start, end });
  const none: Want = { status: 416 };
  const cases: [string, Want][] = [
    ['bytes=0-3', slice(0, 3)],
    ['bytes=-5', slice(size - 5, size - 1)],
    ['bytes=40-', slice(40, size - 1)],
    ['bytes=0-0', slice(0, 0)],
    [`bytes=${size - 1}-`, slice(size - 1, size - 1)],
    ['Bytes=0-3', slice(0, 3)], // the unit is case-insensitive
    ['bytes= 0-3', slice(0, 3)],
    ['bytes=0-3 ,', slice(0, 3)], // an empty list element is ignored
    ['bytes=0-99999999999999999999', slice(0, size - 1)],
    ['bytes=-99999999999999999999', slice(0, size - 1)], // a suffix longer than the file is all of it
    ['bytes=1e3-2e3', whole],
    ['bytes=0x10-0x20', whole],
    ['bytes=-', whole],
    ['bytes=5-3', whole], // last < first: invalid, so ignored
    ['bytes=0-1,3-4', whole], // several ranges: not served as multipart
    ['bytes=0-1,0-1', whole],
    ['bytes=3', whole],
    ['bytes=+1-3', whole],
    ['bytes=1-2-3', whole],
    ['bytes=--1', whole],
    ['bytes=', whole],
    ['items=0-3', whole], // a unit we do not know
    ['bytes=١-٢', whole], // digits are ASCII digits
    [`bytes=${size}-`, none],
    ['bytes=999999-', none],
    ['bytes=99999999999999999999-', none],
    ['bytes=99999999999999999999-99999999999999999999', none],
    ['bytes=-0', none],
  ];
  for (const [range, want] of cases) {
    const res = await app.inject({ url, headers: { range } });
    t.equal(res.statusCode, want.status, `${range}: status`);
    if (want.status === 200) {
      t.ok(res.rawPayload.equals(full), `${range}: the whole file`);
      t.notOk(res.headers['content-range'], `${range}: no Content-Range`);
    } else if (want.status === 206) {
      t.equal(res.headers['content-range'], `bytes ${want.start}-${want.end}/${size}`, `${range}: Content-Range`);
      t.ok(res.rawPayload.equals(full.subarray(want.start, want.end + 1)), `${range}: exactly those bytes`);
    } else {
      catalogue(t, res, 'RANGE_NOT_SATISFIABLE', range);
      t.equal(res.headers['content-range'], `bytes */${size}`, `${range}: Content-Range names the size`);
      t.notOk(res.headers['content-disposition'], `${range}: no attachment header on an error`);
      t.notOk(res.headers['cache-control'], `${range}: no caching headers for the file`);
    }
  }

  // Timing files: the same rules, and an error never says "attachment".
  const srt = await app.inject({ url: `/download/${id}?format=srt` });
  t.match(srt.headers['content-disposition'], /^attachment/);
  const srtRange = await app.inject({ url: `/download/${id}?format=srt`, headers: { range: 'bytes=0-1' } });
  t.equal(srtRange.statusCode, 206);
  t.equal(srtRange.body, srt.body.slice(0, 2));
  const srt416 = await app.inject({ url: `/download/${id}?format=srt`, headers: { range: 'bytes=999999-' } });
  catalogue(t, srt416, 'RANGE_NOT_SATISFIABLE', 'srt past its end');
  t.notOk(srt416.headers['content-disposition']);

  // Preconditions come before the range, and a stale If-Range means the whole file.
  const etag = String(srt.headers.etag && (await app.inject({ url })).headers.etag);
  const stale = await app.inject({ url, headers: { range: 'bytes=999999-', 'if-range': '"not-it"' } });
  t.equal(stale.statusCode, 200, 'If-Range that does not match: the whole file, not a 416');
  t.ok(stale.rawPayload.equals(full));
  const fresh = await app.inject({ url, headers: { range: 'bytes=0-3', 'if-range': etag } });
  t.equal(fresh.statusCode, 206, 'If-Range that matches: the range');
  catalogue(t, await app.inject({ url, headers: { range: 'bytes=999999-', 'if-match': '"nope"' } }), 'PRECONDITION_FAILED', 'If-Match before Range');
  const notModified = await app.inject({ url, headers: { range: 'bytes=1e3-', 'if-none-match': etag } });
  t.equal(notModified.statusCode, 304);
});

t.test('JSON bodies: UTF-8 only, charsets, prototype keys and numeric limits, each in words', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const post = (payload: string | Buffer, headers: Record<string, string> = json) => app.inject({ method: 'POST', url: '/tts', payload, headers });
  const withBytes = (...bytes: number[]) => Buffer.concat([Buffer.from('{"text":"hi '), Buffer.from(bytes), Buffer.from('"}')]);

  for (const [name, bytes] of [
    ['a lone continuation byte', [0x80]],
    ['0xFF', [0xff]],
    ['an overlong slash', [0xc0, 0xaf]],
    ['an encoded surrogate', [0xed, 0xa0, 0x80]],
    ['past U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['a truncated sequence', [0xe2, 0x82]],
  ] as const) {
    const { message } = catalogue(t, await post(withBytes(...bytes)), 'INVALID_JSON', name);
    t.match(message, /^the body is not valid UTF-8 \(byte 12\)$/, `${name}: says where`);
  }
  const mixed = await post(Buffer.from('{"text":"Grüße, 世界 😀"}'));
  t.equal(mixed.statusCode, 201, 'real UTF-8 passes');
  const bom = await post(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{"text":"hi"}')]));
  t.equal(bom.statusCode, 201, 'a UTF-8 byte order mark is allowed');

  for (const ct of ['application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset="utf-8"', 'application/json; charset=utf8', 'Application/JSON']) {
    t.equal((await post('{"text":"hi"}', { 'content-type': ct })).statusCode, 201, ct);
  }
  for (const charset of ['latin1', 'utf-16', 'ISO-8859-1', 'us-ascii']) {
    const { message } = catalogue(t, await post('{"text":"hi"}', { 'content-type': `application/json; charset=${charset}` }), 'UNSUPPORTED_MEDIA_TYPE', charset);
    t.equal(message, `charset "${charset}" is not supported: send the JSON as UTF-8`);
  }
  const longCharset = catalogue(t, await post('{}', { 'content-type': `application/json; charset=${'z'.repeat(5000)}` }), 'UNSUPPORTED_MEDIA_TYPE', 'a 5000-character charset');
  t.ok(longCharset.message.length < 100);

  for (const [name, payload, key] of [
    ['__proto__ at the top', '{"text":"hi","__proto__":{"x":1}}', '__proto__'],
    ['__proto__ nested', '{"text":"hi","fps":[{"a":{"__proto__":null}}]}', '__proto__'],
    ['__proto__ spelt with escapes', '{"text":"hi","\\u005f_proto__":{}}', '__proto__'],
    ['constructor.prototype', '{"text":"hi","constructor":{"prototype":{"x":1}}}', 'constructor.prototype'],
  ] as const) {
    const { message } = catalogue(t, await post(payload), 'VALIDATION_ERROR', name);
    t.equal(message, `the body must not contain a ${key} key`, name);
  }
  t.equal(catalogue(t, await post('{"text":"hi","constructor":1}'), 'VALIDATION_ERROR', 'plain constructor').message, 'unknown field: constructor');

  t.equal(catalogue(t, await post('  \n'), 'INVALID_JSON', 'blank body').message, 'the body is empty: send a JSON object');
  t.match(catalogue(t, await post('{"text":'), 'INVALID_JSON', 'cut short').message, /^the body is not valid JSON: /);
  t.match(catalogue(t, await post(`{"text":"${'a'.repeat(1_100_000)}"}`), 'PAYLOAD_TOO_LARGE', 'the body limit still holds').message, /limit of 1048576 bytes/);
  const deep = await post('['.repeat(200_000) + ']'.repeat(200_000));
  t.equal(catalogue(t, deep, 'VALIDATION_ERROR', 'deep nesting').message, 'body must be a JSON object');

  // Every numeric field names its real limits, whatever the size of the number.
  const spec = parse(readFileSync(join(ROOT, 'openapi.yaml'), 'utf8'));
  const props = spec.components.schemas.TtsRequest.properties as Record<string, { type: string; minimum?: number; maximum?: number }>;
  const numeric = Object.entries(props).filter(([, p]) => p.type === 'number' || p.type === 'integer');
  t.ok(numeric.length >= 10, 'the numeric fields');
  const limit = (n: number) => String(n).replace(/^(\d+)$/, '$1(\\.0)?');
  for (const [field, { type, minimum, maximum }] of numeric) {
    const say = async (raw: string) => catalogue(t, await post(`{"text":"hi","${field}":${raw}}`), 'VALIDATION_ERROR', `${field}=${raw}`).message;
    t.match(await say('1e308'), new RegExp(`^${field} must be at most ${limit(maximum!)}$`));
    t.match(await say('1e309'), new RegExp(`^${field} must be at most ${limit(maximum!)}$`), `${field}: 1e309 is Infinity, still too big`);
    t.match(await say('-1e308'), new RegExp(`^${field} must be at least ${limit(minimum!)}$`));
    t.match(await say('-1e309'), new RegExp(`^${field} must be at least ${limit(minimum!)}$`));
    t.match(await say('"1"'), new RegExp(`^${field} must be a (number|whole number)$`));
    if (type === 'integer') t.equal(await say('2.5'), `${field} must be a whole number`);
  }
  t.equal(catalogue(t, await post('{"text":"hi","speed":1e308}'), 'VALIDATION_ERROR', 'speed').message, 'speed must be at most 2.0');
});

t.test('a refusal is one info or warn line without a stack; a fault is one error line with it', async (t) => {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_LOG_LEVEL: 'info', VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '1' });
  const lines: { level: number; reqId?: string; msg?: string; err?: { stack?: string }; [k: string]: unknown }[] = [];
  const app = await buildApp({
    config,
    loggerInstance: pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) }),
    warmup: false,
    workers: { autoStart: false, args: () => [FAKE_SIDECAR], env: { FAKE_START: 'ready' }, lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500, log: memoryLogger() } },
  });
  t.teardown(() => app.close());
  await app.workers.start();
  const linesOf = (res: Res) => lines.filter((l) => l.reqId === res.headers['x-request-id']);

  const refusals: [string, Res, number][] = [
    ['1000 bytes of bad UTF-8', await app.inject({ method: 'POST', url: '/tts', headers: json, payload: Buffer.alloc(1000, 0xff) }), 30],
    ['200 unknown fields', await app.inject({ method: 'POST', url: '/tts', payload: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, i])) }), 30],
    ['every field wrong', await app.inject({ method: 'POST', url: '/tts', payload: { text: 1, speed: 'x', fps: 'y', max_lines: 'z', voice: 2 } }), 30],
    ['a 404', await app.inject({ url: '/nope' }), 30],
    ['a 405', await app.inject({ method: 'DELETE', url: '/tts' }), 30],
    ['a bad URL', await app.inject({ url: '/download/%zz' }), 30],
    ['f5 not loaded (503)', await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hi', engine: 'f5' } }), 40],
  ];
  for (const [name, res, level] of refusals) {
    t.ok(res.statusCode >= 400 && res.statusCode < 600 && res.statusCode !== 500, `${name}: refused (${res.statusCode})`);
    const own = linesOf(res);
    t.ok(own.length >= 1 && own.length <= 3, `${name}: ${own.length} lines, no flood`);
    const refusal = own.filter((l) => l.code);
    t.equal(refusal.length, 1, `${name}: one line says why`);
    t.equal(refusal[0]?.level, level, `${name}: logged at ${level === 30 ? 'info' : 'warn'}`);
    t.notOk(own.some((l) => l.err || /\n\s+at /.test(JSON.stringify(l))), `${name}: no stack trace`);
    t.ok(own.every((l) => JSON.stringify(l).length < 2000), `${name}: short lines`);
  }

  const fault = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'internal' } });
  t.equal(fault.statusCode, 500);
  const errorLines = linesOf(fault).filter((l) => l.level === 50);
  t.equal(errorLines.length, 1, 'a fault: one error line');
  t.match(errorLines[0]?.err?.stack, /\n\s+at /, 'with its stack');
});

t.test('a file gone between the check and the send is a 404, not a 405', async (t) => {
  const { app, workers, store } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const { id } = (await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } })).json();
  await rm(join(store.artifactsDir, id), { recursive: true, force: true });
  catalogue(t, await app.inject({ url: `/download/${id}` }), 'NOT_FOUND', 'a result that is gone');
});
