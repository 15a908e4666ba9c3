/**
 * Which cells of one row are shown together (`row-combinations.ts`, invariant 8), on companion
 * statistics written by hand: per pair of measures the people they count differently, then the
 * row's atoms as DuckDB prints a histogram of presence masks. The statistics of real queries are
 * covered end to end in test/security/red-team-5.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../sandbox/index.js';
import type { AnswerShape } from '../../../sandbox/disclosure/answer-shape.js';
import { rowMeasures, rowStatistics, withheldInRow } from '../../../sandbox/disclosure/row-combinations.js';

type Aggregate = Extract<AnswerShape, { kind: 'aggregate' }>;

/** An answer of `n` counts in columns 0..n-1, each its own measure (`filters[i]`: a FILTER of its own, by name). */
function counts(n: number, filters: (string | undefined)[] = []): Aggregate {
  const aggregates = Array.from({ length: n }, (_, i) => ({ column: i, summable: false, node: { function_name: 'count_star', filter: filters[i] ? { class: 'COLUMN_REF', column_names: [filters[i]] } : null } }));
  return { kind: 'aggregate', aggregates } as unknown as Aggregate;
}

/** The columns withheld for one row: `differing[k]` per pair in order (a < b), then the atoms. */
function withheld(n: number, differing: number[], atoms?: Record<number, number>, filters: (string | undefined)[] = []): number[] {
  const shape = counts(n, filters);
  const compared = rowMeasures(shape, Array.from({ length: n }, (_, i) => i), new Array<boolean>(n).fill(false));
  const printed = atoms && `{${Object.entries(atoms).map(([mask, people]) => `${mask}=${people}`).join(', ')}}`;
  const stats = [...differing, ...(compared.atoms ? [printed] : [])];
  return [...withheldInRow(shape, compared, [stats], 0, 10)].sort();
}

describe('cells of one row shown together', () => {
  it('withholds the later of two cells that count fewer than 10 people differently, nobody included', () => {
    expect(withheld(2, [0])).toEqual([1]);
    expect(withheld(2, [1])).toEqual([1]);
    expect(withheld(2, [9])).toEqual([1]);
    expect(withheld(2, [10])).toEqual([]);
  });

  it('compares a cell only with the cells shown before it (a, b close and b, c close, a and c apart: b alone)', () => {
    // Pairs in order: (0,1), (0,2), (1,2). Every atom large and distinct: presence says nothing.
    expect(withheld(3, [3, 500, 3], { 1: 100, 2: 100, 4: 100, 7: 100 })).toEqual([1]);
  });

  it('withholds a total beside its parts, the same whether one person sits outside the parts or nobody does', () => {
    // a = b + c over the large atoms {a, b} and {a, c}; the atom {a} alone holds 0 or 1 person.
    const pairs = [100, 100, 200];
    expect(withheld(3, pairs, { 3: 100, 5: 100 })).toEqual([2]);
    expect(withheld(3, pairs, { 3: 100, 5: 100, 1: 1 })).toEqual([2]);
    expect(withheld(3, pairs, { 3: 100, 5: 100, 1: 9 })).toEqual([2]);
    // Ten people outside the parts are an atom of their own: a, b and c are independent.
    expect(withheld(3, pairs, { 3: 100, 5: 100, 1: 10 })).toEqual([]);
  });

  it('finds combinations of overlapping cells (A - B1 - B2 + 2C), not only disjoint unions', () => {
    // Atoms: {A, B1} 100, {A, B2} 100, {B1, B2, C} 100 and {A} one person; C is the dependent one.
    expect(withheld(4, [100, 100, 100, 200, 200, 100], { 3: 100, 5: 100, 14: 100, 1: 1 })).toEqual([3]);
  });

  it('withholds a cell whose people are all in atoms of fewer than 10 (no large atom to stand on)', () => {
    expect(withheld(3, [100, 100, 100], { 7: 100, 1: 5, 2: 9 })).toEqual([]);
    expect(withheld(3, [100, 100, 100], { 7: 100, 3: 5, 5: 9 })).toEqual([]);
    // c counts only atoms of 5 and 9 people: its column over the large atoms is zero.
    expect(withheld(3, [100, 100, 100], { 3: 100, 1: 100, 4: 5, 6: 9 })).toEqual([2]);
  });

  it('withholds the later of two cells of one class (the same large atoms) whose FILTERs differ, however their values differ', () => {
    // Two measures with different FILTERs: the atoms are read. Both count the large atom; the FILTER
    // leaves out one atom of 1 person (or of none): one class, the later withheld either way.
    expect(withheld(2, [500], { 3: 100, 1: 1 }, [undefined, 'f'])).toEqual([1]);
    expect(withheld(2, [500], { 3: 100 }, [undefined, 'f'])).toEqual([1]);
    // A FILTER that leaves out a large atom: two classes, independent, both shown.
    expect(withheld(2, [500], { 3: 100, 1: 100 }, [undefined, 'f'])).toEqual([]);
  });

  it('refuses statistics that do not read as a histogram (fail closed)', () => {
    expect(() => withheld(3, [100, 100, 100], undefined)).toThrow(expect.objectContaining({ code: 'DSC_ERR_UNCHECKABLE' }));
  });
});

describe('the pair statistic, run by DuckDB', () => {
  it('counts the people two cells count differently, in rows or in value, and not the people in neither', async () => {
    // Measure 0 a count (its value: its rows), measure 1 a sum (its value: the sum, NULL without rows).
    const compared = rowMeasures(counts(2), [0, 1], [false, false]);
    const [differing] = rowStatistics(compared, (m) => (m === 0 ? '__r0' : '__c1'));
    const db = await openDatabase(':memory:');
    const connection = await db.connect();
    try {
      // Per person (__e, __r0, __r1, __c1): equal; rows differ; value differs; in neither cell (0 beside NULL).
      const people = `('a', 2, 2, 2), ('b', 2, 1, 2), ('c', 2, 2, 3), ('d', 0, 0, NULL)`;
      const differ = async (extra: string) => Number((await connection.all(`SELECT ${differing} AS n FROM (VALUES ${people}${extra}) AS t(__e, __r0, __r1, __c1)`))[0]!.n);
      expect(await differ('')).toBe(2);
      // The rows without a key (__e NULL) differing: at least one person, none beside a keyed difference.
      expect(await differ(', (NULL, 3, 1, 5)')).toBe(2);
      const keyless = await connection.all(`SELECT ${differing} AS n FROM (VALUES ('a', 2, 2, 2), (NULL, 3, 1, 5)) AS t(__e, __r0, __r1, __c1)`);
      expect(Number(keyless[0]!.n)).toBe(1);
    } finally {
      connection.close();
      db.close();
    }
  });
});
