import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { FastifyRequest } from 'fastify';
import type { jsonSchemaTransform } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { DomainError } from '../core/errors.js';
import { cutUnits } from '../core/text.js';

declare module 'fastify' {
  interface FastifySchema {
    /**
     * The multipart form a route reads with `receiveForm`, for the OpenAPI document only (so /docs
     * can send a file): Fastify does not validate it (the body is streamed, not parsed into
     * `request.body`); the route checks each field itself.
     */
    multipartForm?: z.ZodObject;
  }
}

/** A form's file part, as OpenAPI 3.0 describes one (swagger-ui then offers a file picker). */
export const FormFileSchema = z.string().meta({ format: 'binary', description: 'the file' });

type SchemaTransform = typeof jsonSchemaTransform;

/**
 * Wraps the zod schema transform of @fastify/swagger so that a route's `multipartForm` becomes its
 * documented body (with its `consumes: ['multipart/form-data']`, a multipart request body).
 */
export function documentMultipartForms(transform: SchemaTransform): SchemaTransform {
  return (input) => {
    const out = transform(input);
    const form = input.schema?.multipartForm;
    const schema = out.schema as Record<string, unknown> | undefined;
    if (schema) delete schema.multipartForm;
    if (form && schema) {
      const { $schema: _, ...body } = z.toJSONSchema(form, { target: 'openapi-3.0', io: 'input' }) as Record<string, unknown>;
      schema.body = body;
    }
    return out;
  };
}

/** The optional `sheet` field of uploads and ingests: a sheet's name, or its 1-based position. */
export const SheetSchema = z.string().trim().min(1).max(100).optional();

export interface ReceivedForm {
  fields: Record<string, string>;
  /** The `file` part, streamed to a private temp file; the caller deletes it. */
  file: { path: string; filename: string };
}

/**
 * Reads a multipart form with text fields and one `file` part. The file streams to a temp file
 * named by the server (the client's filename is kept as a label only, never used as a path); size
 * limits are enforced by @fastify/multipart, the file's by route (`maxFileBytes`: tenant uploads
 * and dataset ingest differ). On any failure the temp file is removed.
 */
export async function receiveForm(request: FastifyRequest, tempDir: string, maxFileBytes: number): Promise<ReceivedForm> {
  fs.mkdirSync(tempDir, { recursive: true, mode: 0o700 });
  const fields: Record<string, string> = {};
  let file: ReceivedForm['file'] | undefined;
  try {
    for await (const part of request.parts({ limits: { fileSize: maxFileBytes } })) {
      if (part.type === 'field') {
        fields[part.fieldname] = String(part.value);
      } else if (part.fieldname === 'file' && !file) {
        // SECURITY: the server names the file; the client's filename is a label, never a path.
        file = { path: path.join(tempDir, randomUUID()), filename: cutUnits(part.filename, 200) };
        await pipeline(part.file, fs.createWriteStream(file.path, { mode: 0o600 }));
      } else {
        part.file.resume();
      }
    }
  } catch (error) {
    if (file) fs.rmSync(file.path, { force: true });
    throw error;
  }
  if (!file) throw new DomainError('UPL_ERR_NO_FILE', 'send a multipart form with a `file` part');
  return { fields, file };
}
