import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ApplicantRecordSchema, CreateApplicantSchema, type ControlPlane } from '../../tenants/index.js';
import { actorOf } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const SUPERVISOR = { access: { roles: ['supervisor'] } } as const;

/** Registration of application entities (应用主体). */
export function applicantRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/applicants', {
      config: SUPERVISOR,
      schema: {
        summary: 'Register an application entity; its tokens carry the id as org',
        tags: ['applicants'],
        body: CreateApplicantSchema,
        response: { 201: ApplicantRecordSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 409) },
      },
    }, async (request, reply) => reply.status(201).send(await controlPlane.applicants.create(actorOf(request), request.body)));

    app.get('/v1/applicants', {
      config: SUPERVISOR,
      schema: {
        summary: 'All application entities',
        tags: ['applicants'],
        response: { 200: z.object({ applicants: z.array(ApplicantRecordSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async () => ({ applicants: await controlPlane.applicants.list() }));
  };
}
