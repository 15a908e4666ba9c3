import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { z } from 'zod';
import { DomainError } from '../../core/errors.js';
import { isNumberType, quoteIdentifier, secondarySuppression, sqlString, typeClassOf, type DisclosureRules, type SuppressionRow } from '../../desensitize/index.js';
import { writeFileAtomic } from '../atomic-write.js';
import { cellKey, failingOf, mitigateFindings, outputChecks, OutputFindingsSchema, rowRenumbering } from '../disclosure/output-findings.js';
import { CELLS_FILE, describe, scratchName, sealParquet, sealSnapshot, SNAPSHOT_FILE, trustedConnection } from './export-files.js';
import type { DerivedSnapshot, ExportMitigation, SuppressionSummary } from './protocol.js';

/**
 * Mitigated export versions (issue #11 item 2), made by trusted code in the trusted process from an
 * earlier version's snapshot and the person-level statistics kept with it: rounding to base 5 and
 * suppression with secondary suppression. Every check of the new version is re-run on those
 * statistics (`output-findings.ts`); nothing is assumed to pass.
 */

/**
 * What the trusted process keeps next to a snapshot (never delivered): the person-level findings of
 * the output with their per-row entity counts (`checkOutput`, measured in the tenant's process on
 * the rows of the snapshot), or why they could not be derived, and the cells suppression has nulled so far.
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
        if (typeClassOf(column.type) !== 'integer') throw new DomainError('EXP_ERR_BAD_MITIGATION', `column ${name} is ${column.type}: only integer (count) columns are rounded`);
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
    await deriveCells(connection, fromDir, toDir, mitigation.kind === 'round5' ? undefined : { ...scratch, columns });
    // A version whose statistics were never kept passes that on: unknown stays unknown, never "not personal".
    if (previous) writeDisclosureFile(toDir, { findings, uncheckable: previous.uncheckable, suppressed });
    return {
      ...snapshot,
      ...(findings ? { personLevel: { kind: findings.kind, checks: outputChecks(findings, rules) } } : previous?.uncheckable ? { personLevel: { uncheckable: previous.uncheckable } } : {}),
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

/**
 * The entity sets of the mitigated version's cells (`cells.parquet`, for differencing), from the
 * earlier version's. Rounding changes values, never who counts in a cell: the same file. Suppression
 * drops the removed rows (renumbering the rest) and the cells now null, which release nobody. No
 * earlier sets, no new ones: the differencing check then asks for review (fail closed).
 */
async function deriveCells(connection: DuckDBConnection, fromDir: string, toDir: string, suppression?: { removed: string; nulled: string; columns: { name: string }[] }): Promise<void> {
  const from = path.join(fromDir, CELLS_FILE);
  const target = path.join(toDir, CELLS_FILE);
  if (!fs.existsSync(from)) return;
  if (!suppression) {
    fs.linkSync(from, target);
    return;
  }
  const names = `[${suppression.columns.map((c) => sqlString(c.name)).join(', ')}]::VARCHAR[]`;
  const temp = `${target}.${process.pid}.tmp`;
  try {
    await connection.run(`COPY (
      SELECT CAST(x."row" - (SELECT count(*) FROM ${suppression.removed} d WHERE d.r < x."row") AS INTEGER) AS "row", x."column", x.label, x.entity, x.contribution
      FROM read_parquet(${sqlString(from)}) x
      WHERE x."row" NOT IN (SELECT r FROM ${suppression.removed})
        AND NOT EXISTS (SELECT 1 FROM ${suppression.nulled} n WHERE n.r = x."row" AND (${names})[n.c + 1] = x."column")
      ORDER BY ALL) TO ${sqlString(temp)} (FORMAT parquet)`);
    // SECURITY: immutable like the snapshot.
    await sealParquet(connection, temp, target);
  } finally {
    fs.rmSync(temp, { force: true });
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
    if (!column || !isNumberType(column.type)) continue;
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
