import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ClaimsSchema } from '../../tenants/index.js';
import { ALL_ROLES } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

/** Who the caller is, as the server sees it after every check passed. */
export function meRoutes(): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/me', {
      config: ALL_ROLES,
      schema: { summary: 'The verified caller', tags: ['service'], response: { 200: z.object({ claims: ClaimsSchema }), ...errorResponses(...AUTH_ERROR_STATUSES) } },
    }, async (request) => ({ claims: request.claims }));
  };
}
