/**
 * An .xlsx workbook is a ZIP archive of XML: the classic ways to hurt a server with one are a zip
 * bomb (a small file unpacking to gigabytes, with honest or lying sizes), a sheet whose few cells
 * sit at the far corners of the grid (the reader builds the whole grid), and plain garbage dressed
 * as a workbook. Each must get a clear 4xx with a stable code, leave no workspace table, no dataset
 * and no temp file, and the server keeps serving. Workbooks are read in a capped child process
 * after a ZIP check (sandbox/upload/convert-xlsx.ts), never in the server's own heap.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipartForm } from '../helpers/multipart.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { buildZip, WORKBOOK_ENTRIES, workbookWithSheetData, xlsxOf, zeroBomb } from '../helpers/zip-fixture.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('workbook attacks', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(() => t.close({ remove: true }));

  const upload = (name: string, content: Buffer) =>
    t.app.inject({
      method: 'POST', url: '/v1/uploads', payload: multipartForm({ name }, { filename: 'book.xlsx', content }),
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
  const ingest = (id: string, content: Buffer) =>
    t.app.inject({
      method: 'POST', url: '/v1/datasets', payload: multipartForm({ meta: JSON.stringify(datasetMeta(id)) }, { filename: 'book.xlsx', content }),
      headers: { authorization: `Bearer ${t.token(SUPERVISOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
  const tableNames = async () => {
    const res = await t.call(OPERATOR, 'GET', '/v1/tables');
    expectStatus(res, 200);
    return res.json().tables.map((x: { name: string }) => x.name);
  };
  const leftovers = (dir: string) => (fs.existsSync(path.join(t.dataDir, 'tmp', dir)) ? fs.readdirSync(path.join(t.dataDir, 'tmp', dir)) : []);

  /** Refused with `status` and `code`, and nothing of it left: no table, no temp file; the service still answers queries. */
  async function expectRefusedUpload(name: string, content: Buffer, status: number, code: string): Promise<string> {
    const res = await upload(name, content);
    expect(res.statusCode, res.body).toBe(status);
    expect(res.json().code).toBe(code);
    expect(res.body).not.toContain(t.dataDir);
    expect(await tableNames()).not.toContain(name);
    expect(leftovers('uploads')).toEqual([]);
    const alive = await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT count(*)::INTEGER FROM residents', env: 'prod' });
    expectStatus(alive, 200);
    return res.json().message;
  }

  const honestBomb = () => buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...zeroBomb(200) }]);
  const lyingBomb = () => buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...zeroBomb(200), declaredSize: 4096 }]);

  it('refuses a zip bomb that declares its size (200 MiB of zeros in a 200 KB file) before unpacking it', async () => {
    const bomb = honestBomb();
    expect(bomb.length).toBeLessThan(400 * 1024);
    const message = await expectRefusedUpload('honest_bomb', bomb, 413, 'UPL_ERR_XLSX_TOO_LARGE');
    expect(message).toContain('128 MiB');
  });

  it('refuses a zip bomb whose headers understate its size, stopping at the declared size', async () => {
    await expectRefusedUpload('lying_bomb', lyingBomb(), 413, 'UPL_ERR_XLSX_TOO_LARGE');
  });

  it('refuses a small sheet whose cells sit at the corners of the grid, before the reader builds it', async () => {
    const corners = workbookWithSheetData('<row r="1"><c r="A1"><v>1</v></c><c r="CV1"><v>2</v></c></row><row r="1048576"><c r="A1048576"><v>3</v></c></row>');
    expect(corners.length).toBeLessThan(4096);
    expect(await expectRefusedUpload('corners', corners, 413, 'UPL_ERR_XLSX_TOO_LARGE')).toContain('1048576 rows');
    const wide = workbookWithSheetData(Array.from({ length: 1000 }, (_, i) => `<row r="${i + 1}"><c r="A${i + 1}"><v>1</v></c><c r="XFD${i + 1}"><v>2</v></c></row>`).join(''));
    expect(await expectRefusedUpload('wide', wide, 400, 'UPL_ERR_TOO_MANY_COLUMNS')).toContain('16384');
  });

  it.each([
    ['garbage after the ZIP magic', () => Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(2000, 0x41)])],
    ['a truncated workbook', async () => (await xlsxOf([{ name: 'Sheet1', rows: [['a'], [1]] }])).subarray(0, 1500)],
    ['a ZIP archive that is not a workbook', () => buildZip([{ name: 'readme.txt', data: Buffer.from('hello') }])],
    ['a workbook whose sheet is not XML', () => workbookWithSheetData('<row r="1"><c r="A1"><v>1</v></c></row><row r="1"><c r="A1"><v>2</v></c></row></sheetData><<<')],
  ])('refuses %s as malformed', async (_label, make) => {
    const message = await expectRefusedUpload('malformed_book', await make(), 400, 'UPL_ERR_MALFORMED');
    expect(message).toMatch(/xlsx workbook/);
  });

  it('refuses legacy .xls and password-protected workbooks (OLE2 containers) with 415', async () => {
    const ole2 = Buffer.concat([Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), Buffer.alloc(4096)]);
    expect(await expectRefusedUpload('legacy_xls', ole2, 415, 'UPL_ERR_UNSUPPORTED_FORMAT')).toContain('.xls');
  });

  it('refuses the same bombs at dataset ingest, leaving no dataset and no raw file', async () => {
    for (const [id, bomb] of [['bomb_honest', honestBomb()], ['bomb_lying', lyingBomb()]] as const) {
      const res = await ingest(id, bomb);
      expect(res.statusCode, res.body).toBe(413);
      expect(res.json().code).toBe('UPL_ERR_XLSX_TOO_LARGE');
      expect((await t.call(SUPERVISOR, 'GET', `/v1/datasets/${id}`)).statusCode).toBe(404);
      const dir = path.join(t.dataDir, 'domain', id);
      expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
    }
    expect(leftovers('ingest')).toEqual([]);
  });

  it('still takes a good workbook after all that', async () => {
    const res = await upload('good_book', await xlsxOf([{ name: 'Sheet1', rows: [['区县', '户数'], ['长安区', 120]] }]));
    expectStatus(res, 201);
    expect(res.json().rows).toBe(1);
  });
});
