import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { EngineClient } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';

const HealthSchema = z.object({
  status: z.enum(['ok', 'unavailable']),
  store: z.object({ ready: z.boolean() }),
  engine: z.object({ ready: z.boolean(), restarts: z.number().int(), inFlight: z.number().int() }),
});

/** Liveness and readiness: 200 when the control store and the engine host both answer, else 503. */
export function healthRoutes(controlPlane: ControlPlane, engine: EngineClient): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/health', {
      config: { access: 'public' },
      schema: { summary: 'Liveness and readiness', tags: ['service'], response: { 200: HealthSchema, 503: HealthSchema } },
    }, async (_request, reply) => {
      const storeReady = await controlPlane.ping();
      const { ready, restarts, inFlight } = engine.status;
      const ok = storeReady && ready;
      return reply.status(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', store: { ready: storeReady }, engine: { ready, restarts, inFlight } });
    });
  };
}
