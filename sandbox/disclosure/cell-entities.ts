import { JsonDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk, type DuckDBListValue } from '@duckdb/node-api';
import { sqlString } from '../../desensitize/index.js';
import { DomainError } from '../../core/errors.js';
import type { AnswerShape } from './answer-shape.js';
import { companionInnerSql, contributionOf, measureOf, rowMembersSql } from './check-answer.js';

/**
 * The entity sets behind an aggregate output's cells (issue #11 item 2, differencing): for each
 * output row and aggregate column, the distinct entities whose rows count in that cell (FILTER
 * clauses respected), per personal table read. Computed on the tenant's engine, inside the domain,
 * from the same inner companion as the person-level checks (`companionInnerSql`: the query's FROM,
 * WHERE and grouping, grouped once more by entity), so a cell's set is exactly the entities the
 * checks counted. Rows are found by joining on the group keys of the checked output (`review-output.ts`).
 *
 * Row-level outputs get no cell sets: their differencing check asks for review (docs/exports.md).
 */

/** One member of a cell's entity set: output row (0-based), column name, personal table's label, entity key. */
export type CellEntity = [row: number, column: string, label: string, entity: string, contribution?: bigint | null];

/**
 * Streams the cell entity sets of an aggregate answer, as data chunks of `CellEntity` columns (row
 * INTEGER, column, label, entity VARCHAR) that trusted code appends as they are (`writeCells`):
 * nothing is converted value by value. `table` holds the checked output rows with their group keys
 * (`review-output.ts`: `__key<i>`, rows in output order by rowid); `columns` are the output's column
 * names; `labels` one label per personal table of the shape (its source dataset), in the shape's
 * order. Each (group, entity) row of the inner companion is joined to the output row of the same
 * keys inside DuckDB (NULL matches NULL, as the grouping does); groups the answer does not show are
 * skipped: nothing of them is released. Throws when two output rows have the same keys (fail
 * closed: the version gets no cell sets and its differencing check asks for review).
 */
export async function* cellEntities(
  connection: DuckDBConnection,
  shape: Extract<AnswerShape, { kind: 'aggregate' }>,
  table: string,
  columns: readonly string[],
  labels: readonly (string | undefined)[],
): AsyncIterable<DuckDBDataChunk> {
  const keys = shape.keys.map((_, i) => `__key${i}`);
  const alike = await connection.runAndReadAll(`SELECT count(*) FROM (SELECT 1 FROM ${table} ${keys.length > 0 ? `GROUP BY ${keys.join(', ')}` : ''} HAVING count(*) > 1)`);
  // SECURITY: fail closed: two output rows of the same keys cannot be given their own sets.
  if (Number(alike.getRowsJS()[0]?.[0] ?? 0) > 0) throw new DomainError('DSC_ERR_UNCHECKABLE', 'two rows of the output cannot be told apart by their groups, so their cells cannot be compared with earlier releases');
  // Per output column with aggregates, whether an entity counts in its cell: any of its aggregates
  // counts one of its rows (one entry per cell and entity, however many aggregates share the column).
  const measures = measureOf(shape);
  const outputColumns = [...new Set(shape.aggregates.map((a) => a.column))];
  const cellColumns = outputColumns.map((column) => {
    const name = columns[column];
    if (name === undefined) throw new DomainError('DSC_ERR_UNCHECKABLE', 'an aggregate of the output has no column');
    const counted = shape.aggregates.flatMap((a, i) => (a.column === column ? [`__cells.__r${measures[i]} > 0`] : []));
    return `CASE WHEN ${counted.join(' OR ')} THEN ${sqlString(name)} END`;
  });
  // Beside each member, a fingerprint of what it contributes to the cell (its rows and their sum, of
  // the column's first aggregate), so that differencing also sees one person's share changed.
  const contributions = outputColumns.map((column) => {
    const m = measures[shape.aggregates.findIndex((a) => a.column === column)]!;
    return `(hash(__cells.__e, __cells.__r${m}, ${contributionOf(shape, m).replace(/^__c/, '__cells.__c')}) >> 12)::BIGINT`;
  });
  const on = keys.length === 0 ? 'true' : keys.map((k) => `__o.${k} IS NOT DISTINCT FROM __cells.${k}`).join(' AND ');
  for (const [index, ref] of shape.personal.entries()) {
    const label = labels[index];
    if (label === undefined) throw new DomainError('DSC_ERR_UNCHECKABLE', `the source of table ${ref.table} is unknown, so its cells cannot be compared with earlier releases`);
    const members = `SELECT CAST(__o.rowid AS INTEGER) AS "row", unnest([${cellColumns.join(', ')}]) AS "column", ${sqlString(label)} AS label, CAST(__cells.__e AS VARCHAR) AS entity, unnest([${contributions.join(', ')}]) AS contribution
      FROM (${keylessAsOne(await companionInnerSql(connection, shape, ref))}) AS __cells JOIN ${table} AS __o ON ${on}`;
    const result = await connection.stream(`SELECT * FROM (${members}) AS __members WHERE "column" IS NOT NULL`);
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) yield chunk;
  }
}

/**
 * One label per personal table of the shape: its source dataset (as the release store keys sets),
 * with `#2`, `#3`… for a dataset read again under another alias (a self-join's second side is
 * another set). Undefined where the dataset is unknown.
 */
export function personalLabels(shape: Extract<AnswerShape, { kind: 'aggregate' }>, datasetOf: (table: string) => string | undefined): (string | undefined)[] {
  const seen = new Map<string, number>();
  return shape.personal.map((ref) => {
    const dataset = datasetOf(ref.table);
    if (dataset === undefined) return undefined;
    const count = (seen.get(dataset) ?? 0) + 1;
    seen.set(dataset, count);
    return count === 1 ? dataset : `${dataset}#${count}`;
  });
}

/**
 * The same memberships, for the differencing history of prod answers (`answer-history.ts`), one row
 * per group instead of one per member (the history keeps numbers, not keys): per personal table and
 * group, its keys and, per measure, the list of 52-bit hashes of the entities counting in its cells
 * (as doubles: exact below 2^53, and read without a BigInt per member), and beside each member, in
 * the same order, a fingerprint of what it contributes to the cell (its rows and their sum): two
 * cells over the same people can still differ by one person's contribution (part of their rows
 * left out, or their rows counted twice through a join). A measure whose members are the first
 * measure's in a group (`count(*)` and `sum(amount)` of non-null amounts) is flagged so, and its
 * member list is not read twice. Calls `add` with the members and fingerprints of each aggregate's
 * cell of each group `rowOf` numbers (by the group key as the companions print it; groups it leaves
 * undefined are skipped); reading stops when `add` returns false.
 */
export async function forEachCell(
  connection: DuckDBConnection,
  shape: Extract<AnswerShape, { kind: 'aggregate' }>,
  rowOf: (key: string) => number | undefined,
  add: (row: number, aggregate: number, table: number, entities: readonly number[], contributions: readonly number[]) => boolean,
): Promise<void> {
  const keys = shape.keys.map((_, i) => `__key${i}`);
  const measures = measureOf(shape);
  const distinct = [...new Set(measures)];
  const [first, ...others] = distinct;
  for (const [table, ref] of shape.personal.entries()) {
    // A later measure's list is NULL when its members are the first's (an empty list is [], never NULL).
    const listOf = (item: string, m: number) => `coalesce(list(${item}) FILTER (WHERE __r${m} > 0), [])`;
    const lists = [
      listOf(MEMBER, first!),
      ...others.map((m) => `CASE WHEN bool_and((__r${first} > 0) = (__r${m} > 0)) THEN NULL ELSE ${listOf(MEMBER, m)} END`),
      ...distinct.map((m) => listOf(`(hash(__e, __r${m}, ${contributionOf(shape, m)}) >> 12)::DOUBLE`, m)),
    ];
    const sql = `SELECT ${[...keys, ...lists].join(', ')} FROM (${keylessAsOne(await companionInnerSql(connection, shape, ref), keys)}) AS __cells${groupBy(keys)}`;
    const more = await forEachList(connection, sql, keys.length, lists.length, (key, read) => {
      const row = rowOf(key);
      if (row === undefined) return true;
      const all = read();
      const members = all.slice(0, distinct.length);
      const fingerprints = all.slice(distinct.length);
      return measures.every((m, i) => {
        const at = distinct.indexOf(m);
        return add(row, i, table, members[at] ?? members[0] ?? [], fingerprints[at] ?? []);
      });
    });
    if (!more) return;
  }
}

/**
 * `forEachCell` for row-level answers: per personal table and combination of the quasi-identifiers
 * shown, the list of 52-bit hashes of the entities sharing it. Calls `add` with the members of each
 * row `rowOf` numbers; reading stops when `add` returns false.
 */
export async function forEachRowGroup(
  connection: DuckDBConnection,
  shape: Extract<AnswerShape, { kind: 'rows' }>,
  rowOf: (key: string) => number | undefined,
  add: (row: number, table: number, entities: readonly number[]) => boolean,
): Promise<void> {
  const keys = shape.quasi.map((_, i) => `__key${i}`);
  for (const [table, ref] of shape.personal.entries()) {
    const sql = `SELECT ${[...keys, `list(${MEMBER})`].join(', ')} FROM (${keylessAsOne(await rowMembersSql(connection, shape, ref), keys)}) AS __rows${groupBy(keys)}`;
    const more = await forEachList(connection, sql, keys.length, 1, (key, read) => {
      const row = rowOf(key);
      return row === undefined || add(row, table, read()[0]!);
    });
    if (!more) return;
  }
}

/** The member that stands for a cell's rows without an entity key (keys are hex: no key is this). */
export const KEYLESS_ENTITY = '(rows without a key)';
const KEYLESS = sqlString(KEYLESS_ENTITY);

/**
 * The companion's rows with the rows without an entity key (the identifier not recorded, or a
 * placeholder) as one member of their cell, with their own contribution. SECURITY: left out, a
 * per-district release and the same breakdown without one keyless payer (picked out by birth year)
 * had the same sets, passed differencing, and the difference gave that payer's amount (red-team
 * pass 25b). They are never counted as people (the checks count keys only). Export cell sets use
 * one member for every cell (`KEYLESS_ENTITY`), which the release store compares apart from the
 * keys; the prod history, which compares members alike, gets one per group (`keys`, its key
 * columns), so that the member does not pair every cell with every remembered one.
 */
function keylessAsOne(inner: string, keys: readonly string[] = []): string {
  const member = keys.length === 0 ? KEYLESS : `${KEYLESS} || ' ' || CAST(hash(${keys.join(', ')}) AS VARCHAR)`;
  return `SELECT * REPLACE (coalesce(__e, ${member}) AS __e) FROM (${inner}) AS __keyed`;
}

/** An entity as the history keeps it: 52 bits of DuckDB's 64-bit hash of its key, as a double. */
const MEMBER = '(hash(__e) >> 12)::DOUBLE';

function groupBy(keys: string[]): string {
  return keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : '';
}

/**
 * Streams `sql` (group keys, then lists of numbers): calls `each` with the keys as JSON and a reader
 * of the lists (null lists stay null). Stops, returning false, when `each` returns false.
 */
async function forEachList(connection: DuckDBConnection, sql: string, keyCount: number, listCount: number, each: (key: string, read: () => (number[] | null)[]) => boolean): Promise<boolean> {
  const result = await connection.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const keyColumns = Array.from({ length: keyCount }, (_, k) => chunk.convertColumnValues(k, JsonDuckDBValueConverter));
    const listColumns = Array.from({ length: listCount }, (_, l) => chunk.getColumnValues(keyCount + l) as (DuckDBListValue | null)[]);
    for (let r = 0; r < chunk.rowCount; r++) {
      const read = () => listColumns.map((column) => (column[r] ? (column[r]!.items as number[]) : null));
      if (!each(JSON.stringify(keyColumns.map((column) => column[r])), read)) return false;
    }
  }
  return true;
}
