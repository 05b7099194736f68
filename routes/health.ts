import type { FastifyInstance, FastifyReply } from 'fastify';
import fp from 'fastify-plugin';
import { z } from 'zod';
import { parseOrThrow } from '../src/http/body.js';
import type { Capability } from '../src/lanes/index.js';
import { ENGINE_LANES } from '../src/services/workers.js';
import type { DiskStatus } from '../src/store/artifacts.js';
import { formatBytes } from '../src/warmup/disk.js';
import { errors, ref } from '../src/contract/openapi.js';

const query = z.object({ verbose: z.enum(['0', '1', 'true', 'false']).optional() });

/**
 * Kubernetes probes: /health is readiness, /health/live is liveness. Ready means the default
 * engine can serve: its lane has a worker up and that worker reports the engine available.
 * The answer stays small; `?verbose=1` adds the lanes, versions, queues and warmup's report.
 */
/** A probe's answer as it goes on the wire. */
export interface ProbeAnswer {
  status: number;
  body: string;
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The answer to GET /health or /health/live when it is known without any work, else null (the server's fast path, src/http/probes.ts). */
    probeAnswer(url: string): ProbeAnswer | null;
  }
}

const live = () => ({ status: 'alive', uptime: Math.round(process.uptime()) });

async function healthRoutes(app: FastifyInstance): Promise<void> {
  const probe = { tags: ['health'], security: [] };
  app.get('/health/live', {
    schema: { ...probe, operationId: 'live', summary: 'Liveness: 200 while the process serves', response: { 200: { description: 'Alive.', ...ref('Live') }, ...errors(400) } },
  }, async () => live());

  // The small answer is the same until a lane, warmup, shutdown or the disk's lowness changes:
  // probes and load balancers ask often, so it is built once per change, serialized once.
  let cached: { key: string; status: number; body: string } | undefined;
  const keyOf = (diskLow: boolean) => `${app.workers.version}|${app.readiness.warmup.state}|${app.readiness.stopping}|${diskLow}`;
  app.decorate('probeAnswer', (url: string): ProbeAnswer | null => {
    if (url === '/health/live') return { status: 200, body: JSON.stringify(live()) };
    const diskLow = app.store.diskLowNow();
    return diskLow !== undefined && cached?.key === keyOf(diskLow) ? cached : null;
  });

  app.get('/health', {
    schema: {
      ...probe,
      operationId: 'health',
      summary: 'Readiness (for Kubernetes): 503 until warmup is done and the default engine can serve',
      querystring: { type: 'object', properties: { verbose: { type: 'string', enum: ['0', '1', 'true', 'false'], description: "Add the lanes (workers, queues, restarts), versions, the disk's figures and warmup's report." } } },
      response: {
        200: { description: 'Ready.', ...ref('Health') },
        503: { description: 'Not ready: `status` and `reason` say why.', ...ref('Health') },
        ...errors(400),
      },
    },
  }, async (request, reply) => {
    const q = request.query as Record<string, unknown>;
    const verbose = Object.keys(q).length > 0 && ['1', 'true'].includes(parseOrThrow(query, q, 'query').verbose ?? '0');
    const diskStatus = await app.store.diskStatus();
    const key = keyOf(diskStatus.low);
    if (!verbose && cached?.key === key) return reply.code(cached.status as 200).type('application/json; charset=utf-8').send(cached.body);
    const answer = await build(verbose, diskStatus, reply);
    if (!verbose) cached = { key, status: reply.statusCode, body: JSON.stringify(answer) };
    return answer;
  });

  async function build(verbose: boolean, diskStatus: DiskStatus, reply: FastifyReply): Promise<object> {
    const { workers, readiness, config } = app;
    const warmup = readiness.warmup.report;
    const capabilities = withWarmupReasons(workers.capabilities(), (warmup as { capabilities?: WarmupCapabilities } | undefined)?.capabilities ?? {});
    const details = verbose
      ? {
          lanes: Object.fromEntries(Object.entries(workers.lanes).map(([name, lane]) => [name, lane.status()])),
          versions: workers.versions(),
          ...(warmup ? { warmup } : {}),
        }
      : {};
    const disk = diskReport(diskStatus, verbose);
    const summary = { engines: brief(capabilities.engines, verbose), aligners: brief({ ...capabilities.aligners, google: { lane: 'gateway', batch: 1, ...app.google.info() } }, verbose), ...details, ...disk };
    const notReady = (status: string, reason: string) => (reply.code(503), { status, reason, ...summary });

    if (readiness.stopping) return notReady('stopping', 'the service is shutting down');
    if (readiness.warmup.state === 'running') return notReady('warming', "checking the workers' Python packages");
    const engine = config.defaultEngine;
    const main = capabilities.engines[engine];
    const laneName = ENGINE_LANES[engine];
    const lane = workers.lanes[laneName]?.status();
    if (!lane) return notReady('unavailable', `the default engine ${engine} is not available: ${main?.reason ?? 'no lane'}`);
    if (lane.state !== 'ready') return notReady(lane.state, `the ${lane.name} lane is not ready: ${lane.reason}`);
    if (!main?.available) return notReady('unavailable', `the default engine ${engine} is not available: ${main?.reason ?? 'unknown'}`);
    return { status: 'ready', ...summary };
  }
}

// Not encapsulated: probeAnswer is the app's, for the server's fast path.
export default fp(healthRoutes, { name: 'health' });

type WarmupCapabilities = Record<string, { available: boolean; reason: string | null }>;

/**
 * The data volume: verbose always gives the figures; the small answer only says when it is low.
 * Low disk is not a 503: the status stays readiness's (results already stored are still served
 * here, and the figure would flap the endpoint around the floor); /tts answers 507 meanwhile.
 */
function diskReport(disk: DiskStatus, verbose: boolean): { disk?: Record<string, unknown> } {
  const reason = disk.low
    ? `only ${formatBytes(disk.free ?? 0)} free on the data volume, under VOICECUE_MIN_FREE_MB (${formatBytes(disk.minFree)}): new requests get 507 INSUFFICIENT_STORAGE`
    : undefined;
  if (!verbose) return disk.low ? { disk: { low: true, reason } } : {};
  return {
    disk: {
      low: disk.low, ...(reason ? { reason } : {}), free: disk.free, size: disk.size, min_free: disk.minFree, quota: disk.quota, used: disk.used,
      ...(disk.error ? { error: disk.error } : {}),
    },
  };
}

type Capabilities = ReturnType<FastifyInstance['workers']['capabilities']>;

/** Where warmup could not provide a capability (a failed install, no disk), its reason joins the worker's. */
function withWarmupReasons(caps: Capabilities, warmup: WarmupCapabilities): Capabilities {
  const join = (items: Record<string, Capability>) =>
    Object.fromEntries(
      Object.entries(items).map(([name, item]) => {
        const cap = warmup[name];
        if (item.available || !cap || cap.available || !cap.reason) return [name, item];
        return [name, { ...item, reason: `${item.reason ?? 'unavailable'}; warmup: ${cap.reason}` }];
      }),
    );
  return { engines: join(caps.engines), aligners: join(caps.aligners) };
}

/** Available or why not; verbose adds the lane, languages and the rest, with voice lists counted. */
function brief(items: Record<string, Capability>, verbose: boolean): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(items).map(([name, { available, reason, voices, languages, ...rest }]) => {
      if (!verbose) return [name, available ? { available } : { available, reason }];
      const counted = Array.isArray(voices) ? { voice_count: voices.length } : {};
      const langs = Array.isArray(languages) ? { language_count: languages.length } : {};
      return [name, { available, ...(available ? {} : { reason }), ...rest, ...counted, ...langs }];
    }),
  );
}
