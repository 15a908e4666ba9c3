import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EngineClient } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';
import { ErrorBodySchema } from '../errors.js';

const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  store: z.object({ ready: z.boolean() }),
  engine: z.object({ ready: z.boolean() }),
});

/**
 * Liveness and readiness: 200 when the control store and the engine host both answer, else 503.
 * Public, so it says nothing more: counts of queries in flight or engine restarts would tell an
 * anonymous caller about the tenants' activity (operators read them from the logs).
 */
export function healthRoutes(controlPlane: ControlPlane, engine: EngineClient): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/health', {
      config: { access: 'public' },
      // A 503 is either this route's answer or load shedding's error body (SRV_ERR_OVERLOADED).
      schema: { summary: 'Liveness and readiness', tags: ['service'], response: { 200: HealthSchema, 503: z.union([HealthSchema, ErrorBodySchema]) } },
    }, async (_request, reply) => {
      const storeReady = await controlPlane.ping();
      // SECURITY: readiness only: the route is public and the engine's counters describe other tenants' activity.
      const { ready } = engine.status;
      const ok = storeReady && ready;
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', store: { ready: storeReady }, engine: { ready } });
    });
  };
}
