// Thousands of malformed requests, seeded and so the same on every run, against the app with the
// fake worker: none may get a 5xx, every answer carries x-request-id, and every answer that is
// not a success is catalogue JSON whose code's status is the one sent. A 206 must be exactly the
// slice its Content-Range names, a 200 download the whole file.
import t from 'tap';
import { METHODS } from 'node:http';
import { ERROR_STATUS, isErrorCode } from '../../src/errors.js';
import { ttsBodySchema } from '../../src/tts/request.js';
import { testApp } from '../helpers.js';

const REQUESTS = 3000;
const SEED = 0x5eed_c0de;

/** mulberry32: small, fast and the same everywhere. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const chance = (p: number) => next() < p;
  return { next, int, pick, chance };
}

type Rand = ReturnType<typeof prng>;

interface Req {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
  /** Bytes that are not UTF-8: whatever else, this must not succeed. */
  notUtf8?: boolean;
}

const FIELDS = Object.keys(ttsBodySchema(20_000).shape);
// The fake worker's own trigger words (it crashes, hangs or fails on them on purpose) and the f5
// engine (503 ENGINE_UNAVAILABLE by design: the fake does not have it) are kept out.
const FAKE_TRIGGERS = new Set(['crash', 'hang', 'internal', 'malformed']);

const NUMBERS = ['0', '-0', '1', '-1', '0.5', '2', '2.0000001', '1e308', '-1e308', '1e309', '-1e309', '5e-324', '1e-300',
  '9007199254740993', '-9007199254740993', '1.5', '42', '0.0', '30', '240', '241', '1E2', '123456789012345678901234567890'];
const ODD_STRINGS = ['', ' ', 'NaN', 'Infinity', '-Infinity', '1e3', '0x10', ' 1', 'null', 'true', '\u0000', '\ud800', '\udfff',
  '../../etc/passwd', 'en-us\n', '<script>alert(1)</script>', '%00', '\u202eevil', 'e\u0301', '😀'.repeat(50), '\u200b',
  'ＡＢＣ', 'a'.repeat(300), '#FFF', '#GGGGGG', 'kf ', 'ALL', 'srt,vtt', 'f5\u0000', '__proto__', 'constructor', 'en-us+f3'];
const KEYS = [...FIELDS, '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' text', 'TEXT', 'text\u0000',
  'a'.repeat(500), '😀', '\\u0074ext', 'valueOf'];

function jsonString(r: Rand): string {
  const s = r.chance(0.7) ? r.pick(ODD_STRINGS) : randomText(r);
  return JSON.stringify(s).replace(/\\\\u/g, '\\u'); // keep the escapes above as escapes
}

function randomText(r: Rand): string {
  const alphabet = ['a', 'b', ' ', '\n', '\t', 'é', 'ß', '中', '😀', '\u0301', '\u00a0', '\u3000', '.', ',', '!', '1'];
  let s = '';
  const n = r.chance(0.05) ? 5000 + r.int(20_000) : r.int(40);
  for (let i = 0; i < n; i++) s += r.pick(alphabet);
  return FAKE_TRIGGERS.has(s.trim()) ? `${s}!` : s;
}

/** A random JSON value as text (so 1e309 and odd escapes survive), depth-limited. */
function jsonValue(r: Rand, depth = 0): string {
  const kind = depth > 4 ? r.int(4) : r.int(7);
  switch (kind) {
    case 0:
      return r.pick(NUMBERS);
    case 1:
      return jsonString(r);
    case 2:
      return r.pick(['true', 'false', 'null']);
    case 3:
      return r.pick(['[]', '{}', '""']);
    case 4:
      return `[${Array.from({ length: r.int(4) }, () => jsonValue(r, depth + 1)).join(',')}]`;
    default:
      return `{${Array.from({ length: r.int(4) }, () => `${JSON.stringify(r.pick(KEYS))}:${jsonValue(r, depth + 1)}`).join(',')}}`;
  }
}

/** Valid for the field, or almost. */
function fieldValue(r: Rand, field: string): string {
  if (r.chance(0.6)) return jsonValue(r); // any type at all
  const good: Record<string, string[]> = {
    text: ['"hello world"', '"Hi."', JSON.stringify(randomText(r) || 'x')],
    engine: ['"espeak"', '"ESPEAK"', '"polly"'],
    voice: ['"en-us"', '"en-gb"', '"en-us+f3"', '"xx-zz"', '"../x"'],
    language: ['"en"', '"en-US"', '"zz"', '"e"'],
    timing_format: ['"srt"', '"all"', '"json"', '"SRT"'],
    karaoke_tag: ['"k"', '"kf"', '"K"'],
    primary_colour: ['"#FFFFFF"', '"#ffffff80"', '"white"'],
    highlight_colour: ['"#FFD700"', '"#12345"'],
    return_word_timings: ['true', 'false', '"false"', '0'],
  };
  return r.pick(good[field] ?? NUMBERS);
}

function ttsObject(r: Rand): string {
  const parts: string[] = [];
  if (r.chance(0.85)) parts.push(`"text":${r.chance(0.7) ? '"hello there"' : fieldValue(r, 'text')}`);
  const n = r.int(4);
  for (let i = 0; i < n; i++) {
    const field = r.chance(0.85) ? r.pick(FIELDS) : r.pick(KEYS);
    parts.push(`${JSON.stringify(field)}:${fieldValue(r, field)}`);
  }
  return `{${parts.join(',')}}`;
}

function deepNesting(r: Rand): string {
  const depth = r.pick([100, 1000, 10_000, 100_000]);
  return r.chance(0.5) ? '['.repeat(depth) + ']'.repeat(depth) : `${'{"text":'.repeat(depth)}"x"${'}'.repeat(depth)}`;
}

const BROKEN_JSON = ['{', '}', '{"text":', '{"text":"hi"', '{"text":"hi",}', "{'text':'hi'}", '{"text":"hi"}garbage', '{"text":"hi"}{"text":"hi"}',
  '/* c */{"text":"hi"}', '{"text":"\\x41"}', '{"text":"\\u12"}', '{"text":"a\nb"}', 'NaN', 'undefined', '\u0000', '{"text":1e}', '[,]', '{"a" "b"}',
  '{"text":"hi"\u0000}', '\ufeff{"text":"hi"}', '"\\ud800"', '{"text":"\\ud83d\\ude00"}', '  \n\t ', '', '{"text":"hi","text":"again"}'];

/** Bytes that are not UTF-8, at a random place in a body that otherwise is. */
function badUtf8(r: Rand): Buffer {
  const bad = r.pick([[0xff], [0xfe, 0xff], [0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xe2, 0x82], [0xc3], [0xf8, 0x88, 0x80, 0x80, 0x80]]);
  const good = Buffer.from('{"text":"hello wörld"}');
  const at = 1 + r.int(good.length - 2);
  return Buffer.concat([good.subarray(0, at), Buffer.from(bad), good.subarray(at)]);
}

const CONTENT_TYPES = ['application/json', 'application/json; charset=utf-8', 'application/json; charset=UTF-8', 'application/json;charset="utf-8"',
  'application/json; charset=latin1', 'application/json; charset=utf-16', 'application/json; charset=iso-8859-1', 'application/json; charset=',
  'application/json; charset=utf-8; charset=utf-16', 'application/json; foo=bar', 'APPLICATION/JSON', 'application/json ; charset = utf-8',
  'text/plain', 'text/plain; charset=utf-8', 'application/x-www-form-urlencoded', 'multipart/form-data', 'multipart/form-data; boundary=XyZ',
  'application/json-patch+json', 'application/vnd.api+json', 'application/jsonx', 'application/json, text/plain', '*/*', 'application/*',
  'json', ';', 'application/octet-stream', 'audio/wav', 'text/html; charset=é', `application/json; x=${'a'.repeat(2000)}`];

function multipartBody(r: Rand): string {
  return r.pick([
    '--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello\r\n--XyZ--\r\n',
    '--XyZ\r\nContent-Disposition: form-data; name="text"\r\n\r\nhello',
    '--Other\r\n\r\n--Other--',
    '--XyZ\r\nContent-Disposition: form-data; name="file"; filename="../../x.wav"\r\nContent-Type: audio/wav\r\n\r\nRIFF\x00\x00\r\n--XyZ--',
    '--XyZ--',
    '',
  ]);
}

const ID_TRICKS = ['..%2f..%2fetc%2fpasswd', '..%2F..%2Fetc%2Fpasswd', '%00', '%2e%2e', '%2e%2e%2f', '.', '..', '%2F', '%5c..%5c..%5cwin.ini',
  '..\\..\\etc\\passwd', 'A'.repeat(25), 'A'.repeat(26), 'A'.repeat(100), 'A'.repeat(101), 'A'.repeat(5000), 'ü', '%C3%BC', '%F0%9F%98%80',
  '%zz', '%', '%E0%A4%A', '%c0%ae%c0%ae', '0mx1j1s4riaIZkBNp326m_nx%00', '*', '%20', '0mx1j1s4riaIZkBNp326m_nxc', '0MX1J1S4RIAIZKBNP326M_NXC'];
const OTHER_PATHS = ['/', '', '//', '///tts', '/tts/', '/TTS', '/tts?x=1', '/tts#frag', '/health/', '/health/live/', '/health?verbose=2',
  '/health?verbose=1&verbose=0', '/health?verbose[]=1', '/health?verbose=%zz', '/health/%2e%2e', '/health/live?%', '/download', '/download/',
  '/download//', '/nope', '/%', '/%zz', `/${'x'.repeat(8000)}`, '/download/../tts', '/./tts', '/ttsx', '/t%74s', '/\\tts', '/health\u00e9'];
const FORMATS = ['wav', 'srt', 'vtt', 'ass', 'ttml', 'csv', 'json', 'exe', '', 'WAV', '../wav', 'wav%00', 'wav&format=srt', 'json#x', '%zz'];
const RANGES = ['bytes=0-3', 'bytes=-5', 'bytes=40-', 'bytes=1e3-2e3', 'bytes=0x10-0x20', 'bytes=-', 'bytes=5-3', 'bytes=0-1,3-4', 'bytes=0-1,0-1',
  'bytes=99999999999999999999-', 'bytes=0-99999999999999999999', 'bytes=-99999999999999999999', 'bytes=-0', 'bytes=3', 'bytes= 0-3', 'Bytes=0-3',
  'items=0-3', 'bytes=', 'bytes=,', 'bytes=0-3 ,', 'bytes=--1', 'bytes=+1-3', 'bytes=1-2-3', 'bytes=0-0', 'bytes=44143-', 'bytes=44144-',
  '=0-1', 'bytes', `bytes=${'0-1,'.repeat(500)}0-1`, 'bytes=0-1, bytes=2-3', 'bytes=\t1-2', 'bytes=١-٢'];
const ACCEPTS = ['*/*', 'application/json', 'audio/wav', 'audio/*', 'image/png', 'application/json;q=0', 'application/json;q=0, audio/wav;q=0',
  '*/*;q=abc', ',,,', '', 'audio/wav;q=1.5', 'text/*', `${'a/b,'.repeat(300)}*/*`, 'application/json;q=-1', 'AUDIO/WAV'];
const CONDITIONALS = ['*', '"x"', 'W/"', '""', 'W/"abc", *', 'yesterday', 'Thu, 01 Jan 1970 00:00:00 GMT', 'Fri, 31 Dec 9999 23:59:59 GMT', '0', '9'.repeat(100), 'null'];
const METHOD_LIST = METHODS.filter((m) => m !== 'CONNECT');

function randomRequest(r: Rand, id: string): Req {
  const headers: Record<string, string> = {};
  if (r.chance(0.15)) headers.range = r.chance(0.8) ? r.pick(RANGES) : `bytes=${Array.from({ length: r.int(12) }, () => r.pick([...'0123456789-,= xe'])).join('')}`;
  if (r.chance(0.15)) headers.accept = r.pick(ACCEPTS);
  if (r.chance(0.08)) headers[r.pick(['if-match', 'if-none-match', 'if-modified-since', 'if-unmodified-since', 'if-range'])] = r.pick(CONDITIONALS);
  if (r.chance(0.05)) headers['x-request-id'] = r.pick(['', ' ', 'a'.repeat(200), 'ok-id', 'with space', 'é', '../x']);
  const kind = r.int(10);
  if (kind <= 4) {
    // POST /tts with something for a body
    const req: Req = { method: r.chance(0.9) ? 'POST' : r.pick(METHOD_LIST), url: r.chance(0.95) ? '/tts' : r.pick(['/tts/', '/TTS', '/tts?x=%zz']), headers };
    const ct = r.chance(0.7) ? 'application/json' : r.chance(0.9) ? r.pick(CONTENT_TYPES) : undefined;
    if (ct) headers['content-type'] = ct;
    const body = r.int(10);
    req.notUtf8 = body === 6;
    req.payload =
      body <= 3 ? ttsObject(r)
        : body === 4 ? jsonValue(r)
          : body === 5 ? r.pick(BROKEN_JSON)
            : body === 6 ? badUtf8(r)
              : body === 7 ? deepNesting(r)
                : body === 8 ? (r.chance(0.5) ? multipartBody(r) : JSON.stringify({ text: 'a'.repeat(1_100_000 + r.int(1000)) }))
                  : Buffer.from(JSON.stringify({ text: 'hello' }), r.chance(0.5) ? 'utf16le' : 'latin1');
    return req;
  }
  if (kind <= 7) {
    const method = r.chance(0.7) ? 'GET' : r.pick(['HEAD', ...METHOD_LIST]);
    const target = r.chance(0.4) ? id : r.pick(ID_TRICKS);
    const format = r.chance(0.5) ? '' : `?format=${r.pick(FORMATS)}`;
    const prefix = r.chance(0.9) ? '/download/' : r.pick(['//download/', '/download//', '/Download/', '/download/x/']);
    if (target === id && r.chance(0.5)) headers.range = r.pick(RANGES);
    return { method, url: `${prefix}${target}${format}`, headers };
  }
  const method = r.chance(0.5) ? 'GET' : r.pick(METHOD_LIST);
  const req: Req = { method, url: r.pick(OTHER_PATHS) || '/', headers };
  if (method !== 'GET' && method !== 'HEAD' && r.chance(0.5)) {
    headers['content-type'] = r.pick(CONTENT_TYPES);
    req.payload = r.chance(0.5) ? ttsObject(r) : r.pick(BROKEN_JSON);
  }
  return req;
}

/**
 * The test's own reading of RFC 9110 §14.1.2, to judge what was served: one `bytes` range-spec of
 * digits (empty list elements aside), else 'invalid' (to be ignored: 200); no overlap with the file
 * is 'unsatisfiable' (416).
 */
function rfcRange(header: string | undefined, size: number): { start: number; end: number } | 'invalid' | 'unsatisfiable' {
  const m = header === undefined ? null : /^bytes=(.*)$/i.exec(header.trim());
  const specs = m ? m[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '') : [];
  const spec = specs.length === 1 ? /^(\d*)-(\d*)$/.exec(specs[0]!) : null;
  if (!spec || (spec[1] === '' && spec[2] === '')) return 'invalid';
  const n = BigInt(size);
  if (spec[1] === '') {
    const suffix = BigInt(spec[2]!);
    return suffix === 0n ? 'unsatisfiable' : { start: Number(suffix > n ? 0n : n - suffix), end: size - 1 };
  }
  const first = BigInt(spec[1]!);
  const last = spec[2] === '' ? undefined : BigInt(spec[2]!);
  if (last !== undefined && last < first) return 'invalid';
  if (first >= n) return 'unsatisfiable';
  return { start: Number(first), end: Number(last !== undefined && last < n ? last : n - 1n) };
}

t.test(`${REQUESTS} malformed requests: no 5xx, catalogue JSON, x-request-id on every answer`, async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake', env: { VOICECUE_RATE_LIMIT: '0' } });
  await workers.start();
  const made = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } });
  t.equal(made.statusCode, 201);
  const { id } = made.json() as { id: string };
  const wav = (await app.inject({ url: `/download/${id}` })).rawPayload;
  t.ok(wav.length > 44, 'a real file to slice');

  const r = prng(SEED);
  const failures: string[] = [];
  let refusedByInject = 0;
  const statuses = new Map<number, number>();
  const started = Date.now();
  for (let i = 0; i < REQUESTS; i++) {
    const req = randomRequest(r, id);
    const what = `#${i} ${req.method} ${req.url.slice(0, 120)} ${JSON.stringify(req.headers).slice(0, 200)} ${String(req.payload ?? '').slice(0, 80)}`;
    let res;
    try {
      res = await app.inject({ method: req.method as 'GET', url: req.url, headers: req.headers, ...(req.payload === undefined ? {} : { payload: req.payload }) });
    } catch (err) {
      // light-my-request refuses some requests itself (an invalid header); they never reach the app.
      if ((err as NodeJS.ErrnoException).code === 'ERR_INVALID_CHAR') {
        refusedByInject++;
        continue;
      }
      failures.push(`${what}: inject threw ${(err as Error).message}`);
      continue;
    }
    const status = res.statusCode;
    statuses.set(status, (statuses.get(status) ?? 0) + 1);
    const fail = (why: string) => failures.push(`${what} -> ${status}: ${why} ${res.body.slice(0, 200)}`);
    if (status >= 500) fail('a 5xx');
    if (!res.headers['x-request-id']) fail('no x-request-id');
    if (req.notUtf8 && status < 300) fail('a body that is not UTF-8 was accepted');
    const ourWav = req.url === `/download/${id}` && req.method === 'GET';
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(String(res.headers['content-range']));
      if (!m) fail('206 without a Content-Range');
      else if (ourWav) {
        const [start, end] = [Number(m[1]), Number(m[2])];
        if (Number(m[3]) !== wav.length || !res.rawPayload.equals(wav.subarray(start, end + 1))) fail('206 body is not the slice its Content-Range names');
        const asked = rfcRange(req.headers.range, wav.length);
        if (typeof asked !== 'object' || asked.start !== start || asked.end !== end) fail(`206 ${start}-${end} for Range ${req.headers.range} (RFC 9110: ${JSON.stringify(asked)})`);
      }
    }
    if (status === 416 && ourWav && rfcRange(req.headers.range, wav.length) !== 'unsatisfiable') fail(`416 for Range ${req.headers.range}`);
    if (status === 200 && ourWav && !res.rawPayload.equals(wav)) fail('200 download is not the whole file');
    if (status === 200 && ourWav && !req.headers['if-range'] && typeof rfcRange(req.headers.range, wav.length) === 'object') fail(`200 for a valid Range ${req.headers.range}`);
    if (status < 400 || status === 304) continue;
    if (!/^application\/json/.test(String(res.headers['content-type']))) fail('not JSON');
    if (status === 405 && !res.headers.allow) fail('405 without Allow');
    if (status === 416 && !/^bytes \*\/\d+$/.test(String(res.headers['content-range']))) fail('416 without Content-Range: bytes */size');
    if (status === 416 && res.headers['content-disposition']) fail('416 with Content-Disposition');
    if (req.method === 'HEAD') continue; // no body to read
    let body: Record<string, unknown>;
    try {
      body = res.json();
    } catch {
      fail('body is not JSON');
      continue;
    }
    const keys = Object.keys(body).sort().join(',');
    if (keys !== 'code,error,message,statusCode') fail(`keys ${keys}`);
    if (!isErrorCode(body.code)) fail(`code ${String(body.code)} is not in the catalogue`);
    else if (ERROR_STATUS[body.code] !== status || body.statusCode !== status) fail(`code ${body.code} is ${ERROR_STATUS[body.code]}, sent ${status}`);
    if (typeof body.message !== 'string' || body.message.length > 300) fail('message missing or too long');
    if (typeof body.error !== 'string') fail('no error text');
  }
  const elapsed = Date.now() - started;
  t.comment(`${REQUESTS} requests (${refusedByInject} refused by inject itself) in ${elapsed} ms; statuses: ${[...statuses].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`).join(' ')}`);
  t.same(failures.slice(0, 25), [], `${failures.length} bad answers`);
  // The mix reaches every layer: successes, validation, parsing, routing, ranges.
  for (const status of [200, 201, 206, 400, 404, 405, 413, 415, 416]) t.ok(statuses.get(status), `some ${status}s`);
});
