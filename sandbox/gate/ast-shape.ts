import { createHash } from 'node:crypto';
import type { Json } from './ast-walk.js';

/**
 * The shape of a parsed query: its AST without constant values and source positions, hashed. Two
 * queries with the same shape differ only in literals (`id = 41` and `id = 42`), and DuckDB binds
 * tables by name, never by a literal's value (a quoted name in FROM, `FROM 'x.csv'`, parses as a
 * table name, not a constant; functions that take a name as a string are not on the allow-list
 * anyway). So under one catalog version they scan the same tables, and the gate's plan check, the
 * costliest part of a new query, is decided once per shape rather than once per text.
 *
 * A constant keeps its type (so `'1'` and `1` differ) and whether it is NULL; list and struct
 * constants keep their types too, which hold their sizes for fixed-size arrays.
 */
export function astShapeKey(ast: Json): string {
  const shape = JSON.stringify(ast, function (this: Record<string, Json>, key: string, value: Json) {
    if (key === 'query_location') return undefined;
    if (key === 'value' && this.class === 'CONSTANT' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
      return { type: value.type ?? null, is_null: value.is_null ?? null };
    }
    return value;
  });
  return createHash('sha256').update(shape).digest('base64');
}
