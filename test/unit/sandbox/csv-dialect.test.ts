/**
 * The dialect sniffer decides how every uploaded or ingested text file is read (DuckDB then reads
 * it strictly with exactly that dialect). It must find the delimiter exports use (comma,
 * semicolon, tab, pipe) even when quoted fields contain the others, tell RFC 4180 quoting from
 * backslash escapes, and agree with DuckDB's own sniffer (`sniff_csv`) on well-formed files.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseRecords, sniffDialect, type CsvDialect } from '../../../sandbox/upload/csv-dialect.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const db = useMemoryConnection();
const temp = makeTempDir();
afterAll(() => temp.remove());

const FILES: [string, string, CsvDialect][] = [
  ['comma with quoted commas', 'id,name,note\n1,"Zhang, San","a ""b"" c"\n2,Li,x\n', { delimiter: ',', escape: '"' }],
  ['semicolon with quoted semicolons and commas', 'id;name;amount\n1;"Zhang; San";"1,5"\n2;Li, Si;2,5\n', { delimiter: ';', escape: '"' }],
  ['tab with a quoted tab', 'id\tname\tnote\n1\t"a\tb"\tx\n2\tLi\ty\n', { delimiter: '\t', escape: '"' }],
  ['pipe with a quoted pipe and Chinese', '编号|姓名|备注\n1|"张|三"|北京\n2|李四|上海\n', { delimiter: '|', escape: '"' }],
  ['backslash-escaped quotes', 'a,b\n1,"x\\"y"\n2,z\n', { delimiter: ',', escape: '\\' }],
  ['a quoted field spanning lines', 'a;b\n1;"line one\nline two"\n2;z\n', { delimiter: ';', escape: '"' }],
  ['CRLF line ends', 'a|b\r\n1|2\r\n3|4\r\n', { delimiter: '|', escape: '"' }],
];

describe('sniffDialect', () => {
  it.each(FILES)('finds the dialect of %s', (_label, text, dialect) => {
    expect(sniffDialect(text, true)).toEqual(dialect);
  });

  it.each(FILES)('agrees with DuckDB sniff_csv on %s', async (label, text, dialect) => {
    const file = path.join(temp.dir, `${label.replace(/\W+/g, '-')}.csv`);
    fs.writeFileSync(file, text);
    const [sniffed] = await db.connection.all<{ Delimiter: string; Escape: string }>(`SELECT Delimiter, Escape FROM sniff_csv('${file}')`);
    expect(sniffed!.Delimiter).toBe(dialect.delimiter);
    // DuckDB says "(empty)" when no field needs an escape; where one does, it must be ours.
    if (sniffed!.Escape !== '(empty)') expect(sniffed!.Escape).toBe(dialect.escape);
  });

  it('reads one-column files, and files whose header alone is ambiguous, as comma-separated', () => {
    expect(sniffDialect('name\n张三\n李四\n', true)).toEqual({ delimiter: ',', escape: '"' });
    // Two readings give two columns each: the tie goes to the comma (as DuckDB decides).
    expect(sniffDialect('a;b,c\n1;2,3\n', true).delimiter).toBe(',');
  });

  it('keeps the right delimiter when one row is ragged, so the strict read can name that row', () => {
    const rows = Array.from({ length: 30 }, (_, i) => `${i};name, with comma;${i * 2}`);
    rows.splice(10, 0, '99;too;many;fields');
    expect(sniffDialect(`id;name;amount\n${rows.join('\n')}\n`, true).delimiter).toBe(';');
  });

  it('decides on the rest when a quote is left open at the end (the strict read reports its line)', () => {
    expect(sniffDialect('a|b\n1|2\n3|"open\n', true).delimiter).toBe('|');
  });

  it('drops a record cut by the end of a sample', () => {
    expect(parseRecords('a,b\n1,2\n3,"cut', { delimiter: ',', escape: '"' }, { complete: false, maxRecords: 10 })).toEqual([['a', 'b'], ['1', '2']]);
    expect(parseRecords('\uFEFFa,b\n1,2', { delimiter: ',', escape: '"' }, { complete: true, maxRecords: 10 })).toEqual([['a', 'b'], ['1', '2']]);
  });
});
