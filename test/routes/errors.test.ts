// Every bad request gets a 4xx JSON error with a stable code; run against the fake worker.
import t from 'tap';
import { readdir } from 'node:fs/promises';
import { newArtifactId } from '../../src/store/artifacts.js';
import { listening, rawRequest, testApp } from '../helpers.js';

t.test('bad input answers 4xx JSON with stable codes', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake', env: { VOICECUE_GPU_WORKERS: '1' } });
  await workers.start();
  const post = (payload: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
    app.inject({ method: 'POST', url: '/tts', payload, headers });
  const cases: [string, Awaited<ReturnType<typeof post>>, number, string, RegExp][] = [
    ['empty text', await post('{"text":""}'), 400, 'VALIDATION_ERROR', /^text /],
    ['whitespace text', await post('{"text":"  \\n\\t "}'), 422, 'NO_SPEECH', /^text is only whitespace/],
    ['empty text', await post('{"text":""}'), 400, 'VALIDATION_ERROR', /^text must not be empty/],
    ['missing text', await post('{}'), 400, 'VALIDATION_ERROR', /^text is required/],
    ['too long text', await post(JSON.stringify({ text: 'a'.repeat(20_001) })), 400, 'VALIDATION_ERROR', /^text is 20001 characters; the limit is 20000/],
    ['text padded beyond reason', await post(JSON.stringify({ text: ' '.repeat(40_001) + 'hi' })), 400, 'VALIDATION_ERROR', /with its surrounding whitespace; the limit is 40000/],
    ['text of wrong type', await post('{"text":123}'), 400, 'VALIDATION_ERROR', /^text must be a string/],
    ['speed of wrong type', await post('{"text":"hi","speed":"fast"}'), 400, 'VALIDATION_ERROR', /^speed must be a number/],
    ['speed out of range', await post('{"text":"hi","speed":3}'), 400, 'VALIDATION_ERROR', /^speed must be at most 2/],
    ['flag of wrong type', await post('{"text":"hi","return_word_timings":"yes"}'), 400, 'VALIDATION_ERROR', /^return_word_timings/],
    ['unknown engine', await post('{"text":"hi","engine":"polly"}'), 400, 'VALIDATION_ERROR', /^engine must be one of: espeak, f5/],
    ['voice with odd characters', await post('{"text":"hi","voice":"../../x"}'), 400, 'VALIDATION_ERROR', /^voice /],
    ['unknown field', await post('{"text":"hi","volume":3}'), 400, 'VALIDATION_ERROR', /unknown field: volume/],
    ['body not an object', await post('["hi"]'), 400, 'VALIDATION_ERROR', /object/],
    ['malformed JSON', await post('{"text": "hi"'), 400, 'INVALID_JSON', /JSON/],
    ['empty JSON body', await post(''), 400, 'INVALID_JSON', /.+/],
    ['plain text body', await post('hello', { 'content-type': 'text/plain' }), 415, 'UNSUPPORTED_MEDIA_TYPE', /.+/],
    ['body too large', await post(JSON.stringify({ text: 'a'.repeat(1_100_000) })), 413, 'PAYLOAD_TOO_LARGE', /.+/],
    ['lone surrogate', await post('{"text":"\\ud800 hello"}'), 400, 'VALIDATION_ERROR', /unpaired/],
    ['f5 not loaded', await post('{"text":"hi","engine":"f5"}'), 503, 'ENGINE_UNAVAILABLE', /f5 is not available: fake: f5 is not installed/],
    ['unacceptable Accept', await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hi' }, headers: { accept: 'image/png' } }), 406, 'NOT_ACCEPTABLE', /audio\/wav/],
  ];
  for (const [name, res, status, code, message] of cases) {
    t.equal(res.statusCode, status, `${name}: status`);
    t.match(res.headers['content-type'], /^application\/json/, `${name}: JSON`);
    const body = res.json();
    t.equal(body.code, code, `${name}: code`);
    t.equal(body.statusCode, status, `${name}: statusCode field`);
    t.type(body.error, 'string', `${name}: error field`);
    t.match(body.message, message, `${name}: message`);
  }
});

t.test('download ids are checked before any path is built', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const get = (url: string) => app.inject({ method: 'GET', url });
  for (const url of ['/download/..%2F..%2Fetc%2Fpasswd', '/download/%2F', '/download/abc', '/download/' + 'A'.repeat(25)]) {
    const res = await get(url);
    t.equal(res.statusCode, 400, url);
    t.equal(res.json().code, 'INVALID_ID', url);
  }
  const traversal = await get('/download/../../etc/passwd');
  t.equal(traversal.statusCode, 404, 'a path that leaves the route is a 404');
  t.equal(traversal.json().code, 'NOT_FOUND');
  const dots = await get('/download/%2e%2e');
  // The URL parser resolves the dot segments: /download/%2e%2e is /, the page, never a file.
  t.equal(dots.statusCode, 200);
  t.match(dots.headers['content-type'], /^text\/html/);
  t.match(dots.body, /<title>voicecue<\/title>/, 'dot segments resolve to the page at /');
  const unknown = await get(`/download/${newArtifactId()}`);
  t.equal(unknown.statusCode, 404);
  t.equal(unknown.json().code, 'NOT_FOUND');
  const badFormat = await get(`/download/${newArtifactId()}?format=exe`);
  t.equal(badFormat.statusCode, 400);
  t.match(badFormat.json().message, /^format must be one of/);
});

t.test('unknown routes are JSON 404s; a wrong method on a known one is a 405', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const res = await app.inject({ method: 'GET', url: '/nope?x=1' });
  t.equal(res.statusCode, 404);
  t.same(res.json(), { statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: 'no route for GET /nope' });
  const wrongMethod = await app.inject({ method: 'DELETE', url: '/tts' });
  t.equal(wrongMethod.statusCode, 405);
  t.equal(wrongMethod.json().code, 'METHOD_NOT_ALLOWED');
  t.equal(wrongMethod.headers.allow, 'POST');
});

t.test('a request id is taken from the caller when sane and always returned', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const given = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'abc-123' } });
  t.equal(given.headers['x-request-id'], 'abc-123');
  const odd = await app.inject({ method: 'GET', url: '/health/live', headers: { 'x-request-id': 'bad id with spaces' } });
  const ours = /^([\w-]{12})-([0-9a-z]+)$/;
  t.match(odd.headers['x-request-id'], ours, "replaced by one of ours: this process's prefix and a counter");
  const next = (await app.inject('/health/live')).headers['x-request-id'] as string;
  const [, prefix, n] = ours.exec(odd.headers['x-request-id'] as string)!;
  t.equal(next, `${prefix}-${(parseInt(n!, 36) + 1).toString(36)}`, 'unique: the next one counts on');
});

t.test('worker failures: timeout, internal error, malformed result — clear errors, nothing left behind', async (t) => {
  const { app, workers, store, log } = await testApp(t, { worker: 'fake', env: { VOICECUE_REQUEST_TIMEOUT_S: '0.5' } });
  await workers.start();
  const post = (text: string) => app.inject({ method: 'POST', url: '/tts', payload: { text } });

  const internal = await post('internal');
  t.equal(internal.statusCode, 500);
  t.equal(internal.json().code, 'INTERNAL_ERROR');
  t.notMatch(internal.json().message, /secret|FileNotFound/, 'no internals reach the client');
  t.ok(log.lines.some((l) => l.msg === 'speech worker error' && JSON.stringify(l.obj).includes('/secret/')), 'they reach the log');

  const malformed = await post('malformed');
  t.equal(malformed.statusCode, 500);
  t.equal(malformed.json().code, 'ENGINE_FAILED');

  const timeout = await post('hang');
  t.equal(timeout.statusCode, 504);
  t.equal(timeout.json().code, 'SIDECAR_TIMEOUT');

  t.same(await readdir(store.stagingDir), [], 'no partial files');
  t.same(await readdir(store.artifactsDir), [], 'nothing published');
});

t.test('conditional and range requests on downloads', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const { audio_url: url } = (await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } })).json();
  const pre = await app.inject({ url, headers: { 'if-match': '"nope"' } });
  t.equal(pre.statusCode, 412);
  t.equal(pre.json().code, 'PRECONDITION_FAILED');
  const range = await app.inject({ url, headers: { range: 'bytes=999999-' } });
  t.equal(range.statusCode, 416);
  t.equal(range.json().code, 'RANGE_NOT_SATISFIABLE');
  const post = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' }, headers: { accept: 'audio/wav', range: 'bytes=0-3' } });
  t.equal(post.statusCode, 200, 'a POST ignores Range');
  t.equal(post.rawPayload.length, Number(post.headers['content-length']));
  t.ok(post.rawPayload.length > 44);
});

t.test('requests the HTTP parser rejects get catalogue JSON too', async (t) => {
  const { app } = await testApp(t, { worker: 'fake' });
  const port = await listening(app);
  const raw = (request: string) => rawRequest(port, request);
  const cases: [string, number, string][] = [
    ['POST /tts HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}', 400, 'MALFORMED_REQUEST'],
    [`GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 431, 'HEADERS_TOO_LARGE'],
  ];
  for (const [request, status, code] of cases) {
    const response = await raw(request);
    t.match(response, new RegExp(`^HTTP/1.1 ${status} `), code);
    t.match(response, /content-type: application\/json/i);
    const body = JSON.parse(response.slice(response.indexOf('\r\n\r\n') + 4));
    t.same(Object.keys(body).sort(), ['code', 'error', 'message', 'statusCode']);
    t.equal(body.code, code);
    t.equal(body.statusCode, status);
  }
});
