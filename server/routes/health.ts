import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { probeEngine } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';

const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  store: z.object({ ready: z.boolean() }),
  engine: z.object({ ready: z.boolean(), version: z.string().optional() }),
});

const ENGINE_PROBE_TTL_MS = 5_000;

/** Liveness and readiness: 200 when the control store and the engine both answer, else 503. */
export function healthRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  let engine: { at: number; result: Promise<{ ready: boolean; version?: string }> } | undefined;
  return async (app) => {
    app.get('/health', {
      config: { access: 'public' },
      schema: { summary: 'Liveness and readiness', tags: ['service'], response: { 200: HealthSchema, 503: HealthSchema } },
    }, async (_request, reply) => {
      // Probing the engine opens a database: do it at most every few seconds, however often we are asked.
      if (!engine || Date.now() - engine.at > ENGINE_PROBE_TTL_MS) engine = { at: Date.now(), result: probeEngine() };
      const [storeReady, engineState] = await Promise.all([controlPlane.ping(), engine.result]);
      const ok = storeReady && engineState.ready;
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', store: { ready: storeReady }, engine: engineState });
    });
  };
}
