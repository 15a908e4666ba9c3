import type { DifferencingResult, ExportSnapshot, PersonLevel, SourceRef } from '../../sandbox/index.js';
import type { DatasetColumn, WorkspaceTableLineage } from '../model.js';
import type { Check, Withheld } from './export-model.js';

/**
 * The automated disclosure checks of an export version: the seam between the export door (request,
 * review, delivery) and the person-level checks (issue 11, item 2: entity counts, dominance,
 * p-ratio, k-anonymity, identifiers, differencing), which plug in here.
 *
 * Every check gives `pass`, `review` or `fail` with a reason in plain words; the version's outcome is
 * the worst of them (`review-flow.ts`). Checks fail closed: missing lineage or catalog records make
 * a check `review` (or `fail`), never `pass`.
 */
export interface ExportCheckInput {
  tenantId: string;
  exportId: string;
  version: number;
  /** The immutable snapshot the checks are about (Parquet under `exports/<id>/v<n>/`). */
  snapshot: ExportSnapshot;
  /** The dataset versions (and policy fingerprints) behind what the query read: its lineage. */
  sources: readonly SourceRef[];
  /** Tables the bound plan read, as `catalog.table`. */
  tables: readonly string[];
  columns: readonly { name: string; type: string }[];
  rowCount: number;
  /** The person-level checks computed in the tenant's process on entity keys; absent when the query read no personal table. */
  personLevel?: PersonLevel | undefined;
  /**
   * Cells of this version shown as null by suppression: they show nothing, so checks of cell values
   * skip them, and they are not compared with earlier releases (nobody is released in them).
   */
  suppressedCells?: { row: number; column: string }[] | undefined;
  /** What suppression withheld from this version (over every mitigation leading to it); absent when nothing was. */
  withheld?: Withheld | undefined;
}

export interface ExportChecks {
  runChecks(input: ExportCheckInput): Promise<Check[]>;
}

export interface ExportCheckDeps {
  /** Rows beyond which an output needs review (default 100,000). */
  rowCap: number;
  /** The catalog's columns of a dataset version (with PII recognition), or undefined when unknown. */
  datasetColumns(dataset: string, version: number): Promise<DatasetColumn[] | undefined>;
  /** The tenant's workspace tables with their lineage (uploads included). */
  workspaceTables(tenantId: string): Promise<WorkspaceTableLineage[]>;
  /** Entities below which a cell discloses (`rules.minEntities`, as the person-level checks use it). */
  minEntities: number;
  /** The differencing of a version's cells against every release, whatever datasets are behind it (the trusted engine process). */
  difference(task: DifferenceTask): Promise<DifferencingResult>;
}

/** What the differencing of one version needs (the engine's `export-difference` task). */
export interface DifferenceTask {
  exportId: string;
  version: number;
  tenantId: string;
  datasets: string[];
  minEntities: number;
  suppressed: { row: number; column: string }[];
}

export const PERSON_LEVEL_CHECK = 'person-level';
export const DIFFERENCING_CHECK = 'differencing';
// SECURITY: reviewers are told what approving such a version means: its cells never enter the release
// store, so no later export (of any tenant) is compared with it; an exact ORDER BY usually lifts this.
const NEVER_COMPARED = 'If approved, its cells are never compared with later exports either (nothing of it enters the release store): prefer a version whose cells the checks can follow (an ORDER BY over every output column, no window functions)';
/** Differencing pairs a reason names one by one (the rest are counted). */
const PAIRS_NAMED = 20;

/**
 * The checks that need no entity keys: the row cap, an empty output, and a fail-closed placeholder
 * for the person-level checks, so that nothing computed over personal data can `pass` before they
 * exist. TODO(#11): the person-level checks replace the placeholder.
 */
export function createExportChecks(deps: ExportCheckDeps): ExportChecks {
  return {
    async runChecks(input) {
      const differencing = await differencingCheck(input, deps);
      return [
        rowCapCheck(input.rowCount, deps.rowCap, input.personLevel), emptyOutputCheck(input.rowCount, input.personLevel), ...await personLevelChecks(input, deps),
        ...(differencing ? [differencing] : []),
        ...(input.withheld ? [suppressionCheck(input.withheld, input.suppressedCells ?? [])] : []),
      ];
    },
  };
}

/** The row cap, its reason without the row count (the operator reads the checks; the count is for reviewers, in the detail). */
export function rowCapCheck(rowCount: number, rowCap: number, personLevel?: PersonLevel): Check {
  // SECURITY: invariant 8: over personal data whose checks could not be derived, whether the output
  // passes the cap is a count nobody checked (100,000 constant rows beside one person's rows, in a
  // set operation): for reviewers, the same either way (`empty-output` likewise).
  if (personLevel && 'uncheckable' in personLevel) return { name: 'row-cap', status: 'review', reason: 'whether the output is within the row cap is for reviewers to see: its person-level checks could not be derived' };
  // SECURITY: invariant 8: an output's row count is a count no person-level check has seen: not in the reason.
  return rowCount > rowCap
    ? { name: 'row-cap', status: 'review', reason: `the output has more than the ${rowCap} rows an export may hold without review` }
    : { name: 'row-cap', status: 'pass', reason: `within the cap of ${rowCap} rows` };
}

export function emptyOutputCheck(rowCount: number, personLevel?: PersonLevel): Check {
  // SECURITY: invariant 8: over personal data whose checks could not be derived, whether any row
  // matched is itself unchecked (one person's rows, or none): for reviewers, the same either way.
  if (personLevel && 'uncheckable' in personLevel) return { name: 'empty-output', status: 'review', reason: 'whether the output has rows is for reviewers to see: its person-level checks could not be derived' };
  // An empty answer says that nobody matches the condition, which can itself disclose (ACRO: zeros are disclosive).
  return rowCount === 0
    ? { name: 'empty-output', status: 'review', reason: 'the output has no rows: that nobody matches its conditions can itself disclose something', rows: 0 }
    : { name: 'empty-output', status: 'pass', reason: 'the output has rows' };
}

/**
 * What suppression withheld, stated as a check so that it is never silent: in the version's checks,
 * its detail, the audit and the manifest. `pass`: withholding is what made the other checks pass.
 */
export function suppressionCheck(withheld: Withheld, cells: { row: number; column: string }[]): Check {
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const both = (rows: number, cells: number) => `${count(rows, 'row', 'rows')} and ${count(cells, 'cell', 'cells')}`;
  return {
    name: 'suppression',
    status: 'pass',
    reason: `${count(withheld.cells, 'cell is', 'cells are')} shown as null and ${count(withheld.rows, 'row was', 'rows were')} removed: `
      + `${both(withheld.primaryRows, withheld.primaryCells)} that failed a check, and ${both(withheld.secondaryRows, withheld.secondaryCells)} more so that margins and totals cannot give them back (secondary suppression)`,
    ...(cells.length > 0 ? { cells } : {}),
    rows: withheld.rows,
  };
}

/**
 * The person-level checks: those the engine computed on entity keys (cells named by row and
 * column), or `review` with the reason when the query's shape cannot be checked. An output whose
 * query read no personal granted table still gets the catalog-based check below, which fails closed
 * on uploads, tables without lineage and workspace tables derived from personal data.
 */
async function personLevelChecks(input: ExportCheckInput, deps: Pick<ExportCheckDeps, 'datasetColumns' | 'workspaceTables'>): Promise<Check[]> {
  const computed = input.personLevel;
  if (computed && 'uncheckable' in computed) {
    return [{ name: PERSON_LEVEL_CHECK, status: 'review', reason: `the person-level checks cannot be derived for this query, so a reviewer must judge it: ${computed.uncheckable}` }];
  }
  if (computed) {
    return computed.checks.map((check) => ({
      name: check.name,
      status: check.status,
      reason: check.reason,
      ...(check.cells ? { cells: check.cells.map(([row, column]) => ({ row, column: input.columns[column]?.name ?? column })) } : {}),
      ...(check.rows ? { rows: check.rows.length } : {}),
    }));
  }
  return [await personLevelPlaceholder(input, deps)];
}

/**
 * `review` whenever the output may rest on personal data: a source dataset with a column the catalog
 * recognized as personal, a source the catalog has no record of, or an uploaded table (the catalog
 * never profiled it). `pass` only when every source is known and none holds personal data.
 */
export async function personLevelPlaceholder(input: Pick<ExportCheckInput, 'tenantId' | 'sources' | 'tables'>, deps: Pick<ExportCheckDeps, 'datasetColumns' | 'workspaceTables'>): Promise<Check> {
  const reasons: string[] = [];
  for (const source of input.sources) {
    const columns = await deps.datasetColumns(source.dataset, source.version);
    // SECURITY: invariant 9: no catalog record means it may be personal (fail closed).
    if (!columns) reasons.push(`${source.dataset} v${source.version} has no catalog record`);
    else {
      const personal = columns.filter((c) => c.pii);
      if (personal.length > 0) reasons.push(`${source.dataset} holds personal data (${personal.map((c) => `${c.name}: ${c.pii!.kind}`).join(', ')})`);
    }
  }
  const workspace = input.tables.filter((t) => t.startsWith('workspace.')).map((t) => t.slice('workspace.'.length));
  if (workspace.length > 0) {
    const lineage = new Map((await deps.workspaceTables(input.tenantId)).map((t) => [t.name, t]));
    for (const name of workspace) {
      const record = lineage.get(name);
      // SECURITY: uploads were never profiled by the catalog, and a table without lineage is unknown: fail closed.
      if (!record) reasons.push(`workspace table ${name} has no lineage record`);
      else if (record.env === 'upload') reasons.push(`workspace table ${name} is uploaded data the catalog has not profiled`);
    }
  }
  if (reasons.length === 0) return { name: PERSON_LEVEL_CHECK, status: 'pass', reason: 'no source dataset holds recognized personal data' };
  return { name: PERSON_LEVEL_CHECK, status: 'review', reason: `person-level disclosure checks are not yet available for this output: ${reasons.join('; ')}` };
}

const ROW_LEVEL_DIFFERENCING: Check = {
  name: DIFFERENCING_CHECK,
  status: 'review',
  reason: 'a row-level output over personal data is not compared with earlier releases: counted per combination of values its rows are counts, and two such outputs that differ by a few people (the same rows without one chosen person) give those people\'s rows by difference: a reviewer must judge it against what was released before',
};

/**
 * Differencing against every earlier release (issue #11 item 2): each cell of an aggregate output
 * against every released cell over the same set of source datasets, across all tenants and
 * recipients, on exact entity sets kept in the trusted release store. A cell whose set differs
 * from a released one by at least one and fewer than the minimum entities `fail`s: the two
 * together single those people out. Absent for outputs that read no personal table (the
 * placeholder above decides them); `review` for row-level outputs over personal data (no cell sets
 * are kept for them: docs/exports.md).
 */
async function differencingCheck(input: ExportCheckInput, deps: Pick<ExportCheckDeps, 'difference' | 'minEntities'>): Promise<Check | undefined> {
  const computed = input.personLevel;
  if (!computed) return undefined;
  // SECURITY: fail closed: a row-level output is an aggregate to whoever counts its rows (per
  // combination of values), and no cell sets are kept for it: the same rows without one chosen
  // person, released after these, give that person's rows by difference. Reviewers judge it.
  if ('checks' in computed && computed.kind === 'rows') return ROW_LEVEL_DIFFERENCING;
  if ('uncheckable' in computed) {
    return { name: DIFFERENCING_CHECK, status: 'review', reason: `the people behind each cell cannot be derived for this query, so it cannot be compared with earlier releases: a reviewer must judge it. ${NEVER_COMPARED}` };
  }
  let result: DifferencingResult;
  try {
    result = await deps.difference({
      exportId: input.exportId, version: input.version, tenantId: input.tenantId, datasets: datasetsOf(input.sources),
      minEntities: deps.minEntities, suppressed: input.suppressedCells ?? [],
    });
  } catch {
    // SECURITY: fail closed: a comparison that could not run is never a pass.
    result = { missing: 'the comparison with earlier releases could not run' };
  }
  return differencingOutcome(result, deps.minEntities);
}

/** The check a differencing result makes: `review` when the cells could not be compared, `fail` with the pairs named. */
export function differencingOutcome(result: DifferencingResult, minEntities: number): Check {
  if ('missing' in result) {
    // SECURITY: fail closed: a version whose cell sets are missing or unreadable is never a pass.
    return { name: DIFFERENCING_CHECK, status: 'review', reason: `the output cannot be compared with earlier releases (${result.missing}): a reviewer must judge it. ${NEVER_COMPARED}` };
  }
  if (result.pairs.length === 0) {
    return { name: DIFFERENCING_CHECK, status: 'pass', reason: `no cell differs from a cell of an earlier release by fewer than ${minEntities} people or enterprises` };
  }
  const named = result.pairs.slice(0, PAIRS_NAMED).map((pair) => {
    // SECURITY: another tenant's release is never named (its id, tenant or recipient): "an earlier release".
    const where = pair.earlier && (pair.earlier.row === null ? `column ${pair.earlier.column}` : `row ${pair.earlier.row}, ${pair.earlier.column}`);
    const earlier = pair.earlier ? `${pair.earlier.exportId} v${pair.earlier.version} (${where})` : 'an earlier release';
    if (pair.summed === 'earlier') return `row ${pair.row}, ${pair.column} against the sum of cells of ${earlier}`;
    if (pair.summed === 'new') return `row ${pair.row}, ${pair.column} summed with other cells of its column against ${earlier}`;
    return `row ${pair.row}, ${pair.column} against ${earlier}`;
  });
  const more = result.pairs.length > PAIRS_NAMED ? `, and ${result.pairs.length - PAIRS_NAMED} more` : '';
  const count = result.pairs.length === 1 ? '1 cell differs' : `${result.pairs.length} cells differ`;
  return {
    name: DIFFERENCING_CHECK,
    status: 'fail',
    reason: `${count} from a released cell (or a sum of cells) by fewer than ${minEntities} people or enterprises (together they single those people out): ${named.join('; ')}${more}`,
    cells: result.pairs.map((pair) => ({ row: pair.row, column: pair.column })),
  };
}

/** The distinct source dataset ids of a version: release cells are compared only over the same set. */
export function datasetsOf(sources: readonly SourceRef[]): string[] {
  return [...new Set(sources.map((s) => s.dataset))].sort();
}
