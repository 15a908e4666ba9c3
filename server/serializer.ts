import fastJsonStringify from 'fast-json-stringify';
import type { FastifySerializerCompiler } from 'fastify/types/schema.js';
import { z } from 'zod';

/**
 * Response serialization from the routes' zod schemas, compiled once per route to
 * fast-json-stringify (Fastify's own serializer) through zod's JSON Schema export.
 *
 * Why not the type provider's zod serializer: it validates every response with zod before
 * JSON.stringify, which cost ~10% of authenticated read throughput (bench/). Handlers are already
 * type-checked against the same schemas, and fast-json-stringify still writes only declared
 * properties (an undeclared field never leaks) and fails on a missing required one.
 */
export const zodSerializerCompiler: FastifySerializerCompiler<unknown> = ({ schema }) => {
  const jsonSchema = schema instanceof z.ZodType ? z.toJSONSchema(schema, { io: 'output', unrepresentable: 'any' }) : (schema as object);
  return fastJsonStringify(jsonSchema as Parameters<typeof fastJsonStringify>[0]);
};
