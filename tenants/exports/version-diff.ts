import type { ExportRows } from '../../sandbox/index.js';
import type { CheckStatus, ExportVersionRecord, Withheld } from './export-model.js';

/**
 * What changed between two versions of an export, for reviewers (reviewers lack context and decision
 * history in the systems we learn from): the outcome, each check's status, rows and columns, and,
 * when both outputs are small and have the same shape, the cells that differ (e.g. after rounding).
 */
export interface VersionChanges {
  fromVersion: number;
  toVersion: number;
  outcome: { from: CheckStatus; to: CheckStatus };
  checks: { name: string; from: CheckStatus | null; to: CheckStatus | null }[];
  rowCount: { from: number; to: number };
  columns: { added: string[]; removed: string[] };
  sqlChanged: boolean;
  mitigation: ExportVersionRecord['mitigation'];
  /** What suppression withheld in the newer version (over every mitigation leading to it), null when nothing. */
  withheld: Withheld | null;
  /** Rows of the older version that the newer one removed (suppression), 0-based. */
  removedRows: number[];
  /**
   * Cells that differ, by position (rows removed by suppression taken out of the older version
   * first), and how many of them became null; null when the outputs are too large or differ in shape.
   */
  cells: { changed: number; becameNull: number; sample: { row: number; column: string; from: unknown; to: unknown }[] } | null;
}

const CELL_SAMPLE = 50;

export function describeChanges(before: ExportVersionRecord, after: ExportVersionRecord, rows: { before: ExportRows; after: ExportRows } | null): VersionChanges {
  const names = [...new Set([...before.checks.map((c) => c.name), ...after.checks.map((c) => c.name)])];
  const statusIn = (v: ExportVersionRecord, name: string) => v.checks.find((c) => c.name === name)?.status ?? null;
  const beforeColumns = before.columns.map((c) => c.name);
  const afterColumns = after.columns.map((c) => c.name);
  const removedRows = after.mitigation?.kind === 'suppress' && after.mitigation.fromVersion === before.version ? after.mitigation.removedRows : [];
  return {
    fromVersion: before.version,
    toVersion: after.version,
    outcome: { from: before.outcome, to: after.outcome },
    checks: names.map((name) => ({ name, from: statusIn(before, name), to: statusIn(after, name) })).filter((c) => c.from !== c.to),
    rowCount: { from: before.rowCount, to: after.rowCount },
    columns: { added: afterColumns.filter((c) => !beforeColumns.includes(c)), removed: beforeColumns.filter((c) => !afterColumns.includes(c)) },
    sqlChanged: before.sql !== after.sql,
    mitigation: after.mitigation,
    withheld: after.mitigation?.withheld ?? null,
    removedRows,
    cells: rows ? cellChanges(withoutRows(rows.before, removedRows), rows.after) : null,
  };
}

/** Positional cell diff of two outputs of the same shape (same columns, same row count), else null. */
export function cellChanges(before: ExportRows, after: ExportRows): VersionChanges['cells'] {
  const sameColumns = before.columns.length === after.columns.length && before.columns.every((c, i) => c.name === after.columns[i]!.name);
  if (!sameColumns || before.rows.length !== after.rows.length) return null;
  let changed = 0;
  let becameNull = 0;
  const sample: NonNullable<VersionChanges['cells']>['sample'] = [];
  after.rows.forEach((row, r) => row.forEach((value, c) => {
    const old = before.rows[r]![c];
    if (JSON.stringify(old) === JSON.stringify(value)) return;
    changed += 1;
    if (value === null) becameNull += 1;
    if (sample.length < CELL_SAMPLE) sample.push({ row: r, column: after.columns[c]!.name, from: old, to: value });
  }));
  return { changed, becameNull, sample };
}

/** The rows of an output without those listed (rows suppression removed), so that positions line up. */
function withoutRows(rows: ExportRows, removed: readonly number[]): ExportRows {
  if (removed.length === 0) return rows;
  const gone = new Set(removed);
  return { columns: rows.columns, rows: rows.rows.filter((_, i) => !gone.has(i)) };
}
