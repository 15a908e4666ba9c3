import type { DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import type { PreparedUpload } from './prepare-upload.js';

/**
 * How trusted code reads an uploaded CSV with DuckDB (tenant uploads and dataset ingest alike):
 * strict parsing, every column as text first, then the narrowest type every value fits.
 */

/**
 * Strict parsing with the dialect sniffed and the header parsed by trusted code (prepare-upload.ts),
 * never DuckDB's own detection: every row must have exactly the header's fields; all text.
 */
export function readCsvSql(upload: Extract<PreparedUpload, { format: 'csv' }>): string {
  const columns = upload.columns.map((name) => `${sqlString(name)}: 'VARCHAR'`).join(', ');
  return `read_csv(${sqlString(upload.path)}, header = true, auto_detect = false, delim = ${sqlString(upload.delimiter)}, quote = '"',
    escape = ${sqlString(upload.escape)}, strict_mode = true, null_padding = false, columns = {${columns}})`;
}

/**
 * Types tried for each CSV column, narrowest first, each with what a value must look like (a cast
 * alone is too lenient: '10.5' casts to BIGINT 11). VARCHAR when none fits every value.
 * `strict` is the same pattern minus identifier-like values (below), in one regular expression:
 * what a value must look like to load into a column already typed from a sample.
 */
const CANDIDATE_TYPES = [
  { type: 'BIGINT', pattern: '[+-]?[0-9]{1,15}', strict: '[+-]?(0|[1-9][0-9]{0,9})' },
  { type: 'DOUBLE', pattern: '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?', strict: undefined },
  { type: 'DATE', pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}', strict: '[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}' },
  { type: 'TIMESTAMP', pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?', strict: '[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?' },
  { type: 'BOOLEAN', pattern: '(?i)(true|false)', strict: '(?i)(true|false)' },
] as const;

/**
 * Values with a leading zero, or more than 10 digits in a row (identity numbers, mobile numbers,
 * bank cards), keep a column text: they are identifiers, and a number would change or expose them
 * differently.
 */
const IDENTIFIER_LIKE = '^[+-]?0[0-9]|[0-9]{11}';

const valueOf = (name: string) => `NULLIF(${quoteIdentifier(name)}, '')`;

/** The narrowest candidate type every non-empty value of each column in `source` (a table) fits, in one pass. */
export async function inferTypes(connection: DuckDBConnection, source: string, names: readonly string[]): Promise<string[]> {
  const perColumn = names.map((name) => {
    const value = valueOf(name);
    const misfits = CANDIDATE_TYPES.map(({ type, pattern }) =>
      `count(*) FILTER (WHERE ${value} IS NOT NULL AND (NOT regexp_full_match(${value}, '${pattern}') OR TRY_CAST(${value} AS ${type}) IS NULL))`);
    return `count(${value}), count(*) FILTER (WHERE regexp_matches(${value}, '${IDENTIFIER_LIKE}')), ${misfits.join(', ')}`;
  });
  const row = ((await connection.runAndReadAll(`SELECT ${perColumn.join(', ')} FROM ${source}`)).getRowsJS()[0] ?? []).map(Number);
  const width = 2 + CANDIDATE_TYPES.length;
  return names.map((_, k) => {
    const [present, identifierLike, ...counts] = row.slice(k * width, (k + 1) * width);
    if (!present || identifierLike) return 'VARCHAR';
    const fits = counts.findIndex((count) => count === 0);
    return fits < 0 ? 'VARCHAR' : CANDIDATE_TYPES[fits]!.type;
  });
}

/** Marks the error a strict cast raises, so that the caller can tell it from a CSV error. */
export const MISFIT = 'indomain:misfit';

/**
 * `name` cast to `type` as an output column. With `strict`, a value that inference would not have
 * given this type raises an error (MISFIT) instead of being cast leniently: for types guessed from
 * a sample, checked on every row in the same pass that loads them.
 */
export function castSql(name: string, type: string, strict: boolean): string {
  if (type === 'VARCHAR') return quoteIdentifier(name);
  const value = valueOf(name);
  const output = quoteIdentifier(name);
  const candidate = CANDIDATE_TYPES.find((c) => c.type === type)!;
  if (!strict) return `CAST(${value} AS ${type}) AS ${output}`;
  const fits = candidate.strict ? `regexp_full_match(${value}, '${candidate.strict}')`
    : `regexp_full_match(${value}, '${candidate.pattern}') AND NOT regexp_matches(${value}, '${IDENTIFIER_LIKE}')`;
  return `CASE WHEN ${value} IS NULL THEN NULL WHEN ${fits} THEN coalesce(TRY_CAST(${value} AS ${type}), error('${MISFIT}')) ELSE error('${MISFIT}') END AS ${output}`;
}

/** DuckDB's CSV errors say "CSV Error on Line: N" and the field counts; name line and column. */
export function malformedCsv(message: string): DomainError {
  const line = /CSV Error on Line: (\d+)/.exec(message)?.[1];
  const counts = /Expected Number of Columns: (\d+) Found: (\d+)/.exec(message);
  if (line && counts) {
    const [expected, found] = [Number(counts[1]), Number(counts[2])];
    const column = found > expected ? expected + 1 : found + 1;
    return new DomainError('UPL_ERR_MALFORMED', `line ${line}, column ${column}: expected ${expected} fields, found ${found}`, { line: Number(line), column });
  }
  if (line && /unterminated quote/i.test(message)) return new DomainError('UPL_ERR_MALFORMED', `line ${line}: a quoted value is not terminated`, { line: Number(line) });
  if (line) return new DomainError('UPL_ERR_MALFORMED', `line ${line}: the row does not parse as CSV`, { line: Number(line) });
  return new DomainError('UPL_ERR_MALFORMED', 'the file does not parse as CSV');
}
