import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EnvSchema } from '../../sandbox/index.js';
import { SchemaViewSchema, type ControlPlane } from '../../tenants/index.js';
import { OPERATOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

/** Discovery as JSON: what the caller's queries can read in an env, with each column's policy and source. */
export function schemaRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/schema', {
      config: OPERATOR_ONLY,
      schema: {
        summary: "The tables a query can read in dev or prod (the same as SHOW TABLES and DESCRIBE): each column's type, policy and source dataset",
        tags: ['sandbox'],
        querystring: z.strictObject({ env: EnvSchema.describe('dev: the synthetic twin; prod: the granted, desensitized data') }),
        response: { 200: SchemaViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 429) },
      },
    // SECURITY: the tenant is the caller's own org, never a parameter.
    }, async (request) => controlPlane.schema.describe(request.claims.org, request.query.env));
  };
}
