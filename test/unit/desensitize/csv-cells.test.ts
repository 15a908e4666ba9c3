/**
 * The CSV injection guard: a text cell a spreadsheet would run as a formula gains a leading quote,
 * the same in JavaScript and in the DuckDB SQL that writes exported CSV files, and so does every
 * formula character after a `;`, `,`, tab or line end inside a cell (where sheets split); `trace` undoes it.
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
  ['\n=1+1', `'\n'=1+1`],
  // Where ';' (or ',') separates cells, what follows it starts a cell of its own.
  ["a;=HYPERLINK('http://x')", "a;'=HYPERLINK('http://x')"],
  ['x,+1;-2', "x,'+1;'-2"],
  ['=;=', "'=;'="],
  ['a; =b', 'a; =b'],
  // Pasted text is split at tabs and line ends (red-team pass 17b), runs of them included.
  ["a\t=HYPERLINK('http://x')", "a\t'=HYPERLINK('http://x')"],
  ['a\n-1\r+2', "a\n'-1\r'+2"],
  [';\t=', ";'\t'="],
  ['\t\t\t=', "'\t'\t'\t'="],
  ['x\t\t\t\t@', "x\t'\t'\t'\t'@"],
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

  it('gives the same cells in JavaScript and SQL for runs of separators and formula characters, and undoes them', async () => {
    const alphabet = [';', ',', '\t', '\r', '\n', '=', '+', '-', '@', 'a'];
    const inputs: string[] = [];
    // A fixed pseudo-random sample (LCG): 400 strings of 1..8 characters.
    let state = 17;
    for (let i = 0; i < 400; i++) {
      let text = '';
      state = (state * 1103515245 + 12345) % 2 ** 31;
      for (let n = 1 + (state % 8); n > 0; n--) {
        state = (state * 1103515245 + 12345) % 2 ** 31;
        text += alphabet[state % alphabet.length];
      }
      inputs.push(text);
    }
    const rows = await db.connection.all<{ v: string }>(`SELECT ${neutralizeCsvCellSql('t')} AS v FROM unnest([${inputs.map(sqlString).join(', ')}]) WITH ORDINALITY AS u(t, i) ORDER BY i`);
    expect(rows.map((row) => row.v)).toEqual(inputs.map(neutralizeCsvCell));
    for (const input of inputs) {
      const cell = neutralizeCsvCell(input);
      // No separator (or the start) is followed by a formula character any more.
      expect(/(^|[;,\t\r\n])[=+\-@\t\r\n]/.test(cell)).toBe(false);
      expect(restoreCsvCell(cell)).toBe(input);
    }
  });

  it('neutralizes a cell starting with NUL (OWASP ASVS 1.2.10) in JavaScript and SQL alike', async () => {
    expect(neutralizeCsvCell('\0=HYPERLINK("http://x")')).toBe(`'\0=HYPERLINK("http://x")`);
    const [row] = await db.connection.all(`SELECT ${neutralizeCsvCellSql(`chr(0) || '=1'`)} = '''' || chr(0) || '=1' AS prefixed`);
    expect(row!.prefixed).toBe(true);
  });
});
