import { JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { failedRules, judgeCell, ruleReason, secondarySuppression, type CellRule, type CellStats, type CellVerdict, type DisclosureRules, type SuppressionRow } from '../../desensitize/index.js';
import type { Json } from '../gate/ast-walk.js';
import { entityTableName } from '../engine/publish.js';
import type { AnswerShape, PersonalRef } from './answer-shape.js';
import { outputChecks, type OutputCheck, type OutputFindings } from './output-findings.js';

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
const MAX_COMPANION_GROUPS = 2_000_000;

/**
 * Runs the answer of a checkable shape and its companions. `runAnswer` reads the answer with the
 * caller's row and byte caps; the companions are read here in full.
 */
export async function checkedAnswer(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, rules: DisclosureRules, runAnswer: Run): Promise<CheckedRows> {
  if (shape.kind === 'rows' && shape.identifiers.length > 0) {
    // SECURITY: invariant 8: identifiers (tokens, masks, recognized personal values) never reach the screen in prod.
    throw new DomainError('DSC_ERR_IDENTIFIERS', `row-level answers in prod cannot show identifier columns (${shape.identifiers.join(', ')}): aggregate them, or develop the query in dev`);
  }
  const { answer, columns, keyOf, strip, companions, population } = await measure(connection, shape, runAnswer);
  const width = columns.length;
  // SECURITY: invariant 8: a selection of fewer people than the minimum answers nothing, the same way
  // whether it holds one person or none (else "withheld 1" against "empty" says whether someone matches).
  if (population < rules.minEntities || (shape.kind === 'rows' && answer.rows.length === 0)) {
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
  const measured: (SuppressionRow & { row: unknown[]; key: string })[] = answer.rows.map((row) => {
    const key = keyOf(row, width);
    const stats = companions.map((c) => c.get(key));
    const entities = Math.min(...stats.map((s) => Number(s?.[0] ?? 0)));
    // SECURITY: invariant 8: a group of fewer entities than the minimum is not shown at all (its key would say it exists).
    if (stats.some((s) => s === undefined) || entities < rules.minEntities) return { row: strip(row), key, entities, withheld: true, failed: new Set<number>() };
    const failed = new Set<number>();
    shape.aggregates.forEach((aggregate, index) => {
      // SECURITY: invariant 8: a minimum or maximum is one person's value: never on the screen in prod.
      const single = ONE_PERSON_AGGREGATES.has(String((aggregate.node as Obj).function_name).toLowerCase());
      for (const s of stats) {
        const verdict: CellVerdict = single ? { ok: false, rule: 'single-value' } : judgeCell(cellStats(s!, index, aggregate.summable), rules, Number(s![0]));
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
 * Per aggregate index: [entities with rows in the cell, sum of |contributions|, top contributions]
 * at positions 1 + 3i.. of a companion row; position 0 is the group's entities.
 */
function cellStats(stats: number[], index: number, summable: boolean): CellStats {
  const row = stats as unknown as (number | number[] | null)[];
  const entities = Number(row[1 + index * 3] ?? 0);
  if (!summable) return { entities };
  return { entities, total: Number(row[2 + index * 3] ?? 0), top: ((row[3 + index * 3] as number[] | null) ?? []).map(Number) };
}

/** The answer with its keys appended, and per personal table its companion's statistics by key. */
async function measure(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, runAnswer: Run) {
  const keys = shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
  const answerSql = await render(connection, { ...(shape.node as Obj), select_list: [...(shape.node as Obj).select_list as Json[], ...keys.map((key, i) => aliased(key, `__key${i}`))] });
  const answer = await runAnswer(answerSql);
  const width = answer.columns.length - keys.length;
  const measured: Companion[] = [];
  const withTotal = shape.kind === 'aggregate' && keys.length > 0;
  for (const ref of shape.personal) measured.push(await companionStats(connection, await companionSql(connection, shape, ref), keys.length, withTotal));
  return {
    companions: measured.map((c) => c.groups),
    population: Math.min(...measured.map((c) => c.population ?? Number.POSITIVE_INFINITY)),
    answer,
    columns: answer.columns.slice(0, width),
    keyOf: (row: unknown[], from: number) => JSON.stringify(row.slice(from, from + keys.length)),
    strip: (row: unknown[]) => row.slice(0, width),
  };
}

/** Reads a companion: key → [group entities, then per aggregate: entities, total, top]. */
async function companionStats(connection: DuckDBConnection, sql: string, keyCount: number, withTotal: boolean): Promise<Companion> {
  let rows: unknown[][];
  try {
    const reader = await connection.streamAndReadUntil(sql, MAX_COMPANION_GROUPS + 1);
    rows = reader.convertRows(JsonDuckDBValueConverter) as unknown[][];
  } catch (error) {
    if (error instanceof DomainError) throw error;
    // SECURITY: fail closed: an answer whose companion cannot run is not shown.
    throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
  }
  if (rows.length > MAX_COMPANION_GROUPS) throw new DomainError('DSC_ERR_UNCHECKABLE', `the answer has more than ${MAX_COMPANION_GROUPS} groups to check: narrow it`);
  const groups = new Map<string, number[]>();
  let population: number | undefined;
  for (const row of rows) {
    if (withTotal && Number(row.at(-1)) !== 0) {
      population = Number(row[keyCount]);
      continue;
    }
    const key = JSON.stringify(row.slice(0, keyCount));
    // SECURITY: fail closed: two groups whose keys print alike (NaN and NULL) cannot be told apart.
    if (groups.has(key)) throw new DomainError('DSC_ERR_UNCHECKABLE', 'two groups of the answer cannot be told apart (keys that print alike): group by another expression');
    groups.set(key, row.slice(keyCount) as number[]);
  }
  return { groups, population };
}

interface Companion {
  /** Per group key: [entities, then per aggregate: entities, total, top]. */
  groups: Map<string, number[]>;
  /** Distinct entities of the whole selection (grouped aggregates only). */
  population?: number | undefined;
}

/**
 * The companion of one personal table, as SQL: the query's FROM (that table joined to its entity
 * keys), WHERE and grouping, grouped once more by entity; then per group its entities and, per
 * aggregate, the entities contributing (its FILTER respected), the sum of their absolute
 * contributions and the two largest. For row-level answers: the distinct entities per combination
 * of the quasi-identifiers shown.
 */
async function companionSql(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, ref: PersonalRef): Promise<string> {
  const keys = shape.kind === 'aggregate' ? shape.keys : shape.quasi.map((q) => q.expr);
  if (shape.kind === 'rows') {
    const { entity, keyItems, base } = companionBase(shape, ref, keys);
    const count = { ...countStar(), function_name: 'count', children: [entity], distinct: true, alias: '__n' };
    return render(connection, { ...base, select_list: [...keyItems, count], group_expressions: keys.map(clone), group_sets: keys.length > 0 ? [keys.map((_, i) => i)] : [] });
  }
  const inner = await companionInnerSql(connection, shape, ref);
  const keyList = keys.map((_, i) => `__key${i}`);
  const summed = summedAggregates(shape);
  const stats = summed.flatMap((summable, i) => [
    `count(*) FILTER (WHERE __r${i} > 0)`,
    summable ? `CAST(sum(abs(__c${i})) AS DOUBLE)` : 'NULL',
    summable ? `CAST(max(abs(__c${i}), 2) AS DOUBLE[])` : 'NULL',
  ]);
  if (keys.length === 0) return `SELECT ${['count(*)', ...stats].join(', ')} FROM (${inner}) AS __companion`;
  // The grand-total set gives the distinct entities of the whole selection (its last column flags it).
  return `SELECT ${[...keyList, 'count(DISTINCT __e)', ...stats, `GROUPING(${keyList.join(', ')})`].join(', ')} FROM (${inner}) AS __companion GROUP BY GROUPING SETS ((${keyList.join(', ')}), ())`;
}

/**
 * The inner companion of an aggregate answer over one personal table: one row per (output group,
 * entity), with the group's keys as `__key<i>`, the entity as `__e`, and per aggregate `i` the rows
 * of that entity counting in its cell (its FILTER respected) as `__r<i>` and, when summable, the
 * entity's contribution as `__c<i>`. Also read by `cell-entities.ts` (differencing).
 */
export async function companionInnerSql(connection: DuckDBConnection, shape: Extract<AnswerShape, { kind: 'aggregate' }>, ref: PersonalRef): Promise<string> {
  const keys = shape.keys;
  const { node, entity, keyItems, base } = companionBase(shape, ref, keys);
  // Non-aggregate items keep their aliases so that GROUP BY names resolve exactly as in the query.
  const plainItems = ((node.select_list as Json[]) ?? []).filter((_, i) => !shape.aggregates.some((a) => a.column === i));
  const summed = summedAggregates(shape);
  const perAggregate = shape.aggregates.flatMap((aggregate, i) => {
    const call = clone(aggregate.node) as Obj;
    const children = (call.children as Json[]) ?? [];
    const noOrder = { type: 'ORDER_MODIFIER', orders: [] };
    const rows = { ...call, function_name: children.length === 0 ? 'count_star' : 'count', children: children.slice(0, 1), distinct: false, alias: `__r${i}`, order_bys: noOrder };
    const contribution = { ...call, function_name: 'sum', children: children.slice(0, 1), distinct: false, alias: `__c${i}`, order_bys: noOrder };
    return summed[i] ? [rows, contribution] : [rows];
  });
  return render(connection, {
    ...base,
    select_list: [...plainItems.map(clone), ...keyItems, aliased(entity, '__e'), ...perAggregate],
    group_expressions: [...keys.map(clone), entity],
    group_sets: [[...keys.map((_, i) => i), keys.length]],
  });
}

/** The query's node over the augmented FROM (no HAVING, QUALIFY or modifiers), its keys aliased, and the entity column of `ref`. */
function companionBase(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, ref: PersonalRef, keys: Json[]) {
  const node = shape.node as Obj;
  const entity: Obj = { class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [ref.entityColumn], alias: '' };
  const keyItems = keys.map((key, i) => aliased(key, `__key${i}`));
  const base = { ...node, from_table: augmentFrom(shape.from, shape.personal), having: null, modifiers: [], qualify: null, sample: null, aggregate_handling: 'STANDARD_HANDLING' };
  return { node, entity, keyItems, base };
}

/** Per aggregate: whether its per-entity contribution is summed (a summable call with an argument). */
function summedAggregates(shape: Extract<AnswerShape, { kind: 'aggregate' }>): boolean[] {
  return shape.aggregates.map((a) => a.summable && ((a.node as Obj).children as Json[]).length > 0);
}

/** Renders a SELECT node to SQL with DuckDB's own serializer. */
async function render(connection: DuckDBConnection, node: Obj): Promise<string> {
  const document = JSON.stringify({ error: false, statements: [{ node, named_param_map: [] }] });
  try {
    const reader = await connection.runAndReadAll('SELECT json_deserialize_sql($1::JSON)', [document]);
    return String(reader.getRowsJS()[0]![0]);
  } catch {
    // SECURITY: fail closed: a shape DuckDB cannot render back is not shown.
    throw new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
  }
}

/** The FROM with each personal table replaced by the table joined (by rowid) to its entity keys. */
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
 * `(SELECT t.*, x.entity AS __eN FROM granted.main.<table> t JOIN granted.main.__entities_<table> x
 * ON x.row = t.rowid) AS <alias>`, built as a parse tree. Trusted: it is the only reader of entity keys.
 */
function entitySubquery(ref: PersonalRef): Json {
  const column = (table: string, name: string): Obj => ({ class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [table, name], alias: '' });
  const table = (name: string, alias: string): Obj => ({ type: 'BASE_TABLE', alias, sample: null, schema_name: 'main', table_name: name, column_name_alias: [], catalog_name: 'granted', at_clause: null });
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
          aliased(column('__x', 'entity'), ref.entityColumn),
        ],
        from_table: {
          type: 'JOIN', alias: '', sample: null,
          left: table(ref.table, '__t'),
          right: table(entityTableName(ref.table), '__x'),
          condition: { class: 'COMPARISON', type: 'COMPARE_EQUAL', alias: '', left: column('__x', 'row'), right: column('__t', 'rowid') },
          join_type: 'INNER', ref_type: 'REGULAR', using_columns: [], delim_flipped: false, duplicate_eliminated_columns: [],
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

/**
 * The same statistics as `checkedAnswer`, reported instead of applied: the full output with, per
 * rule, what fails or needs review (`findings`, kept for mitigations, and the checks made of them).
 * For outputs that leave the domain (exports), where a supervisor decides and mitigations make new
 * versions.
 */
export async function reviewOutput(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, rules: DisclosureRules, runAnswer: Run): Promise<{ columns: { name: string; type: string }[]; rows: unknown[][]; truncated: boolean; checks: OutputCheck[]; findings: OutputFindings; rowKeys: string[] }> {
  const { answer, columns, keyOf, strip, companions } = await measure(connection, shape, runAnswer);
  const width = columns.length;
  const rows = answer.rows.map(strip);
  // Each output row's group key, as the companions print it: `cell-entities.ts` finds rows by it.
  const rowKeys = answer.rows.map((row) => keyOf(row, width));
  const done = (findings: OutputFindings) => ({ columns, rows, truncated: answer.truncated, checks: outputChecks(findings, rules), findings, rowKeys });
  if (shape.kind === 'rows') {
    const entities = answer.rows.map((row) => Math.min(...companions.map((stats) => Number(stats.get(keyOf(row, width))?.[0] ?? 0))));
    const offending = entities.flatMap((n, i) => (n < rules.k ? [i] : []));
    return done({ kind: 'rows', entities, identifiers: shape.identifiers, quasi: shape.quasi.map((q) => q.label), offending });
  }
  const small: number[] = [];
  const entities: number[] = [];
  const byRule = new Map<CellRule, [number, number][]>();
  const onePerson: [number, number][] = [];
  const zeros: [number, number][] = [];
  answer.rows.forEach((row, i) => {
    const stats = companions.map((c) => c.get(keyOf(row, width)));
    entities.push(Math.min(...stats.map((s) => Number(s?.[0] ?? 0))));
    if (stats.some((s) => s === undefined || Number(s[0]) < rules.minEntities)) small.push(i);
    shape.aggregates.forEach((aggregate, index) => {
      for (const s of stats) {
        if (!s) continue;
        for (const rule of failedRules(cellStats(s, index, aggregate.summable), rules, Number(s[0]))) {
          // A cell of a row that fails as a whole is named once, by the row.
          if (rule !== 'threshold' || !small.includes(i)) byRule.set(rule, [...(byRule.get(rule) ?? []), [i, aggregate.column]]);
        }
      }
      if (ONE_PERSON_AGGREGATES.has(String((aggregate.node as Obj).function_name).toLowerCase())) onePerson.push([i, aggregate.column]);
      const value = row[aggregate.column];
      if (value === 0 || value === '0') zeros.push([i, aggregate.column]);
    });
  });
  const cellsOf = (rule: CellRule) => dedupe(byRule.get(rule) ?? []);
  return done({
    kind: 'aggregate', entities, aggregateColumns: [...new Set(shape.aggregates.map((a) => a.column))], small,
    threshold: cellsOf('threshold'), dominance: cellsOf('dominance'), pRatio: cellsOf('p-ratio'), singleValues: onePerson, zeros,
  });
}

function dedupe(cells: [number, number][]): [number, number][] {
  return [...new Map(cells.map((c) => [`${c[0]}:${c[1]}`, c])).values()];
}
