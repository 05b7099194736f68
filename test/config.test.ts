import t from 'tap';
import { availableParallelism } from 'node:os';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defaultCpuWorkers, loadConfig, readKeyDigests, ROOT_DIR } from '../src/config.js';
import { tempDir } from './helpers.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  const venv = join(ROOT_DIR, '.venv', 'bin', 'python');
  t.equal(c.python, existsSync(venv) ? venv : 'python3', 'the project venv (setup gives it numpy for dtw), else python3');
  t.match(c, { host: '0.0.0.0', port: 8080, defaultEngine: 'espeak', defaultVoice: 'en-us', installMode: 'never' });
  t.equal(c.dataDir, `${ROOT_DIR}/data`);
  t.equal(c.workerDir, `${ROOT_DIR}/worker-py`);
  t.equal(c.requestTimeoutMs, 120_000);
  t.equal(c.diskMarginBytes, 1024 * 1024 * 1024);
  t.equal(loadConfig({ PORT: '' }).port, 8080, 'an empty variable counts as unset');
  t.match(c, { gpuWorkers: 1, requestMaxMs: 1_800_000, pingIntervalMs: 1000, pingTimeoutMs: 4000 });
  t.equal(c.cpuWorkers, defaultCpuWorkers());
});

t.test('CPU workers default to the cores the process may use, a cgroup quota included', async (t) => {
  const cores = availableParallelism();
  t.equal(defaultCpuWorkers(undefined), cores, 'no cgroup file: every core');
  t.equal(defaultCpuWorkers('max 100000\n'), cores, 'no quota');
  t.equal(defaultCpuWorkers('100000 100000\n'), 1, 'a 1-CPU limit');
  t.equal(defaultCpuWorkers('50000 100000'), 1, 'half a CPU is still one worker');
  t.equal(defaultCpuWorkers(`${(cores + 8) * 100000} 100000`), cores, 'never more than the cores seen');
});

t.test('values are parsed and converted', async (t) => {
  const c = loadConfig({ PORT: '9000', VOICECUE_REQUEST_TIMEOUT_S: '2.5', VOICECUE_DISK_MARGIN_MB: '10', VOICECUE_INSTALL_MODE: 'missing' });
  t.equal(c.port, 9000);
  t.equal(c.requestTimeoutMs, 2500);
  t.equal(c.diskMarginBytes, 10 * 1024 * 1024);
  t.equal(c.installMode, 'missing');
});

t.test('a bad variable is named with its value and the reason', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PORT: '70000' }, /PORT="70000": .*65535/],
    [{ VOICECUE_DEFAULT_ENGINE: 'polly' }, /VOICECUE_DEFAULT_ENGINE="polly"/],
    [{ VOICECUE_REQUEST_TIMEOUT_S: '3000000' }, /VOICECUE_REQUEST_TIMEOUT_S="3000000"/],
    [{ VOICECUE_ARTIFACT_TTL_S: '0.0001' }, /VOICECUE_ARTIFACT_TTL_S/],
    [{ VOICECUE_RESTART_BACKOFF_MS: '500', VOICECUE_RESTART_BACKOFF_MAX_MS: '100' }, /VOICECUE_RESTART_BACKOFF_MAX_MS="100": must be at least/],
    [{ VOICECUE_DEFAULT_VOICE: '../etc' }, /VOICECUE_DEFAULT_VOICE/],
    [{ VOICECUE_LOG_LEVEL: 'loud' }, /VOICECUE_LOG_LEVEL="loud"/],
    [{ VOICECUE_CPU_WORKERS: '0' }, /VOICECUE_CPU_WORKERS="0"/],
    [{ VOICECUE_REQUEST_TIMEOUT_S: '60', VOICECUE_REQUEST_MAX_S: '30' }, /VOICECUE_REQUEST_MAX_S="30": must be at least VOICECUE_REQUEST_TIMEOUT_S/],
  ];
  for (const [env, message] of cases) {
    t.throws(() => loadConfig(env), { name: 'ConfigError', message }, JSON.stringify(env));
  }
});

t.test('API keys: hashed at once, never kept or repeated in clear', async (t) => {
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  const open = loadConfig({});
  t.same(open.apiKeyDigests, [], 'no keys by default: open');
  t.match(open, { rateLimit: 600, rateWindowMs: 60_000 });
  t.match(loadConfig({ VOICECUE_RATE_LIMIT: '0', VOICECUE_RATE_WINDOW_S: '2.5' }), { rateLimit: 0, rateWindowMs: 2500 });

  const c = loadConfig({ VOICECUE_API_KEYS: ' key-one-0123456789abc , key-two-0123456789abc,,key-one-0123456789abc' });
  t.same(c.apiKeyDigests, [sha('key-one-0123456789abc'), sha('key-two-0123456789abc')], 'trimmed, deduplicated, hashed');
  t.notOk(JSON.stringify(c).includes('key-one'), 'no key in clear in the config');

  const secret = 'short-secret';
  t.throws(() => loadConfig({ VOICECUE_API_KEYS: `ok-key-0123456789abcdef,${secret}` }), { name: 'ConfigError', message: /VOICECUE_API_KEYS=\(hidden\): key 2 of 2 must be at least 16/ });
  try {
    loadConfig({ VOICECUE_API_KEYS: secret });
  } catch (err) {
    t.notOk((err as Error).message.includes(secret), 'the bad key is not in the message');
  }
  t.throws(() => loadConfig({ VOICECUE_API_KEYS: 'has a space in it 0123456789' }), { message: /VOICECUE_API_KEYS=\(hidden\)/ });
  t.throws(() => loadConfig({ VOICECUE_API_KEYS: ' , ,' }), { message: /VOICECUE_API_KEYS=\(hidden\): no key in it/ });
  t.throws(() => loadConfig({ VOICECUE_RATE_LIMIT: '-1' }), { message: /VOICECUE_RATE_LIMIT="-1"/ });
  t.throws(() => loadConfig({ VOICECUE_RATE_WINDOW_S: '0' }), { message: /VOICECUE_RATE_WINDOW_S="0"/ });
});

t.test('VOICECUE_API_KEYS_FILE: SHA-256 digests, one a line; a bad file stops the start', async (t) => {
  const dir = await tempDir(t);
  const sha = (k: string) => createHash('sha256').update(k).digest('hex');
  const file = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };
  const good = await file('keys', `# ops keys\r\n${sha('a').toUpperCase()}  # ci bot\r\n\n  ${sha('b')}\n${sha('a')}\n`);
  t.same(readKeyDigests(good), [sha('a'), sha('b'), sha('a')], 'comments, blank lines, CRLF, capitals');
  t.same(loadConfig({ VOICECUE_API_KEYS_FILE: good, VOICECUE_API_KEYS: 'another-key-0123456789' }).apiKeyDigests, [sha('another-key-0123456789'), sha('a'), sha('b')], 'both sources, deduplicated');
  t.same(readKeyDigests(undefined), []);

  const pasted = 'a-key-pasted-in-clear-0123';
  const cases: [string, RegExp][] = [
    [join(dir, 'missing'), /VOICECUE_API_KEYS_FILE=".*missing": cannot be read \(ENOENT\)/],
    [dir, /VOICECUE_API_KEYS_FILE=.*: cannot be read \(EISDIR\)/],
    [await file('clear', `${sha('a')}\n${pasted}\n`), /VOICECUE_API_KEYS_FILE=".*clear": line 2 is not a SHA-256 hex digest/],
    [await file('short', `${sha('a').slice(1)}\n`), /line 1 is not a SHA-256 hex digest/],
    [await file('empty', '# nothing yet\n\n'), /VOICECUE_API_KEYS_FILE=".*empty": holds no key digest/],
  ];
  for (const [path, message] of cases) {
    t.throws(() => loadConfig({ VOICECUE_API_KEYS_FILE: path }), { name: 'ConfigError', message }, path);
  }
  try {
    loadConfig({ VOICECUE_API_KEYS_FILE: cases[2]![0] });
  } catch (err) {
    t.notOk((err as Error).message.includes(pasted), 'a bad line is not repeated');
  }
  if (process.getuid?.() !== 0) {
    const locked = await file('locked', `${sha('a')}\n`);
    await chmod(locked, 0o000);
    t.throws(() => loadConfig({ VOICECUE_API_KEYS_FILE: locked }), { message: /cannot be read \(EACCES\)/ });
  }
});

t.test('whisperx and google settings: checked at start, passed on as given', async (t) => {
  const c = loadConfig({ VOICECUE_ALIGN_MODELS: '{"en": "/models/en", "pt-BR": "org/wav2vec2-pt"}', VOICECUE_ALIGN_CACHE: '3', VOICECUE_DEVICE: 'cuda:1' });
  t.equal(c.alignModels, '{"en": "/models/en", "pt-BR": "org/wav2vec2-pt"}');
  t.same([c.alignCache, c.device, c.punktFallback], [3, 'cuda:1', 'minimal']);
  t.same([c.google.credentials, c.google.timeoutMs, c.google.retries, c.google.concurrency], [null, 30_000, 2, 4]);
  for (const [name, value, why] of [
    ['VOICECUE_ALIGN_MODELS', '{"en": 3}', /model for en must be a non-empty string/],
    ['VOICECUE_ALIGN_MODELS', '["en"]', /JSON object of language/],
    ['VOICECUE_ALIGN_MODELS', '{"english!": "/m"}', /not a language code/],
    ['VOICECUE_ALIGN_CACHE', '0', /VOICECUE_ALIGN_CACHE/],
    ['VOICECUE_DEVICE', 'tpu', /must be auto, cpu, cuda or cuda:N/],
    ['VOICECUE_PUNKT_FALLBACK', 'download', /VOICECUE_PUNKT_FALLBACK/],
  ] as const) {
    t.throws(() => loadConfig({ [name]: value }), why, `${name}=${value}`);
  }
});
