import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { sqlString, type PiiKind } from '../../desensitize/index.js';
import { castSql, inferTypes, malformedCsv, readCsvSql } from '../upload/csv-sql.js';
import type { PreparedUpload } from '../upload/prepare-upload.js';
import { UPLOAD_LIMITS } from '../upload/prepare-upload.js';
import { recognizePersonalColumns } from './recognize-columns.js';

/**
 * Reads an uploaded file in a trusted, in-memory DuckDB instance of the worker thread (never the
 * tenant's locked engine, which cannot read files), infers column types, and hands the typed rows
 * over as data chunks for the tenant engine to append, with the columns recognized as personal data.
 * The caller closes the result.
 */
export interface UploadRows {
  columns: { name: string; type: string }[];
  /** Columns recognized as personal data, by kind (`recognize-columns.ts`). */
  pii: Record<string, PiiKind>;
  chunks(): AsyncIterable<DuckDBDataChunk>;
  close(): void;
}

let trusted: Promise<DuckDBInstance> | undefined;

export async function readUpload(upload: PreparedUpload, options: { maxRows: number; sampleSize: number; today: string }): Promise<UploadRows> {
  const { maxRows } = options;
  trusted ??= DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await (await trusted).connect();
  try {
    const select = upload.format === 'csv' ? await stageCsv(connection, upload) : await stageParquet(connection, upload.path);
    const rows = upload.format === 'csv'
      ? Number((await connection.runAndReadAll('SELECT count(*) FROM upload_raw')).getRowsJS()[0]?.[0] ?? 0)
      : Number((await connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(${sqlString(upload.path)})`)).getRowsJS()[0]?.[0] ?? 0);
    // SECURITY: a tenant cannot fill the engine with a small file that expands to millions of rows.
    if (rows > maxRows) throw new DomainError('UPL_ERR_TOO_MANY_ROWS', `the file holds ${rows} rows; at most ${maxRows} may be uploaded at once`);
    // Recognized on the values as uploaded (CSV: the text, before any cast).
    const names = upload.format === 'csv' ? upload.columns : (await connection.runAndReadAll(`DESCRIBE ${select}`)).getRowsJS().map((row) => String(row[0]));
    const pii = await recognizePersonalColumns(connection, upload.format === 'csv' ? 'upload_raw' : `(${select})`, names, options);
    const result = await connection.stream(select);
    const columns = result.columnNames().map((name, i) => ({ name, type: result.columnType(i).toString() }));
    return {
      columns,
      pii,
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
  try {
    await connection.run(`CREATE OR REPLACE TEMP TABLE upload_raw AS SELECT * FROM ${readCsvSql(upload)}`);
  } catch (error) {
    throw malformedCsv((error as Error).message ?? '');
  }
  const types = await inferTypes(connection, 'upload_raw', upload.columns);
  return `SELECT ${upload.columns.map((name, i) => castSql(name, types[i]!, false)).join(', ')} FROM upload_raw`;
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
