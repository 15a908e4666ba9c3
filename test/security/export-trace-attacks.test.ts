/**
 * Red-team attacks on tracing by released cells (tenants/exports/trace-leak.ts#cellShare, the third
 * kind of evidence of `npm run -s trace`, used for aggregates and for row-level files without a
 * mark): a "leaked" file anyone can make up must not name a recipient (framing one), and a real leak
 * still names its package. `was a hole:` failed against the door as first landed.
 */
import { describe, expect, it } from 'vitest';
import type { TextTable } from '../../sandbox/index.js';
import { CELL_SHARE_CLAIM, cellShare } from '../../tenants/exports/trace-leak.js';

/** A delivered aggregate: payments per district (the recipient to frame). */
const delivered: TextTable = { format: 'csv', columns: ['district', 'payments'], rows: [['一区', '1980'], ['三区', '2000'], ['二区', '2000'], ['四区', '2000']] };

describe('framing a recipient through released cells', () => {
  it('was a hole: a one-column file of public values (the district names) names no package', () => {
    const guessed: TextTable = { format: 'csv', columns: ['area'], rows: [['一区'], ['二区'], ['三区'], ['四区']] };
    expect(cellShare(guessed, delivered)).toBeUndefined();
  });

  it('was a hole: a one-cell file ("1980", or any count) names no package', () => {
    expect(cellShare({ format: 'csv', columns: ['n'], rows: [['1980']] }, delivered)).toBeUndefined();
  });

  it('was a hole: one or two guessed rows do not name a package', () => {
    expect(cellShare({ format: 'csv', columns: ['d', 'n'], rows: [['二区', '2000']] }, delivered)).toBeUndefined();
    expect(cellShare({ format: 'csv', columns: ['d', 'n'], rows: [['二区', '2000'], ['四区', '2000'], ['二区', '2000']] }, delivered)).toBeUndefined();
  });

  it('STOPPED: a real leak of the released rows, reordered and renamed, still names the package', () => {
    const leaked: TextTable = { format: 'xlsx', columns: ['n', 'where'], rows: [['2000', '四区'], ['1980', '一区'], ['2000', '三区']] };
    const share = cellShare(leaked, delivered);
    expect(share).toEqual({ share: 1, matched: 3, columns: 2 });
    expect(share!.share).toBeGreaterThanOrEqual(CELL_SHARE_CLAIM);
  });
});
