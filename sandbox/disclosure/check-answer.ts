import { JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { judgeCell, ruleReason, secondarySuppression, type CellRule, type CellStats, type CellVerdict, type DisclosureRules, type SuppressionRow } from '../../desensitize/index.js';
import type { Json } from '../gate/ast-walk.js';
import { entityTableName } from '../engine/publish.js';
import type { AnswerShape, PersonalRef } from './answer-shape.js';

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
  /** Output rows withheld because their group describes too few entities. */
  withheldRows: number;
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
  /** Aggregates: the group key of each row shown, in order (for the differencing history; never sent to the tenant). */
  shownKeys?: string[];
}

type Obj = Record<string, Json>;
type Run = (sql: string) => Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; truncated: boolean }>;

/** Groups a companion may return before the answer is called uncheckable (memory bound). */
export const MAX_COMPANION_GROUPS = 2_000_000;

/**
 * Runs the answer of a checkable shape and its companions. `runAnswer` reads the answer with the
 * caller's row and byte caps; the companions are read here in full.
 */
export async function checkedAnswer(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, rules: DisclosureRules, runAnswer: Run): Promise<CheckedRows> {
  if (shape.kind === 'rows' && shape.identifiers.length > 0) {
    // SECURITY: invariant 8: identifiers (tokens, masks, recognized personal values) never reach the screen in prod.
    throw new DomainError('DSC_ERR_IDENTIFIERS', `row-level answers in prod cannot show identifier columns (${shape.identifiers.join(', ')}): aggregate them, or develop the query in dev`);
  }
  // SECURITY: invariant 8: a prod answer reads the shown form (row-level answers DISTINCT: no count of rows).
  const { answer, columns, keyOf, strip, companions, populationBelow } = await measure(connection, shape, runAnswer, true);
  const width = columns.length;
  // SECURITY: invariant 8: a selection of fewer people than the minimum answers nothing, the same way
  // whether it holds one person or none (else "withheld 1" against "empty" says whether someone matches).
  if ((shape.kind === 'rows' && answer.rows.length === 0) || await populationBelow(rules.minEntities)) {
    const minimum = shape.kind === 'rows' ? rules.k : rules.minEntities;
    throw new DomainError('DSC_ERR_NOT_K_ANONYMOUS', `the rows this query selects describe fewer than ${minimum} people or enterprises (none included), so nothing is shown: widen the selection`);
  }

  if (shape.kind === 'rows') {
    let offending = 0;
    for (const row of answer.rows) {
      const key = keyOf(row, width);
      if (companions.some((stats) => Number(stats.get(key)?.[0] ?? 0) < rules.k)) offending += 1;
    }
    // SECURITY: invariant 8: a row-level answer is shown only when every row is shared by k people.
    if (offending > 0) {
      const over = shape.quasi.length > 0 ? `on (${shape.quasi.map((q) => q.label).join(', ')})` : 'in the rows the query selects';
      throw new DomainError('DSC_ERR_NOT_K_ANONYMOUS', `${offending} of ${answer.rows.length} rows describe fewer than ${rules.k} people ${over}: aggregate, generalize, or develop the query in dev`);
    }
    return { columns, rows: answer.rows.map(strip), truncated: answer.truncated, disclosure: { kind: 'rows', withheldRows: 0, suppressedCells: 0, reasons: [] } };
  }

  const cellsByRule = new Map<CellRule, number>();
  const single = onePersonAggregates(shape);
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
    return { row: strip(row), key, entities, withheld: false, failed };
  });
  const withheldRows = measured.filter((m) => m.withheld).length;
  // SECURITY: invariant 8: secondary suppression, shared with exports (desensitize/disclosure.ts).
  const secondary = secondarySuppression(measured, [...new Set(shape.aggregates.map((a) => a.column))]);
  const hidden = new Set(secondary.rows);
  const nulled = measured.map((m) => new Set(m.failed));
  for (const [row, column] of secondary.cells) nulled[row]!.add(column);
  const rows: unknown[][] = [];
  const shownKeys: string[] = [];
  let suppressedCells = 0;
  measured.forEach((m, index) => {
    if (m.withheld || hidden.has(index)) return;
    for (const column of nulled[index]!) m.row[column] = null;
    suppressedCells += nulled[index]!.size;
    rows.push(m.row);
    shownKeys.push(m.key);
  });
  const added = secondary.rows.length + secondary.cells.length;
  const reasons: string[] = [];
  if (withheldRows > 0) reasons.push(`${withheldRows === 1 ? '1 row was' : `${withheldRows} rows were`} withheld: ${withheldRows === 1 ? 'its group describes' : 'their groups describe'} fewer than ${rules.minEntities} people or enterprises`);
  for (const [rule, count] of cellsByRule) reasons.push(`${ruleReason(rule, count, rules)}: shown as null`);
  if (added > 0) reasons.push(`${added} more ${added === 1 ? 'row or cell was' : 'rows or cells were'} withheld so that a total cannot give the others back (secondary suppression)`);
  return {
    columns,
    rows,
    truncated: answer.truncated,
    disclosure: { kind: 'aggregate', withheldRows: answer.rows.length - rows.length, suppressedCells, reasons },
    shownKeys,
  };
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
async function measure(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, runAnswer: Run, shown: boolean) {
  const keys = shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
  const plan = await companionPlan(connection, shape);
  const answer = await runAnswer(shown ? plan.shownSql : plan.answerSql);
  const width = answer.columns.length - keys.length;
  const measured: Companion[] = [];
  // A grouped aggregate's selection counts as one more group against the bound (as when it was a grouping set).
  const counted = shape.kind === 'aggregate' && keys.length > 0 ? 1 : 0;
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
        const values = asJson(c) ? chunk.convertColumnValues(c, JsonDuckDBValueConverter) : chunk.getColumnValues(c).map(numberOf);
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
interface CompanionPlan {
  /** The answer as the export snapshot reads it (its rows one by one, as the query gives them). */
  answerSql: string;
  /**
   * The answer as a prod answer shows it: row-level answers made DISTINCT.
   * SECURITY: invariant 8: each row of a k-anonymous answer is shared by k people, but how many
   * rows there are (or whether they pass the row cap) is a count no check has seen: 2,000 rows of
   * 三区 "except this person's payments above X" counted one person's payments above X.
   */
  shownSql: string;
  companions: { statsSql: string; populationSql: string }[];
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
  const keys = shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
  const answer: Obj = { ...(shape.node as Obj), select_list: [...(shape.node as Obj).select_list as Json[], ...keys.map((key, i) => aliased(key, `__key${i}`))] };
  const modifiers = (answer.modifiers as Obj[] | undefined) ?? [];
  // A row-level prod answer shows each combination once (DISTINCT before its ORDER BY and LIMIT).
  const distinct: Obj[] = shape.kind === 'rows' && !modifiers.some((m) => m.type === 'DISTINCT_MODIFIER') ? [{ ...answer, modifiers: [{ type: 'DISTINCT_MODIFIER', distinct_on_targets: [] }, ...modifiers] }] : [];
  // One round trip renders the answer and every companion's inner query.
  const [answerSql, ...rest] = await render(connection, [answer, ...distinct, ...shape.personal.map((ref) => companionNode(shape, ref))]);
  const shownSql = distinct.length > 0 ? rest.shift()! : answerSql!;
  return { answerSql: answerSql!, shownSql, companions: rest.map((inner) => companionSql(shape, inner!)) };
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
  const keys = shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
  const keyItems = keys.map((key, i) => aliased(key, `__key${i}`));
  const base = { ...node, from_table: from, having: null, modifiers: [], qualify: null, sample: null, aggregate_handling: 'STANDARD_HANDLING' };
  if (shape.kind === 'rows') {
    const count = { ...countStar(), function_name: 'count', children: [entity], distinct: true, alias: '__n' };
    return { ...base, select_list: [...keyItems, count], group_expressions: keys.map(clone), group_sets: keys.length > 0 ? [keys.map((_, i) => i)] : [] };
  }
  // Non-aggregate items keep their aliases so that GROUP BY names resolve exactly as in the query.
  const plainItems = ((node.select_list as Json[]) ?? []).filter((_, i) => !shape.aggregates.some((a) => a.column === i));
  const shared = sharedMeasures(shape);
  const perAggregate = shape.aggregates.flatMap((_, i) => (shared[i] === i ? entityMeasures(shape, i) : []));
  return {
    ...base,
    select_list: [...plainItems.map(clone), ...keyItems, aliased(entity, '__e'), ...perAggregate],
    group_expressions: [...keys.map(clone), entity],
    group_sets: [[...keys.map((_, i) => i), keys.length]],
  };
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
  const rows = { ...call, function_name: children.length === 0 ? 'count_star' : 'count', children: children.slice(0, 1), distinct: false, alias: `__r${i}`, order_bys: noOrder };
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
function companionSql(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, inner: string): { statsSql: string; populationSql: string } {
  if (shape.kind === 'rows') return { statsSql: inner, populationSql: '' };
  const keyList = shape.keys.map((_, i) => `__key${i}`);
  // The two largest contributions as two scalars (DuckDB's max(x, 2), which skips nulls, taken
  // apart): the same values as the list, read without building a list per cell.
  const shared = sharedMeasures(shape);
  const stats = shared.flatMap((m, i) => [
    `count(*) FILTER (WHERE __r${m} > 0)`,
    ...(summedAt(shape, i)
      ? [`CAST(sum(abs(__c${m})) AS DOUBLE)`, `CAST(max(abs(__c${m}), 2)[1] AS DOUBLE)`, `CAST(max(abs(__c${m}), 2)[2] AS DOUBLE)`]
      : ['NULL', 'NULL', 'NULL']),
  ]);
  // Named __s0.. (group entities first) for `review-output.ts`, which joins them to the output's rows.
  const named = (entities: string) => [entities, ...stats].map((expr, i) => `${expr} AS __s${i}`);
  const populationSql = `SELECT count(DISTINCT __e) FROM (${inner}) AS __companion`;
  if (keyList.length === 0) return { statsSql: `SELECT ${named('count(*)').join(', ')} FROM (${inner}) AS __companion`, populationSql };
  return { statsSql: `SELECT ${[...keyList, ...named('count(__e)')].join(', ')} FROM (${inner}) AS __companion GROUP BY ${keyList.join(', ')}`, populationSql };
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

function countStar(): Obj {
  return { class: 'FUNCTION', type: 'FUNCTION', alias: '', function_name: 'count_star', schema: '', children: [], filter: null, order_bys: { type: 'ORDER_MODIFIER', orders: [] }, distinct: false, is_operator: false, export_state: false, catalog: '' };
}

function aliased(expr: Json | undefined, alias: string): Obj {
  return { ...(clone(expr) as Obj), alias };
}

function clone(value: Json | undefined): Json {
  return structuredClone(value ?? null);
}


const ONE_PERSON_AGGREGATES = new Set(['min', 'max', 'median', 'quantile', 'quantile_cont', 'quantile_disc', 'mode']);

/** Per aggregate, whether its cell is one person's own value (a minimum, maximum, median or mode). */
export function onePersonAggregates(shape: Extract<AnswerShape, { kind: 'aggregate' }>): boolean[] {
  return shape.aggregates.map((aggregate) => ONE_PERSON_AGGREGATES.has(String((aggregate.node as Obj).function_name).toLowerCase()));
}
