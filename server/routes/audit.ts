import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { addDays, AuditEntrySchema, calendarDateProblem, looksLikeCalendarDate, startOfDay, VerifyReportSchema, type ControlPlane } from '../../tenants/index.js';
import { SUPERVISOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';

const TimestampSchema = z.iso.datetime({ offset: true });

/** `from`/`to`: an ISO 8601 timestamp, or a plain date meaning the whole day in the platform's time zone. */
const BoundSchema = z.string().check((ctx) => {
  if (looksLikeCalendarDate(ctx.value)) {
    const problem = calendarDateProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  } else if (!TimestampSchema.safeParse(ctx.value).success) {
    ctx.issues.push({ code: 'custom', message: 'must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with its offset (2026-11-30T08:00:00+08:00)', input: ctx.value });
  }
});

const AuditQuerySchema = z.object({
  actor: z.string().min(1).max(128).optional().describe("the actor's sub"),
  org: z.string().min(1).max(64).optional().describe("the actor's organization"),
  action: z.string().regex(/^[a-z_.]+(\.\*)?$/, 'must be an action such as tenant.create, or a prefix such as tenant.*').optional(),
  target: z.string().min(1).max(200).optional().describe('e.g. tenant:demo'),
  from: BoundSchema.optional().describe('inclusive: an ISO 8601 timestamp with offset, or a date YYYY-MM-DD (from the start of that day in INDOMAIN_TIMEZONE)'),
  to: BoundSchema.optional().describe('exclusive: an ISO 8601 timestamp with offset, or a date YYYY-MM-DD (up to the end of that day in INDOMAIN_TIMEZONE, so from=to=2026-11-30 is that whole day)'),
  after: z.coerce.number().int().min(0).optional().describe('return entries after this sequence number (paging)'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

/** The audit chain, for supervisors: query it, verify it end to end. */
export function auditRoutes(controlPlane: ControlPlane, timeZone: string): FastifyPluginAsyncZod {
  // A plain date is a whole day where the licensing authority is (INDOMAIN_TIMEZONE), as license windows are.
  const instant = (bound: string, end: boolean) => (looksLikeCalendarDate(bound) ? startOfDay(end ? addDays(bound, 1) : bound, timeZone) : new Date(bound)).toISOString();
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
      const fromTs = q.from === undefined ? undefined : instant(q.from, false);
      const toTs = q.to === undefined ? undefined : instant(q.to, true);
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
