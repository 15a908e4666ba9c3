import fs from 'node:fs';
import path from 'node:path';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { DatasetColumnSchema, DatasetIdSchema, DatasetMetaSchema, DatasetRecordSchema, GrantSummarySchema, IngestProgressSchema, PolicyPreviewSchema, ReinstateDatasetSchema, SetPoliciesSchema, WithdrawalSchema, WithdrawDatasetSchema, type ControlPlane } from '../../tenants/index.js';
import { actorOf, ALL_ROLES, SUPERVISOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses, validationError } from '../errors.js';
import { FormFileSchema, receiveForm, SheetSchema } from '../multipart.js';

/** The three ways a dataset is shown, by role (see tenants/catalog-service.ts). */
const DatasetViewSchema = z.union([
  DatasetRecordSchema.extend({
    columns: z.array(DatasetColumnSchema), versions: z.array(z.number().int()), loading: IngestProgressSchema.optional(),
    withdrawal: WithdrawalSchema.optional().describe('present while the dataset is withdrawn'),
  }).describe('supervisor'),
  z.object({ id: z.string(), name: z.string(), provider: z.string(), loading: IngestProgressSchema }).describe('supervisor: the first version is still loading'),
  DatasetRecordSchema.omit({ file: true, sha256: true, createdBy: true }).extend({
    columns: z.array(z.object({ name: z.string(), type: z.string() })),
    granted: z.boolean().optional().describe("operators: whether the caller's tenant holds an active grant of it"),
    withdrawal: WithdrawalSchema.pick({ at: true }).optional().describe('present while the dataset is withdrawn: nothing reads it'),
    grant: GrantSummarySchema.optional().describe("operators: the caller's tenant's grant of it, when there is one"),
  }).describe('operators and applicants'),
  z.object({ id: z.string(), name: z.string(), provider: z.string(), shareAttribute: z.literal('none') }).describe('不予共享: existence only'),
]);


/** The catalog of public datasets: ingest (supervisor) and browse (everyone, by role). */
export function datasetRoutes(controlPlane: ControlPlane, dataDir: string, maxFileBytes: number): FastifyPluginAsyncZod {
  const tempDir = path.join(dataDir, 'tmp', 'ingest');
  return async (app) => {
    app.post('/v1/datasets', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Ingest a public dataset (CSV/TSV UTF-8 or GBK, .xlsx, or Parquet): multipart fields meta (JSON), file, optional sheet (name or 1-based position)',
        tags: ['catalog'],
        consumes: ['multipart/form-data'],
        multipartForm: z.object({
          meta: z.string().describe('the dataset\'s metadata as JSON (DatasetMeta: id, name, provider, grade, shareAttribute, openAttribute, updateFrequency, acquiredAt, ...)')
            .meta({ example: '{"id":"households","name":"户籍户数","provider":"市统计局","grade":"general","shareAttribute":"conditional","openAttribute":"none","updateFrequency":"yearly","acquiredAt":"2026-01-01"}' }),
          file: FormFileSchema,
        }),
        response: { 201: DatasetViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 413, 415) },
      },
    }, async (request, reply) => {
      const { fields, file } = await receiveForm(request, tempDir, maxFileBytes);
      try {
        const meta = DatasetMetaSchema.safeParse(parseJson(fields.meta));
        if (!meta.success) throw validationError(meta.error.issues.map((issue) => ({ field: ['meta', ...issue.path].join('.'), problem: issue.message })));
        const sheet = SheetSchema.safeParse(fields.sheet);
        if (!sheet.success) throw validationError([{ field: 'sheet', problem: sheet.error.issues[0]?.message ?? 'invalid' }]);
        return reply.status(201).send(await controlPlane.catalog.ingest(actorOf(request), meta.data, { ...file, sheet: sheet.data }));
      } finally {
        fs.rmSync(file.path, { force: true });
      }
    });

    app.put('/v1/datasets/:id/policy', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Set column policies: plain, mask, token, generalize or hidden (plain on personal data needs a reason)',
        tags: ['catalog'],
        params: z.object({ id: DatasetIdSchema }),
        body: SetPoliciesSchema,
        response: { 200: DatasetViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 422) },
      },
    }, async (request) => controlPlane.catalog.setPolicies(actorOf(request), request.params.id, request.body));

    app.post('/v1/datasets/:id/withdraw', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Withdraw a dataset: every tenant\'s queries, tables built from it, exports and grants of it stop at once (copies are kept, refused) until it is reinstated',
        tags: ['catalog'],
        params: z.object({ id: DatasetIdSchema }),
        body: WithdrawDatasetSchema,
        response: { 200: DatasetViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => controlPlane.catalog.withdraw(actorOf(request), request.params.id, request.body));

    app.post('/v1/datasets/:id/reinstate', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Reinstate a withdrawn dataset: its copies and the tables built from them answer again',
        tags: ['catalog'],
        params: z.object({ id: DatasetIdSchema }),
        body: ReinstateDatasetSchema,
        response: { 200: DatasetViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 409) },
      },
    }, async (request) => controlPlane.catalog.reinstate(actorOf(request), request.params.id, request.body));

    app.post('/v1/datasets/:id/policy/preview', {
      config: SUPERVISOR_ONLY,
      schema: {
        summary: 'Preview column policies (same body as PUT …/policy): what they would make of five synthetic values per column; nothing is stored',
        tags: ['catalog'],
        params: z.object({ id: DatasetIdSchema }),
        body: SetPoliciesSchema,
        response: { 200: PolicyPreviewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404, 422) },
      },
    }, async (request) => controlPlane.catalog.previewPolicies(request.params.id, request.body));

    app.get('/v1/datasets', {
      config: ALL_ROLES,
      schema: {
        summary: 'The catalog: everything for supervisors, metadata for others, existence only for 不予共享',
        tags: ['catalog'],
        response: { 200: z.object({ datasets: z.array(DatasetViewSchema) }), ...errorResponses(...AUTH_ERROR_STATUSES) },
      },
    }, async (request) => {
      const datasets = await controlPlane.catalog.list(request.claims.role);
      // SECURITY: an operator learns of its own tenant's grants only (the caller's org, never a parameter).
      return { datasets: request.claims.role === 'operator' ? await controlPlane.grants.annotate(request.claims.org, datasets) : datasets };
    });

    app.get('/v1/datasets/:id', {
      config: ALL_ROLES,
      schema: {
        summary: 'One dataset; supervisors see column profiles, PII findings, versions and the progress of a version still loading',
        tags: ['catalog'],
        params: z.object({ id: DatasetIdSchema }),
        response: { 200: DatasetViewSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 404) },
      },
    }, async (request) => {
      const dataset = await controlPlane.catalog.get(request.params.id, request.claims.role);
      return request.claims.role === 'operator' ? (await controlPlane.grants.annotate(request.claims.org, [dataset]))[0]! : dataset;
    });
  };
}

function parseJson(text: string | undefined): unknown {
  if (text === undefined) throw new DomainError('REQ_ERR_VALIDATION', 'meta: send the dataset metadata as a JSON field `meta`');
  try {
    return JSON.parse(text);
  } catch {
    throw new DomainError('REQ_ERR_BAD_JSON', 'meta: not valid JSON');
  }
}
