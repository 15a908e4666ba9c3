/**
 * Known answers of the differencing history of a tenant's prod answers (issue #11 item 3): pairs of
 * cells of different answers whose entity sets differ by 1 to threshold - 1 entities are found,
 * equal sets and sets far apart are not, cells of one answer are never paired with each other, and
 * the history forgets its oldest answers past its bound.
 */
import { describe, expect, it } from 'vitest';
import { AnswerHistory, MAX_PAIRS_PER_ANSWER } from '../../../sandbox/disclosure/answer-history.js';

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('AnswerHistory', () => {
  it('finds N against N-1 and N against N+9, not N against N or N against N+10', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    expect(await history.compareAndRemember('a1', [{ label: 'total', entities: range(0, 1000) }])).toEqual([]);
    // The same people again (a re-run): no pair.
    expect(await history.compareAndRemember('a2', [{ label: 'total', entities: range(0, 1000) }])).toEqual([]);
    // Without person 7: one person apart from both earlier answers.
    const minusOne = await history.compareAndRemember('a3', [{ label: 'others', entities: range(0, 1000).filter((e) => e !== 7) }]);
    expect(minusOne).toEqual([
      { earlier: 'a1', cell: 'others', earlierCell: 'total', difference: 1 },
      { earlier: 'a2', cell: 'others', earlierCell: 'total', difference: 1 },
    ]);
    // Nine more people than a1: a pair with a1 and a2 (9), and with a3 (10) not.
    const plusNine = await history.compareAndRemember('a4', [{ label: 'wider', entities: range(0, 1009) }]);
    expect(plusNine.map((p) => [p.earlier, p.difference])).toEqual([['a1', 9], ['a2', 9]]);
    // Ten more than a1: no pair with a1 (10), and 1 from a4.
    const plusTen = await history.compareAndRemember('a5', [{ label: 'wider still', entities: range(0, 1010) }]);
    expect(plusTen.map((p) => [p.earlier, p.difference])).toEqual([['a4', 1]]);
  });

  it('counts the symmetric difference, not the difference of sizes: a swap of people is a pair', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    await history.compareAndRemember('a1', [{ label: 'c', entities: range(0, 500) }]);
    // Same size, two people swapped for two others: 4 apart.
    expect((await history.compareAndRemember('a2', [{ label: 'c', entities: [...range(2, 500), 900, 901] }])).map((p) => p.difference)).toEqual([4]);
    // Same size, everyone different: no pair.
    expect(await history.compareAndRemember('a3', [{ label: 'c', entities: range(1000, 1500) }])).toEqual([]);
  });

  it('keeps one entry per SQL: a re-run replaces the earlier run (one pair per earlier query, not per run)', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    for (let run = 0; run < 5; run++) await history.compareAndRemember('total', [{ label: 'c', entities: range(0, 200) }]);
    expect((await history.compareAndRemember('minus one', [{ label: 'c', entities: range(1, 200) }])).map((p) => p.earlier)).toEqual(['total']);
  });

  it('never pairs two cells of one answer (the person-level checks judge those)', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    expect(await history.compareAndRemember('a1', [{ label: 'all', entities: range(0, 100) }, { label: 'all but one', entities: range(1, 100) }])).toEqual([]);
  });

  it('forgets the oldest answers past its bound, and never remembers one larger than the bound', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 250 });
    await history.compareAndRemember('a1', [{ label: 'c', entities: range(0, 100) }]);
    await history.compareAndRemember('a2', [{ label: 'c', entities: range(1000, 1100) }]);
    // Remembering a3 (100) forgets a1: 300 > 250.
    await history.compareAndRemember('a3', [{ label: 'c', entities: range(2000, 2100) }]);
    expect(await history.compareAndRemember('probe1', [{ label: 'c', entities: range(1, 100) }])).toEqual([]);
    expect((await history.compareAndRemember('probe2', [{ label: 'c', entities: range(2001, 2100) }])).map((p) => p.earlier)).toEqual(['a3']);
    // Too large to remember, but still compared.
    const huge = range(5000, 5300);
    await history.compareAndRemember('huge', [{ label: 'c', entities: huge }]);
    expect(await history.compareAndRemember('after', [{ label: 'c', entities: huge.slice(1) }])).toEqual([]);
  });

  it('reports at most MAX_PAIRS_PER_ANSWER pairs per answer (a bounded event), and still remembers the answer', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    // 60 earlier cells and 60 later ones, each later one two people away from each earlier one: 3,600 pairs.
    await history.compareAndRemember('a1', Array.from({ length: 60 }, (_, i) => ({ label: `e${i}`, entities: [...range(0, 20), 1000 + i] })));
    const pairs = await history.compareAndRemember('a2', Array.from({ length: 60 }, (_, i) => ({ label: `l${i}`, entities: [...range(0, 20), 2000 + i] })));
    expect(pairs).toHaveLength(MAX_PAIRS_PER_ANSWER);
    expect((await history.compareAndRemember('a3', [{ label: 'c', entities: [...range(0, 20), 2000] }])).map((p) => p.earlier)).toContain('a2');
  });

  it('compares and remembers cells of one answer over the same entities once, naming how many are alike', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 250 });
    // Nine copies of one 100-entity cell are 100 memberships, not 900: kept within the bound.
    await history.compareAndRemember('a1', Array.from({ length: 9 }, (_, i) => ({ label: `n${i}`, entities: range(0, 100) })));
    const pairs = await history.compareAndRemember('a2', [{ label: 'n', entities: range(1, 100) }]);
    expect(pairs.map((p) => [p.earlier, p.earlierCell, p.difference])).toEqual([['a1', 'n0 (and 8 more cells alike)', 1]]);
  });

  it('remembers withheld cells: a withheld set and a shown set one person apart are a pair, two withheld sets are not', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    // "Born before 1 May": 9 people, withheld. Nothing to compare with yet.
    expect(await history.compareAndRemember('before', [{ label: 'count', entities: range(0, 9), shows: 'nothing' }])).toEqual([]);
    // "Born before 1 May, but not person 0": 8 people, withheld: two withheld cells show nothing.
    expect(await history.compareAndRemember('fewer', [{ label: 'count', entities: range(1, 9), shows: 'nothing' }])).toEqual([]);
    // "On or before 1 May": 10 people, shown: one apart from the first, two from the second.
    const shown = await history.compareAndRemember('on or before', [{ label: 'count', entities: range(0, 10) }]);
    expect(shown.map((p) => [p.earlier, p.earlierCell, p.difference])).toEqual([['before', 'count (withheld)', 1], ['fewer', 'count (withheld)', 2]]);
    // The oracle query: the nine plus person 9 "if they earn above X": withheld (person 9 does not):
    // its set is the first's (no pair with it), one apart from the shown answer.
    const oracle = await history.compareAndRemember('oracle', [{ label: 'count', entities: range(0, 9), shows: 'nothing' }]);
    expect(oracle.map((p) => [p.earlier, p.cell, p.difference])).toEqual([['on or before', 'count (withheld)', 1]]);
  });

  it('counts a set shown anywhere in an answer as shown, whatever copies of it were withheld', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    await history.compareAndRemember('a1', [{ label: 'w', entities: range(0, 9), shows: 'nothing' }]);
    const pairs = await history.compareAndRemember('a2', [{ label: 'withheld copy', entities: range(0, 10), shows: 'nothing' }, { label: 'shown copy', entities: range(0, 10) }]);
    expect(pairs.map((p) => [p.cell, p.earlierCell])).toEqual([['shown copy (and 1 more cells alike)', 'w (withheld)']]);
  });

  it('pairs a shown row of a row-level answer with a withheld cell, never with another shown row', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    await history.compareAndRemember('five', [{ label: 'row 0', entities: range(0, 5), shows: 'existence' }]);
    // Another row-level answer over four of them (shown: 4 apart, but existence against existence).
    expect(await history.compareAndRemember('six', [{ label: 'row 0', entities: range(0, 6), shows: 'existence' }])).toEqual([]);
    // Refused: four of the five (a row of fewer than k).
    const refused = await history.compareAndRemember('four', [{ label: 'a refused row', entities: range(0, 4), shows: 'nothing' }]);
    expect(refused.map((p) => [p.earlier, p.difference])).toEqual([['five', 1], ['six', 2]]);
    // A shown value against a shown row is a pair too.
    expect((await history.compareAndRemember('count', [{ label: 'n', entities: range(0, 12) }])).map((p) => p.earlier)).toEqual(['five', 'six', 'four']);
  });

  it('compares a re-run of the same text over other rows with its earlier run, and keeps both', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    await history.compareAndRemember('q', [{ label: 'c', entities: range(0, 100) }]);
    // The same text once a workspace table it reads left person 0 out: N against N-1 of one text.
    expect(await history.compareAndRemember('q', [{ label: 'c', entities: range(1, 100) }])).toEqual([{ earlier: 'q', cell: 'c', earlierCell: 'c', difference: 1 }]);
    // A run that selects nobody does not erase them: N-1 in another text still pairs with the first run.
    await history.compareAndRemember('q', [{ label: 'c', entities: [] }]);
    expect((await history.compareAndRemember('other', [{ label: 'c', entities: range(2, 100) }])).map((p) => [p.earlier, p.difference])).toEqual([['q', 2], ['q', 1]]);
  });

  it('compares two values on what each person contributes: one share changed is a pair, another aggregate is not', async () => {
    const history = new AnswerHistory({ threshold: 10, maxMemberships: 1_000_000 });
    const people = range(0, 100);
    const sums = people.map((p) => 1_000 + p);
    await history.compareAndRemember('total', [{ label: 'sum', entities: people, contributions: sums }]);
    // The same people, person 7 with part of their rows left out: 0 apart by entity, 2 by contribution.
    const part = await history.compareAndRemember('part', [{ label: 'sum', entities: people, contributions: sums.map((s, i) => (i === 7 ? s + 0.5 : s)) }]);
    expect(part.map((p) => [p.earlier, p.difference])).toEqual([['total', 2]]);
    // A count over the same people (other contributions for everyone): nothing subtracts, no pair.
    expect(await history.compareAndRemember('count', [{ label: 'n', entities: people, contributions: people.map((p) => 5_000 + p) }])).toEqual([]);
    // A withheld cell is compared on who is in it: the same people as the total, no pair.
    expect(await history.compareAndRemember('withheld', [{ label: 'w', entities: people, contributions: people.map((p) => 7_000 + p), shows: 'nothing' }])).toEqual([]);
  });
});
