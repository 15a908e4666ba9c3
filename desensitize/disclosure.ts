import type { ColumnPolicy } from './policy.js';

/**
 * Person-level disclosure control (DESIGN.md §3.4–3.5, invariant 8; reference/disclosure-control.md):
 * which published columns single people out, which are quasi-identifiers, and the cell rules.
 * Pure: the engine computes the statistics (distinct entities, contributions) and asks here.
 */

/** What the checks know of a published table, kept in the tenant's catalog next to its lineage. */
export interface TablePrivacy {
  /** The table holds data about people or enterprises: prod answers over it are checked. */
  personal: boolean;
  /** Entity keys were published with it (`__entities_<table>`): its answers can be counted per entity. */
  entity: boolean;
  /** Columns that name or point at one entity (tokens, masks, recognized identifiers): never in row-level answers. */
  identifiers: string[];
  /** Quasi-identifiers: row-level answers must be k-anonymous over the ones they show. */
  quasi: string[];
}

/** Identifier kinds that can stand for the entity a row is about, best first. */
const ENTITY_KINDS = ['resident_id', 'uscc', 'passport', 'mobile', 'bank_card', 'email'] as const;

/** Names that are quasi-identifiers whatever their content (the defaults: region, district, age, dates, postcodes). */
const QUASI_NAME = /(gender|sex|性别|district|区县|region|地区|province|city|county|street|街道|age|年龄|birth|出生|postcode|post_code|zip|邮编|_date$|_day$|date_of|日期)/i;
const DATE_TYPES = /^(DATE|TIMESTAMP.*|TIME.*)$/i;

export interface PublishedColumnInput {
  name: string;
  type: string;
  piiKind: string | null;
  policy: ColumnPolicy;
}

/**
 * Columns that can stand for the entity a row is about: recognized identifiers of the kinds above,
 * strongest kind first (then in file order).
 */
export function entityCandidates<C extends { name: string; piiKind: string | null }>(columns: readonly C[]): C[] {
  return ENTITY_KINDS.flatMap((kind) => columns.filter((c) => c.piiKind === kind));
}

/**
 * The column a dataset's entities are counted on, as recognition alone would choose it: the first
 * recognized identifier of the strongest kind. Undefined when there is none (then a dataset with
 * personal data is answered only when an answer needs no counting, which is never: its answers are
 * refused in prod, fail closed). Ingest settles the column for each version (declared, or this one
 * when every other candidate names the same entities), and the dataset's record keeps it; this is
 * the fallback for records from before.
 */
export function entityColumnOf(columns: readonly { name: string; piiKind: string | null }[]): string | undefined {
  return entityCandidates(columns)[0]?.name;
}

/**
 * Classifies the columns a policy set publishes (derived columns included, hidden ones absent):
 * anything from recognized personal data or a token or mask is an identifier, generalized and
 * derived values and quasi-identifier names and dates are quasi-identifiers. `dataset` says what
 * holds of the dataset as a whole: whether it has an entity column, and personal data in any
 * column, published or not.
 */
export function classifyPublished(columns: readonly PublishedColumnInput[], dataset: { entity: boolean; personal: boolean }): TablePrivacy {
  const identifiers: string[] = [];
  const quasi: string[] = [];
  // SECURITY: rows about people stay personal whatever columns a grant keeps: a grant without the
  // names of a clinic's patients answered one patient's diagnosis unchecked (red-team pass 35a).
  let personal = dataset.personal;
  const { entity } = dataset;
  for (const column of columns) {
    if (column.piiKind) personal = true;
    if (column.policy.kind === 'hidden') continue;
    for (const derived of column.policy.derive ?? []) quasi.push(`${column.name}_${derived}`);
    if (column.policy.kind === 'generalize' || (column.policy.kind === 'mask' && column.piiKind === 'address')) quasi.push(column.name);
    // SECURITY: invariant 8: a token, a mask or any recognized personal value points at one person.
    else if (column.piiKind || column.policy.kind === 'token' || column.policy.kind === 'mask') identifiers.push(column.name);
    else if (QUASI_NAME.test(column.name) || DATE_TYPES.test(column.type)) quasi.push(column.name);
  }
  return { personal: personal || entity, entity, identifiers, quasi };
}

/** The thresholds, as ACRO's defaults (reference/disclosure-control.md); configurable per deployment. */
export interface DisclosureRules {
  /** Minimum distinct entities behind an aggregate cell. */
  minEntities: number;
  /** Dominance: the `dominanceN` largest contributions must stay under `dominanceK` of a cell's total. */
  dominanceN: number;
  dominanceK: number;
  /** p-ratio: the rest must be at least `pRatio` of the largest contribution. */
  pRatio: number;
  /** k-anonymity of row-level answers over the quasi-identifiers they show. */
  k: number;
}

export const DEFAULT_DISCLOSURE_RULES: DisclosureRules = { minEntities: 10, dominanceN: 2, dominanceK: 0.9, pRatio: 0.1, k: 5 };

/** What the engine measured behind one aggregate cell. */
export interface CellStats {
  /** Distinct entities contributing to the cell (rows satisfying its filter). */
  entities: number;
  /** For sums and means: the sum of |per-entity contribution| and the largest ones, descending. */
  total?: number;
  top?: number[];
}

export type CellRule = 'threshold' | 'dominance' | 'p-ratio' | 'single-value';
export type CellVerdict = { ok: true } | { ok: false; rule: CellRule };

/**
 * Whether a cell may be shown, by the threshold, dominance and p-ratio rules. `groupEntities` is
 * the entities of the cell's whole group: a cell over part of it (a FILTER, non-null values) must
 * also leave out none or at least the minimum, or the group's other cells minus this one describe
 * the few left out.
 */
export function judgeCell(stats: CellStats, rules: DisclosureRules, groupEntities = stats.entities): CellVerdict {
  const [rule] = failedRules(stats, rules, groupEntities);
  return rule ? { ok: false, rule } : { ok: true };
}

/**
 * Every rule a cell fails, in the order `judgeCell` applies them: a report names each rule a cell
 * breaks (a sum can be both dominated and within reach of its second contributor), while an answer
 * needs only the first to withhold it. The rules on contributions apply once the threshold holds.
 */
export function failedRules(stats: CellStats, rules: DisclosureRules, groupEntities = stats.entities): CellRule[] {
  // SECURITY: invariant 8: a cell about fewer than the minimum of entities (zero included) is withheld.
  if (stats.entities < rules.minEntities) return ['threshold'];
  const leftOut = groupEntities - stats.entities;
  // SECURITY: invariant 8: sum(x) next to sum(x) FILTER (WHERE not one person) gives that person's x.
  if (leftOut > 0 && leftOut < rules.minEntities) return ['threshold'];
  const failed: CellRule[] = [];
  if (stats.total !== undefined && stats.top && stats.total > 0) {
    const top = [...stats.top].sort((a, b) => b - a);
    const largest = top.slice(0, rules.dominanceN).reduce((sum, value) => sum + value, 0);
    // SECURITY: one or two entities making up most of a sum reveal their own values.
    if (largest > rules.dominanceK * stats.total) failed.push('dominance');
    const rest = stats.total - (top[0] ?? 0) - (top[1] ?? 0);
    // SECURITY: the second largest contributor could subtract itself and learn the largest.
    if (rest < rules.pRatio * (top[0] ?? 0)) failed.push('p-ratio');
  }
  return failed;
}

/** Plain-words reasons per rule, for answers and reports. */
export function ruleReason(rule: CellRule, count: number, rules: DisclosureRules): string {
  const cells = count === 1 ? '1 cell' : `${count} cells`;
  switch (rule) {
    case 'threshold': return `${cells} describe fewer than ${rules.minEntities} people or enterprises, or differ from their group or another cell of their row by fewer than ${rules.minEntities}`;
    case 'dominance': return `in ${cells} the ${rules.dominanceN} largest contributors make up more than ${Math.round(rules.dominanceK * 100)}% of the total`;
    case 'p-ratio': return `in ${cells} the other contributors add up to less than ${Math.round(rules.pRatio * 100)}% of the largest one`;
    case 'single-value': return `${cells} would show one person's own value (a minimum, maximum, median or mode, or a spread one person's deviation can make up)`;
  }
}

/** One output row as secondary suppression sees it. */
export interface SuppressionRow {
  /** Distinct entities of the row's group (the smallest count over the personal tables). */
  entities: number;
  /** Withheld whole because it failed on its own (its group is too small). */
  withheld: boolean;
  /** Output columns of the row whose cells failed on their own (primary suppression). */
  failed: ReadonlySet<number>;
}

/** What secondary suppression adds: whole rows, and cells as [row, column] (indices into the input). */
export interface SecondarySuppression {
  rows: number[];
  cells: [number, number][];
}

/**
 * Secondary (complementary) suppression: a known total (a total row, a margin, another query, an
 * earlier release) minus the shown rows or cells gives back the union of what was withheld. Two
 * withheld groups of one person each give "2 people", as revealing as one. So whenever at least one
 * row is withheld, the first row (in the output's order) that passed on its own is withheld too, and
 * whenever at least one cell of a column is withheld (by its row or on its own), the first cell of
 * that column that passed on its own is withheld: the withheld union then holds a cell that
 * describes at least the minimum of entities by itself, so no total gives back fewer.
 * SECURITY: invariant 8: chosen by position, never by the entities behind the rows: taking the
 * smallest ranked hidden counts, and which of 三区 (100 people) and 四区 (100, or 99 without one
 * person) went with a withheld row said whether that person was in 四区's group (ninth red-team pass).
 */
export function secondarySuppression(rows: readonly SuppressionRow[], columns: readonly number[]): SecondarySuppression {
  const added: SecondarySuppression = { rows: [], cells: [] };
  const hidden = new Set<number>();
  const first = (eligible: (row: SuppressionRow, index: number) => boolean): number | undefined => {
    const index = rows.findIndex(eligible);
    return index < 0 ? undefined : index;
  };
  if (rows.some((row) => row.withheld)) {
    // A row that failed nowhere is preferred: all of its cells then count as passing ones.
    const next = first((row) => !row.withheld && row.failed.size === 0) ?? first((row) => !row.withheld);
    // SECURITY: invariant 8: withheld groups are the total minus the others: withhold a passing one with them.
    if (next !== undefined) {
      hidden.add(next);
      added.rows.push(next);
    }
  }
  for (const column of columns) {
    const needs = rows.some((row) => row.withheld || row.failed.has(column));
    if (!needs) continue;
    const covered = [...hidden].some((index) => !rows[index]!.failed.has(column));
    if (covered) continue;
    const next = first((row, index) => !row.withheld && !hidden.has(index) && !row.failed.has(column));
    // SECURITY: invariant 8: the same per column: a margin minus the shown cells must include a passing cell.
    if (next !== undefined) added.cells.push([next, column]);
  }
  return added;
}
