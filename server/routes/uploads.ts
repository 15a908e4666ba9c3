import fs from 'node:fs';
import path from 'node:path';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { TableNameSchema } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';
import { actorOf, OPERATOR_ONLY } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';
import { FormFileSchema, receiveForm, SheetSchema } from '../multipart.js';
import { TableSchema } from './tables.js';

/**
 * External data into the operator's workspace: multipart with a `name` field (the table name) and a
 * `file` (delimited text (comma, semicolon, tab or pipe, sniffed) in UTF-8 or GBK/GB18030 with a
 * header row, an .xlsx workbook (first sheet, or the optional `sheet` field: a name or 1-based
 * position), or Parquet). The file streams to a private temp dir under the data dir and is deleted
 * once imported or refused. The answer flags each column recognized as personal data (`pii`).
 */
export function uploadRoutes(controlPlane: ControlPlane, dataDir: string, maxFileBytes: number, maxPerTenant: number): FastifyPluginAsyncZod {
  const tempDir = path.join(dataDir, 'tmp', 'uploads');
  /** Uploads each tenant has in flight, from the first byte received to the import's end. */
  const inFlight = new Map<string, number>();
  return async (app) => {
    app.post('/v1/uploads', {
      config: OPERATOR_ONLY,
      schema: {
        summary: 'Upload external data (CSV/TSV UTF-8 or GBK, .xlsx, or Parquet) as a workspace table: multipart fields name, file, optional sheet; columns recognized as personal data carry `pii`',
        tags: ['sandbox'],
        consumes: ['multipart/form-data'],
        multipartForm: z.object({
          name: TableNameSchema.describe('the workspace table to create').meta({ example: 'households' }),
          file: FormFileSchema,
        }),
        response: { 201: TableSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 409, 413, 415, 429) },
      },
    }, async (request, reply) => {
      const tenantId = request.claims.org;
      const now = inFlight.get(tenantId) ?? 0;
      // SECURITY: invariant 9: a file is written to the data dir before the engine's per-tenant cap
      // on uploads applies; without this one tenant's parallel uploads could fill the disk.
      if (now >= maxPerTenant) throw new DomainError('SBX_ERR_TENANT_BUSY', `at most ${maxPerTenant} uploads are received at once per tenant`);
      inFlight.set(tenantId, now + 1);
      try {
        return await receiveAndImport(request, reply);
      } finally {
        const left = (inFlight.get(tenantId) ?? 1) - 1;
        if (left === 0) inFlight.delete(tenantId);
        else inFlight.set(tenantId, left);
      }
    });

    async function receiveAndImport(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
      const { fields, file } = await receiveForm(request, tempDir, maxFileBytes);
      try {
        if (fields.name === undefined) throw new DomainError('UPL_ERR_NO_FILE', 'send a multipart form with a `name` field and a `file`');
        const name = TableNameSchema.safeParse(fields.name);
        if (!name.success) throw new DomainError('REQ_ERR_VALIDATION', `name: ${name.error.issues[0]?.message ?? 'invalid'}`);
        // SECURITY: into the caller's own workspace; the client's filename is a label, never a path.
        const sheet = SheetSchema.safeParse(fields.sheet);
        if (!sheet.success) throw new DomainError('REQ_ERR_VALIDATION', `sheet: ${sheet.error.issues[0]?.message ?? 'invalid'}`);
        const table = await controlPlane.tables.upload(actorOf(request), request.claims.org, { name: name.data, filename: file.filename, path: file.path, sheet: sheet.data });
        return reply.status(201).send(table);
      } finally {
        // The service deletes what it took; this covers refusals before it.
        fs.rmSync(file.path, { force: true });
      }
    }
  };
}
