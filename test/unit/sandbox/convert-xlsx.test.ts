/**
 * Workbook conversion runs in child processes, two at a time: more requests than slots must all
 * be served, in their own outputs, and a refused one must leave no partial CSV behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { convertXlsx } from '../../../sandbox/upload/convert-xlsx.js';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { buildZip, WORKBOOK_ENTRIES, xlsxOf, zeroBomb } from '../../helpers/zip-fixture.js';

const temp = makeTempDir();
afterAll(() => temp.remove());

describe('convertXlsx', () => {
  it('serves more conversions than it runs at once, each into its own CSV', async () => {
    const jobs = await Promise.all([1, 2, 3, 4, 5].map(async (k) => {
      const input = path.join(temp.dir, `book${k}.xlsx`);
      fs.writeFileSync(input, await xlsxOf([{ name: 'Sheet1', rows: [['编号', '名称'], [k, `第${k}本`]] }]));
      return { k, input, output: path.join(temp.dir, `book${k}.csv`) };
    }));
    const results = await Promise.all(jobs.map((job) => convertXlsx(job.input, job.output, { maxColumns: 200, owner: 'test' })));
    expect(results).toEqual(jobs.map(() => ({ rows: 1, columns: 2 })));
    for (const job of jobs) expect(fs.readFileSync(job.output, 'utf8')).toBe(`编号,名称\n${job.k},第${job.k}本\n`);
  });

  it('refuses a bomb with its code before writing any output', async () => {
    const input = path.join(temp.dir, 'bomb.xlsx');
    fs.writeFileSync(input, buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...zeroBomb(200) }]));
    const output = path.join(temp.dir, 'bomb.csv');
    await expect(convertXlsx(input, output, { maxColumns: 200, owner: 'test' })).rejects.toMatchObject({ code: 'UPL_ERR_XLSX_TOO_LARGE' });
    expect(fs.existsSync(output)).toBe(false);
  });
});
