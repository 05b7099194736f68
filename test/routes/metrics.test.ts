// GET /metrics: Prometheus' text format, with the series operators alert on, after real work.
import t from 'tap';
import { testApp } from '../helpers.js';

/** Samples of the exposition format: `name{a="b",...} value` lines, comments skipped. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  return text
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      if (!m) throw new Error(`not an exposition line: ${line}`);
      const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
      return { name: m[1]!, labels, value: Number(m[3]) };
    });
}

t.test('after a /tts call the series are there: requests, latency, lanes, synthesis, bytes, disk, warmup', async (t) => {
  const { app, workers, readiness } = await testApp(t, { worker: 'fake' });
  await workers.start();
  readiness.warmup = { state: 'done', report: { elapsedMs: 1500, failed: [] } };
  const tts = await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Hello there, world.' } });
  t.equal(tts.statusCode, 201);
  await app.inject({ method: 'GET', url: `/download/${tts.json().id}?format=srt` });
  await app.inject({ method: 'GET', url: '/download/not-an-id' });

  const res = await app.inject('/metrics');
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/);
  const all = samples(res.body);
  const one = (name: string, labels: Record<string, string> = {}) =>
    all.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  const value = (name: string, labels: Record<string, string> = {}) => {
    const found = one(name, labels);
    t.equal(found.length, 1, `one ${name} ${JSON.stringify(labels)}`);
    return found[0]?.value ?? NaN;
  };

  t.equal(value('voicecue_http_requests_total', { route: '/tts', method: 'POST', status: '201' }), 1);
  t.equal(value('voicecue_http_requests_total', { route: '/download/:id', status: '400' }), 1, 'labelled by route pattern, not by the URL');
  t.notOk(all.some((s) => Object.values(s.labels).some((v) => v.includes('not-an-id'))), 'no raw URL in any label');
  t.equal(value('voicecue_http_request_duration_seconds_count', { route: '/tts', method: 'POST', status: '201' }), 1);
  t.ok(value('voicecue_http_request_duration_seconds_sum', { route: '/tts', method: 'POST', status: '201' }) > 0);
  for (const lane of ['cpu']) {
    t.equal(value('voicecue_lane_queue_depth', { lane }), 0);
    t.equal(value('voicecue_lane_in_flight', { lane }), 0);
    t.equal(value('voicecue_lane_workers_ready', { lane }), 1);
    t.equal(value('voicecue_worker_restarts_total', { lane }), 0);
    t.equal(value('voicecue_lane_crash_looping', { lane }), 0);
  }
  t.equal(value('voicecue_synthesis_seconds_count', { engine: 'espeak' }), 1);
  t.ok(value('voicecue_audio_seconds_total', { engine: 'espeak' }) > 0, 'seconds of audio made');
  t.equal(value('voicecue_real_time_factor_count', { engine: 'espeak' }), 1);
  t.ok(value('voicecue_bytes_written_total') > 1000, 'the result and the transcoded files');
  t.ok(value('voicecue_disk_bytes', { kind: 'free' }) > 0);
  t.ok(value('voicecue_disk_bytes', { kind: 'size' }) >= value('voicecue_disk_bytes', { kind: 'free' }));
  t.equal(value('voicecue_disk_low'), 0);
  t.equal(value('voicecue_warmup_seconds', { result: 'ok' }), 1.5);
  t.equal(value('voicecue_build_info').valueOf(), 1);
  t.ok(value('voicecue_process_resident_memory_bytes') > 0, "the process' own");
});

t.test('an alignment is counted by the aligner that timed the words (the real worker and dtw)', async (t) => {
  const { app, workers } = await testApp(t);
  await workers.start();
  await app.inject({ method: 'POST', url: '/tts', payload: { text: 'Hello there.', timing_method: 'dtw' } });
  const aligned = samples((await app.inject('/metrics')).body).filter((s) => s.name === 'voicecue_alignment_seconds_count');
  t.same(aligned.map((s) => [s.labels.aligner, s.value]), [['dtw', 1]]);
});

t.test('behind the API keys like the rest, unless VOICECUE_METRICS_OPEN', async (t) => {
  const keys = { VOICECUE_API_KEYS: 'k-0123456789abcdef' };
  const closed = await testApp(t, { worker: 'fake', env: keys });
  t.equal((await closed.app.inject('/metrics')).statusCode, 401);
  t.equal((await closed.app.inject({ url: '/metrics', headers: { authorization: 'Bearer k-0123456789abcdef' } })).statusCode, 200);
  const open = await testApp(t, { worker: 'fake', env: { ...keys, VOICECUE_METRICS_OPEN: 'true' } });
  t.equal((await open.app.inject('/metrics')).statusCode, 200);
  t.equal((await open.app.inject('/tts')).statusCode, 401, 'only /metrics is opened');
});
