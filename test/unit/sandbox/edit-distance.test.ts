/** The edit distance behind "did you mean": transpositions cost one edit, far names are not suggested. */
import { describe, expect, it } from 'vitest';
import { damerauLevenshtein, nearestNames } from '../../../sandbox/gate/edit-distance.js';
import { lineAndColumn } from '../../../sandbox/gate/sql-errors.js';

describe('damerauLevenshtein', () => {
  it('counts insertions, deletions, substitutions and adjacent transpositions as one edit each', () => {
    expect(damerauLevenshtein('lenght', 'length')).toBe(1);
    expect(damerauLevenshtein('nme', 'name')).toBe(1);
    expect(damerauLevenshtein('nam', 'name')).toBe(1);
    expect(damerauLevenshtein('nbme', 'name')).toBe(1);
    expect(damerauLevenshtein('', 'abc')).toBe(3);
    expect(damerauLevenshtein('kitten', 'sitting')).toBe(3);
    expect(damerauLevenshtein('LENGTH', 'length')).toBe(0);
    expect(damerauLevenshtein('姓明', '姓名')).toBe(1);
  });
});

describe('nearestNames', () => {
  it('returns the closest plausible names, nearest first', () => {
    expect(nearestNames('lenght', ['length', 'left', 'lower', 'len'])).toEqual(['length']);
    expect(nearestNames('residnts', ['residents', 'payments'])).toEqual(['residents']);
    expect(nearestNames('amout', ['amount', 'about', 'id'])).toEqual(['about', 'amount']);
  });

  it('suggests nothing far away, nothing identical, and nothing for an empty or huge name', () => {
    expect(nearestNames('xyz', ['length', 'name'])).toEqual([]);
    expect(nearestNames('name', ['Name'])).toEqual([]);
    expect(nearestNames('', ['a'])).toEqual([]);
    expect(nearestNames('a'.repeat(1000), ['a'.repeat(999)])).toEqual([]);
  });
});

describe('lineAndColumn', () => {
  it('counts lines and characters from 1', () => {
    expect(lineAndColumn('SELECT 1', 0)).toEqual({ line: 1, column: 1 });
    expect(lineAndColumn('a\nbc\nd', 4)).toEqual({ line: 2, column: 3 });
    expect(lineAndColumn('张三 x', 3)).toEqual({ line: 1, column: 4 });
  });
});
