import { describe, expect, it } from 'vitest';
import { classifyPublished, DEFAULT_DISCLOSURE_RULES as RULES, entityColumnOf, failedRules, judgeCell } from '../../../desensitize/index.js';

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
    ], true);
    expect(privacy.personal).toBe(true);
    expect(privacy.identifiers.sort()).toEqual(['id_card', 'mobile', 'name']);
    expect(privacy.quasi.sort()).toEqual(['address', 'birthday', 'district', 'id_card_birth_year', 'id_card_gender', 'id_card_region', 'paid_on']);
  });

  it('calls a table without personal data not personal', () => {
    const privacy = classifyPublished([{ name: 'district', type: 'VARCHAR', piiKind: null, policy: { kind: 'plain' } }], false);
    expect(privacy.personal).toBe(false);
  });
});
