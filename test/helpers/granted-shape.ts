import type { DuckDBConnection } from '@duckdb/node-api';
import type { TablePrivacy } from '../../desensitize/index.js';
import { answerShape, type AnswerShape } from '../../sandbox/disclosure/answer-shape.js';

/**
 * The checkable shape of `sql` as the engine reads it (DuckDB's own parse), over one personal table
 * `pay` of `privacy` in a `granted` catalog the test built on `connection`. Throws when the query
 * is not checkable.
 */
export async function payShape(connection: DuckDBConnection, sql: string, privacy: TablePrivacy): Promise<Exclude<AnswerShape, { kind: 'uncheckable' }>> {
  const reader = await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
  const ast = JSON.parse(String(reader.getRowsJS()[0]![0])).statements[0].node;
  const shape = answerShape(ast, {
    personal: (_catalog, name) => (name === 'pay' ? { table: 'pay', privacy } : undefined),
    derivedFromPersonal: () => false,
    isAggregate: (name) => ['count_star', 'count', 'sum', 'avg'].includes(name),
    isUnstable: () => false,
    makesRows: (name) => name === 'unnest',
  });
  if (!shape || shape.kind === 'uncheckable') throw new Error(`not checkable: ${JSON.stringify(shape)}`);
  return shape;
}
