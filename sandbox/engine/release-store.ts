import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../../desensitize/index.js';
import { flushDirectory } from '../atomic-write.js';
import { exportVersionDirectory, releasesDirectory } from '../data-paths.js';
import { CELLS_FILE, trustedConnection } from './export-files.js';
import type { DifferencingPair, DifferencingResult, ExportDifferenceTask, ExportReleaseTask, ReleaseKey } from './protocol.js';

/**
 * The release store and the differencing check (issue #11 item 2), trusted code of the trusted
 * engine process only: no tenant engine attaches or reads `<dataDir>/releases/` (it lies outside
 * every tenant directory, and the gate refuses file-reading functions).
 *
 * One Parquet file per released version, `releases/<datasets>/<exportId>-v<version>.parquet`, where
 * `<datasets>` is a hash of the version's sorted source dataset ids (cells are only compared over
 * the same set of datasets). Each file holds the version's keys (export id, version, tenant,
 * recipient, datasets) and its cells' entity sets (row, column, label, entity), copied from
 * `cells.parquet` when the version is approved. Directories 0700, files 0600.
 *
 * Differencing is exact: for each new cell A and each released cell B of the same label, |A∩B| by
 * a join on the entity keys; Δ = |A| + |B| − 2|A∩B|. Pairs with no common entity are not joined:
 * their Δ is |A| + |B|, and a released cell already held at least the minimum.
 */

/** Reason-safe: what a missing or unreadable cell set is called (no paths). */
const MISSING = 'the entity sets of its cells are missing or unreadable';

export async function differencing(dataDir: string, task: Omit<ExportDifferenceTask, 'kind'>): Promise<DifferencingResult> {
  const cells = path.join(exportVersionDirectory(dataDir, task.exportId, task.version), CELLS_FILE);
  if (!fs.existsSync(cells)) return { missing: MISSING };
  const released = releasedFiles(dataDir, task.datasets);
  const connection = await trustedConnection();
  try {
    const newCells = `(SELECT c.* FROM read_parquet(${sqlString(cells)}) AS c ANTI JOIN ${skipped(task.suppressed)} AS s ON c."row" = s."row" AND c."column" = s."column")`;
    let counted: number;
    try {
      counted = Number((await connection.runAndReadAll(`SELECT count(*) FROM (SELECT DISTINCT "row", "column" FROM ${newCells})`)).getRowsJS()[0]?.[0] ?? 0);
    } catch {
      // SECURITY: fail closed: an unreadable cell set is never read as "no cells".
      return { missing: MISSING };
    }
    if (released.length === 0) return { pairs: [], cells: counted, releases: 0 };
    const pairs = await closePairs(connection, newCells, released, task);
    return { pairs, cells: counted, releases: released.length };
  } finally {
    connection.closeSync();
  }
}

/**
 * At approval: the differencing check again, against every release (those made since the version
 * was checked included), and when no cell is too close, the version's cells added to the store in
 * the same step. The caller runs one release at a time (two releases checked against each other's
 * absence would both pass).
 */
export async function releaseCells(dataDir: string, task: Omit<ExportReleaseTask, 'kind'>): Promise<DifferencingResult> {
  const result = await differencing(dataDir, task);
  if ('missing' in result || result.pairs.length > 0) return { ...result, ...('missing' in result ? {} : { released: false }) };
  const dir = releaseDirectory(dataDir, task.datasets);
  // SECURITY: the store is the trusted process's alone: owner-only directories and files.
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  fs.chmodSync(releasesDirectory(dataDir), 0o700);
  const target = releaseFile(dataDir, task);
  const temp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  const cells = path.join(exportVersionDirectory(dataDir, task.exportId, task.version), CELLS_FILE);
  const connection = await trustedConnection();
  try {
    const keys = [
      `${sqlString(task.exportId)} AS export_id`, `${task.version}::INTEGER AS version`, `${sqlString(task.tenantId)} AS tenant`,
      `${sqlString(task.recipient)} AS recipient`, `${sqlString(datasetsKey(task.datasets))} AS datasets`,
    ];
    // Suppressed cells were not released: they are not kept either.
    await connection.run(`COPY (SELECT ${keys.join(', ')}, c."row", c."column", c.label, c.entity FROM read_parquet(${sqlString(cells)}) AS c ANTI JOIN ${skipped(task.suppressed)} AS s ON c."row" = s."row" AND c."column" = s."column") TO ${sqlString(temp)} (FORMAT parquet)`);
    fs.chmodSync(temp, 0o600);
    fs.renameSync(temp, target);
    flushDirectory(dir);
  } catch (error) {
    fs.rmSync(temp, { force: true });
    throw error;
  } finally {
    connection.closeSync();
  }
  return { ...result, released: true };
}

/** Takes a version out of the store (its approval did not commit). */
export function unreleaseCells(dataDir: string, key: ReleaseKey): void {
  fs.rmSync(releaseFile(dataDir, key), { force: true });
}

/**
 * Every file under the release store with the version it claims to hold (temp files as
 * `version: null`), for the sweep at start of releases whose approval never committed.
 */
export function listReleaseFiles(dataDir: string): { file: string; exportId: string | null; version: number | null }[] {
  const root = releasesDirectory(dataDir);
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root).flatMap((dir) => fs.readdirSync(path.join(root, dir)).map((name) => {
    const match = /^(exp-[0-9a-f]{16})-v(\d+)\.parquet$/.exec(name);
    return { file: path.join(root, dir, name), exportId: match?.[1] ?? null, version: match ? Number(match[2]) : null };
  }));
}

/** Per new cell, one released cell too close to it: the same tenant's first (it may be named). */
async function closePairs(connection: DuckDBConnection, newCells: string, released: string[], task: ReleaseKey & { minEntities: number }): Promise<DifferencingPair[]> {
  const sql = `
    WITH a AS (SELECT "row", "column", label, entity FROM ${newCells}),
    na AS (SELECT "row", "column", label, count(*) AS n FROM a GROUP BY ALL),
    b AS (
      SELECT export_id, version, tenant, "row" AS b_row, "column" AS b_column, label, entity
      FROM read_parquet([${released.map(sqlString).join(', ')}])
      WHERE NOT (export_id = $1 AND version = $2)
    ),
    nb AS (SELECT export_id, version, tenant, b_row, b_column, label, count(*) AS n FROM b GROUP BY ALL),
    i AS (
      SELECT a."row", a."column", a.label, b.export_id, b.version, b.tenant, b.b_row, b.b_column, count(*) AS k
      FROM a JOIN b ON a.label = b.label AND a.entity = b.entity GROUP BY ALL
    ),
    close AS (
      SELECT i."row", i."column", i.export_id, i.version, i.tenant = $3 AS own, i.b_row, i.b_column
      FROM i JOIN na USING ("row", "column", label) JOIN nb USING (export_id, version, tenant, b_row, b_column, label)
      WHERE na.n + nb.n - 2 * i.k BETWEEN 1 AND $4 - 1
    )
    SELECT "row", "column", own, CASE WHEN own THEN export_id END, CASE WHEN own THEN version END, CASE WHEN own THEN b_row END, CASE WHEN own THEN b_column END
    FROM close
    QUALIFY row_number() OVER (PARTITION BY "row", "column" ORDER BY own DESC, export_id, version, b_row, b_column) = 1
    ORDER BY "row", "column"`;
  const reader = await connection.runAndReadAll(sql, [task.exportId, task.version, task.tenantId, task.minEntities]);
  return (reader.getRowsJS() as [number, string, boolean, string | null, number | null, number | null, string | null][]).map(([row, column, own, exportId, version, bRow, bColumn]) => ({
    row: Number(row),
    column: String(column),
    // SECURITY: another tenant's export ids and recipients never leave the store: "an earlier release".
    earlier: own ? { exportId: String(exportId), version: Number(version), row: Number(bRow), column: String(bColumn) } : null,
  }));
}

/** The suppressed cells as a relation (row, column); empty when none. */
function skipped(cells: readonly { row: number; column: string }[]): string {
  if (cells.length === 0) return '(SELECT NULL::INTEGER AS "row", NULL::VARCHAR AS "column" WHERE false)';
  return `(SELECT * FROM (VALUES ${cells.map((c) => `(${Math.trunc(c.row)}::INTEGER, ${sqlString(c.column)})`).join(', ')}) AS v("row", "column"))`;
}

/** The released versions' files over exactly these datasets. */
function releasedFiles(dataDir: string, datasets: readonly string[]): string[] {
  const dir = releaseDirectory(dataDir, datasets);
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((name) => /^exp-[0-9a-f]{16}-v\d+\.parquet$/.test(name)).sort().map((name) => path.join(dir, name));
}

function releaseFile(dataDir: string, key: ReleaseKey): string {
  // Ids were validated by the task schema: the name is one safe path segment.
  return path.join(releaseDirectory(dataDir, key.datasets), `${key.exportId}-v${key.version}.parquet`);
}

function releaseDirectory(dataDir: string, datasets: readonly string[]): string {
  return path.join(releasesDirectory(dataDir), createHash('sha256').update(datasetsKey(datasets)).digest('hex').slice(0, 32));
}

/** The set of source datasets as one key: sorted, distinct, comma-separated. */
export function datasetsKey(datasets: readonly string[]): string {
  return [...new Set(datasets)].sort().join(',');
}
