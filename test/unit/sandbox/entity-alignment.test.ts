/**
 * The companion reads a table and its entity keys side by side (a positional join, issue #11): the
 * keys count only for the rows they were written for. Real DuckDB, the real checks
 * (`checkedAnswer`, `checkOutput`) over a `granted` catalog built here: with the side table in the
 * table's rowid order the answer is counted per person; with the same keys out of line (or one
 * missing) nothing is shown and nothing passes.
 */
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection } from '@duckdb/node-api';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DEFAULT_DISCLOSURE_RULES } from '../../../desensitize/index.js';
import { checkedAnswer } from '../../../sandbox/disclosure/check-answer.js';
import { checkOutput } from '../../../sandbox/disclosure/review-output.js';
import { payShape } from '../../helpers/granted-shape.js';

const PRIVACY = { personal: true, entity: true, identifiers: [], quasi: ['district'] };
// 300 payments of 30 people (10 each), 10 people per district; person p lives in district p % 3.
const PAYMENTS = 'SELECT range // 10 AS p, (range // 10) % 3 AS district, 100.0 + range % 7 AS amount FROM range(300)';

describe('entity keys joined by position', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeEach(async () => {
    instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    connection = await instance.connect();
    await connection.run("ATTACH ':memory:' AS granted");
    await connection.run(`CREATE TABLE granted.main.pay AS ${PAYMENTS}`);
    await connection.run('USE granted');
  });
  afterEach(() => {
    connection.closeSync();
    instance.closeSync();
  });

  const shapeOf = (sql: string) => payShape(connection, sql, PRIVACY);

  const run = async (sql: string) => {
    const reader = await connection.runAndReadAll(sql);
    return { columns: reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() })), rows: reader.convertRows(JsonDuckDBValueConverter) as unknown[][], truncated: false };
  };

  const CAPS = { maxRows: 10_000, maxBytes: 10_000_000 };

  /** The side table as publish.ts writes it (row = rowid, in rowid order), or `order`ed otherwise. */
  async function entityKeys(order = 'rowid'): Promise<void> {
    await connection.run(`CREATE OR REPLACE TABLE granted.main.__entities_pay AS SELECT rowid AS row, 'person-' || (rowid // 10) AS entity FROM granted.main.pay ORDER BY ${order}`);
  }

  it('counts people, not rows, when the keys are in line', async () => {
    await entityKeys();
    const shape = await shapeOf('SELECT district, count(*) AS n, sum(amount) AS total FROM pay WHERE p >= 0 GROUP BY district ORDER BY district');
    const answer = await checkedAnswer(connection, shape, DEFAULT_DISCLOSURE_RULES, run, CAPS);
    expect(answer.rows.map((row) => row[0])).toEqual(['0', '1', '2']);
    expect(answer.disclosure).toMatchObject({ withheldRows: 0, suppressedCells: 0 });
    // Fewer than 10 people in district 0 once person 0 is filtered out: withheld, with one more (secondary).
    const fewer = await checkedAnswer(connection, await shapeOf('SELECT district, count(*) AS n FROM pay WHERE amount > 101 AND p <> 0 GROUP BY district'), DEFAULT_DISCLOSURE_RULES, run, CAPS);
    expect(fewer.disclosure.withheldRows).toBe(2);
    const checked = await checkOutput(connection, shape, DEFAULT_DISCLOSURE_RULES, 'out_aligned', 1000);
    if ('uncheckable' in checked) throw new Error(checked.uncheckable);
    await checked.drop();
    const { checks } = checked;
    expect(checks.find((c) => c.name === 'minimum-entities')).toMatchObject({ status: 'pass' });
  });

  it('refuses the answer and the export checks when the keys are out of line', async () => {
    await entityKeys('rowid DESC');
    const shape = await shapeOf('SELECT district, count(*) AS n FROM pay GROUP BY district');
    await expect(checkedAnswer(connection, shape, DEFAULT_DISCLOSURE_RULES, run, CAPS)).rejects.toMatchObject({ code: 'DSC_ERR_UNCHECKABLE' });
    await expect(checkOutput(connection, shape, DEFAULT_DISCLOSURE_RULES, 'out_misaligned', 1000)).rejects.toMatchObject({ code: 'DSC_ERR_UNCHECKABLE' });
  });

  it('refuses the answer when a row has no key', async () => {
    await entityKeys();
    await connection.run('DELETE FROM granted.main.__entities_pay WHERE row = 299');
    const shape = await shapeOf('SELECT district, count(*) AS n FROM pay GROUP BY district');
    await expect(checkedAnswer(connection, shape, DEFAULT_DISCLOSURE_RULES, run, CAPS)).rejects.toMatchObject({ code: 'DSC_ERR_UNCHECKABLE' });
  });
});
