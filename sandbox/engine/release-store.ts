import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { sqlString } from '../../desensitize/index.js';
import { flushDirectory } from '../atomic-write.js';
import { exportVersionDirectory, releasesDirectory } from '../data-paths.js';
import { KEYLESS_ENTITY } from '../disclosure/cell-entities.js';
import { CELLS_FILE, trustedConnection } from './export-files.js';
import type { DifferencingPair, DifferencingResult, ExportDifferenceTask, ExportReleaseTask, ReleaseKey } from './protocol.js';

/**
 * The release store and the differencing check (issue #11 item 2), trusted code of the trusted
 * engine process only: no tenant engine attaches or reads `<dataDir>/releases/` (it lies outside
 * every tenant directory, and the gate refuses file-reading functions).
 *
 * One Parquet file per released version, `releases/<datasets>/<exportId>-v<version>.parquet`, where
 * `<datasets>` is a hash of the version's sorted source dataset ids (a place to file it: every
 * release is compared, cells meeting on their entities whatever dataset is behind them). Each file holds the version's keys (export id, version, tenant,
 * recipient, datasets) and its cells' entity sets (row, column, label, entity, contribution), copied from
 * `cells.parquet` when the version is approved. Directories 0700, files 0600.
 *
 * Differencing is exact: for each new cell A and each released cell B (of any label: entity keys
 * are domain-wide, and the same people published in a second dataset are the same keys), |A∩B| by
 * a join on the entity keys; Δ = |A| + |B| − 2|A∩B|. Each member also carries a fingerprint of its
 * contribution (its rows and their sum, `cell-entities.ts`), and A and B are also close when
 * |A| + |B| − 2·(members with the same contribution in both) is 1 to threshold − 1: the same people
 * with one person's share changed (part of their rows left out) is one person's value too. Files
 * written before fingerprints existed read NULL there, which compares equal (entity sets only). Pairs with no common entity are not joined:
 * their Δ is |A| + |B|, and a released cell already held at least the minimum.
 */

/** Reason-safe: what a missing or unreadable cell set is called (no paths). */
const MISSING = 'the entity sets of its cells are missing or unreadable';

export async function differencing(dataDir: string, task: Omit<ExportDifferenceTask, 'kind'>): Promise<DifferencingResult> {
  const cells = path.join(exportVersionDirectory(dataDir, task.exportId, task.version), CELLS_FILE);
  if (!fs.existsSync(cells)) return { missing: MISSING };
  // SECURITY: every release is compared, whatever other datasets it or this version read: a join with
  // one more dataset (a lookup table) must not take a close version out of comparison, nor another
  // dataset of the same people (pass 35b): cells meet on their entities in the join below.
  const released = releasedFiles(dataDir);
  const connection = await trustedConnection();
  try {
    let newCells: string;
    let counted: number;
    try {
      // A cell set written before fingerprints existed has no contribution column: NULL (entity sets only).
      const contribution = await hasContributions(connection, cells) ? 'c.contribution' : 'NULL::BIGINT AS contribution';
      newCells = `(SELECT c."row", c."column", c.label, c.entity, ${contribution} FROM read_parquet(${sqlString(cells)}) AS c ANTI JOIN ${skipped(task.suppressed)} AS s ON c."row" = s."row" AND c."column" = s."column")`;
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
    const contribution = await hasContributions(connection, cells) ? 'c.contribution' : 'NULL::BIGINT AS contribution';
    await connection.run(`COPY (SELECT ${keys.join(', ')}, c."row", c."column", c.label, c.entity, ${contribution} FROM read_parquet(${sqlString(cells)}) AS c ANTI JOIN ${skipped(task.suppressed)} AS s ON c."row" = s."row" AND c."column" = s."column") TO ${sqlString(temp)} (FORMAT parquet)`);
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

/**
 * Per new cell, one released cell (or sum of cells) too close to it: the same tenant's first (it may
 * be named). Three comparisons, each exact on the entity sets:
 * - a new cell against a released cell: Δ = |A| + |B| − 2|A∩B|;
 * - a new cell against the sum of cells of one released column (`summed: 'earlier'`), and a released
 *   cell against the sum of cells of one new column (`summed: 'new'`): the groups of one output
 *   partition its rows, so a sum of its cells is the aggregate over the union of their groups, and a
 *   total minus the groups that make it up gives back the people left over. For a cell N and the
 *   disjoint cells B of a column, the union closest to N holds the B more than half inside N:
 *   Δ = |N| − Σ max(0, 2|N∩B| − |B|). Sums of two or more cells are compared (one is the pair above),
 *   on the entity sets (k) and again on the members whose contribution is the same (ks: a total
 *   leaving out one person's payments above X after a per-district release, red-team pass 42b);
 * - the same unions by their people, Δ = |∪B \ N| + |N \ ∪B|: groups partition rows, not people,
 *   and cells sharing people (payments per month) make the formula above no count of anyone (a
 *   total without one person after a per-month release passed, pass 42b).
 */
async function closePairs(connection: DuckDBConnection, newCells: string, released: string[], task: ReleaseKey & { minEntities: number }): Promise<DifferencingPair[]> {
  // SECURITY: a cell's rows without a key are one member (KEYLESS_ENTITY), the same in every cell:
  // joined like a key it would pair every cell with every released one, and summed like one it
  // broke the partition a sum of cells relies on (a total without one keyless payer, after a
  // per-district release, differed by no one: red-team pass 26a). So the sets are compared on keys,
  // and the keyless rows apart: between two cells, present on one side only, or (by contribution)
  // with other rows or sums, they differ by at least one person, and by no more than the keyed
  // difference beside it (they may be the keyed people's own rows); against a sum of cells they
  // cannot be matched, so any keyless rows on either side count as one person at least.
  const keyless = sqlString(KEYLESS_ENTITY);
  const sql = `
    WITH a_all AS (SELECT "row", "column", label, entity, contribution FROM ${newCells}),
    a AS (SELECT * FROM a_all WHERE entity <> ${keyless}),
    al AS (SELECT "row", "column", label, contribution FROM a_all WHERE entity = ${keyless}),
    na AS (SELECT "row", "column", label, count(*) AS n FROM a GROUP BY ALL),
    b_all AS (
      SELECT export_id, version, tenant, "row" AS b_row, "column" AS b_column, label AS b_label, entity, contribution
      FROM read_parquet([${released.map(sqlString).join(', ')}], union_by_name = true)
      WHERE NOT (export_id = $1 AND version = $2)
    ),
    b AS (SELECT * FROM b_all WHERE entity <> ${keyless}),
    bl AS (SELECT export_id, version, tenant, b_row, b_column, b_label, contribution FROM b_all WHERE entity = ${keyless}),
    nb AS (SELECT export_id, version, tenant, b_row, b_column, b_label, count(*) AS n FROM b GROUP BY ALL),
    i AS (
      SELECT a."row", a."column", a.label, b.export_id, b.version, b.tenant, b.b_row, b.b_column, b.b_label, count(*) AS k,
        count(*) FILTER (WHERE a.contribution IS NOT DISTINCT FROM b.contribution) AS ks
      FROM a JOIN b ON a.entity = b.entity GROUP BY ALL
    ),
    ik AS (
      SELECT i.*, na.n AS an, nb.n AS bn, al.label IS NOT NULL AS a_keyless, bl.b_label IS NOT NULL AS b_keyless,
        CASE WHEN (al.label IS NOT NULL) <> (bl.b_label IS NOT NULL) THEN 1 ELSE 0 END AS kl,
        CASE WHEN al.contribution IS DISTINCT FROM bl.contribution THEN 1 ELSE 0 END AS kls
      FROM i JOIN na USING ("row", "column", label) JOIN nb USING (export_id, version, tenant, b_row, b_column, b_label)
        LEFT JOIN al USING ("row", "column", label) LEFT JOIN bl USING (export_id, version, tenant, b_row, b_column, b_label)
    ),
    pair AS (
      SELECT "row", "column", export_id, version, tenant, b_row, b_column, NULL::VARCHAR AS summed
      FROM ik WHERE greatest(an + bn - 2 * k, kl) BETWEEN 1 AND $4 - 1 OR greatest(an + bn - 2 * ks, kls) BETWEEN 1 AND $4 - 1
    ),
    ${['k', 'ks'].map((shared) => `earlier_sum_${shared} AS (
      SELECT "row", "column", export_id, version, tenant, NULL::INTEGER AS b_row, b_column, 'earlier' AS summed
      FROM ik GROUP BY "row", "column", label, export_id, version, tenant, b_column, b_label, an, a_keyless
      HAVING count(*) FILTER (WHERE 2 * ${shared} > bn) >= 2
        AND greatest(an - sum(greatest(0, 2 * ${shared} - bn)), CASE WHEN a_keyless OR bool_or(b_keyless) FILTER (WHERE 2 * ${shared} > bn) THEN 1 ELSE 0 END) BETWEEN 1 AND $4 - 1
    ),
    new_sum_${shared} AS (
      SELECT ik."row", ik."column", ik.export_id, ik.version, ik.tenant, ik.b_row, ik.b_column, 'new' AS summed
      FROM ik JOIN (
        SELECT export_id, version, tenant, b_row, b_column, b_label, label, "column"
        FROM ik GROUP BY export_id, version, tenant, b_row, b_column, b_label, label, "column", bn, b_keyless
        HAVING count(*) FILTER (WHERE 2 * ${shared} > an) >= 2
          AND greatest(bn - sum(greatest(0, 2 * ${shared} - an)), CASE WHEN b_keyless OR bool_or(a_keyless) FILTER (WHERE 2 * ${shared} > an) THEN 1 ELSE 0 END) BETWEEN 1 AND $4 - 1
      ) AS s USING (export_id, version, tenant, b_row, b_column, b_label, label, "column")
      WHERE 2 * ik.${shared} > ik.an
    ),`).join('\n    ')}
    earlier_cells AS (SELECT "row", "column", label, export_id, version, tenant, b_row, b_column, b_label FROM ik WHERE 2 * k > bn),
    earlier_union AS (
      SELECT s."row", s."column", s.export_id, s.version, s.tenant, NULL::INTEGER AS b_row, s.b_column, 'earlier' AS summed
      FROM earlier_cells AS s JOIN b USING (export_id, version, tenant, b_row, b_column, b_label)
        LEFT JOIN a ON a."row" = s."row" AND a."column" = s."column" AND a.label = s.label AND a.entity = b.entity
        JOIN na ON na."row" = s."row" AND na."column" = s."column" AND na.label = s.label
      GROUP BY s."row", s."column", s.label, s.export_id, s.version, s.tenant, s.b_column, s.b_label, na.n
      HAVING count(DISTINCT s.b_row) >= 2
        AND (count(DISTINCT b.entity) - count(DISTINCT a.entity)) + (na.n - count(DISTINCT a.entity)) BETWEEN 1 AND $4 - 1
    ),
    new_cells AS (SELECT "row", "column", label, export_id, version, tenant, b_row, b_column, b_label FROM ik WHERE 2 * k > an),
    new_union AS (
      SELECT c."row", c."column", c.export_id, c.version, c.tenant, c.b_row, c.b_column, 'new' AS summed
      FROM new_cells AS c JOIN (
        SELECT s.export_id, s.version, s.tenant, s.b_row, s.b_column, s.b_label, s.label, s."column"
        FROM new_cells AS s JOIN a ON a."row" = s."row" AND a."column" = s."column" AND a.label = s.label
          LEFT JOIN b ON b.export_id = s.export_id AND b.version = s.version AND b.tenant = s.tenant AND b.b_row = s.b_row AND b.b_column = s.b_column AND b.b_label = s.b_label AND b.entity = a.entity
          JOIN nb ON nb.export_id = s.export_id AND nb.version = s.version AND nb.tenant = s.tenant AND nb.b_row = s.b_row AND nb.b_column = s.b_column AND nb.b_label = s.b_label
        GROUP BY s.export_id, s.version, s.tenant, s.b_row, s.b_column, s.b_label, s.label, s."column", nb.n
        HAVING count(DISTINCT s."row") >= 2
          AND (count(DISTINCT a.entity) - count(DISTINCT b.entity)) + (nb.n - count(DISTINCT b.entity)) BETWEEN 1 AND $4 - 1
      ) AS u USING (export_id, version, tenant, b_row, b_column, b_label, label, "column")
    ),
    close AS (
      SELECT *, tenant = $3 AS own FROM (
        SELECT * FROM pair UNION ALL SELECT * FROM earlier_sum_k UNION ALL SELECT * FROM new_sum_k UNION ALL SELECT * FROM earlier_sum_ks UNION ALL SELECT * FROM new_sum_ks
        UNION ALL SELECT * FROM earlier_union UNION ALL SELECT * FROM new_union)
    )
    SELECT "row", "column", own, CASE WHEN own THEN export_id END, CASE WHEN own THEN version END, CASE WHEN own THEN b_row END, CASE WHEN own THEN b_column END, summed
    FROM close
    QUALIFY row_number() OVER (PARTITION BY "row", "column" ORDER BY own DESC, summed NULLS FIRST, export_id, version, b_row, b_column) = 1
    ORDER BY "row", "column"`;
  const reader = await connection.runAndReadAll(sql, [task.exportId, task.version, task.tenantId, task.minEntities]);
  return (reader.getRowsJS() as [number, string, boolean, string | null, number | null, number | null, string | null, 'earlier' | 'new' | null][]).map(([row, column, own, exportId, version, bRow, bColumn, summed]) => ({
    row: Number(row),
    column: String(column),
    // SECURITY: another tenant's export ids and recipients never leave the store: "an earlier release".
    earlier: own ? { exportId: String(exportId), version: Number(version), row: bRow === null ? null : Number(bRow), column: String(bColumn) } : null,
    ...(summed ? { summed } : {}),
  }));
}

/** Whether a cell set carries contribution fingerprints (written since they exist). */
async function hasContributions(connection: DuckDBConnection, file: string): Promise<boolean> {
  const reader = await connection.runAndReadAll(`SELECT count(*) FROM (DESCRIBE SELECT * FROM read_parquet(${sqlString(file)})) WHERE column_name = 'contribution'`);
  return Number(reader.getRowsJS()[0]?.[0] ?? 0) > 0;
}

/** The suppressed cells as a relation (row, column); empty when none. */
function skipped(cells: readonly { row: number; column: string }[]): string {
  if (cells.length === 0) return '(SELECT NULL::INTEGER AS "row", NULL::VARCHAR AS "column" WHERE false)';
  return `(SELECT * FROM (VALUES ${cells.map((c) => `(${Math.trunc(c.row)}::INTEGER, ${sqlString(c.column)})`).join(', ')}) AS v("row", "column"))`;
}

/** Every released version's file, over any set of datasets (temp files of a release under way left out). */
function releasedFiles(dataDir: string): string[] {
  return listReleaseFiles(dataDir).filter((f) => f.version !== null).map((f) => f.file).sort();
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
