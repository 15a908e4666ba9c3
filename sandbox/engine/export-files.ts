import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import writeXlsxFile from 'write-excel-file/node';
import { DomainError } from '../../core/errors.js';
import { z } from 'zod';
import { neutralizeCsvCell, neutralizeCsvCellSql, quoteIdentifier, secondarySuppression, sqlString, type DisclosureRules, type SuppressionRow } from '../../desensitize/index.js';
import { flushDirectory, writeFileAtomic } from '../atomic-write.js';
import { cellKey, failingOf, mitigateFindings, outputChecks, OutputFindingsSchema, rowRenumbering } from '../disclosure/output-findings.js';
import type { DeliveredFile, DerivedSnapshot, ExportFormat, ExportMitigation, ExportRows, ExportSnapshot, SuppressionSummary } from './protocol.js';

/**
 * The files of exports, written and read by trusted code on an engine process's worker thread, in a
 * trusted in-memory DuckDB instance of its own (a tenant's engine is locked and cannot write files).
 * Paths are computed by the caller from the data dir and the export's ids (`data-paths.ts`).
 *
 * A snapshot is written once (`snapshot.parquet`, read-only afterwards) and never replaced: a new
 * version is a new directory. The delivered file of an approved version goes to `package/`.
 */
export const SNAPSHOT_FILE = 'snapshot.parquet';
export const PACKAGE_DIR = 'package';
const DATA_FILE: Record<ExportFormat, string> = { csv: 'data.csv', parquet: 'data.parquet', xlsx: 'data.xlsx' };
/** UTF-8 byte order mark: Excel and WPS read a CSV without one as the local ANSI code page (GBK). */
const UTF8_BOM = '\uFEFF';
/** Excel's limit of rows per sheet (with the header). */
const XLSX_MAX_ROWS = 1_048_575;

let trusted: Promise<DuckDBInstance> | undefined;

async function trustedConnection(): Promise<DuckDBConnection> {
  trusted ??= DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  return (await trusted).connect();
}

/** A table name of its own for one piece of work in the shared trusted instance. */
function scratchName(): string {
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
    await connection.run(`COPY ${table} TO ${sqlString(temp)} (FORMAT parquet)`);
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
 * What the trusted process keeps next to a snapshot (never delivered): the person-level findings of
 * the output with their per-row entity counts (`reviewOutput`, measured in the tenant's process on
 * the same run), or why they could not be derived, and the cells suppression has nulled so far.
 * Mitigations read it to choose secondary cells and to re-run every check on the same statistics.
 */
export const DISCLOSURE_FILE = 'disclosure.json';
const DisclosureFileSchema = z.object({
  /** Null when the query read no personal table, or when its shape could not be checked. */
  findings: OutputFindingsSchema.nullable(),
  uncheckable: z.string().nullable(),
  /** Cells shown as null by suppression, as [row, column] of this version. */
  suppressed: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative()])),
});
export type DisclosureFile = z.infer<typeof DisclosureFileSchema>;

export function writeDisclosureFile(dir: string, content: DisclosureFile): void {
  writeFileAtomic(path.join(dir, DISCLOSURE_FILE), JSON.stringify(content), 0o400);
}

function readDisclosureFile(dir: string): DisclosureFile | undefined {
  const file = path.join(dir, DISCLOSURE_FILE);
  if (!fs.existsSync(file)) return undefined;
  return DisclosureFileSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/**
 * A mitigated version from an earlier one, in the trusted process, on the earlier version's snapshot
 * and the statistics measured with it (the same data: nothing re-runs against sources that may have
 * changed since):
 * - `round5`: the named integer columns rounded to the nearest multiple of 5 (OpenSAFELY, ACRO).
 *   Rounding cures no small cell: every finding stands, zeros are measured again.
 * - `suppress`: every row and cell that failed a check withheld (rows whose group is too small or
 *   that are not k-anonymous are removed: their keys alone would say that they exist; failing cells
 *   become null), plus secondary suppression (`secondarySuppression`) so that no total gives them
 *   back. The findings are renumbered to the rows that remain.
 * Everything else is copied as it was; rows keep their order.
 */
export async function deriveSnapshot(fromDir: string, toDir: string, mitigation: ExportMitigation, rules: DisclosureRules): Promise<DerivedSnapshot> {
  const target = path.join(toDir, SNAPSHOT_FILE);
  if (fs.existsSync(target)) throw new DomainError('EXP_ERR_INVALID_STATE', 'this export version already has a snapshot');
  const sourceFile = path.join(fromDir, SNAPSHOT_FILE);
  const source = `read_parquet(${sqlString(sourceFile)}, file_row_number = true)`;
  const previous = readDisclosureFile(fromDir);
  const connection = await trustedConnection();
  fs.mkdirSync(toDir, { recursive: true, mode: 0o700 });
  const temp = `${target}.${process.pid}.tmp`;
  const scratch = { nulled: scratchName(), removed: scratchName() };
  try {
    const columns = await describe(connection, `SELECT * FROM read_parquet(${sqlString(sourceFile)})`);
    const rowCount = Number((await connection.runAndReadAll(`SELECT count(*) FROM read_parquet(${sqlString(sourceFile)})`)).getRowsJS()[0]![0]);
    let plan: SuppressionPlan = { removed: new Set(), nulled: new Set(), summary: null };
    let select: string;
    if (mitigation.kind === 'round5') {
      const wanted = new Set(mitigation.columns);
      for (const name of mitigation.columns) {
        const column = columns.find((c) => c.name === name);
        if (!column) throw new DomainError('EXP_ERR_BAD_MITIGATION', `the output has no column ${name}`);
        if (!INTEGER_TYPES.has(column.type)) throw new DomainError('EXP_ERR_BAD_MITIGATION', `column ${name} is ${column.type}: only integer (count) columns are rounded`);
      }
      select = columns.map((c) => wanted.has(c.name)
        ? `CAST(round(${quoteIdentifier(c.name)} / 5.0) * 5 AS ${c.type}) AS ${quoteIdentifier(c.name)}`
        : quoteIdentifier(c.name)).join(', ');
    } else {
      plan = planSuppression(previous, columns, rowCount, mitigation.cells);
      await connection.run(`CREATE TABLE ${scratch.nulled} (r BIGINT, c INTEGER)`);
      await connection.run(`CREATE TABLE ${scratch.removed} (r BIGINT)`);
      await appendRows(connection, scratch.nulled, [...plan.nulled].map((key) => key.split(':').map(Number) as [number, number]));
      await appendRows(connection, scratch.removed, [...plan.removed].map((r) => [r]));
      select = columns.map((c, i) => `CASE WHEN file_row_number IN (SELECT r FROM ${scratch.nulled} WHERE c = ${i}) THEN NULL ELSE ${quoteIdentifier(c.name)} END AS ${quoteIdentifier(c.name)}`).join(', ');
    }
    const kept = plan.removed.size > 0 ? `WHERE file_row_number NOT IN (SELECT r FROM ${scratch.removed})` : '';
    await connection.run(`COPY (SELECT ${select} FROM ${source} ${kept} ORDER BY file_row_number) TO ${sqlString(temp)} (FORMAT parquet)`);
    const findings = previous?.findings
      ? mitigateFindings(previous.findings, plan.removed, plan.nulled, previous.findings.kind === 'aggregate' ? await zeroCells(connection, temp, columns, previous.findings.aggregateColumns) : [])
      : null;
    const renumber = rowRenumbering(rowCount, plan.removed);
    const suppressed = [...(previous?.suppressed ?? []).map(([r, c]) => cellKey(r, c)), ...plan.nulled]
      .map((key) => key.split(':').map(Number) as [number, number])
      .filter(([r]) => !plan.removed.has(r))
      .map(([r, c]): [number, number] => [renumber[r]!, c])
      .sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    const snapshot = await sealSnapshot(connection, temp, target, columns);
    writeDisclosureFile(toDir, { findings, uncheckable: previous?.uncheckable ?? null, suppressed });
    return {
      ...snapshot,
      ...(findings ? { personLevel: { checks: outputChecks(findings, rules) } } : previous?.uncheckable ? { personLevel: { uncheckable: previous.uncheckable } } : {}),
      suppression: plan.summary,
      suppressedCells: suppressed,
    };
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${scratch.nulled}`).catch(() => undefined);
    await connection.run(`DROP TABLE IF EXISTS ${scratch.removed}`).catch(() => undefined);
    connection.closeSync();
  }
}

interface SuppressionPlan {
  /** Rows of the earlier version removed. */
  removed: Set<number>;
  /** Cells of the earlier version nulled (`cellKey`), in rows that remain. */
  nulled: Set<string>;
  summary: SuppressionSummary | null;
}

/**
 * Which rows and cells suppression withholds: every row and cell that failed a check of the earlier
 * version (its person-level findings, and the cells `otherCells` named by any other failing check),
 * then the secondary ones. Fails closed without the entity counts of the rows: the secondary cells
 * cannot be chosen without them.
 */
function planSuppression(previous: DisclosureFile | undefined, columns: { name: string }[], rowCount: number, otherCells: readonly { row: number; column: string }[]): SuppressionPlan {
  const unavailable = () => new DomainError('EXP_ERR_MITIGATION_UNAVAILABLE', 'the person-level statistics of this version are not available, so the cells that keep suppressed ones from being recomputed cannot be chosen: make a new version from the SQL, then suppress');
  // SECURITY: fail closed: a version whose statistics were not kept is not suppressed by guesswork.
  if (!previous || previous.uncheckable !== null) throw unavailable();
  const failing = previous.findings ? failingOf(previous.findings) : { rows: [], cells: [] };
  const cells: [number, number][] = [...failing.cells];
  for (const cell of otherCells) {
    const column = columns.findIndex((c) => c.name === cell.column);
    if (column < 0 || cell.row >= rowCount) throw new DomainError('EXP_ERR_BAD_MITIGATION', `a failing cell (row ${cell.row}, column ${cell.column}) is not in the output`);
    cells.push([cell.row, column]);
  }
  if (failing.rows.length === 0 && cells.length === 0) {
    throw new DomainError('EXP_ERR_BAD_MITIGATION', 'no row or cell of this version fails a check: there is nothing to suppress');
  }
  const findings = previous.findings;
  // SECURITY: invariant 8: without the statistics of this very output, the secondary cells cannot be chosen: nothing is derived.
  if (!findings || findings.entities.length !== rowCount) throw unavailable();
  const primaryRows = new Set(failing.rows);
  const failed = findings.entities.map(() => new Set<number>());
  for (const [r, c] of cells) if (!primaryRows.has(r)) failed[r]!.add(c);
  const rows: SuppressionRow[] = findings.entities.map((entities, r) => ({ entities, withheld: primaryRows.has(r), failed: failed[r]! }));
  const judged = [...new Set([...(findings.kind === 'aggregate' ? findings.aggregateColumns : []), ...cells.map(([, c]) => c)])];
  const secondary = secondarySuppression(rows, judged);
  const removed = new Set([...primaryRows, ...secondary.rows]);
  const nulled = new Set<string>();
  let primaryCells = 0;
  failed.forEach((set, r) => set.forEach((c) => {
    if (removed.has(r)) return;
    nulled.add(cellKey(r, c));
    primaryCells += 1;
  }));
  for (const [r, c] of secondary.cells) nulled.add(cellKey(r, c));
  return {
    removed, nulled,
    summary: { primaryRows: primaryRows.size, secondaryRows: secondary.rows.length, primaryCells, secondaryCells: secondary.cells.length, removedRows: [...removed].sort((x, y) => x - y) },
  };
}

/** Cells of the aggregate columns that are zero in a written file (numeric columns only). */
async function zeroCells(connection: DuckDBConnection, file: string, columns: { name: string; type: string }[], aggregateColumns: readonly number[]): Promise<[number, number][]> {
  const zeros: [number, number][] = [];
  for (const c of aggregateColumns) {
    const column = columns[c];
    if (!column || !NUMERIC_TYPE.test(column.type)) continue;
    const reader = await connection.runAndReadAll(`SELECT file_row_number FROM read_parquet(${sqlString(file)}, file_row_number = true) WHERE ${quoteIdentifier(column.name)} = 0 ORDER BY file_row_number`);
    for (const [r] of reader.getRowsJS() as [bigint][]) zeros.push([Number(r), c]);
  }
  return zeros.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
}

async function appendRows(connection: DuckDBConnection, table: string, rows: number[][]): Promise<void> {
  const appender = await connection.createAppender(table);
  try {
    for (const row of rows) {
      appender.appendBigInt(BigInt(row[0]!));
      if (row.length > 1) appender.appendInteger(row[1]!);
      appender.endRow();
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

const INTEGER_TYPES = new Set(['TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT', 'HUGEINT', 'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'UHUGEINT']);

/** The first rows of a snapshot, as JSON values (for reviewers). */
export async function readSnapshotRows(dir: string, limit: number): Promise<ExportRows> {
  const connection = await trustedConnection();
  try {
    const reader = await connection.runAndReadAll(`SELECT * FROM read_parquet(${sqlString(path.join(dir, SNAPSHOT_FILE))}) LIMIT ${Math.floor(limit)}`);
    const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
    return { columns, rows: reader.getRowsJson() as unknown[][] };
  } finally {
    connection.closeSync();
  }
}

/**
 * THE transformation from a version's snapshot to the file its recipient receives. Every delivered
 * byte passes here, so per-recipient fingerprints (issue 11, item 6: re-keyed tokens, keyed marks)
 * belong in `markForRecipient`, which gets the rows in a staging table before they are written.
 * Writes `package/data.<format>` and returns its SHA-256.
 */
export async function deliverSnapshot(dir: string, format: ExportFormat, recipient: string): Promise<DeliveredFile> {
  const packageDir = path.join(dir, PACKAGE_DIR);
  fs.mkdirSync(packageDir, { recursive: true, mode: 0o700 });
  const target = path.join(packageDir, DATA_FILE[format]);
  const temp = `${target}.${process.pid}.tmp`;
  const table = scratchName();
  const connection = await trustedConnection();
  try {
    await connection.run(`CREATE TABLE ${table} AS SELECT * FROM read_parquet(${sqlString(path.join(dir, SNAPSHOT_FILE))})`);
    await markForRecipient(connection, table, recipient);
    if (format === 'parquet') await connection.run(`COPY ${table} TO ${sqlString(temp)} (FORMAT parquet)`);
    else if (format === 'csv') await writeCsv(connection, table, temp);
    else await writeXlsx(connection, table, temp);
    fs.chmodSync(temp, 0o400);
    fs.renameSync(temp, target);
    flushDirectory(packageDir);
    const { sha256, bytes } = hashFile(target);
    return { file: path.join(PACKAGE_DIR, DATA_FILE[format]), sha256, bytes };
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    connection.closeSync();
  }
}

/** The hook for per-recipient fingerprints (issue 11, item 6); today the rows go as they are. */
async function markForRecipient(_connection: DuckDBConnection, _table: string, _recipient: string): Promise<void> {}

/**
 * CSV as UTF-8 with a BOM, CRLF, quoting where needed (DuckDB's CSV writer), and every text cell that
 * a spreadsheet would read as a formula (starting with = + - @, or a tab or carriage return)
 * prefixed with a single quote (OWASP's CSV injection advice): the file is opened by people, in
 * Excel or WPS. Cells of numeric columns are numbers to a spreadsheet, never formulas, and stay as
 * they are. DuckDB writes the rows: a JavaScript loop took 13.7 s to package 500k rows, this 4.2 s
 * (approval included, on a loaded 2-core machine; docs/exports.md).
 */
async function writeCsv(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  const columns = await describe(connection, `SELECT * FROM ${table}`);
  const select = columns.map((c) => {
    const alias = quoteIdentifier(neutralizeCsvCell(c.name));
    if (NUMERIC_TYPE.test(c.type)) return `${quoteIdentifier(c.name)} AS ${alias}`;
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

/** Types whose text is a number (a spreadsheet never reads it as a formula). */
const NUMERIC_TYPE = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL(\(\d+,\s*\d+\))?)$/;

/** XLSX: numbers stay numbers, everything else is a string cell (never a formula). */
async function writeXlsx(connection: DuckDBConnection, table: string, file: string): Promise<void> {
  const reader = await connection.runAndReadAll(`SELECT * FROM ${table}`);
  if (reader.currentRowCount > XLSX_MAX_ROWS) throw new DomainError('EXP_ERR_TOO_MANY_ROWS', `XLSX holds at most ${XLSX_MAX_ROWS} rows: choose csv or parquet`);
  const header = reader.columnNames().map((name) => ({ value: name, fontWeight: 'bold' as const }));
  const rows = (reader.getRowsJson() as unknown[][]).map((row) => row.map((value) => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'number' || typeof value === 'boolean') return value;
    return typeof value === 'string' ? value : JSON.stringify(value);
  }));
  await writeXlsxFile([header, ...rows]).toFile(file);
}

async function describe(connection: DuckDBConnection, select: string): Promise<{ name: string; type: string }[]> {
  const reader = await connection.runAndReadAll(`DESCRIBE ${select}`);
  return (reader.getRowsJS() as [string, string][]).map(([name, type]) => ({ name, type }));
}

/** Moves a written temp file into place read-only, and describes it. */
async function sealSnapshot(connection: DuckDBConnection, temp: string, target: string, columns: { name: string; type: string }[]): Promise<ExportSnapshot> {
  const counted = await connection.runAndReadAll(`SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(${sqlString(temp)})`);
  const rowCount = Number(counted.getRowsJS()[0]?.[0] ?? 0);
  fs.chmodSync(temp, 0o400);
  // SECURITY: immutability: link fails when the target exists (a rename would replace it).
  fs.linkSync(temp, target);
  fs.rmSync(temp, { force: true });
  flushDirectory(path.dirname(target));
  const { sha256, bytes } = hashFile(target);
  return { file: SNAPSHOT_FILE, sha256, bytes, rowCount, columns };
}

export function hashFile(file: string): { sha256: string; bytes: number } {
  const content = fs.readFileSync(file);
  return { sha256: createHash('sha256').update(content).digest('hex'), bytes: content.length };
}
