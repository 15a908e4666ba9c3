import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import writeXlsxFile from 'write-excel-file/node';
import { DomainError } from '../../core/errors.js';
import { isNumberType, neutralizeCsvCell, neutralizeCsvCellSql, quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { flushDirectory } from '../atomic-write.js';
import { planFingerprint } from './export-fingerprint.js';
import type { DeliveredFile, ExportFormat, ExportRows, ExportSnapshot } from './protocol.js';

/**
 * The files of exports, written and read by trusted code on an engine process's worker thread, in a
 * trusted in-memory DuckDB instance of its own (a tenant's engine is locked and cannot write files).
 * Paths are computed by the caller from the data dir and the export's ids (`data-paths.ts`).
 *
 * A snapshot is written once (`snapshot.parquet`, read-only afterwards) and never replaced: a new
 * version is a new directory. The delivered file of an approved version goes to `package/`.
 */
export const SNAPSHOT_FILE = 'snapshot.parquet';
/** The entity sets of an aggregate snapshot's cells (`cell-entities.ts`), for differencing. */
export const CELLS_FILE = 'cells.parquet';
export const PACKAGE_DIR = 'package';
const DATA_FILE: Record<ExportFormat, string> = { csv: 'data.csv', parquet: 'data.parquet', xlsx: 'data.xlsx' };
/** UTF-8 byte order mark: Excel and WPS read a CSV without one as the local ANSI code page (GBK). */
const UTF8_BOM = '\uFEFF';
/** Excel's limit of rows per sheet (with the header). */
const XLSX_MAX_ROWS = 1_048_575;
/** Excel's limit on a cell's text (WPS keeps it too): a longer cell is cut or the file "repaired" on opening. */
const XLSX_MAX_CELL_CHARS = 32_767;

let trusted: Promise<DuckDBInstance> | undefined;

/** A connection to the process's trusted in-memory instance (export files, the release store). */
export async function trustedConnection(): Promise<DuckDBConnection> {
  trusted ??= DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  return (await trusted).connect();
}

/** A table name of its own for one piece of work in the shared trusted instance. */
export function scratchName(): string {
  return `export_${randomBytes(6).toString('hex')}`;
}

/**
 * Writes the rows a gated query streams as the version's snapshot. Refuses to replace one (a version
 * is immutable), and leaves nothing behind on failure.
 */
export async function writeSnapshot(dir: string, columns: { name: string; type: string }[], chunks: AsyncIterable<DuckDBDataChunk>): Promise<ExportSnapshot> {
  const names = new Set(columns.map((c) => c.name.toLowerCase()));
  if (names.size !== columns.length) throw new DomainError('EXP_ERR_BAD_COLUMNS', 'the output has two columns of the same name: give each column its own alias');
  if (columns.length === 0) throw new DomainError('EXP_ERR_BAD_COLUMNS', 'the output has no columns');
  const target = path.join(dir, SNAPSHOT_FILE);
  // SECURITY: a version's snapshot is immutable: written once, never replaced.
  if (fs.existsSync(target)) throw new DomainError('EXP_ERR_INVALID_STATE', 'this export version already has a snapshot');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${target}.${process.pid}.tmp`;
  const table = scratchName();
  const connection = await trustedConnection();
  try {
    await connection.run(`CREATE TABLE ${table} (${columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ')})`);
    const appender = await connection.createAppender(table);
    try {
      for await (const chunk of chunks) appender.appendDataChunk(chunk);
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await connection.run(`COPY (SELECT ${columns.map(exactInParquet).join(', ')} FROM ${table}) TO ${sqlString(temp)} (FORMAT parquet)`);
    return await sealSnapshot(connection, temp, target, columns);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    connection.closeSync();
  }
}

/**
 * A snapshot column as Parquet keeps it exactly: DuckDB writes HUGEINT and UHUGEINT (every sum of
 * integers) to Parquet as DOUBLE, which loses digits past 2^53 and made the fingerprint mark a sum
 * as a measure (red-team pass 35b); as DECIMAL(38, 0) they stay integers, exact and unmarked.
 * SECURITY: invariant 8: TRY_CAST, never CAST: a value of 39 digits (no sum of real data reaches
 * 10^38) is written NULL, where a failing cast made the export fail exactly when one person's row
 * put HUGEINT's least value in a sum (red-team pass 19a's world pair).
 */
function exactInParquet(column: { name: string; type: string }): string {
  const name = quoteIdentifier(column.name);
  return /^U?HUGEINT$/.test(column.type) ? `TRY_CAST(${name} AS DECIMAL(38, 0)) AS ${name}` : name;
}

/**
 * Writes the entity sets of a version's cells beside its snapshot (`cells.parquet`: row, column,
 * label, entity; one entry per distinct member). Batches are entries, or data chunks of those four
 * columns (INTEGER, VARCHAR, VARCHAR, VARCHAR) appended as they are. Immutable like the snapshot;
 * nothing is left behind on failure. Trusted code: the entity keys never reach the tenant's SQL.
 */
export async function writeCells(dir: string, batches: AsyncIterable<[number, string, string, string, (bigint | null)?][] | DuckDBDataChunk>): Promise<{ entries: number }> {
  const target = path.join(dir, CELLS_FILE);
  if (fs.existsSync(target)) throw new DomainError('EXP_ERR_INVALID_STATE', 'this export version already has its cell entity sets');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const temp = `${target}.${process.pid}.tmp`;
  const table = scratchName();
  const connection = await trustedConnection();
  try {
    await connection.run(`CREATE TABLE ${table} ("row" INTEGER, "column" VARCHAR, label VARCHAR, entity VARCHAR, contribution BIGINT)`);
    const appender = await connection.createAppender(table);
    try {
      for await (const batch of batches) {
        if (!Array.isArray(batch)) {
          appender.appendDataChunk(batch);
          continue;
        }
        for (const [row, column, label, entity, contribution] of batch) {
          appender.appendInteger(row);
          appender.appendVarchar(column);
          appender.appendVarchar(label);
          appender.appendVarchar(entity);
          if (contribution === undefined || contribution === null) appender.appendNull();
          else appender.appendBigInt(contribution);
          appender.endRow();
        }
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
    await connection.run(`COPY (SELECT DISTINCT * FROM ${table} ORDER BY ALL) TO ${sqlString(temp)} (FORMAT parquet)`);
    // SECURITY: immutable, as the snapshot.
    return { entries: await sealParquet(connection, temp, target) };
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    connection.closeSync();
  }
}


/** Characters of a cell shown to reviewers; a longer one is cut, marked with its length and a hash of the whole. */
const SHOWN_CELL_CHARS = 200;
/** Types shown as they are: short by nature. Every other (text, blobs, lists, structs, maps) as text, cut. */
const SHORT_TYPE = /^(BOOLEAN|U?(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT)|FLOAT|DOUBLE|DECIMAL\(.*\)|DATE|TIME.*|TIMESTAMP.*|INTERVAL|UUID)$/;

/**
 * The first rows of a snapshot, as JSON values (for reviewers), every cell of a type that can be long
 * cut to SHOWN_CELL_CHARS characters: marked as cut, with its length and the start of its SHA-256, so
 * that two cells shown alike are alike whole (the version diff compares what is shown). SECURITY:
 * invariants 3 and 9: the operator chooses what an export holds, and 1,000 rows of 200,000-character
 * cells put 400 MB into the API server per reviewer's GET (red-team pass 33b).
 */
export async function readSnapshotRows(dir: string, limit: number): Promise<ExportRows> {
  const connection = await trustedConnection();
  try {
    const file = `read_parquet(${sqlString(path.join(dir, SNAPSHOT_FILE))})`;
    const described = await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${file}`);
    const columns = described.getRowsJS().map((row) => ({ name: String(row[0]), type: String(row[1]) }));
    const shown = columns.map(({ name, type }) => {
      const column = quoteIdentifier(name);
      if (SHORT_TYPE.test(type)) return column;
      const text = type === 'VARCHAR' ? column : `CAST(${column} AS VARCHAR)`;
      return `CASE WHEN length(${text}) > ${SHOWN_CELL_CHARS} THEN left(${text}, ${SHOWN_CELL_CHARS}) || '… (cut: ' || length(${text}) || ' characters, sha256 ' || left(sha256(${text}), 16) || ')' ELSE ${type === 'VARCHAR' ? column : text} END`;
    });
    const reader = await connection.runAndReadAll(`SELECT ${shown.join(', ')} FROM ${file} LIMIT ${Math.floor(limit)}`);
    return { columns, rows: reader.getRowsJson() as unknown[][] };
  } finally {
    connection.closeSync();
  }
}

/**
 * THE transformation from a version's snapshot to the file its recipient receives. Every delivered
 * byte passes here, so the recipient's fingerprint (issue 11, item 6: re-keyed tokens, keyed marks;
 * `export-fingerprint.ts`) is applied here, to the rows in a staging table, before any is written.
 * Writes `package/data.<format>` and returns its SHA-256 and how it is fingerprinted.
 */
export async function deliverSnapshot(dir: string, format: ExportFormat, fingerprintKey: Buffer): Promise<DeliveredFile> {
  const packageDir = path.join(dir, PACKAGE_DIR);
  fs.mkdirSync(packageDir, { recursive: true, mode: 0o700 });
  const target = path.join(packageDir, DATA_FILE[format]);
  const temp = `${target}.${process.pid}.tmp`;
  const table = scratchName();
  const connection = await trustedConnection();
  try {
    const snapshot = `read_parquet(${sqlString(path.join(dir, SNAPSHOT_FILE))})`;
    // SECURITY: issue 11 item 6: no row leaves without its recipient's fingerprint (tokens re-keyed, marks applied).
    const { select, fingerprint } = await planFingerprint(connection, snapshot, fingerprintKey);
    await connection.run(`CREATE TABLE ${table} AS SELECT ${select} FROM ${snapshot}`);
    if (format === 'parquet') await connection.run(`COPY ${table} TO ${sqlString(temp)} (FORMAT parquet)`);
    else if (format === 'csv') await writeCsv(connection, table, temp);
    else await writeXlsx(connection, table, temp);
    fs.chmodSync(temp, 0o400);
    fs.renameSync(temp, target);
    flushDirectory(packageDir);
    const { sha256, bytes } = hashFile(target);
    return { file: path.join(PACKAGE_DIR, DATA_FILE[format]), sha256, bytes, fingerprint };
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    connection.closeSync();
  }
}

/**
 * CSV as UTF-8 with a BOM, CRLF, quoting where needed (DuckDB's CSV writer), and every text cell that
 * a spreadsheet would read as a formula (starting with = + - @, or a tab, carriage return or line
 * feed, also after a `;` or `,` inside the cell: `csv-cells.ts`) prefixed with a single quote (OWASP's
 * CSV injection advice): the file is opened by people, in
 * Excel or WPS. Cells of numeric columns are numbers to a spreadsheet, never formulas, and stay as
 * they are. DuckDB writes the rows: a JavaScript loop took 13.7 s to package 500k rows, this 4.2 s
 * (approval included, on a loaded 2-core machine; docs/exports.md).
 */
async function writeCsv(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  const columns = await describe(connection, `SELECT * FROM ${table}`);
  const select = columns.map((c) => {
    const alias = quoteIdentifier(neutralizeCsvCell(c.name));
    if (isNumberType(c.type)) return `${quoteIdentifier(c.name)} AS ${alias}`;
    // SECURITY: CSV injection: a text cell that a spreadsheet would run as a formula is quoted as text.
    return `${neutralizeCsvCellSql(`CAST(${quoteIdentifier(c.name)} AS VARCHAR)`)} AS ${alias}`;
  }).join(', ');
  const rowsFile = `${file}.rows.tmp`;
  try {
    await connection.run(`COPY (SELECT ${select} FROM ${table}) TO ${sqlString(rowsFile)} (FORMAT csv, HEADER, DELIMITER ',', QUOTE '"', ESCAPE '"', NEW_LINE '\r\n')`);
    const fd = fs.openSync(file, 'wx', 0o600);
    try {
      fs.writeSync(fd, UTF8_BOM);
      const source = fs.openSync(rowsFile, 'r');
      try {
        const buffer = Buffer.allocUnsafe(1 << 20);
        for (let read = fs.readSync(source, buffer); read > 0; read = fs.readSync(source, buffer)) fs.writeSync(fd, buffer, 0, read);
      } finally {
        fs.closeSync(source);
      }
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } finally {
    fs.rmSync(rowsFile, { force: true });
  }
}

/** XLSX: numbers stay numbers, everything else is a string cell (never a formula). */
async function writeXlsx(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  const reader = await connection.runAndReadAll(`SELECT * FROM ${table}`);
  if (reader.currentRowCount > XLSX_MAX_ROWS) throw new DomainError('EXP_ERR_TOO_MANY_ROWS', `XLSX holds at most ${XLSX_MAX_ROWS} rows: choose csv or parquet`);
  const header = reader.columnNames().map((name) => ({ value: name, fontWeight: 'bold' as const }));
  const rows = (reader.getRowsJson() as unknown[][]).map((row) => row.map((value) => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'number' || typeof value === 'boolean') return value;
    const text = typeof value === 'string' ? value : JSON.stringify(value);
    // A recipient's spreadsheet would cut the cell: the package is refused rather than delivered altered.
    if (text.length > XLSX_MAX_CELL_CHARS) throw new DomainError('EXP_ERR_XLSX_CELL_TOO_LONG', `a cell holds more than ${XLSX_MAX_CELL_CHARS.toLocaleString('en')} characters, more than Excel and WPS keep in one: request csv or parquet`);
    return text;
  }));
  await writeXlsxFile([header, ...rows]).toFile(file);
}

export async function describe(connection: DuckDBConnection, select: string): Promise<{ name: string; type: string }[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE ${select}`);
  return (reader.getRowsJS() as [string, string][]).map(([name, type]) => ({ name, type }));
}

/** Moves a written temp file into place read-only, and describes it. */
export async function sealSnapshot(connection: DuckDBConnection, temp: string, target: string, columns: { name: string; type: string }[]): Promise<ExportSnapshot> {
  const rowCount = await sealParquet(connection, temp, target);
  const { sha256, bytes } = hashFile(target);
  return { file: SNAPSHOT_FILE, sha256, bytes, rowCount, columns };
}

/**
 * Makes a Parquet file written at `temp` the immutable, read-only `target` and returns its rows.
 * SECURITY: immutability: link fails when the target exists (a rename would replace it).
 */
export async function sealParquet(connection: DuckDBConnection, temp: string, target: string): Promise<number> {
  const counted = await connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(${sqlString(temp)})`);
  fs.chmodSync(temp, 0o400);
  fs.linkSync(temp, target);
  fs.rmSync(temp, { force: true });
  flushDirectory(path.dirname(target));
  return Number(counted.getRowsJS()[0]?.[0] ?? 0);
}

export function hashFile(file: string): { sha256: string; bytes: number } {
  // A megabyte at a time: a package may be hundreds of megabytes (red-team pass 33b).
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(1024 * 1024);
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  try {
    for (let read = fs.readSync(fd, chunk); read > 0; read = fs.readSync(fd, chunk)) {
      hash.update(chunk.subarray(0, read));
      bytes += read;
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), bytes };
}
