// API keys, the rate limit and keeping secrets out of the log; run against the fake worker.
import t from 'tap';
import * as crypto from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { buildApp } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { bearerToken, findKey, LOG_REDACT, safeEqual } from '../../src/services/auth.js';
import { newArtifactId } from '../../src/store/artifacts.js';
import { FAKE_SIDECAR, ROOT, tempDir, testApp } from '../helpers.js';

const KEY_A = 'key-a-0123456789abcdef';
const KEY_B = 'key-b-fedcba9876543210';
const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
/** A request that passes the gate and needs no worker: a well-formed id nothing is stored under. */
const unknownDownload = () => `/download/${newArtifactId()}`;

t.test('without keys the service is open', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake' });
  await workers.start();
  const res = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello there' } });
  t.equal(res.statusCode, 201);
  t.equal((await app.inject(unknownDownload())).statusCode, 404, 'no key needed');
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer('anything-at-all-123') })).statusCode, 404, 'a key is ignored');
});

t.test('with keys every route but the probes needs one', async (t) => {
  const { app, workers } = await testApp(t, { worker: 'fake', env: { VOICECUE_API_KEYS: `${KEY_A}, ${KEY_B}` } });
  await workers.start();

  const missing = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello' } });
  t.equal(missing.statusCode, 401);
  t.equal(missing.headers['www-authenticate'], 'Bearer realm="voicecue"');
  t.match(missing.headers['content-type'], /^application\/json/);
  t.match(missing.json(), { statusCode: 401, code: 'UNAUTHORIZED', error: 'Unauthorized', message: /Authorization: Bearer/ });
  t.ok(missing.headers['x-request-id'], 'x-request-id on a 401');

  for (const [what, headers] of [
    ['a wrong key', bearer('not-the-key-0123456789')],
    ['a key one character short', bearer(KEY_A.slice(0, -1))],
    ['another scheme', { authorization: `Basic ${Buffer.from(`u:${KEY_A}`).toString('base64')}` }],
    ['a bare key', { authorization: KEY_A }],
    ['an empty bearer', { authorization: 'Bearer ' }],
  ] as const) {
    const res = await app.inject({ url: unknownDownload(), headers });
    t.equal(res.statusCode, 401, what);
    t.equal(res.headers['www-authenticate'], 'Bearer realm="voicecue", error="invalid_token"', `${what}: challenge`);
    t.equal(res.json().code, 'UNAUTHORIZED', what);
    t.notMatch(res.body, KEY_A.slice(0, 10), `${what}: the key is not echoed`);
  }

  const ok = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello there' }, headers: bearer(KEY_A) });
  t.equal(ok.statusCode, 201, 'the right key');
  const audio = await app.inject({ url: ok.json().audio_url, headers: bearer(KEY_B) });
  t.equal(audio.statusCode, 200, 'the other key');
  t.equal((await app.inject(ok.json().audio_url)).statusCode, 401, 'downloads need a key too');
  t.equal((await app.inject({ url: unknownDownload(), headers: { authorization: `bearer  ${KEY_B}` } })).statusCode, 404, 'the scheme is case-insensitive');
  t.equal((await app.inject('/nowhere')).statusCode, 401, 'unknown paths too: nothing to probe without a key');

  for (const url of ['/health', '/health/live']) {
    const res = await app.inject(url);
    t.equal(res.statusCode, 200, `${url} without a key`);
    t.notOk(res.headers['x-ratelimit-limit'], `${url} is not rate-limited`);
  }
  t.equal((await app.inject({ method: 'HEAD', url: '/health/live' })).statusCode, 200, 'HEAD on a probe');
});

t.test('a hashed keys file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'keys');
  await writeFile(file, `# voicecue keys\n\n${sha256Hex(KEY_A).toUpperCase()}  # ci\n   ${sha256Hex(KEY_B)}\n`);
  const { app } = await testApp(t, { worker: 'fake', env: { VOICECUE_API_KEYS_FILE: file } });
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(KEY_A) })).statusCode, 404, 'a digest in capitals, with a comment');
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(KEY_B) })).statusCode, 404, 'an indented digest');
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(sha256Hex(KEY_A)) })).statusCode, 401, 'the digest itself is not a key');
  t.equal((await app.inject(unknownDownload())).statusCode, 401);

  const both = await testApp(t, { worker: 'fake', env: { VOICECUE_API_KEYS_FILE: file, VOICECUE_API_KEYS: 'a-third-key-0123456789' } });
  t.equal((await both.app.inject({ url: unknownDownload(), headers: bearer('a-third-key-0123456789') })).statusCode, 404, 'keys from both sources');
  t.equal((await both.app.inject({ url: unknownDownload(), headers: bearer(KEY_A) })).statusCode, 404);
});

t.test('scripts/hash-key.mjs writes the file', async (t) => {
  const script = join(ROOT, 'scripts/hash-key.mjs');
  t.equal(execFileSync(process.execPath, [script], { input: `${KEY_A}\n` }).toString(), `${sha256Hex(KEY_A)}\n`, 'a key from stdin');
  const made = spawnSync(process.execPath, [script, '--new']);
  t.equal(made.status, 0);
  const key = /: (\S+)\n$/.exec(made.stderr.toString())?.[1] ?? '';
  t.ok(key.length >= 40, 'a new key, shown on stderr');
  const dir = await tempDir(t);
  const file = join(dir, 'keys');
  await writeFile(file, made.stdout);
  const { app } = await testApp(t, { worker: 'fake', env: { VOICECUE_API_KEYS_FILE: file } });
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(key) })).statusCode, 404, 'the new key opens the service');
  t.equal(spawnSync(process.execPath, [script], { input: 'short' }).status, 2, 'a key the service would refuse');
});

t.test('past the rate limit: 429 in the catalogue, with Retry-After; counted per key', async (t) => {
  const { app } = await testApp(t, {
    worker: 'fake',
    env: { VOICECUE_API_KEYS: `${KEY_A},${KEY_B}`, VOICECUE_RATE_LIMIT: '3', VOICECUE_RATE_WINDOW_S: '60' },
  });
  const asA = () => app.inject({ url: unknownDownload(), headers: bearer(KEY_A) });
  const first = await asA();
  t.equal(first.statusCode, 404);
  t.equal(first.headers['x-ratelimit-limit'], '3');
  t.equal(first.headers['x-ratelimit-remaining'], '2');
  await asA();
  await asA();
  const over = await asA();
  t.equal(over.statusCode, 429);
  t.match(over.headers['content-type'], /^application\/json/);
  t.match(over.json(), { statusCode: 429, code: 'RATE_LIMITED', error: 'Too Many Requests', message: /at most 3 every 60 s/ });
  t.same(Object.keys(over.json()).sort(), ['code', 'error', 'message', 'statusCode'], "our body, not the plugin's");
  t.ok(Number(over.headers['retry-after']) >= 1 && Number(over.headers['retry-after']) <= 60, `Retry-After ${over.headers['retry-after']}`);
  t.equal(over.headers['x-ratelimit-remaining'], '0');
  t.ok(over.headers['x-request-id'], 'x-request-id on a 429');
  const traced = await app.inject({ url: unknownDownload(), headers: { ...bearer(KEY_A), 'x-request-id': 'abc-123' } });
  t.equal(traced.statusCode, 429);
  t.equal(traced.headers['x-request-id'], 'abc-123', "the caller's id on a 429");

  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(KEY_B) })).statusCode, 404, 'another key has its own quota');
  t.equal((await app.inject('/health/live')).statusCode, 200, 'the probes are exempt');

  // Callers without a valid key count per IP, before the 401: guessing keys costs quota too.
  const guesses = [];
  for (let i = 0; i < 4; i++) guesses.push((await app.inject({ url: unknownDownload(), headers: bearer(`guess-${i}-0123456789ab`) })).statusCode);
  t.same(guesses, [401, 401, 401, 429]);
  t.equal((await app.inject({ url: unknownDownload(), headers: bearer(KEY_B) })).statusCode, 404, 'from the same IP, a valid key still has its own');
});

t.test('per IP without keys; 0 turns the limit off', async (t) => {
  const limited = await testApp(t, { worker: 'fake', env: { VOICECUE_RATE_LIMIT: '2' } });
  const codes = [];
  for (let i = 0; i < 3; i++) codes.push((await limited.app.inject(unknownDownload())).statusCode);
  t.same(codes, [404, 404, 429]);
  const other = await limited.app.inject({ url: unknownDownload(), remoteAddress: '10.1.2.3' });
  t.equal(other.statusCode, 404, 'another IP has its own quota');

  const off = await testApp(t, { worker: 'fake', env: { VOICECUE_RATE_LIMIT: '0' } });
  for (let i = 0; i < 5; i++) t.equal((await off.app.inject(unknownDownload())).statusCode, 404);
  t.notOk((await off.app.inject(unknownDownload())).headers['x-ratelimit-limit'], 'no limit headers');
});

/** Everything a pino logger writes, as one string. */
function capture() {
  const chunks: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => void (chunks.push(String(chunk)), done()) });
  return { stream, text: () => chunks.join('') };
}

t.test('a key never reaches the log', async (t) => {
  const dataDir = await tempDir(t);
  const config = loadConfig({ VOICECUE_DATA_DIR: dataDir, VOICECUE_CPU_WORKERS: '1', VOICECUE_GPU_WORKERS: '0', VOICECUE_API_KEYS: KEY_A });
  const workers = { autoStart: false, args: () => [FAKE_SIDECAR], env: { FAKE_START: 'ready' }, lane: { backoffMs: 50, backoffMaxMs: 500, stopStepMs: 500 } };
  const wrong = 'wrong-key-9876543210zyx';
  const exercise = async (app: Awaited<ReturnType<typeof buildApp>>) => {
    // A route that logs everything it was sent, the way a careless handler might.
    app.get('/log-headers', async (request) => {
      request.log.info({ headers: request.headers, req: { headers: request.headers }, config: app.config }, 'headers');
      return { ok: true };
    });
    await app.workers.start();
    t.equal((await app.inject({ method: 'POST', url: '/tts', payload: { text: 'hello there' }, headers: { ...bearer(KEY_A), cookie: `s=${KEY_A}`, 'x-api-key': KEY_A } })).statusCode, 201);
    t.equal((await app.inject({ url: '/log-headers', headers: { ...bearer(KEY_A), cookie: `s=${KEY_A}`, 'x-api-key': KEY_A } })).statusCode, 200);
    t.equal((await app.inject({ url: unknownDownload(), headers: bearer(wrong) })).statusCode, 401);
    await app.close();
  };

  const viaOptions = capture();
  await exercise(await buildApp({ config, logger: { level: 'trace', stream: viaOptions.stream }, warmup: false, workers }));
  // The entry file's way: a pino instance of its own.
  const viaInstance = capture();
  const log = pino({ level: 'trace', base: { service: 'voicecue' }, redact: LOG_REDACT }, viaInstance.stream);
  await exercise(await buildApp({ config, loggerInstance: log, warmup: false, workers }));

  for (const [what, text] of [['logger options', viaOptions.text()], ['pino instance', viaInstance.text()]] as const) {
    t.match(text, /incoming request/, `${what}: requests were logged`);
    t.match(text, /"authorization":"\[redacted\]"/, `${what}: the header was there, redacted`);
    t.match(text, /"apiKeyDigests":"\[redacted\]"/, `${what}: the config's digests too`);
    for (const secret of [KEY_A, wrong, sha256Hex(KEY_A), KEY_A.slice(0, 12)]) t.notOk(text.includes(secret), `${what}: no ${secret.slice(0, 6)}… in the log`);
  }
});

t.test('comparing keys', async (t) => {
  const digests = [KEY_A, KEY_B].map((k) => createHash('sha256').update(k).digest());
  t.equal(findKey(KEY_A, digests), 0);
  t.equal(findKey(KEY_B, digests), 1);
  t.equal(findKey('other-key-00000000000', digests), -1);
  t.equal(findKey('', digests), -1, 'empty');
  t.equal(findKey(KEY_A, []), -1, 'no keys');
  t.equal(findKey(`${KEY_A}x`, digests), -1, 'longer');

  t.ok(safeEqual('abc', 'abc'), 'equal');
  t.notOk(safeEqual('abc', 'abd'), 'unequal');
  t.notOk(safeEqual('abc', 'abcd'), 'different lengths: no throw');
  t.ok(safeEqual('', ''), 'both empty');
  t.notOk(safeEqual('', 'a'), 'one empty');

  t.equal(bearerToken(undefined), undefined);
  t.equal(bearerToken('Bearer abc'), 'abc');
  t.equal(bearerToken('BEARER   abc  '), 'abc');
  t.equal(bearerToken('Bearer a b'), null);
  t.equal(bearerToken('Basic abc'), null);
  t.equal(bearerToken(''), null);
});

t.test('the comparison is crypto.timingSafeEqual over every key, on equal-length digests', async (t) => {
  const calls: [Buffer, Buffer][] = [];
  const mocked = await t.mockImport<typeof import('../../src/services/auth.js')>('../../src/services/auth.js', {
    'node:crypto': {
      ...crypto,
      timingSafeEqual: (a: Buffer, b: Buffer) => {
        calls.push([a, b]);
        return crypto.timingSafeEqual(a, b);
      },
    },
  });
  const digests = [KEY_A, KEY_B, 'key-c-0000000000000000'].map((k) => createHash('sha256').update(k).digest());
  for (const [token, expected] of [[KEY_A, 0], [KEY_B, 1], ['nope', -1], ['', -1], ['x'.repeat(5000), -1]] as const) {
    calls.length = 0;
    t.equal(mocked.findKey(token, digests), expected, `token ${token.slice(0, 8)}`);
    t.equal(calls.length, 3, 'every digest is compared, a match in first place included');
    t.ok(calls.every(([a, b]) => a.length === 32 && b.length === 32), 'always two 32-byte digests');
  }
  calls.length = 0;
  t.notOk(mocked.safeEqual('short', 'much longer string'));
  t.equal(calls.length, 1);
  t.ok(calls.every(([a, b]) => a.length === 32 && b.length === 32));
});
