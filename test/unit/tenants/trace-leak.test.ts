/**
 * Matching a leaked table against released cells (tenants/exports/trace-leak.ts#cellShare): rows
 * and columns in any order, columns renamed, numbers re-encoded (12.30 → 12.3), the CSV-injection
 * quote gone; a table that shares only one column (a list of districts), or whose rows are not the
 * released rows, does not match.
 */
import { describe, expect, it } from 'vitest';
import type { TextTable } from '../../../sandbox/index.js';
import { cellShare } from '../../../tenants/exports/trace-leak.js';

const released: TextTable = {
  format: 'csv',
  columns: ['district', 'n', 'total', 'label'],
  rows: Array.from({ length: 20 }, (_, i) => [String(i % 7), String(100 + i), `${1000 + i}.50`, i === 3 ? "'-2" : `label ${i}`]),
};

describe('released cells', () => {
  it('finds a reordered, renamed, re-encoded subset', () => {
    const leaked: TextTable = {
      format: 'xlsx',
      columns: ['what', 'sum', 'area', 'count'],
      rows: [3, 11, 7, 0].map((i) => [i === 3 ? '-2' : `label ${i}`, `${1000 + i}.5`, String(i % 7), String(100 + i)]),
    };
    expect(cellShare(leaked, released)).toEqual({ share: 1, matched: 4, columns: 4 });
  });

  it('counts rows that are not released rows against the share', () => {
    const leaked: TextTable = { format: 'csv', columns: ['district', 'n'], rows: [['0', '100'], ['1', '101'], ['2', '102'], ['2', '999'], ['3', '100'], ['4', '998']] };
    expect(cellShare(leaked, released)).toMatchObject({ share: 0.5, matched: 3 });
  });

  it('does not match on one shared column, nor a foreign table of the same shape', () => {
    expect(cellShare({ format: 'csv', columns: ['district', 'visitors'], rows: [['0', '7'], ['1', '8'], ['2', '9']] }, released)).toBeUndefined();
    const foreign: TextTable = { format: 'csv', columns: released.columns, rows: Array.from({ length: 20 }, (_, i) => [String(i % 7), String(200 + i), `${3000 + i}.25`, `other ${i}`]) };
    expect(cellShare(foreign, released)).toBeUndefined();
  });
});
