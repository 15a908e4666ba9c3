import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { EnvSchema, QueryResultSchema } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';
import { actorOf, OPERATOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const QueryBodySchema = z.strictObject({
  sql: z.string().describe('one SELECT statement (DuckDB dialect); at most 20 KB'),
  env: EnvSchema.describe('dev: the synthetic twin; prod: the granted, desensitized data'),
  maxRows: z.number().int().min(1).max(10_000).optional().describe('row cap (default 1,000, at most 10,000)'),
});

const QueryResponseSchema = QueryResultSchema.omit({ tables: true, refusal: true }).extend({ env: EnvSchema });

/** Gated SQL in the caller's tenant workspace. */
export function queryRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/query', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Run one gated SELECT over dev (synthetic) or prod (desensitized) data and the workspace',
        tags: ['sandbox'],
        body: QueryBodySchema,
        response: { 200: QueryResponseSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 408, 422, 429, 499) },
      },
    }, async (request, reply) => {
      // Cancel the query when the client goes away before the answer.
      const abort = new AbortController();
      const onClose = () => {
        if (!reply.raw.writableFinished) abort.abort();
      };
      reply.raw.once('close', onClose);
      // SECURITY: the tenant is the caller's own org, never a parameter.
      const result = await controlPlane.queries.run(actorOf(request), request.claims.org, request.body, abort.signal);
      const { tables: _tables, refusal: _refusal, ...body } = result;
      return body;
    });
  };
}
