import t from 'tap';
import { availableParallelism } from 'node:os';
import { defaultCpuWorkers, loadConfig, ROOT_DIR } from '../src/config.js';

t.test('defaults', async (t) => {
  const c = loadConfig({});
  t.match(c, { host: '0.0.0.0', port: 8080, python: 'python3', defaultEngine: 'espeak', defaultVoice: 'en-us', installMode: 'never' });
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
