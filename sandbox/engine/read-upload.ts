import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import type { PreparedUpload } from '../upload/prepare-upload.js';
import { UPLOAD_LIMITS } from '../upload/prepare-upload.js';

/**
 * Reads an uploaded file in a trusted, in-memory DuckDB instance of the worker thread (never the
 * tenant's locked engine, which cannot read files), infers column types, and hands the typed rows
 * over as data chunks for the tenant engine to append. The caller closes the result.
 */
export interface UploadRows {
  columns: { name: string; type: string }[];
  chunks(): AsyncIterable<DuckDBDataChunk>;
  close(): void;
}

let trusted: Promise<DuckDBInstance> | undefined;

/**
 * Types tried for each CSV column, narrowest first, each with what a value must look like (a cast
 * alone is too lenient: '10.5' casts to BIGINT 11). VARCHAR when none fits every value.
 */
const CANDIDATE_TYPES = [
  { type: 'BIGINT', pattern: '[+-]?[0-9]{1,15}' },
  { type: 'DOUBLE', pattern: '[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?' },
  { type: 'DATE', pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}' },
  { type: 'TIMESTAMP', pattern: '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?' },
  { type: 'BOOLEAN', pattern: '(?i)(true|false)' },
] as const;

export async function readUpload(upload: PreparedUpload): Promise<UploadRows> {
  trusted ??= DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await (await trusted).connect();
  try {
    const select = upload.format === 'csv' ? await stageCsv(connection, upload) : await stageParquet(connection, upload.path);
    const result = await connection.stream(select);
    const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    return {
      columns,
      async *chunks() {
        for (;;) {
          const chunk = await result.fetchChunk();
          if (!chunk || chunk.rowCount === 0) return;
          yield chunk;
        }
      },
      close: () => {
        void connection.run('DROP TABLE IF EXISTS upload_raw').finally(() => connection.closeSync());
      },
    };
  } catch (error) {
    connection.closeSync();
    throw error;
  }
}

async function stageCsv(connection: DuckDBConnection, upload: Extract<PreparedUpload, { format: 'csv' }>): Promise<string> {
  const columns = upload.columns.map((name) => `${sqlString(name)}: 'VARCHAR'`).join(', ');
  try {
    // Strict RFC 4180 with the header we parsed: every row must have exactly its fields.
    await connection.run(`CREATE OR REPLACE TEMP TABLE upload_raw AS SELECT * FROM read_csv(${sqlString(upload.path)},
      header = true, auto_detect = false, delim = ',', quote = '"', escape = '"', strict_mode = true,
      null_padding = false, columns = {${columns}})`);
  } catch (error) {
    throw malformedCsv((error as Error).message ?? '');
  }
  const casts: string[] = [];
  for (const name of upload.columns) {
    const type = await inferType(connection, name);
    const value = `NULLIF(${quoteIdentifier(name)}, '')`;
    casts.push(type === 'VARCHAR' ? `${quoteIdentifier(name)}` : `CAST(${value} AS ${type}) AS ${quoteIdentifier(name)}`);
  }
  return `SELECT ${casts.join(', ')} FROM upload_raw`;
}

/**
 * The narrowest candidate type every non-empty value casts to. Values with a leading zero, or more
 * than 10 digits (identity numbers, mobile numbers, bank cards), stay text: they are identifiers,
 * and a number would change or expose them differently.
 */
async function inferType(connection: DuckDBConnection, name: string): Promise<string> {
  const value = `NULLIF(${quoteIdentifier(name)}, '')`;
  const misfits = CANDIDATE_TYPES.map(({ type, pattern }) =>
    `count(*) FILTER (WHERE ${value} IS NOT NULL AND (NOT regexp_full_match(${value}, '${pattern}') OR TRY_CAST(${value} AS ${type}) IS NULL))`);
  const reader = await connection.runAndReadAll(`SELECT count(${value}),
    count(*) FILTER (WHERE regexp_matches(${value}, '^[+-]?0[0-9]') OR regexp_matches(${value}, '[0-9]{11,}')),
    ${misfits.join(', ')} FROM upload_raw`);
  const [present, keepText, ...counts] = (reader.getRowsJS()[0] ?? []).map(Number);
  if (!present || keepText) return 'VARCHAR';
  const fits = counts.findIndex((count) => count === 0);
  return fits < 0 ? 'VARCHAR' : CANDIDATE_TYPES[fits]!.type;
}

async function stageParquet(connection: DuckDBConnection, path: string): Promise<string> {
  const select = `SELECT * FROM read_parquet(${sqlString(path)})`;
  try {
    const described = await connection.runAndReadAll(`DESCRIBE ${select}`);
    if (described.currentRowCount > UPLOAD_LIMITS.maxColumns) throw new DomainError('UPL_ERR_TOO_MANY_COLUMNS', `${described.currentRowCount} columns; at most ${UPLOAD_LIMITS.maxColumns}`);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('UPL_ERR_MALFORMED', 'the Parquet file cannot be read');
  }
  return select;
}

/** DuckDB's CSV errors say "CSV Error on Line: N" and the field counts; name line and column. */
function malformedCsv(message: string): DomainError {
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

