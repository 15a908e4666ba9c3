/**
 * The CSV injection guard: a text cell a spreadsheet would run as a formula gains a leading quote,
 * the same in JavaScript and in the DuckDB SQL that writes exported CSV files, and so does every
 * formula character after a `;` or `,` inside a cell (a separator in some locales); `trace` undoes it.
 */
import { describe, expect, it } from 'vitest';
import { neutralizeCsvCell, neutralizeCsvCellSql, restoreCsvCell, sqlString } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const CASES: [string, string][] = [
  ['=HYPERLINK("http://x")', `'=HYPERLINK("http://x")`],
  ['+1', `'+1`],
  ['-2', `'-2`],
  ['@SUM(A1)', `'@SUM(A1)`],
  ['\tcmd', `'\tcmd`],
  ['\rcmd', `'\rcmd`],
  ['\n=1+1', `'\n=1+1`],
  // Where ';' (or ',') separates cells, what follows it starts a cell of its own.
  ["a;=HYPERLINK('http://x')", "a;'=HYPERLINK('http://x')"],
  ['x,+1;-2', "x,'+1;'-2"],
  ['=;=', "'=;'="],
  ['a; =b', 'a; =b'],
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
    expect(restoreCsvCell(expected)).toBe(input);
  });

  it('neutralizes a cell starting with NUL (OWASP ASVS 1.2.10) in JavaScript and SQL alike', async () => {
    expect(neutralizeCsvCell('\0=HYPERLINK("http://x")')).toBe(`'\0=HYPERLINK("http://x")`);
    const [row] = await db.connection.all(`SELECT ${neutralizeCsvCellSql(`chr(0) || '=1'`)} = '''' || chr(0) || '=1' AS prefixed`);
    expect(row!.prefixed).toBe(true);
  });
});
