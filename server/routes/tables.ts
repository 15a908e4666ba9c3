import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EnvSchema, TableNameSchema, WorkspaceTableSchema } from '../../sandbox/index.js';
import { WorkspaceTableLineageSchema, type ControlPlane } from '../../tenants/index.js';
import { actorOf, OPERATOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

/** A workspace table as the API shows it: engine facts plus lineage (absent for unknown origins). */
export const TableSchema = WorkspaceTableSchema.extend(WorkspaceTableLineageSchema.omit({ tenantId: true, name: true }).partial().shape);

/** The operator's workspace tables: gated SELECTs saved with their lineage. */
export function tableRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/tables', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Save a gated SELECT as a workspace table (the server writes the DDL)',
        tags: ['sandbox'],
        body: z.strictObject({ name: TableNameSchema, sql: z.string(), env: EnvSchema }),
        response: { 201: TableSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 408, 409, 422, 429) },
      },
    }, async (request, reply) =>
      // SECURITY: the workspace is always the caller's own org's, never a parameter.
      reply.status(201).send(await controlPlane.tables.create(actorOf(request), request.claims.org, request.body)));

    app.get('/v1/tables', {
      config: OPERATOR_ONLY,
      schema: {
        summary: "The caller's workspace tables: rows, columns, defining SQL, source tables, datasets, created",
        tags: ['sandbox'],
        response: { 200: z.object({ tables: z.array(TableSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async (request) => ({ tables: await controlPlane.tables.list(request.claims.org) }));

    app.delete('/v1/tables/:name', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Delete a workspace table',
        tags: ['sandbox'],
        params: z.object({ name: TableNameSchema }),
        response: { 200: z.object({ name: z.string(), deleted: z.literal(true) }), ...errorResponses(...AUTH_ERROR_STATUSES, 404) },
      },
    }, async (request) => {
      await controlPlane.tables.drop(actorOf(request), request.claims.org, request.params.name);
      return { name: request.params.name, deleted: true as const };
    });
  };
}
