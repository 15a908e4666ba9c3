/**
 * The ZIP check runs before any workbook reader unpacks an upload (an .xlsx is a ZIP archive).
 * Readers allocate what an archive announces and unpack what it holds, so the check inflates every
 * entry under its declared size, bounds the total, and refuses archives that a streaming reader
 * and a directory reader would see differently.
 */
import { describe, expect, it } from 'vitest';
import { checkZip } from '../../../sandbox/upload/zip-check.js';
import { buildZip, WORKBOOK_ENTRIES, xlsxOf, zeroBomb } from '../../helpers/zip-fixture.js';

const LIMITS = { maxEntries: 100, maxUncompressedBytes: 16 * 1024 * 1024 };

describe('checkZip', () => {
  it('passes a real workbook and lists its entries', async () => {
    const xlsx = await xlsxOf([{ name: '名单', rows: [['姓名', '金额'], ['张三', 1]] }]);
    const names = checkZip(xlsx, LIMITS).map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(['xl/workbook.xml', 'xl/worksheets/sheet1.xml']));
  });

  it('passes stored and deflated entries written by hand', () => {
    expect(checkZip(buildZip([...WORKBOOK_ENTRIES, { name: 'raw.xml', data: Buffer.from('<x/>'), stored: true }]), LIMITS)).toHaveLength(3);
  });

  it('refuses an honest bomb by its declared size, before inflating it', () => {
    const bomb = zeroBomb(17);
    const zip = buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...bomb }]);
    expect(zip.length).toBeLessThan(64 * 1024);
    expect(() => checkZip(zip, LIMITS)).toThrow(expect.objectContaining({ code: 'UPL_ERR_XLSX_TOO_LARGE' }));
  });

  it('refuses a bomb whose headers understate its size, stopping at the declared size', () => {
    const bomb = zeroBomb(64);
    const zip = buildZip([...WORKBOOK_ENTRIES, { name: 'xl/worksheets/sheet1.xml', ...bomb, declaredSize: 1000 }]);
    expect(() => checkZip(zip, LIMITS)).toThrow(expect.objectContaining({ code: 'UPL_ERR_XLSX_TOO_LARGE' }));
  });

  it('refuses entries whose content is smaller than announced or fails its checksum', () => {
    const data = Buffer.from('<sheet/>');
    expect(() => checkZip(buildZip([{ name: 'a.xml', data, declaredSize: 5000 }]), LIMITS)).toThrow(expect.objectContaining({ code: 'UPL_ERR_MALFORMED' }));
    expect(() => checkZip(buildZip([{ name: 'a.xml', data, crc: 12345 }]), LIMITS)).toThrow(/checksum/);
  });

  it('refuses an entry hidden between two others (seen by a streaming reader, not by the directory)', () => {
    const hidden = buildZip([{ name: 'xl/worksheets/sheet9.xml', data: Buffer.from('<hidden/>') }]);
    const zip = buildZip(WORKBOOK_ENTRIES, { hiddenAfterFirst: hidden.subarray(0, hidden.length - 22 - 46 - 'xl/worksheets/sheet9.xml'.length) });
    expect(() => checkZip(zip, LIMITS)).toThrow(/back to back/);
  });

  it('refuses too many entries, truncation and garbage', () => {
    const many = buildZip(Array.from({ length: 101 }, (_, i) => ({ name: `e${i}.xml`, data: Buffer.from('x') })));
    expect(() => checkZip(many, LIMITS)).toThrow(/101 entries/);
    const zip = buildZip(WORKBOOK_ENTRIES);
    expect(() => checkZip(zip.subarray(0, zip.length - 30), LIMITS)).toThrow(expect.objectContaining({ code: 'UPL_ERR_MALFORMED' }));
    expect(() => checkZip(Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.alloc(100, 7)]), LIMITS)).toThrow(expect.objectContaining({ code: 'UPL_ERR_MALFORMED' }));
  });
});
