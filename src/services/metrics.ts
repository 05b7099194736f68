/**
 * GET /metrics in Prometheus' text format (prom-client): HTTP requests and latency by route and
 * status, each lane's queue, in-flight jobs, worker restarts and crash loop, synthesis and
 * alignment seconds by engine and aligner, the real-time factor, bytes written, the data volume
 * and its quota, and warmup. Lanes, disk and warmup are read at scrape time, so they cost
 * nothing between scrapes. Behind the API keys like the rest unless VOICECUE_METRICS_OPEN.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Config } from '../config.js';
import { VERSION } from '../version.js';
import { COMMON, errors } from '../contract/openapi.js';

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
const WORK_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];
const RTF_BUCKETS = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5];

export interface Metrics {
  /** One synthesis: its engine, the worker's seconds and the seconds of audio made. */
  synthesized(engine: string, workerSeconds: number, audioSeconds: number): void;
  /** One alignment: the aligner that timed the words and its seconds. */
  aligned(aligner: string, seconds: number): void;
  /** One HTTP answer, by route pattern (the onResponse hook). */
  answered(route: string, method: string, status: number, seconds: number): void;
  /** One GET of a probe answered before Fastify (src/http/probes.ts): counted, not timed. */
  probed(route: '/health' | '/health/live', status: number): void;
}

declare module 'fastify' {
  interface FastifyInstance {
    metrics: Metrics;
  }
}

export default fp(
  async (app: FastifyInstance, { config }: { config: Config }) => {
    const registry = new Registry();
    registry.setDefaultLabels({ service: 'voicecue' });
    collectDefaultMetrics({ register: registry, prefix: 'voicecue_' });
    const help = (name: string, text: string) => ({ name, help: text, registers: [registry] });

    new Gauge({ ...help('voicecue_build_info', 'The running version (always 1).'), labelNames: ['version'] }).set({ version: VERSION }, 1);
    // The probes' fast path counts in a plain map, added to the counter when it is scraped: it
    // answers in microseconds, and prom-client's label handling would be most of its cost.
    const probes = new Map<string, number>();
    const requests = new Counter({
      ...help('voicecue_http_requests_total', 'HTTP requests answered, by route, method and status.'),
      labelNames: ['route', 'method', 'status'],
      collect() {
        for (const [key, n] of probes) {
          const [route = '', status = ''] = key.split(' ');
          this.inc({ route, method: 'GET', status }, n);
        }
        probes.clear();
      },
    });
    const latency = new Histogram({
      ...help('voicecue_http_request_duration_seconds', 'Time to answer, by route, method and status (the probes answered before Fastify are counted, not timed).'),
      labelNames: ['route', 'method', 'status'],
      buckets: LATENCY_BUCKETS,
    });
    const synthesis = new Histogram({ ...help('voicecue_synthesis_seconds', "A worker's seconds per synthesis, by engine."), labelNames: ['engine'], buckets: WORK_BUCKETS });
    const audio = new Counter({ ...help('voicecue_audio_seconds_total', 'Seconds of speech synthesized, by engine.'), labelNames: ['engine'] });
    const rtf = new Histogram({ ...help('voicecue_real_time_factor', 'Synthesis seconds per second of audio (below 1 is faster than real time), by engine.'), labelNames: ['engine'], buckets: RTF_BUCKETS });
    const alignment = new Histogram({ ...help('voicecue_alignment_seconds', 'Seconds to time the words, by the aligner that timed them.'), labelNames: ['aligner'], buckets: WORK_BUCKETS });

    const lanes = () => Object.values(app.workers?.lanes ?? {}).map((lane) => lane!.status());
    const laneGauge = (name: string, text: string, value: (s: ReturnType<typeof lanes>[number]) => number) =>
      new Gauge({
        ...help(name, text),
        labelNames: ['lane'],
        collect() {
          this.reset();
          for (const s of lanes()) this.set({ lane: s.name }, value(s));
        },
      });
    laneGauge('voicecue_lane_queue_depth', 'Jobs waiting for a worker, by lane.', (s) => s.queued);
    laneGauge('voicecue_lane_in_flight', 'Jobs running on the workers, by lane.', (s) => s.running);
    laneGauge('voicecue_lane_workers_ready', 'Workers ready, by lane.', (s) => s.workers.filter((w) => w.state === 'ready').length);
    laneGauge('voicecue_lane_crash_looping', '1 while every worker of the lane is down and failing to start.', (s) => Number(s.crash_looping));
    new Counter({
      ...help('voicecue_worker_restarts_total', 'Worker restarts since start, by lane.'),
      labelNames: ['lane'],
      collect() {
        this.reset();
        for (const s of lanes()) this.inc({ lane: s.name }, s.restarts);
      },
    });
    new Counter({
      ...help('voicecue_bytes_written_total', 'Bytes of results stored since start (audio, subtitles, transcodings).'),
      collect() {
        this.reset();
        this.inc(app.store.bytesWritten);
      },
    });
    new Gauge({
      ...help('voicecue_disk_bytes', 'The data volume: free and size, the quota and the bytes of results under it (absent where unknown).'),
      labelNames: ['kind'],
      async collect() {
        this.reset();
        const d = await app.store.diskStatus();
        for (const [kind, value] of Object.entries({ free: d.free, size: d.size, min_free: d.minFree, quota: d.quota, used: d.used })) {
          if (typeof value === 'number') this.set({ kind }, value);
        }
      },
    });
    new Gauge({
      ...help('voicecue_disk_low', '1 while free space is under VOICECUE_MIN_FREE_MB (requests get 507).'),
      async collect() {
        this.set(Number((await app.store.diskStatus()).low));
      },
    });
    new Gauge({
      ...help('voicecue_warmup_seconds', "Warmup's duration, by result (absent until it ends)."),
      labelNames: ['result'],
      collect() {
        this.reset();
        const { warmup } = app.readiness;
        if (warmup.state !== 'done') return;
        const report = (warmup.report ?? {}) as { elapsedMs?: number; error?: string; failed?: unknown[] };
        const result = report.error ? 'error' : report.failed?.length ? 'partial' : 'ok';
        this.set({ result }, (report.elapsedMs ?? 0) / 1000);
      },
    });

    app.decorate('metrics', {
      synthesized(engine, workerSeconds, audioSeconds) {
        synthesis.observe({ engine }, workerSeconds);
        audio.inc({ engine }, audioSeconds);
        if (audioSeconds > 0) rtf.observe({ engine }, workerSeconds / audioSeconds);
      },
      aligned(aligner, seconds) {
        alignment.observe({ aligner }, seconds);
      },
      answered(route, method, status, seconds) {
        const labels = { route, method, status: String(status) };
        requests.inc(labels);
        latency.observe(labels, seconds);
      },
      probed(route, status) {
        const key = `${route} ${status}`;
        probes.set(key, (probes.get(key) ?? 0) + 1);
      },
    } satisfies Metrics);

    // By route pattern, never the raw URL: ids and junk paths must not become label values.
    app.addHook('onResponse', (request, reply, done) => {
      app.metrics.answered(request.routeOptions.url ?? 'none', request.method, reply.statusCode, reply.elapsedTime / 1000);
      done();
    });

    app.get('/metrics', {
      schema: {
        tags: ['metrics'],
        operationId: 'metrics',
        summary: 'Prometheus metrics (text exposition format)',
        response: { 200: { description: 'The metrics.', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(...COMMON) },
      },
    }, async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()));
  },
  { name: 'metrics', dependencies: ['store'] },
);
