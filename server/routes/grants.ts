import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CreateGrantSchema, GrantRecordSchema, OrgIdSchema, type ControlPlane } from '../../tenants/index.js';
import { actorOf, assertOwnTenant, SUPERVISOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const GrantViewSchema = GrantRecordSchema.extend({
  status: z.enum(['building', 'active', 'expired', 'withdrawn']).describe('building: not yet queryable in both envs (the refinery is publishing it); active: queryable; withdrawn: its dataset is withdrawn'),
  progress: z.object({ done: z.number().int(), total: z.number().int() }).optional().describe('while building: the tenant files (prod, dev) that already answer for the grant'),
});
const IdParams = z.object({ id: OrgIdSchema });

/** Grants of datasets to a tenant; each triggers a rebuild of the tenant's files off the request path. */
export function grantRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/tenants/:id/grants', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: "Grant a dataset (and columns) to a tenant for a purpose, until a day; it reads `building` until the tenant's files answer for it",
        tags: ['tenants'],
        params: IdParams,
        body: CreateGrantSchema,
        response: { 201: GrantViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request, reply) => {
      const { building: _building, ...grant } = await controlPlane.grants.create(actorOf(request), request.params.id, request.body);
      return reply.status(201).send(grant);
    });

    app.get('/v1/tenants/:id/grants', {
      config: { access: { roles: ['supervisor', 'operator'] } },
      schema: {
        summary: "A tenant's grants, with the versions of its granted and dev files (operators: their own tenant's only)",
        tags: ['tenants'],
        params: IdParams,
        response: {
          200: z.object({ grants: z.array(GrantViewSchema), grantedVersion: z.number().int().nullable(), devVersion: z.number().int().nullable() }),
          ...errorResponses(...AUTH_ERROR_STATUSES, 404),
        },
      },
    }, async (request) => {
      // SECURITY: an operator reads its own tenant's grants, never another's (nor learns whether another exists).
      assertOwnTenant(request, request.params.id);
      return controlPlane.grants.list(request.params.id);
    });
  };
}
