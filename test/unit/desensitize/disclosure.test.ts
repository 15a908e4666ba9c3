import { describe, expect, it } from 'vitest';
import { classifyPublished, DEFAULT_DISCLOSURE_RULES as RULES, entityColumnOf, failedRules, judgeCell, secondarySuppression, type SuppressionRow } from '../../../desensitize/index.js';

describe('cell rules (ACRO defaults)', () => {
  it('withholds cells of fewer than 10 entities, zero included', () => {
    expect(judgeCell({ entities: 9 }, RULES)).toEqual({ ok: false, rule: 'threshold' });
    expect(judgeCell({ entities: 0 }, RULES)).toEqual({ ok: false, rule: 'threshold' });
    expect(judgeCell({ entities: 10 }, RULES)).toEqual({ ok: true });
  });

  it('applies dominance (n = 2, k = 0.9) to sums', () => {
    // Two contributors hold 91 of 100.
    expect(judgeCell({ entities: 12, total: 100, top: [81, 10] }, RULES)).toEqual({ ok: false, rule: 'dominance' });
    expect(judgeCell({ entities: 12, total: 100, top: [50, 30] }, RULES)).toEqual({ ok: true });
  });

  it('applies the p-ratio (p = 0.1): the rest must be at least 10% of the largest', () => {
    // 70 + 15 = 85 ≤ 90 passes dominance; the rest, 15, is over 10% of 70: passes.
    expect(judgeCell({ entities: 12, total: 100, top: [70, 15] }, RULES)).toEqual({ ok: true });
    // 80 + 11 = 91 fails dominance first; 60 + 33 = 93 too. p-ratio alone: n = 2 dominance off.
    expect(judgeCell({ entities: 12, total: 100, top: [85, 8] }, { ...RULES, dominanceK: 1 })).toEqual({ ok: false, rule: 'p-ratio' });
  });

  it('names every rule a cell breaks, for reports: a dominated sum can be within reach of its second contributor too', () => {
    expect(failedRules({ entities: 12, total: 100, top: [95, 1] }, RULES)).toEqual(['dominance', 'p-ratio']);
    expect(failedRules({ entities: 12, total: 100, top: [81, 10] }, RULES)).toEqual(['dominance']);
    expect(failedRules({ entities: 12, total: 100, top: [50, 30] }, RULES)).toEqual([]);
    // Below the threshold, the contributions are not judged (the cell fails as a whole).
    expect(failedRules({ entities: 3, total: 100, top: [95, 1] }, RULES)).toEqual(['threshold']);
    // Leaving out 1 to 9 of its group is the threshold rule too.
    expect(failedRules({ entities: 15 }, RULES, 20)).toEqual(['threshold']);
  });

  it('leaves counts to the threshold alone', () => {
    expect(judgeCell({ entities: 11 }, RULES)).toEqual({ ok: true });
  });
});

describe('published column classes', () => {
  it('counts entities on the strongest identifier', () => {
    expect(entityColumnOf([{ name: 'm', piiKind: 'mobile' }, { name: 'id', piiKind: 'resident_id' }])).toBe('id');
    expect(entityColumnOf([{ name: 'u', piiKind: 'uscc' }, { name: 'm', piiKind: 'mobile' }])).toBe('u');
    expect(entityColumnOf([{ name: 'n', piiKind: 'name' }])).toBeUndefined();
  });

  it('marks tokens, masks and recognized values as identifiers, generalized and derived ones as quasi-identifiers', () => {
    const privacy = classifyPublished([
      { name: 'id_card', type: 'VARCHAR', piiKind: 'resident_id', policy: { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender', 'region'] } },
      { name: 'mobile', type: 'VARCHAR', piiKind: 'mobile', policy: { kind: 'mask', rule: 'mobile' } },
      { name: 'name', type: 'VARCHAR', piiKind: 'name', policy: { kind: 'plain', reason: 'test' } },
      { name: 'address', type: 'VARCHAR', piiKind: 'address', policy: { kind: 'mask', rule: 'address' } },
      { name: 'birthday', type: 'DATE', piiKind: 'birth_date', policy: { kind: 'generalize', rule: 'year' } },
      { name: 'district', type: 'VARCHAR', piiKind: null, policy: { kind: 'plain' } },
      { name: 'paid_on', type: 'DATE', piiKind: null, policy: { kind: 'plain' } },
      { name: 'amount', type: 'DOUBLE', piiKind: null, policy: { kind: 'plain' } },
      { name: 'notes', type: 'VARCHAR', piiKind: 'free_text', policy: { kind: 'hidden' } },
    ], { entity: true, personal: true });
    expect(privacy.personal).toBe(true);
    expect(privacy.identifiers.sort()).toEqual(['id_card', 'mobile', 'name']);
    expect(privacy.quasi.sort()).toEqual(['address', 'birthday', 'district', 'id_card_birth_year', 'id_card_gender', 'id_card_region', 'paid_on']);
  });

  it('calls a table without personal data not personal', () => {
    const privacy = classifyPublished([{ name: 'district', type: 'VARCHAR', piiKind: null, policy: { kind: 'plain' } }], { entity: false, personal: false });
    expect(privacy.personal).toBe(false);
  });

  it('calls a table personal when its dataset has personal data in a column the grant leaves out', () => {
    const privacy = classifyPublished([{ name: 'diagnosis', type: 'VARCHAR', piiKind: null, policy: { kind: 'plain' } }], { entity: false, personal: true });
    expect(privacy.personal).toBe(true);
  });
});

/**
 * Secondary suppression, known answers. Rows are groups with their entity counts; `withheld` rows
 * failed as a whole (too few entities), `failed` columns failed as cells. Whatever was withheld, a
 * margin minus the shown cells must include a cell that passed on its own (>= 10 entities).
 */
describe('secondary suppression', () => {
  const row = (entities: number, options: { withheld?: boolean; failed?: number[] } = {}): SuppressionRow => ({ entities, withheld: options.withheld ?? false, failed: new Set(options.failed ?? []) });

  it('withholds nothing more when nothing was withheld', () => {
    expect(secondarySuppression([row(50), row(30)], [1])).toEqual({ rows: [], cells: [] });
  });

  it('withholds the first passing row with one withheld row, whatever the rows\' sizes (hidden counts choose nothing)', () => {
    expect(secondarySuppression([row(50), row(1, { withheld: true }), row(30), row(40)], [1])).toEqual({ rows: [0], cells: [] });
    // 100 people against 99: the same row goes (the smallest would have said which is larger).
    expect(secondarySuppression([row(1, { withheld: true }), row(100), row(99)], [1])).toEqual(secondarySuppression([row(1, { withheld: true }), row(100), row(100)], [1]));
  });

  it('withholds a passing row with TWO withheld rows too (total minus shown would be 1 + 1 people)', () => {
    // The rule this replaced acted only on exactly one withheld row.
    expect(secondarySuppression([row(1, { withheld: true }), row(50), row(1, { withheld: true }), row(30)], [1])).toEqual({ rows: [1], cells: [] });
  });

  it('prefers a row that failed nowhere, so that all its cells count as passing ones', () => {
    // Row 1 comes first but its cell in column 2 failed (e.g. dominance): row 2 goes instead.
    expect(secondarySuppression([row(1, { withheld: true }), row(12, { failed: [2] }), row(20), row(90)], [1, 2])).toEqual({ rows: [2], cells: [] });
  });

  it('withholds the first passing cell of a column with one, or two, failed cells', () => {
    expect(secondarySuppression([row(40, { failed: [1] }), row(30), row(25)], [1, 2])).toEqual({ rows: [], cells: [[1, 1]] });
    expect(secondarySuppression([row(40, { failed: [1] }), row(60), row(30, { failed: [1] }), row(25)], [1, 2])).toEqual({ rows: [], cells: [[1, 1]] });
  });

  it('falls back to the first passing row when every other row failed somewhere', () => {
    // Row 1 goes with row 0; column 2 has no passing cell left (rows 1 and 2 failed there): all of it is withheld.
    expect(secondarySuppression([row(1, { withheld: true }), row(15, { failed: [2] }), row(20, { failed: [2] })], [1, 2])).toEqual({ rows: [1], cells: [] });
  });

  it('adds a passing cell in a column that the secondary row does not cover', () => {
    // Every row failed somewhere: row 1, the first, goes with row 0. It covers column 2 (it passed
    // there) but not column 3 (it failed there): column 3's first passing cell (row 2) goes too.
    expect(secondarySuppression([row(1, { withheld: true }), row(12, { failed: [3] }), row(20, { failed: [2] })], [2, 3])).toEqual({ rows: [1], cells: [[2, 3]] });
  });

  it('never chooses a failed or withheld cell as the protecting one, and gives up only when none passes', () => {
    expect(secondarySuppression([row(40, { failed: [1] }), row(30, { failed: [1] })], [1])).toEqual({ rows: [], cells: [] });
  });
});
