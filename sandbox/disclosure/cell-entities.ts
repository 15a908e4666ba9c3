import { JsonDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk, type DuckDBListValue } from '@duckdb/node-api';
import { sqlString } from '../../desensitize/index.js';
import { DomainError } from '../../core/errors.js';
import type { AnswerShape } from './answer-shape.js';
import { companionInnerSql, measureOf } from './check-answer.js';

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
export type CellEntity = [row: number, column: string, label: string, entity: string];

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
  const cellColumns = [...new Set(shape.aggregates.map((a) => a.column))].map((column) => {
    const name = columns[column];
    if (name === undefined) throw new DomainError('DSC_ERR_UNCHECKABLE', 'an aggregate of the output has no column');
    const counted = shape.aggregates.flatMap((a, i) => (a.column === column ? [`__cells.__r${measures[i]} > 0`] : []));
    return `CASE WHEN ${counted.join(' OR ')} THEN ${sqlString(name)} END`;
  });
  const on = keys.length === 0 ? 'true' : keys.map((k) => `__o.${k} IS NOT DISTINCT FROM __cells.${k}`).join(' AND ');
  for (const [index, ref] of shape.personal.entries()) {
    const label = labels[index];
    if (label === undefined) throw new DomainError('DSC_ERR_UNCHECKABLE', `the source of table ${ref.table} is unknown, so its cells cannot be compared with earlier releases`);
    const members = `SELECT CAST(__o.rowid AS INTEGER) AS "row", unnest([${cellColumns.join(', ')}]) AS "column", ${sqlString(label)} AS label, CAST(__cells.__e AS VARCHAR) AS entity
      FROM (${await companionInnerSql(connection, shape, ref)}) AS __cells JOIN ${table} AS __o ON ${on} WHERE __cells.__e IS NOT NULL`;
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
 * group, its keys and, per measure, the list of 52-bit hashes of the entities counting in its cells.
 * Calls `add` with each shown row's members of each aggregate's cell.
 */
export async function forEachCell(
  connection: DuckDBConnection,
  shape: Extract<AnswerShape, { kind: 'aggregate' }>,
  rowKeys: readonly string[],
  add: (row: number, aggregate: number, table: number, entities: number[]) => void,
): Promise<void> {
  const rowOf = new Map(rowKeys.map((key, row) => [key, row]));
  const keys = shape.keys.map((_, i) => `__key${i}`);
  const measures = measureOf(shape);
  const distinct = [...new Set(measures)];
  for (const [table, ref] of shape.personal.entries()) {
    const lists = distinct.map((m) => `list((hash(__e) >> 12)::BIGINT) FILTER (WHERE __r${m} > 0)`);
    const sql = `SELECT ${[...keys, ...lists].join(', ')} FROM (${await companionInnerSql(connection, shape, ref)}) AS __cells WHERE __e IS NOT NULL${keys.length > 0 ? ` GROUP BY ${keys.join(', ')}` : ''}`;
    const result = await connection.stream(sql);
    for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
      const keyColumns = keys.map((_, k) => chunk.convertColumnValues(k, JsonDuckDBValueConverter));
      const listColumns = distinct.map((_, d) => chunk.getColumnValues(keys.length + d) as (DuckDBListValue | null)[]);
      for (let r = 0; r < chunk.rowCount; r++) {
        const row = rowOf.get(JSON.stringify(keyColumns.map((column) => column[r])));
        if (row === undefined) continue;
        const members = listColumns.map((column) => (column[r]?.items ?? []).map(Number));
        measures.forEach((m, i) => add(row, i, table, members[distinct.indexOf(m)]!));
      }
    }
  }
}
