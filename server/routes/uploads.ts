import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { TableNameSchema } from '../../sandbox/index.js';
import type { ControlPlane } from '../../tenants/index.js';
import { actorOf } from '../auth.js';
import { AUTH_ERROR_STATUSES, errorResponses } from '../errors.js';
import { TableSchema } from './tables.js';


/**
 * External data into the operator's workspace: multipart with a `name` field (the table name) and a
 * `file` (CSV in UTF-8 or GBK/GB18030 with a header row, or Parquet). The file streams to a private
 * temp dir under the data dir and is deleted once imported or refused.
 */
export function uploadRoutes(controlPlane: ControlPlane, dataDir: string): FastifyPluginAsyncZod {
  const tempDir = path.join(dataDir, 'tmp', 'uploads');
  return async (app) => {
    app.post('/v1/uploads', {
      config: { access: { roles: ['operator'] } },
      schema: {
        summary: 'Upload external data (CSV UTF-8/GBK or Parquet) as a workspace table: multipart fields name, file',
        tags: ['sandbox'],
        consumes: ['multipart/form-data'],
        response: { 201: TableSchema, ...errorResponses(...AUTH_ERROR_STATUSES, 409, 413, 415, 429) },
      },
    }, async (request, reply) => {
      fs.mkdirSync(tempDir, { recursive: true, mode: 0o700 });
      let name: string | undefined;
      let saved: { path: string; filename: string } | undefined;
      try {
        for await (const part of request.parts()) {
          if (part.type === 'field') {
            if (part.fieldname === 'name') name = String(part.value);
          } else if (part.fieldname === 'file' && !saved) {
            const target = path.join(tempDir, randomUUID());
            saved = { path: target, filename: part.filename.slice(0, 200) };
            await pipeline(part.file, fs.createWriteStream(target, { mode: 0o600 }));
          } else {
            part.file.resume();
          }
        }
        if (!saved || name === undefined) throw new DomainError('UPL_ERR_NO_FILE', 'send a multipart form with a `name` field and a `file`');
        const parsedName = TableNameSchema.safeParse(name);
        if (!parsedName.success) throw new DomainError('REQ_ERR_VALIDATION', `name: ${parsedName.error.issues[0]?.message ?? 'invalid'}`);
        // SECURITY: into the caller's own workspace; the client's filename is a label, never a path.
        const table = await controlPlane.tables.upload(actorOf(request), request.claims.org, { name: parsedName.data, filename: saved.filename, path: saved.path });
        return reply.status(201).send(table);
      } finally {
        // The service deletes what it took; this covers refusals before it.
        if (saved) fs.rmSync(saved.path, { force: true });
      }
    });
  };
}
