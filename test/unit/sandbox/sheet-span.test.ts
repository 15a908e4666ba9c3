/**
 * The span scan decides, before the workbook reader builds its dense grid, whether a sheet is too
 * wide or too large to read. It must find the sheet the reader will read (by name, position or
 * default), count only cells that can hold a value, and see the far corners a small file can name.
 */
import { describe, expect, it } from 'vitest';
import { sheetSpan, worksheetPath } from '../../../sandbox/upload/sheet-span.js';

const WORKBOOK = '<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
  + '<sheet name="说明" sheetId="1" r:id="rId3"/><sheet name="A&amp;B" sheetId="2" r:id="rId1"/></sheets></workbook>';
const RELS = '<Relationships><Relationship Id="rId1" Type="…/worksheet" Target="worksheets/sheet2.xml"/>'
  + '<Relationship Id="rId3" Type="…/worksheet" Target="/xl/worksheets/sheet1.xml"/></Relationships>';

describe('worksheetPath', () => {
  it('finds the sheet by default, by position and by (escaped) name, with relative and absolute targets', () => {
    expect(worksheetPath(WORKBOOK, RELS, undefined)).toBe('xl/worksheets/sheet1.xml');
    expect(worksheetPath(WORKBOOK, RELS, 2)).toBe('xl/worksheets/sheet2.xml');
    expect(worksheetPath(WORKBOOK, RELS, 'A&B')).toBe('xl/worksheets/sheet2.xml');
    expect(worksheetPath(WORKBOOK, RELS, 'missing')).toBeUndefined();
    expect(worksheetPath(WORKBOOK, RELS, 3)).toBeUndefined();
  });
});

describe('sheetSpan', () => {
  it('spans to the last cell holding a value, ignoring self-closing (formatting-only) cells', () => {
    const xml = '<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1"><v>1</v></c><c r="IV1" s="3"/></row>'
      + '<row r="40"><c r="B40"><v>2</v></c></row><row r="1048576" s="2" customFormat="1"/></sheetData>';
    expect(sheetSpan(xml)).toEqual({ rows: 40, columns: 3 });
  });

  it('sees the far corners a tiny sheet names', () => {
    expect(sheetSpan('<x:row r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>')).toEqual({ rows: 1_048_576, columns: 16_384 });
  });
});
