import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { ApplicantRecordSchema, CreateApplicantSchema, OrgIdSchema, type ControlPlane } from '../../tenants/index.js';
import { SUPERVISOR_ONLY, actorOf } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

/** Registration of application entities (应用主体). */
export function applicantRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.post('/v1/applicants', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Register an application entity; its tokens carry the id as org',
        tags: ['applicants'],
        body: CreateApplicantSchema,
        response: { 201: ApplicantRecordSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 409) },
      },
    }, async (request, reply) => reply.status(201).send(await controlPlane.applicants.create(actorOf(request), request.body)));

    app.get('/v1/applicants', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'All application entities',
        tags: ['applicants'],
        response: { 200: z.object({ applicants: z.array(ApplicantRecordSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async () => ({ applicants: await controlPlane.applicants.list() }));

    app.get('/v1/applicants/:id', {
      config: { access: { roles: ['supervisor', 'applicant'] } },
      schema: {
        summary: 'One application entity (applicants: their own only)',
        tags: ['applicants'],
        params: z.object({ id: OrgIdSchema }),
        response: { 200: ApplicantRecordSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404) },
      },
    }, async (request) => {
      // SECURITY: an application entity sees only its own record.
      if (request.claims.role === 'applicant' && request.claims.org !== request.params.id) {
        throw new DomainError('AUTH_ERR_ORG_MISMATCH', 'applicants may only read their own record');
      }
      return controlPlane.applicants.get(request.params.id);
    });
  };
}
