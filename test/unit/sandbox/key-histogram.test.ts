/**
 * The rows-per-key histogram the dev twin draws from (issue #10) never holds a bucket of fewer than
 * 10 keys: its mean would be those people's exact row counts (red-team pass 20b: one person's 40
 * rows came back in the twin exactly).
 */
import { describe, expect, it } from 'vitest';
import { mergeSmallBuckets } from '../../../sandbox/engine/ingest-dataset.js';

describe('mergeSmallBuckets', () => {
  it('merges the heavy tail down until each bucket holds 10 keys, keeping keys and rows', () => {
    const merged = mergeSmallBuckets([
      { upTo: 1, keys: 120, mean: 1 },
      { upTo: 2, keys: 30, mean: 2 },
      { upTo: 4, keys: 6, mean: 3.5 },
      { upTo: 64, keys: 1, mean: 40 },
    ]);
    expect(merged.map((b) => b.keys)).toEqual([120, 37]);
    expect(merged.every((b) => b.keys >= 10)).toBe(true);
    // The one heavy person is inside a mean over 37 keys, and the bucket reaches its row count.
    expect(merged[1]).toEqual({ upTo: 64, keys: 37, mean: (30 * 2 + 6 * 3.5 + 40) / 37 });
    const rows = (buckets: { keys: number; mean: number }[]) => buckets.reduce((sum, b) => sum + b.keys * b.mean, 0);
    expect(rows(merged)).toBeCloseTo(120 + 60 + 21 + 40);
  });

  it('makes one bucket of a histogram of fewer than 10 keys in all, and leaves large buckets alone', () => {
    expect(mergeSmallBuckets([{ upTo: 1, keys: 3, mean: 1 }, { upTo: 8, keys: 1, mean: 7 }])).toEqual([{ upTo: 8, keys: 4, mean: 10 / 4 }]);
    const large = [{ upTo: 1, keys: 50, mean: 1 }, { upTo: 2, keys: 20, mean: 2 }];
    expect(mergeSmallBuckets(large)).toEqual(large);
    expect(mergeSmallBuckets([])).toEqual([]);
  });
});
