/**
 * The CSV injection guard: a text cell a spreadsheet would run as a formula gains a leading quote,
 * the same in JavaScript and in the DuckDB SQL that writes exported CSV files.
 */
import { describe, expect, it } from 'vitest';
import { neutralizeCsvCell, neutralizeCsvCellSql, sqlString } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const CASES: [string, string][] = [
  ['=HYPERLINK("http://x")', `'=HYPERLINK("http://x")`],
  ['+1', `'+1`],
  ['-2', `'-2`],
  ['@SUM(A1)', `'@SUM(A1)`],
  ['\tcmd', `'\tcmd`],
  ['\rcmd', `'\rcmd`],
  ['plain', 'plain'],
  ['a=b', 'a=b'],
  ['', ''],
  ['长安区', '长安区'],
];

describe('CSV injection guard', () => {
  const db = useMemoryConnection();
  it.each(CASES)('neutralizes %j in JavaScript and SQL alike', async (input, expected) => {
    expect(neutralizeCsvCell(input)).toBe(expected);
    const [row] = await db.connection.all(`SELECT ${neutralizeCsvCellSql(sqlString(input))} AS v`);
    expect(row!.v).toBe(expected);
  });
});
