/**
 * Issue #10: laying out shared synthetic populations. Each column of a kind gets a range of
 * entities as long as its distinct count, placed so that overlaps have the measured sizes; twins
 * linked by an identifier share a scale so that rates survive sampling both ways.
 */
import { describe, expect, it } from 'vitest';
import { layoutPopulation, planTwins, roundCount, type KeyedDataset } from '../../../desensitize/index.js';

const overlapOf = (a: { from: number; to: number }, b: { from: number; to: number }) => Math.max(0, Math.min(a.to, b.to) - Math.max(a.from, b.from));

describe('layoutPopulation', () => {
  it('gives two columns exactly the measured overlap, both ways', () => {
    const shares: Record<string, number> = { 'pay→people': 0.8, 'people→pay': 0.4 };
    const ranges = layoutPopulation([{ id: 'people', size: 1000 }, { id: 'pay', size: 500 }], (a, b) => shares[`${a}→${b}`]);
    expect(overlapOf(ranges.get('people')!, ranges.get('pay')!)).toBe(400);
    expect(ranges.get('people')!.to - ranges.get('people')!.from).toBe(1000);
  });

  it('keeps unmeasured pairs disjoint', () => {
    const ranges = layoutPopulation([{ id: 'a', size: 10 }, { id: 'b', size: 20 }], () => undefined);
    expect(overlapOf(ranges.get('a')!, ranges.get('b')!)).toBe(0);
  });

  it('matches three columns exactly when their sets can be drawn as intervals (nested and chained)', () => {
    // people 2000; payers 2270, 1820 of them people; firms' representatives 400, all people, 364 payers.
    const overlaps: Record<string, number> = { 'people|pay': 1820, 'people|rep': 400, 'pay|rep': 364 };
    const size: Record<string, number> = { people: 2000, pay: 2270, rep: 400 };
    const ranges = layoutPopulation(Object.entries(size).map(([id, s]) => ({ id, size: s })), (a, b) => {
      const o = overlaps[`${a}|${b}`] ?? overlaps[`${b}|${a}`];
      return o === undefined ? undefined : o / size[a]!;
    });
    for (const [pair, expected] of Object.entries(overlaps)) {
      const [a, b] = pair.split('|');
      expect(overlapOf(ranges.get(a!)!, ranges.get(b!)!), pair).toBe(expected);
    }
    expect(Math.min(...[...ranges.values()].map((r) => r.from))).toBe(0);
  });
});

describe('planTwins', () => {
  const link = (dataset: string, column: string, here: number, there: number) => ({ dataset, version: 1, column, distinctHere: here, distinctThere: there, rowsHere: here, rowsThere: there });
  const datasets: KeyedDataset[] = [
    { id: 'residents', version: 1, rows: 100_000, columns: [{ name: 'id_card', kind: 'resident_id', nullShare: 0, keys: { distinct: 100_000, rowsPerKey: [{ upTo: 1, share: 1, mean: 1 }] }, links: [] }] },
    { id: 'payments', version: 1, rows: 500_000, columns: [{ name: 'id_card', kind: 'resident_id', nullShare: 0, keys: { distinct: 99_300, rowsPerKey: [{ upTo: 8, share: 1, mean: 5 }] }, links: [link('residents', 'id_card', 1, 0.993)] }] },
    { id: 'weather', version: 1, rows: 300_000, columns: [] },
  ];
  const plans = planTwins(datasets, { maxRows: 100_000, minRows: 1_000, populationSeed: (kind) => kind.length, seedOf: (d) => d.id.length });

  it('scales linked datasets alike, and others on their own', () => {
    expect(plans.get('payments')!.rows).toBe(100_000);
    expect(plans.get('residents')!.rows).toBe(20_000);
    expect(plans.get('payments')!.keys[0]!.keepPerMillion).toBe(plans.get('residents')!.keys[0]!.keepPerMillion);
    expect(plans.get('weather')).toEqual({ rows: 100_000, keys: [] });
  });

  it('places the payers inside the residents, from one population', () => {
    const [residents] = plans.get('residents')!.keys;
    const [payers] = plans.get('payments')!.keys;
    expect(overlapOf(residents!, payers!)).toBe(99_300);
    expect(payers!.populationSeed).toBe(residents!.populationSeed);
    expect(payers!.seed).not.toBe(residents!.seed);
  });

  it('rounds counts to three significant digits', () => {
    expect([roundCount(999), roundCount(123_456), roundCount(2270)]).toEqual([999, 123_000, 2270]);
  });
});
