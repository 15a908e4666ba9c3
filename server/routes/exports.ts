import fs from 'node:fs';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { ExportFormatSchema, ExportIdSchema } from '../../sandbox/index.js';
import {
  CheckSchema, CheckStatusSchema, CreateExportSchema, CreateReviewSchema, ExportStatusSchema, ManifestViewSchema, NewVersionSchema, SubmitExportSchema, WithheldSchema,
  type ControlPlane,
} from '../../tenants/index.js';
import { ALL_ROLES, OPERATOR_ONLY, SUPERVISOR_ONLY, actorOf } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses, toErrorBody } from '../errors.js';

const SummarySchema = z.object({
  id: z.string(),
  version: z.number().int(),
  status: ExportStatusSchema,
  outcome: CheckStatusSchema,
  checks: z.array(CheckSchema),
});

const ListingSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  recipient: z.string(),
  purpose: z.string(),
  format: ExportFormatSchema,
  status: ExportStatusSchema,
  version: z.number().int(),
  createdAt: z.string(),
  updatedAt: z.string(),
  validUntil: z.string().nullable(),
  packagedVersion: z.number().int().nullable(),
  maxDownloads: z.number().int().nullable(),
});

const RowsSchema = z.object({ columns: z.array(z.object({ name: z.string(), type: z.string() })), rows: z.array(z.array(z.unknown())) });

/** The detail; fields beyond the listing depend on the caller (applicants get the listing only). */
const DetailSchema = ListingSchema.extend({
  downloads: z.number().int(),
  manifestAvailable: z.boolean().optional(),
  outcome: CheckStatusSchema.optional(),
  checks: z.array(CheckSchema).optional(),
  sql: z.string().optional(),
  source: z.unknown().optional(),
  mitigation: z.unknown().optional(),
  withheld: WithheldSchema.nullable().optional().describe('what suppression withheld from this version: rows removed and cells shown as null, primary and secondary'),
  rowCount: z.number().int().nullable().optional().describe("rows of the snapshot (supervisors only: null for others, a count no person-level check has seen)"),
  columns: z.array(z.object({ name: z.string(), type: z.string() })).optional(),
  snapshotSha256: z.string().nullable().optional().describe('SHA-256 of the snapshot (supervisors only: null for others)'),
  submission: z.unknown().optional(),
  approvalsNeeded: z.number().int().nullable().optional(),
  reviews: z.array(z.object({ version: z.number().int(), reviewer: z.string(), organization: z.string(), decision: z.string(), comment: z.string().nullable(), at: z.string() })).optional(),
  versions: z.array(z.object({ version: z.number().int(), outcome: CheckStatusSchema, rowCount: z.number().int().nullable(), mitigation: z.unknown(), createdAt: z.string(), createdBy: z.string() })).optional(),
  lineage: z.array(z.object({ dataset: z.string(), name: z.string().nullable(), version: z.number().int(), provider: z.string().nullable(), acquiredAt: z.string().nullable() })).optional(),
  tables: z.array(z.string()).optional(),
  preview: RowsSchema.nullable().optional().describe('supervisors only: the first 20 rows of the snapshot'),
  changes: z.unknown().optional().describe('supervisors only: what changed since the previous version (checks, outcome, rows, cells)'),
});

const IdParams = z.object({ id: ExportIdSchema });

/** Exports (出域审核): requests, versions, reviews, delivery. */
export function exportRoutes(controlPlane: ControlPlane): FastifyPluginAsyncZod {
  const exports = controlPlane.exports;
  return async (app) => {
    app.post('/v1/exports', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Request an export of a gated prod query or a prod workspace table to a registered applicant; the output is snapshotted and checked',
        tags: ['exports'],
        body: CreateExportSchema,
        response: { 201: SummarySchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 408, 409, 413, 422, 429) },
      },
    }, async (request, reply) => {
      // SECURITY: the tenant is the caller's own org, never a parameter.
      return reply.status(201).send(await exports.create(actorOf(request), request.claims.org, request.body));
    });

    app.get('/v1/exports', {
      config: ALL_ROLES,
      schema: {
        summary: 'Exports the caller may see (operators: their tenant\'s; supervisors: all; applicants: approved ones addressed to them)',
        tags: ['exports'],
        response: { 200: z.object({ exports: z.array(ListingSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async (request) => ({ exports: await exports.list(request.claims) }));

    app.get('/v1/exports/:id', {
      config: ALL_ROLES,
      schema: {
        summary: 'One export; reviewers also get the SQL, lineage, checks, a preview and the changes since the previous version',
        tags: ['exports'],
        params: IdParams,
        response: { 200: DetailSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404) },
      },
    }, async (request) => exports.get(request.claims, request.params.id));

    app.post('/v1/exports/:id/versions', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'A new version: new SQL or table, or a mitigation of the current one (round5); its checks run again and its reviews start over',
        tags: ['exports'],
        params: IdParams,
        body: NewVersionSchema,
        response: { 201: SummarySchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 408, 409, 413, 422, 429) },
      },
    }, async (request, reply) => reply.status(201).send(await exports.newVersion(actorOf(request), request.claims, request.params.id, request.body)));

    app.post('/v1/exports/:id/submit', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Submit the current version for review (a justification per check that says review)',
        tags: ['exports'],
        params: IdParams,
        body: SubmitExportSchema.nullish(),
        response: { 200: SummarySchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => exports.submit(actorOf(request), request.claims, request.params.id, request.body ?? {}));

    app.post('/v1/exports/:id/withdraw', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Withdraw the export (final)',
        tags: ['exports'],
        params: IdParams,
        response: { 200: SummarySchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => exports.withdraw(actorOf(request), request.claims, request.params.id));

    /** Requests whose handler ran: the export service audits their refusals itself. */
    const handled = new WeakSet<FastifyRequest>();
    /** Audits a verified caller's attempt refused before the handler (role guard, validation); anonymous ones name nobody. */
    const auditRefusal = (action: 'export.download' | 'export.review') => async (request: FastifyRequest, _reply: FastifyReply, error: Error) => {
      if (!request.claims || handled.has(request)) return;
      const id = ExportIdSchema.safeParse((request.params as { id?: unknown }).id);
      // SECURITY: invariant 5: every download or review attempt is audited, refusals at the door included.
      await exports.auditRefusedAttempt(actorOf(request), action, id.success ? id.data : null, toErrorBody(error, request.id).code);
    };

    app.post('/v1/exports/:id/reviews', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Review the named version: approve, reject or request changes (the last two need a comment)',
        tags: ['exports'],
        params: IdParams,
        body: CreateReviewSchema,
        response: { 200: SummarySchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409, 500) },
      },
      onError: auditRefusal('export.review'),
    }, async (request) => {
      handled.add(request);
      return exports.review(actorOf(request), request.params.id, request.body);
    });

    app.get('/v1/exports/:id/download', {
      // SECURITY: no automatic HEAD route: a HEAD ran this handler, counting a download against the
      // limit without sending the file (red-team pass 28b).
      exposeHeadRoute: false,
      config: { access: { roles: ['applicant'] } },
      schema: {
        summary: 'The approved data file, for the recipient organization only, within its validity and download limit',
        tags: ['exports'],
        params: IdParams,
        querystring: z.strictObject({ version: z.coerce.number().int().positive().optional() }),
        produces: ['text/csv', 'application/vnd.apache.parquet', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
        response: { 200: z.any().describe('the data file; x-content-sha256 is its SHA-256, as in the manifest'), ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409, 410, 500) },
      },
      onError: auditRefusal('export.download'),
    }, async (request, reply) => {
      handled.add(request);
      const file = await exports.download(actorOf(request), request.claims, request.params.id, request.query.version);
      return reply
        .header('content-type', file.contentType)
        .header('content-disposition', `attachment; filename="${file.filename}"`)
        .header('x-content-sha256', file.sha256)
        .header('x-downloads-left', String(file.downloadsLeft))
        .header('cache-control', 'no-store')
        .send(fs.createReadStream(file.file));
    });

    app.get('/v1/exports/:id/manifest', {
      config: ALL_ROLES,
      schema: {
        summary: 'The package manifest: sources with providers and acquisition dates, SQL, checks, reviews, validity, SHA-256 of the data file',
        tags: ['exports'],
        params: IdParams,
        response: { 200: ManifestViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => exports.manifest(request.claims, request.params.id));
  };
}
