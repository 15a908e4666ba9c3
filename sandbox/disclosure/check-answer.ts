import { JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { judgeCell, ruleReason, secondarySuppression, type CellRule, type CellStats, type CellVerdict, type DisclosureRules, type SuppressionRow } from '../../desensitize/index.js';
import type { Json } from '../gate/ast-walk.js';
import { entityTableName } from '../engine/publish.js';
import type { AnswerShape, PersonalRef } from './answer-shape.js';
import { rowMeasures, rowStatistics, rowStatisticsWidth, withheldInRow, type ComparedMeasures } from './row-combinations.js';
import { placedByShownCells } from './shown-order.js';

/**
 * Person-level checks of a prod answer (issue #11 item 3, invariant 8): the operator's query runs
 * with its grouping keys appended (`Q'`), and a companion query the operator never sees counts,
 * from the same FROM, WHERE and GROUP BY with each personal table joined to its entity keys, the
 * distinct entities and their contributions behind every output row. Rows and cells that would
 * describe too few entities are withheld, and the answer says how many and why; a row-level answer
 * that shows identifiers or is not k-anonymous is refused. Any failure to derive or run the
 * companion refuses the answer: never shown unchecked.
 */

export interface DisclosureReport {
  /** `aggregate`: cells checked and withheld where needed; `rows`: k-anonymity held. */
  kind: 'aggregate' | 'rows';
  /** Output rows withheld because their group describes too few entities; null for row-level answers (not said). */
  withheldRows: number | null;
  /** Cells replaced by null. */
  suppressedCells: number;
  /** Plain-words reasons, one per rule that withheld something. */
  reasons: string[];
}

export interface CheckedRows {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
  disclosure: DisclosureReport;
  /**
   * Every group the answer computed, shown or withheld, with its aggregate columns shown and
   * withheld (for the differencing history; never sent to the tenant). A cell whose value is null
   * without being withheld shows nobody and is in neither list. Row-level answers: the shown rows'
   * combinations of quasi-identifiers.
   */
  answered?: AnsweredGroup[];
}

export interface AnsweredGroup {
  /** The group's key, as the companions print it. */
  key: string;
  /** Whether its row was on the screen (false: withheld whole). */
  rowShown: boolean;
  shown: number[];
  withheld: number[];
}

type Obj = Record<string, Json>;
/** Reads an answer whole, up to the engine's bound for answers limited after their checks (`truncated` past it). */
type Run = (sql: string) => Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; truncated: boolean }>;

/** The caller's caps on what an answer shows. */
export interface AnswerCaps {
  maxRows: number;
  maxBytes: number;
}

/**
 * Types a grouping key may have in prod: those whose values DuckDB holds equal only when they are
 * the same value, so that the key, and anything computed from it, is the same whichever row of the
 * group DuckDB met first. Not INTERVAL ('30 days' = '1 month'), FLOAT or DOUBLE (-0.0 = 0.0, yet
 * `1 / k` is -Infinity or Infinity; NaNs of either sign), times and timestamps with a time zone (one
 * instant, two offsets), nested types (lists, structs, maps, unions of them), BLOB, BIT or JSON: an
 * allow-list, so that a type not thought of is refused, not shown.
 */
export const EXACT_KEY_TYPE = /^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|DECIMAL\(\d+,\s*\d+\)|VARCHAR|DATE|TIME|TIMESTAMP|TIMESTAMP_S|TIMESTAMP_MS|TIMESTAMP_NS|UUID|ENUM\(.*\))$/;

/** Groups a companion may return before the answer is called uncheckable (memory bound). */
export const MAX_COMPANION_GROUPS = 2_000_000;

/**
 * Runs the answer of a checkable shape and its companions. `runAnswer` reads the answer whole; it is
 * limited (its LIMIT and OFFSET, then the caller's row and byte caps, `caps`) only after the checks
 * withheld what they withhold, so a withheld row never takes a place in the order or counts towards
 * `truncated`. The companions are read here in full.
 */
export async function checkedAnswer(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, rules: DisclosureRules, runAnswer: Run, caps: AnswerCaps): Promise<CheckedRows> {
  if (shape.kind === 'rows' && shape.identifiers.length > 0) {
    // SECURITY: invariant 8: identifiers (tokens, masks, recognized personal values) never reach the screen in prod.
    throw new DomainError('DSC_ERR_IDENTIFIERS', `row-level answers in prod cannot show identifier columns (${shape.identifiers.join(', ')}): aggregate them, or develop the query in dev`);
  }
  // SECURITY: invariant 8: a prod answer reads the shown form (row-level answers DISTINCT: no count of rows).
  const { answer, columns, keyOf, strip, companions, populationBelow, window } = await measure(connection, shape, runAnswer);
  const width = columns.length;
  // SECURITY: invariant 8: a selection of fewer people than the minimum answers nothing, the same way
  // whether it holds one person or none (else "withheld 1" against "empty" says whether someone matches).
  if (shape.kind === 'aggregate' && await populationBelow(rules.minEntities)) {
    throw new DomainError('DSC_ERR_NOT_K_ANONYMOUS', `the rows this query selects describe fewer than ${rules.minEntities} people or enterprises (none included), so nothing is shown: widen the selection`);
  }

  if (shape.kind === 'rows') {
    // SECURITY: invariant 8: a row-level answer shows only rows shared by k people or more, and says
    // the same whether any row was left out: a refusal (or a count) when one person's row joined the
    // answer said whether that person matched the query.
    const shown = answer.rows.filter((row) => companions.every((stats) => Number(stats.get(keyOf(row, width))?.[0] ?? 0) >= rules.k));
    const { rows, truncated } = limited(shown, window, caps);
    // For the differencing history: the rows shown, and those left out (rows past LIMIT or the caps are neither).
    const onScreen = new Set(rows.map((row) => keyOf(row, width)));
    const passed = new Set(shown.map((row) => keyOf(row, width)));
    const answered = answer.rows.map((row) => keyOf(row, width)).filter((key) => onScreen.has(key) || !passed.has(key))
      .map((key) => ({ key, rowShown: onScreen.has(key), shown: [], withheld: [] }));
    const over = shape.quasi.length > 0 ? ` on (${shape.quasi.map((q) => q.label).join(', ')})` : '';
    return {
      columns, rows: rows.map(strip), truncated,
      disclosure: { kind: 'rows', withheldRows: null, suppressedCells: 0, reasons: [`rows shared by fewer than ${rules.k} people${over} are never shown, and whether any were left out is not said: aggregate or generalize to see more`] },
      answered,
    };
  }

  const cellsByRule = new Map<CellRule, number>();
  const single = onePersonAggregates(shape);
  const compared = comparedMeasures(shape);
  let differingCells = 0;
  const measured: (SuppressionRow & { row: unknown[]; key: string })[] = answer.rows.map((row) => {
    const key = keyOf(row, width);
    const stats = companions.map((c) => c.get(key));
    const entities = Math.min(...stats.map((s) => Number(s?.[0] ?? 0)));
    // SECURITY: invariant 8: a group of fewer entities than the minimum is not shown at all (its key would say it exists).
    if (stats.some((s) => s === undefined) || entities < rules.minEntities) return { row: strip(row), key, entities, withheld: true, failed: new Set<number>() };
    const failed = new Set<number>();
    shape.aggregates.forEach((aggregate, index) => {
      for (const s of stats) {
        // SECURITY: invariant 8: a minimum or maximum is one person's value: never on the screen in prod.
        const verdict: CellVerdict = single[index] ? { ok: false, rule: 'single-value' } : judgeCell(cellStats(s!, index, aggregate.summable), rules, Number(s![0]));
        if (!verdict.ok && !failed.has(aggregate.column)) {
          failed.add(aggregate.column);
          cellsByRule.set(verdict.rule, (cellsByRule.get(verdict.rule) ?? 0) + 1);
        }
      }
    });
    // SECURITY: invariant 8: cells of a row that together single out a few people (a difference of
    // two cells, a total beside its parts) are withheld, the same way when nobody is singled out.
    for (const column of differingColumns(shape, compared, stats as number[][], rules.minEntities)) {
      if (failed.has(column)) continue;
      failed.add(column);
      differingCells += 1;
    }
    return { row: strip(row), key, entities, withheld: false, failed };
  });
  // SECURITY: fail closed: an aggregate answer has one row per group (its keys are appended); two
  // rows of one group were made from a value the checks did not see (unnest, red-team pass 31b).
  if (new Set(measured.map((m) => m.key)).size !== measured.length) throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer has two rows of one group, made from values the checks do not see: aggregate without unnest');
  const withheldRows = measured.filter((m) => m.withheld).length;
  // SECURITY: invariant 8: secondary suppression, shared with exports (desensitize/disclosure.ts).
  const aggregateColumns = [...new Set(shape.aggregates.map((a) => a.column))];
  const secondary = secondarySuppression(measured, aggregateColumns);
  const hidden = new Set(secondary.rows);
  const nulled = measured.map((m) => new Set(m.failed));
  for (const [row, column] of secondary.cells) nulled[row]!.add(column);
  const passing: unknown[][] = [];
  const passingKeys: string[] = [];
  const answered: AnsweredGroup[] = [];
  let suppressedCells = 0;
  measured.forEach((m, index) => {
    if (m.withheld || hidden.has(index)) {
      answered.push({ key: m.key, rowShown: false, shown: [], withheld: aggregateColumns });
      return;
    }
    for (const column of nulled[index]!) m.row[column] = null;
    suppressedCells += nulled[index]!.size;
    passing.push(m.row);
    passingKeys.push(m.key);
    answered.push({ key: m.key, rowShown: true, shown: aggregateColumns.filter((c) => m.row[c] !== null), withheld: [...nulled[index]!] });
  });
  // SECURITY: invariant 8: LIMIT, OFFSET and the caps take the rows that passed, in their order.
  const { rows, truncated } = limited(placedByShownCells(typeof shape.cellOrder === 'object' ? shape.cellOrder : undefined, passing, passingKeys), window, caps);
  const onScreen = new Set(rows);
  const added = secondary.rows.length + secondary.cells.length;
  const reasons: string[] = [];
  if (withheldRows > 0) reasons.push(`${withheldRows === 1 ? '1 row was' : `${withheldRows} rows were`} withheld: ${withheldRows === 1 ? 'its group describes' : 'their groups describe'} fewer than ${rules.minEntities} people or enterprises`);
  for (const [rule, count] of cellsByRule) reasons.push(`${ruleReason(rule, count, rules)}: shown as null`);
  if (differingCells > 0) reasons.push(`${differingCells === 1 ? '1 cell' : `${differingCells} cells`} would describe fewer than ${rules.minEntities} people together with other cells of the same row (a difference, or a total beside its parts), whether or not anyone is there: shown as null`);
  if (added > 0) reasons.push(`${added} more ${added === 1 ? 'row or cell was' : 'rows or cells were'} withheld so that a total cannot give the others back (secondary suppression)`);
  return {
    columns,
    rows,
    truncated,
    disclosure: { kind: 'aggregate', withheldRows: answer.rows.length - passing.length, suppressedCells, reasons },
    // Rows that passed but fell past LIMIT or the caps were not on the screen: not in the history.
    answered: answered.filter((group, index) => !group.rowShown || onScreen.has(measured[index]!.row)),
  };
}

/**
 * The rows an answer shows: its OFFSET and LIMIT and then the caller's caps, over the rows that
 * passed the checks (bytes counted as `readCapped` counts them).
 */
function limited(rows: unknown[][], window: LimitWindow, caps: AnswerCaps): { rows: unknown[][]; truncated: boolean } {
  const slice = rows.slice(window.offset, window.limit === null ? undefined : window.offset + window.limit);
  const kept: unknown[][] = [];
  let bytes = 0;
  for (const row of slice) {
    bytes += Buffer.byteLength(JSON.stringify(row), 'utf8');
    if (kept.length >= caps.maxRows || bytes > caps.maxBytes) return { rows: kept, truncated: true };
    kept.push(row);
  }
  return { rows: kept, truncated: false };
}

/**
 * Per aggregate index: [entities with rows in the cell, sum of |contributions|, largest, second
 * largest contribution] at positions 1 + 4i.. of a companion row; position 0 is the group's entities.
 */
export function cellStats(stats: number[], index: number, summable: boolean): CellStats {
  const row = stats as unknown as (number | null)[];
  const entities = Number(row[1 + index * 4] ?? 0);
  if (!summable) return { entities };
  const top: number[] = [];
  for (const value of [row[3 + index * 4], row[4 + index * 4]]) if (value !== null && value !== undefined) top.push(Number(value));
  return { entities, total: Number(row[2 + index * 4] ?? 0), top };
}

/** The answer with its keys appended, and per personal table its companion's statistics by key. */
async function measure(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, runAnswer: Run) {
  const keys = keysOf(shape);
  const plan = await companionPlan(connection, shape);
  // A prod answer is read whole: it is limited after the checks (`limited`).
  const answer = await runAnswer(plan.shownSql);
  // SECURITY: fail closed: an answer too large to read whole cannot be limited after its checks.
  if (answer.truncated) throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer is too large to check whole before it is limited: narrow it');
  const width = answer.columns.length - keys.length;
  // SECURITY: invariant 8: a group (or DISTINCT row) prints the value of the first row DuckDB met
  // in it; values it holds equal but prints apart (INTERVAL '30 days' and '1 month') then show
  // which row that was (one person's, or not). Decided on the keys' types, the same whatever the
  // rows (eleventh red-team pass).
  const loose = answer.columns.slice(width).find((column) => !EXACT_KEY_TYPE.test(column.type));
  if (loose) throw new DomainError('DSC_ERR_UNCHECKABLE', `grouping by a value of type ${loose.type} cannot be checked: values DuckDB holds equal can print differently (30 days and 1 month), so a group would show one of its rows; group by numbers, text, dates or timestamps (to_days, epoch, CAST AS VARCHAR)`);
  const measured: Companion[] = [];
  // A grouped aggregate's selection counts as one more group against the bound (as when it was a grouping set).
  const counted = shape.kind === 'aggregate' && keys.length > 0 ? 1 : 0;
  // SECURITY: invariant 8: a join that repeats personal rows weighs people the checks count once.
  // Whether a join repeats rows can depend on one person: its own code, counted as probing.
  if (await repeatsPersonalRows(connection, plan)) throw new DomainError('DSC_ERR_REPEATED_ROWS', REPEATED_ROWS);
  for (const companion of plan.companions) measured.push(await companionStats(connection, companion.statsSql, keys.length, counted));
  return {
    companions: measured.map((c) => c.groups),
    /**
     * Whether the distinct entities of the whole selection are fewer than `minimum` (grouped
     * aggregates; row-level answers and single-group aggregates are judged row by row). A group's
     * entities are part of the selection's, so a group of `minimum` or more proves it without a
     * query; only otherwise is the selection counted.
     */
    populationBelow: async (minimum: number): Promise<boolean> => {
      if (shape.kind !== 'aggregate' || keys.length === 0) return false;
      for (const [i, companion] of plan.companions.entries()) {
        if (measured[i]!.largestGroup >= minimum) continue;
        if (await countPopulation(connection, companion.populationSql) < minimum) return true;
      }
      return false;
    },
    answer,
    window: plan.window,
    columns: answer.columns.slice(0, width),
    keyOf: (row: unknown[], from: number) => JSON.stringify(row.slice(from, from + keys.length)),
    strip: (row: unknown[]) => row.slice(0, width),
  };
}

/** Reads a companion: key → [group entities, then per aggregate: entities, total, two largest]. */
async function companionStats(connection: DuckDBConnection, sql: string, keyCount: number, counted: number): Promise<Companion> {
  const rows = await readCompanion(connection, sql, (column) => column < keyCount);
  if (rows.length + counted > MAX_COMPANION_GROUPS) throw new DomainError('DSC_ERR_UNCHECKABLE', `the answer has more than ${MAX_COMPANION_GROUPS} groups to check: narrow it`);
  const groups = new Map<string, number[]>();
  let largestGroup = 0;
  for (const row of rows) {
    const key = JSON.stringify(row.slice(0, keyCount));
    // SECURITY: fail closed: two groups whose keys print alike (NaN and NULL) cannot be told apart.
    if (groups.has(key)) throw new DomainError('DSC_ERR_UNCHECKABLE', 'two groups of the answer cannot be told apart (keys that print alike): group by another expression');
    const stats = row.slice(keyCount) as number[];
    groups.set(key, stats);
    largestGroup = Math.max(largestGroup, Number(stats[0]));
  }
  return { groups, largestGroup };
}

/** The distinct entities of a grouped aggregate's whole selection. */
async function countPopulation(connection: DuckDBConnection, sql: string): Promise<number> {
  return Number((await readCompanion(connection, sql, () => false))[0]?.[0] ?? 0);
}

/**
 * Runs a companion query in full (up to the group bound), column by column: the columns `asJson`
 * names as the answer's values are read (JSON, so that keys compare with the answer's own), the
 * others as numbers (counts and contributions: the same numbers, without converting each value
 * through JSON).
 */
async function readCompanion(connection: DuckDBConnection, sql: string, asJson: (column: number) => boolean = () => true): Promise<unknown[][]> {
  const columns = await readColumns(connection, sql, asJson);
  return Array.from({ length: columns[0]?.length ?? 0 }, (_, r) => columns.map((column) => column[r]));
}

/** `readCompanion`'s values column by column (no row arrays), up to the group bound. */
async function readColumns(connection: DuckDBConnection, sql: string, asJson: (column: number) => boolean): Promise<unknown[][]> {
  const columns: unknown[][] = [];
  let rows = 0;
  try {
    const result = await connection.stream(sql);
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0 && rows <= MAX_COMPANION_GROUPS; chunk = await result.fetchChunk()) {
      for (let c = 0; c < chunk.columnCount; c++) {
        // Text statistics (a row's atoms, `row-combinations.ts`) stay text.
        const values = asJson(c) ? chunk.convertColumnValues(c, JsonDuckDBValueConverter) : chunk.getColumnValues(c).map((v) => (typeof v === 'string' ? v : numberOf(v)));
        const column = columns[c] ?? (columns[c] = []);
        for (const value of values) column.push(value);
      }
      rows += chunk.rowCount;
    }
  } catch (error) {
    if (error instanceof DomainError) throw error;
    // SECURITY: fail closed: an answer whose companion cannot run is not shown.
    throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
  }
  return columns;
}

/** A statistic as a number (counts come as bigint); null stays null. */
function numberOf(value: unknown): number | null {
  return value === null || value === undefined ? null : Number(value);
}

interface Companion {
  /** Per group key: [entities, then per aggregate: entities, total, two largest]. */
  groups: Map<string, number[]>;
  /** The most entities of any one group (a lower bound of the whole selection's). */
  largestGroup: number;
}

/** The SQL of a checked answer: the answer with its keys appended, and per personal table its companion. */
export interface CompanionPlan {
  /** The answer with its keys appended, as the query gives it: the output's names and types (an export's rows come from `exportAnswerSql`). */
  answerSql: string;
  /**
   * The answer as a prod answer shows it: row-level answers made DISTINCT.
   * SECURITY: invariant 8: each row of a k-anonymous answer is shared by k people, but how many
   * rows there are (or whether they pass the row cap) is a count no check has seen: 2,000 rows of
   * 三区 "except this person's payments above X" counted one person's payments above X.
   */
  shownSql: string;
  companions: { statsSql: string; populationSql: string }[];
  /** A FROM with a join: the count of rows carrying personal rows, and of distinct combinations of them. */
  repeatedRowsSql?: string | undefined;
  /** The answer's OFFSET and LIMIT: `shownSql` has none (it is read whole), they apply after the checks, and then the caps. */
  window: LimitWindow;
}

/** An answer's OFFSET and LIMIT (null: none), applied to the rows that passed the checks. */
interface LimitWindow {
  offset: number;
  limit: number | null;
}

/**
 * Rendered once per shape: the SQL is a function of the shape alone (DuckDB's own rendering of
 * parse trees built from it), and a shape is the engine's cached decision for one text in one
 * catalog version and workspace generation, so reusing it is reusing that decision. Every run
 * still reads the data afresh; nothing of an earlier answer is kept.
 */
const plans = new WeakMap<object, Promise<CompanionPlan>>();

export function companionPlan(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Promise<CompanionPlan> {
  let plan = plans.get(shape);
  if (!plan) {
    plan = buildCompanionPlan(connection, shape);
    plans.set(shape, plan);
    // A failed rendering is not remembered: the next run tries again (and fails closed again).
    plan.catch(() => plans.delete(shape));
  }
  return plan;
}

async function buildCompanionPlan(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Promise<CompanionPlan> {
  const answer = withKeys(shape);
  const keyCount = keysOf(shape).length;
  const modifiers = (answer.modifiers as Obj[] | undefined) ?? [];
  // SECURITY: invariant 8: a prod answer is read without its LIMIT and OFFSET, which apply after the
  // checks: otherwise a withheld row takes a place in the order, and "ORDER BY a LIMIT 1" against
  // "ORDER BY a DESC LIMIT 1" ranks one person's hidden value against a shown one. Unordered ones
  // too, since they are ordered by their keys: a one-person group keyed '0' came first and filled the
  // place an OFFSET 1 skipped, unseen by the checks and the history (red-team pass 14a).
  const limits = modifiers.filter((m) => m.type === 'LIMIT_MODIFIER' || m.type === 'LIMIT_PERCENT_MODIFIER');
  let shown = limits.length > 0 ? modifiers.filter((m) => !limits.includes(m)) : modifiers;
  // SECURITY: invariant 8: an unordered prod answer is shown in the order of its keys: DuckDB lists
  // groups (and DISTINCT rows) in the order it first meets them, so the order of two large groups
  // said whether one person's early rows passed the WHERE. Ordered by values the answer shows (or
  // its grouping keys), never by values it withholds; the LIMIT then takes rows in that order.
  // An ordered one is ordered by its keys too, after its own orders: ties (`ORDER BY length(district)`)
  // would otherwise keep that order. An answer ordered by an aggregate column is read in the order
  // of its keys and ordered after its checks, by the values shown (`placedByShownCells`): its ORDER
  // BY leaves the SQL.
  if (shape.kind === 'aggregate' && typeof shape.cellOrder === 'object') shown = shown.filter((m) => m.type !== 'ORDER_MODIFIER');
  shown = orderedAlso(shown, keyOrders(keyCount));
  // A row-level prod answer shows each combination once (DISTINCT before its ORDER BY and LIMIT).
  if (shape.kind === 'rows' && !modifiers.some((m) => m.type === 'DISTINCT_MODIFIER')) shown = [{ type: 'DISTINCT_MODIFIER', distinct_on_targets: [] }, ...shown];
  const shownNode: Obj[] = shown === modifiers ? [] : [{ ...answer, modifiers: shown }];
  // SECURITY: invariant 8: a FROM with a join is checked for personal rows it repeats (`repeatedRowsNode`).
  const repeated: Obj[] = (shape.from as Obj).type === 'JOIN' ? [repeatedRowsNode(shape)] : [];
  // When the rows' presence atoms are read (`ComparedMeasures.atoms`), per personal table (`atomsNode`).
  const atoms = shape.kind === 'aggregate' && comparedMeasures(shape).atoms ? shape.personal.map((ref) => atomsNode(shape, ref)) : [];
  // One round trip renders the answer and every companion's inner query.
  const [answerSql, ...rest] = await render(connection, [answer, ...shownNode, ...repeated, ...shape.personal.map((ref) => companionNode(shape, ref)), ...atoms]);
  const shownSql = shownNode.length > 0 ? rest.shift()! : answerSql!;
  const repeatedRowsSql = repeated.length > 0 ? rest.shift()! : undefined;
  const inners = rest.slice(0, shape.personal.length);
  const atomsInners = rest.slice(shape.personal.length);
  // SECURITY: invariant 8: every prod answer is read whole: its caps (and `truncated`) apply to the
  // rows shown, else "truncated, no rows" said that a left-out row took the only place.
  return { answerSql: answerSql!, shownSql, repeatedRowsSql, companions: inners.map((inner, i) => companionSql(shape, inner!, atomsInners[i])), window: limitWindow(limits) };
}

/**
 * The rows an export holds: the answer with its keys appended as `__key<i>` after its output columns,
 * without its ORDER BY (the file's order is the caller's, `checkOutput`, by values alone). An export
 * over personal data has no LIMIT or OFFSET (the engine refuses them: the rows they skip would go
 * unchecked), so its ORDER BY would order nothing.
 */
export async function exportAnswerSql(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Promise<string> {
  const answer = withKeys(shape);
  const modifiers = (answer.modifiers as Obj[] | undefined) ?? [];
  // SECURITY: fail closed: the engine refuses them before this; never applied to unchecked rows.
  if (modifiers.some((m) => m.type === 'LIMIT_MODIFIER' || m.type === 'LIMIT_PERCENT_MODIFIER')) throw new DomainError('DSC_ERR_UNCHECKABLE', 'LIMIT and OFFSET are not available in an export over personal data');
  const [sql] = await render(connection, [{ ...answer, modifiers: modifiers.filter((m) => m.type !== 'ORDER_MODIFIER') }]);
  return sql!;
}

/** An answer's keys: its group keys, or a row-level answer's quasi-identifiers. */
export function keysOf(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Json[] {
  return shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
}

/** The answer's node with its keys appended to its select list as `__key<i>`. */
function withKeys(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Obj {
  const keys = keysOf(shape);
  return { ...(shape.node as Obj), select_list: [...(shape.node as Obj).select_list as Json[], ...keys.map((key, i) => aliased(key, `__key${i}`))] };
}

/** ORDER BY items for the `count` keys appended as `__key<i>`. */
function keyOrders(count: number): Obj[] {
  return Array.from({ length: count }, (_, i) => ({ type: 'ORDER_DEFAULT', null_order: 'ORDER_DEFAULT', expression: { class: 'COLUMN_REF', type: 'COLUMN_REF', alias: '', column_names: [`__key${i}`] } }));
}

/** `modifiers` (without LIMIT: it applies after the checks) with `orders` after the items of their ORDER BY, or in an ORDER BY of their own. */
function orderedAlso(modifiers: Obj[], orders: Obj[]): Obj[] {
  if (orders.length === 0) return modifiers;
  const orderAt = modifiers.findIndex((m) => m.type === 'ORDER_MODIFIER');
  if (orderAt < 0) return [...modifiers, { type: 'ORDER_MODIFIER', orders }];
  return modifiers.map((m, i) => (i === orderAt ? { ...m, orders: [...(m.orders as Json[]), ...orders] } : m));
}

/** The constant OFFSET and LIMIT of an answer's LIMIT modifiers (anything else is uncheckable). */
function limitWindow(limits: Obj[]): LimitWindow {
  const window: LimitWindow = { offset: 0, limit: null };
  for (const modifier of limits) {
    // SECURITY: fail closed: a LIMIT the checks cannot apply themselves is not guessed at.
    if (modifier.type !== 'LIMIT_MODIFIER') throw new DomainError('DSC_ERR_UNCHECKABLE', 'LIMIT ... PERCENT over personal data cannot be checked: give a number of rows');
    const limit = constantCount(modifier.limit);
    const offset = constantCount(modifier.offset);
    window.offset += offset ?? 0;
    if (limit !== null) window.limit = window.limit === null ? limit : Math.min(window.limit, limit);
  }
  return window;
}

/** A LIMIT or OFFSET: a non-negative integer constant, or null when absent. */
function constantCount(expr: Json | undefined): number | null {
  if (expr === null || expr === undefined) return null;
  const node = expr as Obj;
  const value = (node.value as Obj | undefined)?.value;
  const count = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (node.class !== 'CONSTANT' || !Number.isSafeInteger(count) || count < 0) throw new DomainError('DSC_ERR_UNCHECKABLE', 'LIMIT and OFFSET over personal data must be whole numbers');
  return count;
}

/**
 * The companion of one personal table, as a parse tree: the query's FROM (that table joined to its
 * entity keys), WHERE and grouping, grouped once more by entity, one row per (group, entity) with,
 * per aggregate, the rows contributing (its FILTER respected) and their sum. For row-level answers:
 * the distinct entities per combination of the quasi-identifiers shown (the whole companion).
 */
function companionNode(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, ref: PersonalRef): Obj {
  const node = shape.node as Obj;
  const from = augmentFrom(shape.from, shape.personal);
  const entity: Obj = { class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [ref.entityColumn], alias: '' };
  const keys = keysOf(shape);
  const keyItems = keys.map((key, i) => aliased(key, `__key${i}`));
  const base = { ...node, from_table: from, having: null, modifiers: [], qualify: null, sample: null, aggregate_handling: 'STANDARD_HANDLING' };
  if (shape.kind === 'rows') {
    const count = { ...countStar(), function_name: 'count', children: [entity], distinct: true, alias: '__n' };
    return { ...base, select_list: [...keyItems, count], group_expressions: keys.map(clone), group_sets: keys.length > 0 ? [keys.map((_, i) => i)] : [] };
  }
  const shared = sharedMeasures(shape);
  const perAggregate = shape.aggregates.flatMap((_, i) => (shared[i] === i ? entityMeasures(shape, i) : []));
  // `__n`: the entity's rows in the group, to see a cell leave out some of the rows without a key.
  return perEntityNode(shape, ref, [], (e) => [aliased(e, '__e'), aliased(countStar(), '__n'), ...perAggregate]);
}

/**
 * The SELECT both per-person companions of an aggregate answer read: the query's FROM (each personal
 * table joined to its entity keys), WHERE and grouping, grouped once more by `extra` and by the
 * entity of `ref`; its items are the query's non-aggregate items (aliases kept, so that GROUP BY
 * names resolve exactly as in the query), the keys as `__key<i>`, then `items(entity)`.
 */
function perEntityNode(shape: Extract<AnswerShape, { kind: 'aggregate' }>, ref: PersonalRef, extra: Obj[], items: (entity: Obj) => Obj[]): Obj {
  const node = shape.node as Obj;
  const entity: Obj = { class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [ref.entityColumn], alias: '' };
  const plainItems = ((node.select_list as Json[]) ?? []).filter((_, i) => !shape.aggregates.some((a) => a.column === i));
  const grouped = [...shape.keys.map(clone), ...extra, entity];
  return {
    ...node, from_table: augmentFrom(shape.from, shape.personal), having: null, modifiers: [], qualify: null, sample: null, aggregate_handling: 'STANDARD_HANDLING',
    select_list: [...plainItems.map(clone), ...shape.keys.map((key, i) => aliased(key, `__key${i}`)), ...items(entity)],
    group_expressions: grouped,
    group_sets: [grouped.map((_, i) => i)],
  };
}

/**
 * The presence atoms of an aggregate answer's rows over one personal table, as a parse tree: the
 * query's FROM, WHERE and grouping, grouped once more by whether each compared measure counts the
 * row (its FILTER, and its argument not null) and by entity, one row per (group, presence, entity)
 * with the presences as `__p<j>` (in `comparedMeasures(shape).measures` order). Rows, not people:
 * cells that count the same people can still count different rows of one of them (count(*) beside
 * the payments under 125 and those above, but one person's), and a combination of counts weighs
 * rows (`row-combinations.ts`).
 */
function atomsNode(shape: Extract<AnswerShape, { kind: 'aggregate' }>, ref: PersonalRef): Obj {
  const presences = comparedMeasures(shape).measures.map((m) => counted(shape.aggregates[m]!.node as Obj));
  return perEntityNode(shape, ref, presences, (e) => [...presences.map((p, j) => aliased(p, `__p${j}`)), aliased(e, '__e')]);
}

/** Whether an aggregate counts a row: its FILTER holds and its argument is not null (count(*): always), never NULL. */
function counted(call: Obj): Obj {
  const children = (call.children as Json[] | undefined) ?? [];
  const constant = (value: boolean): Obj => ({ class: 'CONSTANT', type: 'VALUE_CONSTANT', alias: '', value: { type: { id: 'BOOLEAN', type_info: null }, is_null: false, value } });
  const conditions: Obj[] = [
    ...(call.filter ? [clone(call.filter) as Obj] : []),
    ...(children.length > 0 ? [notNull(clone(children[0]) as Obj)] : []),
  ];
  const all = conditions.reduce<Obj>((a, b) => ({ class: 'CONJUNCTION', type: 'CONJUNCTION_AND', alias: '', children: [a, b] }), constant(true));
  // A CASE, not the condition itself: a FILTER that is NULL does not count the row (false, not NULL),
  // and a constant would read as a position in GROUP BY.
  return { class: 'CASE', type: 'CASE_EXPR', alias: '', case_checks: [{ when_expr: all, then_expr: constant(true) }], else_expr: constant(false) };
}

/**
 * The inner companion of an aggregate answer over one personal table, rendered: one row per (output
 * group, entity), with the group's keys as `__key<i>`, the entity as `__e`, and per aggregate the
 * rows of that entity counting in its cell as `__r<m>`, where `m = measureOf(shape)[i]` (aggregates
 * measuring the same share one column). Also read by `cell-entities.ts` (differencing).
 */
export async function companionInnerSql(connection: DuckDBConnection, shape: Extract<AnswerShape, { kind: 'aggregate' }>, ref: PersonalRef): Promise<string> {
  const [inner] = await render(connection, [companionNode(shape, ref)]);
  return inner!;
}

/**
 * The members of a row-level answer's rows over one personal table, rendered: one row per
 * (combination of the quasi-identifiers shown, entity), the combination as `__key<i>` and the
 * entity as `__e` (`cell-entities.ts`, the differencing history).
 */
export async function rowMembersSql(connection: DuckDBConnection, shape: Extract<AnswerShape, { kind: 'rows' }>, ref: PersonalRef): Promise<string> {
  const node = shape.node as Obj;
  const entity: Obj = { class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [ref.entityColumn], alias: '' };
  const keys = shape.quasi.map((q) => q.expr);
  const members: Obj = {
    ...node, from_table: augmentFrom(shape.from, shape.personal), having: null, modifiers: [], qualify: null, sample: null, aggregate_handling: 'STANDARD_HANDLING',
    select_list: [...keys.map((key, i) => aliased(key, `__key${i}`)), aliased(entity, '__e')],
    group_expressions: [...keys.map(clone), entity],
    group_sets: [[...keys.map((_, i) => i), keys.length]],
  };
  const [sql] = await render(connection, [members]);
  return sql!;
}

/** Per aggregate, the index of the companion columns (`__r<m>`, `__c<m>`) that measure it. */
export function measureOf(shape: Extract<AnswerShape, { kind: 'aggregate' }>): number[] {
  return sharedMeasures(shape);
}

/**
 * What aggregate `i` measures per entity: its rows (its FILTER respected) as `__r<i>` and, when
 * summed, its contribution as `__c<i>`.
 */
function entityMeasures(shape: Extract<AnswerShape, { kind: 'aggregate' }>, i: number): Obj[] {
  const call = clone(shape.aggregates[i]!.node) as Obj;
  const children = (call.children as Json[]) ?? [];
  const noOrder = { type: 'ORDER_MODIFIER', orders: [] };
  // A DISTINCT aggregate counts an entity's distinct values (count(DISTINCT id_card) is 1 per person,
  // not their rows): what it adds to the cell, compared person by person with the row's other cells.
  const rows = { ...call, function_name: children.length === 0 ? 'count_star' : 'count', children: children.slice(0, 1), distinct: children.length > 0 && (call.distinct === true || String(call.function_name).toLowerCase() === 'approx_count_distinct'), alias: `__r${i}`, order_bys: noOrder };
  const contribution = { ...call, function_name: 'sum', children: children.slice(0, 1), distinct: false, alias: `__c${i}`, order_bys: noOrder };
  return summedAt(shape, i) ? [rows, contribution] : [rows];
}

/**
 * Per aggregate, the first one that measures the same per entity (`sum(x)` and `avg(x)` under the
 * same FILTER): its statistics are the same numbers, computed once and read for both.
 */
function sharedMeasures(shape: Extract<AnswerShape, { kind: 'aggregate' }>): number[] {
  const first = new Map<string, number>();
  // Aliases and positions in the query text say nothing about what is computed.
  const signature = (i: number) => JSON.stringify(entityMeasures(shape, i), (key, value: Json) => (key === 'alias' || key === 'query_location' ? undefined : value));
  return shape.aggregates.map((_, i) => {
    const key = signature(i);
    if (!first.has(key)) first.set(key, i);
    return first.get(key)!;
  });
}

/**
 * Columns of a companion's statistics row after its keys: the group's entities, 4 per aggregate
 * (`cellStats`), then the statistics comparing the row's cells (`row-combinations.ts`).
 */
export function companionStatsWidth(shape: Extract<AnswerShape, { kind: 'aggregate' }>): number {
  return 1 + 4 * shape.aggregates.length + rowStatisticsWidth(comparedMeasures(shape));
}

const compared = new WeakMap<object, ComparedMeasures>();

/** The measures of an aggregate answer compared within a row (`row-combinations.ts`), worked out once per shape (a function of it alone). */
export function comparedMeasures(shape: Extract<AnswerShape, { kind: 'aggregate' }>): ComparedMeasures {
  let measures = compared.get(shape);
  if (!measures) {
    measures = rowMeasures(shape, sharedMeasures(shape), onePersonAggregates(shape));
    compared.set(shape, measures);
  }
  return measures;
}

/**
 * The output columns of a row withheld because a combination of its cells would describe a few
 * people (`row-combinations.ts`), from its companion statistics rows (one per personal table).
 */
export function differingColumns(shape: Extract<AnswerShape, { kind: 'aggregate' }>, compared: ComparedMeasures, stats: readonly (readonly unknown[])[], minimum: number): Set<number> {
  return withheldInRow(shape, compared, stats, 1 + 4 * shape.aggregates.length, minimum);
}

/** The inner companion's column of an entity's contribution to measure `m` (its sum), or NULL when it has none (counts). */
export function contributionOf(shape: Extract<AnswerShape, { kind: 'aggregate' }>, m: number): string {
  return summedAt(shape, m) ? `__c${m}` : 'NULL';
}

/** Whether aggregate `i` has a per-entity contribution to sum (dominance and p-ratio apply). */
function summedAt(shape: Extract<AnswerShape, { kind: 'aggregate' }>, i: number): boolean {
  const aggregate = shape.aggregates[i]!;
  return aggregate.summable && ((aggregate.node as Obj).children as Json[]).length > 0;
}

/**
 * The companion's statistics from its rendered inner query: per group its entities and, per
 * aggregate, the entities contributing, the sum of their absolute contributions and the two
 * largest; and the query counting the distinct entities of the whole selection. The inner query
 * has one row per (group, entity), so a group's non-null entities are its distinct ones.
 */
function companionSql(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, inner: string, atomsInner?: string): { statsSql: string; populationSql: string } {
  if (shape.kind === 'rows') return { statsSql: inner, populationSql: '' };
  const keyList = shape.keys.map((_, i) => `__key${i}`);
  // The two largest contributions as two scalars (DuckDB's max(x, 2), which skips nulls, taken
  // apart): the same values as the list, read without building a list per cell.
  const shared = sharedMeasures(shape);
  // SECURITY: people are counted on keys only: the rows without a key (`__e` NULL) may all be one
  // person, or keyed people's (nine payers' online and counter payments were "ten", red-team pass
  // 26b). A cell that leaves out some of its group's keyless rows but no keyed person leaves out at
  // least one person: it counts one fewer than its group, so that the rule on the few left out
  // withholds it (three districts' totals without one keyed payer's payment were shown beside the
  // counter payments of unknown payers: "left out" came to 50 − (49 + 1) = 0, pass 26b).
  const counted = (m: number) => `count(__e) FILTER (WHERE __r${m} > 0)`;
  const stats = shared.flatMap((m, i) => [
    `${counted(m)} - CASE WHEN ${counted(m)} = count(__e) AND bool_or(__e IS NULL AND __r${m} < __n) THEN 1 ELSE 0 END`,
    ...(summedAt(shape, i)
      ? [`CAST(sum(abs(__c${m})) AS DOUBLE)`, `CAST(max(abs(__c${m}), 2)[1] AS DOUBLE)`, `CAST(max(abs(__c${m}), 2)[2] AS DOUBLE)`]
      : ['NULL', 'NULL', 'NULL']),
  ]);
  // Then the statistics comparing the row's cells with each other (`row-combinations.ts`).
  const compared = comparedMeasures(shape);
  const combinations = rowStatistics(compared, (m) => (summedAt(shape, m) ? `__c${m}` : `__r${m}`));
  // Named __s0.. (group entities first) for `review-output.ts`, which joins them to the output's rows.
  const named = (entities: string) => [entities, ...stats, ...combinations].map((expr, i) => `${expr} AS __s${i}`);
  const populationSql = `SELECT count(DISTINCT __e) FROM (${inner}) AS __companion`;
  const statsSql = keyList.length === 0
    ? `SELECT ${named('count(__e)').join(', ')} FROM (${inner}) AS __companion`
    : `SELECT ${[...keyList, ...named('count(__e)')].join(', ')} FROM (${inner}) AS __companion GROUP BY ${keyList.join(', ')}`;
  if (!compared.atoms || atomsInner === undefined) return { statsSql, populationSql };
  // The row's atoms, last: per group, the people of each presence mask, as DuckDB prints a histogram
  // (`{mask=people, ...}`; a group without people has none: '{}').
  const mask = compared.measures.map((_, j) => `(CASE WHEN __p${j} THEN ${2 ** j} ELSE 0 END)`).join(' + ');
  const atomsSql = `SELECT ${[...keyList, `CAST(histogram(${mask}) AS VARCHAR) AS __atoms`].join(', ')} FROM (${atomsInner}) AS __rows WHERE __e IS NOT NULL${keyList.length > 0 ? ` GROUP BY ${keyList.join(', ')}` : ''}`;
  const on = keyList.length === 0 ? 'true' : keyList.map((k) => `__stats.${k} IS NOT DISTINCT FROM __atoms.${k}`).join(' AND ');
  const atomsColumn = `coalesce(__atoms.__atoms, '{}') AS __s${1 + stats.length + combinations.length}`;
  return { statsSql: `SELECT __stats.*, ${atomsColumn} FROM (${statsSql}) AS __stats LEFT JOIN (${atomsSql}) AS __atoms ON ${on}`, populationSql };
}

/** Renders SELECT nodes to SQL with DuckDB's own serializer, in one round trip. */
async function render(connection: DuckDBConnection, nodes: Obj[]): Promise<string[]> {
  const documents = nodes.map((node) => JSON.stringify({ error: false, statements: [{ node, named_param_map: [] }] }));
  try {
    const reader = await connection.runAndReadAll(`SELECT ${documents.map((_, i) => `json_deserialize_sql($${i + 1}::JSON)`).join(', ')}`, documents);
    return (reader.getRowsJS()[0] ?? []).map(String);
  } catch {
    // SECURITY: fail closed: a shape DuckDB cannot render back is not shown.
    throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
  }
}

/** The FROM with each personal table replaced by the table joined (by position) to its entity keys. */
function augmentFrom(from: Json, personal: PersonalRef[]): Json {
  const replacements = new Map<Json, Json>(personal.map((ref) => [ref.ref, entitySubquery(ref)]));
  const copy = (value: Json): Json => {
    const replaced = replacements.get(value);
    if (replaced) return replaced;
    if (Array.isArray(value)) return value.map(copy);
    if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
    return value;
  };
  return copy(from);
}

/**
 * `(SELECT t.*, CASE WHEN x.row = t.rowid THEN x.entity ELSE error(...) END AS __eN FROM
 * granted.main.<table> t POSITIONAL JOIN granted.main.__entities_<table> x) AS <alias>`, built as a
 * parse tree. Trusted: it is the only reader of entity keys. The side table is written in the
 * table's rowid order (`publish.ts`), so row i of one is row i of the other: a positional join reads
 * both in one pass, where a hash join on rowid cost most of a checked answer. Every row still proves
 * its alignment: a row whose `row` is not its table row's rowid (or is missing) stops the query, and
 * the answer is refused (fail closed), never counted on another row's entity.
 */
function entitySubquery(ref: PersonalRef): Json {
  const column = (table: string, name: string): Obj => ({ class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [table, name], alias: '' });
  const table = (name: string, alias: string): Obj => ({ type: 'BASE_TABLE', alias, sample: null, schema_name: 'main', table_name: name, column_name_alias: [], catalog_name: 'granted', at_clause: null });
  const misaligned: Obj = { ...countStar(), function_name: 'error', children: [{ class: 'CONSTANT', type: 'VALUE_CONSTANT', alias: '', value: { type: { id: 'VARCHAR', type_info: null }, is_null: false, value: 'entity keys out of line with their table' } }] };
  // SECURITY: invariant 8: an entity key counts only for the row it was written for.
  const aligned: Obj = {
    class: 'CASE', type: 'CASE_EXPR', alias: ref.entityColumn,
    case_checks: [{ when_expr: { class: 'COMPARISON', type: 'COMPARE_EQUAL', alias: '', left: column('__x', 'row'), right: column('__t', 'rowid') }, then_expr: column('__x', 'entity') }],
    else_expr: misaligned,
  };
  return {
    type: 'SUBQUERY',
    alias: ref.alias,
    sample: null,
    column_name_alias: [],
    subquery: {
      node: {
        type: 'SELECT_NODE',
        modifiers: [],
        cte_map: { map: [] },
        select_list: [
          { class: 'STAR', type: 'STAR', alias: '', relation_name: '__t', exclude_list: [], replace_list: [], columns: false, expr: null, qualified_exclude_list: [], rename_list: [] },
          aligned,
          { ...column('__t', 'rowid'), alias: rowColumn(ref) },
        ],
        from_table: {
          type: 'JOIN', alias: '', sample: null,
          left: table(ref.table, '__t'),
          right: table(entityTableName(ref.table), '__x'),
          condition: null,
          join_type: 'INNER', ref_type: 'POSITIONAL', using_columns: [], delim_flipped: false, duplicate_eliminated_columns: [],
        },
        where_clause: null, group_expressions: [], group_sets: [], aggregate_handling: 'STANDARD_HANDLING', having: null, sample: null, qualify: null,
      },
      named_param_map: [],
    },
  };
}

/** Why an answer or output whose join repeats personal rows is not checked. */
export const REPEATED_ROWS = 'a join repeats rows of a table with personal data (one person\'s rows would count more than once): join on a key that is unique on the other side';

/** Whether the plan's FROM (a join) repeats rows of a personal table (`repeatedRowsNode`); answers and exports alike. */
export async function repeatsPersonalRows(connection: DuckDBConnection, plan: CompanionPlan): Promise<boolean> {
  if (!plan.repeatedRowsSql) return false;
  const [carried, distinct, ...perTable] = ((await readCompanion(connection, plan.repeatedRowsSql, () => false))[0] ?? []).map(Number);
  if (carried !== distinct) return true;
  // SECURITY: invariant 8: when every personal table's rows repeat, one table multiplies another
  // (`pay JOIN residents ON district`, or one person's row joined to everyone's): each combination
  // is distinct, yet a person's rows weigh other people's cells. One table unrepeated is a join
  // along it (each payment with its payer), which weighs nobody twice.
  for (let i = 0; i < perTable.length; i += 2) if (perTable[i] === perTable[i + 1]) return false;
  return perTable.length > 0;
}

/** The column of a personal table's row number in the companions' FROM (`entitySubquery`). */
function rowColumn(ref: PersonalRef): string {
  return ref.entityColumn.replace('__e', '__row');
}

/**
 * For a FROM that joins (`pay JOIN range(2) r ON r.range = 0 OR <one person>`): how many rows of the
 * FROM and WHERE carry a personal row, and how many distinct combinations of personal rows they
 * carry; then, per personal table, the rows carrying one of its rows and its distinct rows among
 * them. Apart, some personal row is repeated by a join (weighted: one person's rows counted twice
 * in one group, or in two groups a person apart), which no check of entities sees.
 */
function repeatedRowsNode(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>): Obj {
  const rows: Obj[] = shape.personal.map((ref) => ({ class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [rowColumn(ref)], alias: '' }));
  const carried: Obj = rows.slice(1).reduce<Obj>((any, row) => ({ class: 'CONJUNCTION', type: 'CONJUNCTION_OR', alias: '', children: [any, notNull(row)] }), notNull(rows[0]!));
  const combination: Obj = { ...countStar(), function_name: 'row', schema: 'main', children: rows };
  const node = shape.node as Obj;
  return {
    type: 'SELECT_NODE', modifiers: [], cte_map: { map: [] }, sample: null, qualify: null, having: null,
    select_list: [
      { ...countStar(), filter: carried, alias: '__n' },
      { ...countStar(), function_name: 'count', children: [combination], distinct: true, filter: carried, alias: '__u' },
      ...rows.flatMap((row, i) => [
        { ...countStar(), function_name: 'count', children: [row], alias: `__n${i}` },
        { ...countStar(), function_name: 'count', children: [row], distinct: true, alias: `__u${i}` },
      ]),
    ],
    from_table: augmentFrom(shape.from, shape.personal),
    where_clause: clone(node.where_clause),
    group_expressions: [], group_sets: [], aggregate_handling: 'STANDARD_HANDLING',
  };
}

function notNull(expr: Obj): Obj {
  return { class: 'OPERATOR', type: 'OPERATOR_IS_NOT_NULL', alias: '', children: [expr] };
}

function countStar(): Obj {
  return { class: 'FUNCTION', type: 'FUNCTION', alias: '', function_name: 'count_star', schema: '', children: [], filter: null, order_bys: { type: 'ORDER_MODIFIER', orders: [] }, distinct: false, is_operator: false, export_state: false, catalog: '' };
}

function aliased(expr: Json | undefined, alias: string): Obj {
  return { ...(clone(expr) as Obj), alias };
}

function clone(value: Json | undefined): Json {
  return structuredClone(value ?? null);
}


/**
 * Aggregates whose cell can be one person's own value: a minimum, maximum, median, quantile or mode,
 * a median absolute deviation (one person's distance from the median), and a spread (stddev,
 * variance), which one person's deviation can make up almost alone: dominance over squared
 * deviations is not computed, and dominance over the values does not see an outlier below a crowd
 * (red-team pass 14a: var_samp showed 二区's dominant payer whose sum was withheld).
 */
const ONE_PERSON_AGGREGATES = new Set(['min', 'max', 'median', 'quantile', 'quantile_cont', 'quantile_disc', 'mode', 'mad', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp']);

/** Per aggregate, whether its cell can be one person's own value (`ONE_PERSON_AGGREGATES`). */
export function onePersonAggregates(shape: Extract<AnswerShape, { kind: 'aggregate' }>): boolean[] {
  return shape.aggregates.map((aggregate) => ONE_PERSON_AGGREGATES.has(String((aggregate.node as Obj).function_name).toLowerCase()));
}
