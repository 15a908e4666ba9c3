import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { AuditEntrySchema, VerifyReportSchema, type ControlPlane } from '../../tenants/index.js';
import { SUPERVISOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const AuditQuerySchema = z.object({
  actor: z.string().min(1).max(128).optional().describe("the actor's sub"),
  org: z.string().min(1).max(64).optional().describe("the actor's organization"),
  action: z.string().regex(/^[a-z_.]+(\.\*)?$/, 'must be an action such as tenant.create, or a prefix such as tenant.*').optional(),
  target: z.string().min(1).max(200).optional().describe('e.g. tenant:demo'),
  from: z.iso.datetime({ offset: true }).optional().describe('inclusive, ISO 8601'),
  to: z.iso.datetime({ offset: true }).optional().describe('exclusive, ISO 8601'),
  after: z.coerce.number().int().min(0).optional().describe('return entries after this sequence number (paging)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The audit chain, for supervisors: query it, verify it end to end. */
export function auditRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  return async (app) => {
    app.get('/v1/audit', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Query the audit chain (paged by sequence number)',
        tags: ['audit'],
        querystring: AuditQuerySchema,
        response: {
          200: z.object({ entries: z.array(AuditEntrySchema), next: z.number().int().nullable().describe('pass as `after` for the next page') }),
          ...errorResponses(...AUTH_ERROR_STATUSES),
        },
      },
    }, async (request) => {
      const q = request.query;
      // Timestamps are stored as UTC ISO strings, so compare in that form.
      const fromTs = q.from === undefined ? undefined : new Date(q.from).toISOString();
      const toTs = q.to === undefined ? undefined : new Date(q.to).toISOString();
      if (fromTs !== undefined && toTs !== undefined && fromTs > toTs) throw new DomainError('AUD_ERR_BAD_FILTER', '`from` is after `to`');
      const entries = await controlPlane.audit.query({
        actorSub: q.actor, org: q.org, action: q.action, target: q.target, fromTs, toTs, afterSeq: q.after, limit: q.limit,
      });
      return { entries, next: entries.length === q.limit ? entries[entries.length - 1]!.seq : null };
    });

    app.get('/v1/audit/verify', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Verify the whole chain: links, hashes, signed checkpoints and the head anchor',
        tags: ['audit'],
        response: { 200: VerifyReportSchema, ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async () => controlPlane.audit.verify());
  };
}
