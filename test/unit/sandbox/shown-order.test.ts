/**
 * The order of a prod answer ordered by one of its aggregate columns, applied after the checks
 * (`shown-order.ts`): the same as DuckDB's ORDER BY over the values shown, as the engine hands them
 * over (JsonDuckDBValueConverter), with the rows whose cell is null placed by their keys alone.
 */
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { compareShown, placedByShownCells } from '../../../sandbox/disclosure/shown-order.js';

const VALUES: Record<string, string> = {
  BIGINT: '0, -1, 1, 9007199254740993, -9007199254740993, 42, 41',
  HUGEINT: '170141183460469231731687303715884105727, -170141183460469231731687303715884105727, 0, 12, 3',
  'DECIMAL(38, 3)': "'12.5', '12.499', '-0.001', '0', '100000000000000000000000000000000.001', '-7', '7'",
  DOUBLE: "'1e-7', '2.5', '-2.5', '1e300', '-1e300', 'inf', '-inf', 'nan', '0', '123456789.125'",
  BOOLEAN: 'true, false, true',
};

describe('the order of a prod answer by an aggregate column, after the checks', () => {
  it.each(Object.entries(VALUES))('orders %s cells as DuckDB does, both ways', async (type, list) => {
    const instance = await DuckDBInstance.create(':memory:');
    const connection = await instance.connect();
    try {
      const source = `(SELECT CAST(v AS ${type}) AS v FROM (SELECT unnest([${list}]) AS v))`;
      for (const direction of ['ASC', 'DESC'] as const) {
        const duckdb = (await connection.runAndReadAll(`SELECT v FROM ${source} ORDER BY v ${direction}`)).convertRows(JsonDuckDBValueConverter).map((row) => row[0]);
        const shuffled = [...duckdb].reverse().map((v) => [v]);
        const ours = placedByShownCells({ column: 0, descending: direction === 'DESC', nullsFirst: false }, shuffled, shuffled.map((_, i) => String(i))).map((row) => row[0]);
        expect(ours, `${type} ${direction}`).toEqual(duckdb);
      }
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
  });

  it('places rows whose cell is null last (or first), by their keys, wherever the query had them', () => {
    const rows = [['a', null], ['b', 5], ['c', null], ['d', 7]];
    const keys = ['["z"]', '["b"]', '["a"]', '["d"]'];
    expect(placedByShownCells({ column: 1, descending: true, nullsFirst: false }, rows, keys)).toEqual([['d', 7], ['b', 5], ['c', null], ['a', null]]);
    expect(placedByShownCells({ column: 1, descending: false, nullsFirst: true }, rows, keys)).toEqual([['c', null], ['a', null], ['b', 5], ['d', 7]]);
    // The same rows in another order (as other hidden values would have sorted them) are placed alike.
    expect(placedByShownCells({ column: 1, descending: true, nullsFirst: false }, [rows[2]!, rows[3]!, rows[0]!, rows[1]!], [keys[2]!, keys[3]!, keys[0]!, keys[1]!])).toEqual([['d', 7], ['b', 5], ['c', null], ['a', null]]);
  });

  it('keeps ties in the order the rows came in (their keys)', () => {
    expect(compareShown('12.50', '12.5')).toBe(0);
    expect(placedByShownCells({ column: 0, descending: true, nullsFirst: false }, [['3'], ['3.0'], ['4']], ['0', '1', '2'])).toEqual([['4'], ['3'], ['3.0']]);
  });
});
