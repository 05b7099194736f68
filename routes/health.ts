import type { FastifyInstance } from 'fastify';

/** Kubernetes probes: /health is readiness (503 until the worker is ready), /health/live is liveness. */
export default async function healthRoutes(app: FastifyInstance): Promise<void> {
  app.get('/health/live', async () => ({ status: 'alive', uptime: Math.round(process.uptime()) }));

  app.get('/health', async (_request, reply) => {
    const { sidecar, readiness } = app.voicecue;
    const warmup = readiness.warmup.report;
    if (readiness.stopping) return reply.code(503).send({ status: 'stopping', reason: 'the service is shutting down' });
    if (readiness.warmup.state === 'running') {
      return reply.code(503).send({ status: 'warming', reason: 'checking the worker\'s Python packages' });
    }
    if (sidecar.state !== 'ready' || !sidecar.info) {
      return reply.code(503).send({ status: sidecar.state === 'restarting' ? 'restarting' : 'starting', reason: sidecar.reason, warmup });
    }
    const { engines, aligners, versions } = sidecar.info;
    const capabilities = (warmup as { capabilities?: Capabilities } | undefined)?.capabilities ?? {};
    return {
      status: 'ready',
      engines: withWarmupReasons(withoutVoiceLists(engines), capabilities),
      aligners: withWarmupReasons(aligners, capabilities),
      versions,
      queue: sidecar.pending,
      restarts: sidecar.restarts,
      ...(warmup ? { warmup } : {}),
    };
  });
}

type Capabilities = Record<string, { available: boolean; reason: string | null }>;

/** Where warmup could not provide a capability, its reason (a failed install, no disk) joins the worker's. */
function withWarmupReasons<T extends Record<string, unknown>>(items: Record<string, T>, capabilities: Capabilities): Record<string, T> {
  return Object.fromEntries(
    Object.entries(items).map(([name, item]) => {
      const cap = capabilities[name];
      if (item.available !== false || !cap || cap.available || !cap.reason) return [name, item];
      return [name, { ...item, reason: `${item.reason ?? 'unavailable'}; warmup: ${cap.reason}` }];
    }),
  );
}

/** Voice lists are long; /health stays small and a client can ask the capabilities elsewhere. */
function withoutVoiceLists(engines: Record<string, Record<string, unknown>>): Record<string, Record<string, unknown>> {
  return Object.fromEntries(
    Object.entries(engines).map(([name, { voices, ...rest }]) => [
      name,
      Array.isArray(voices) ? { ...rest, voice_count: voices.length } : rest,
    ]),
  );
}
