import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { CreateTenantSchema, OrgIdSchema, TenantSchema, TenantStatusSchema, type ControlPlane } from '../../tenants/index.js';
import { SUPERVISOR_ONLY, actorOf, assertOwnTenant } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const IdParams = z.object({ id: OrgIdSchema });
const StatusChangeSchema = z.object({ id: z.string(), status: TenantStatusSchema });
const RevokeSchema = StatusChangeSchema.extend({
  wiped: z.object({ files: z.number().int(), bytes: z.number().int() }).describe('what was destroyed; the full record is in the audit chain'),
});
/** Licensing of operating entities (运营主体). */
export function tenantRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  const { tenants } = controlPlane;
  return async (app) => {
    app.post('/v1/tenants', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'License an operating entity (at most 3 years)',
        tags: ['tenants'],
        body: CreateTenantSchema,
        response: { 201: TenantSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 409) },
      },
    }, async (request, reply) => reply.status(201).send(await tenants.create(actorOf(request), request.body)));

    app.get('/v1/tenants', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'All operating entities and their license state',
        tags: ['tenants'],
        response: { 200: z.object({ tenants: z.array(TenantSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async () => ({ tenants: await tenants.list() }));

    app.get('/v1/tenants/:id', {
      config: { access: { roles: ['supervisor', 'operator'] } },
      schema: {
        summary: 'One operating entity (operators: their own only)',
        tags: ['tenants'],
        params: IdParams,
        response: { 200: TenantSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404) },
      },
    }, async (request) => {
      assertOwnTenant(request, request.params.id);
      return tenants.get(request.params.id);
    });

    for (const [verb, change] of [['suspend', tenants.suspend], ['resume', tenants.resume]] as const) {
      app.post(`/v1/tenants/:id/${verb}`, {
        config: SUPERVISOR_ONLY,
        schema: {
          summary: verb === 'suspend' ? 'Suspend an active license: its operators are refused at once' : 'Resume a suspended license',
          tags: ['tenants'],
          params: IdParams,
          response: { 200: StatusChangeSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
        },
      }, async (request) => {
        const tenant = await change(actorOf(request), request.params.id);
        return { id: tenant.id, status: tenant.status };
      });
    }

    app.post('/v1/tenants/:id/revoke', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Revoke a license: final; access closes at once and the workspace is wiped',
        tags: ['tenants'],
        params: IdParams,
        response: { 200: RevokeSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => {
      const tenant = await tenants.revoke(actorOf(request), request.params.id);
      return { id: tenant.id, status: tenant.status, wiped: tenant.wiped };
    });
  };
}
