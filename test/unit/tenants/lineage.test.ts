/**
 * The control plane's verdict on an answer's sources (tenants/lineage.ts): no grant record means no
 * access, an ended grant stops, and a copy made under another policy set or another grant's columns
 * no longer matches; fingerprints ignore column order but not any policy, type or granted column.
 */
import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../../core/errors.js';
import { DomainError } from '../../../core/errors.js';
import { assertAdmissible } from '../../../sandbox/engine/tenant-engine.js';
import { accessFingerprint, AccessDirectory, assertSourcesCurrent, policyFingerprint, runAdmitted } from '../../../tenants/lineage.js';
import type { GrantRecord } from '../../../tenants/model.js';

const columns = [
  { name: 'id_card', type: 'VARCHAR', policy: { kind: 'token', rule: 'resident_id' } },
  { name: 'name', type: 'VARCHAR', policy: { kind: 'mask', rule: 'name' } },
];
const grant = (until: string, grantColumns: string[] | null = null): GrantRecord => ({ tenantId: 't1', dataset: 'residents', columns: grantColumns, purpose: 'p', until, createdAt: '', createdBy: '' });

describe('lineage fingerprints', () => {
  it('ignore column order, and change with any policy, type or granted column', () => {
    const base = policyFingerprint(columns);
    expect(policyFingerprint([...columns].reverse())).toBe(base);
    expect(policyFingerprint([columns[0]!, { ...columns[1]!, policy: { kind: 'hidden' } }])).not.toBe(base);
    expect(policyFingerprint([columns[0]!, { ...columns[1]!, type: 'BIGINT' }])).not.toBe(base);
    expect(accessFingerprint(base, ['name', 'id_card'])).toBe(accessFingerprint(base, ['id_card', 'name']));
    expect(accessFingerprint(base, ['name'])).not.toBe(accessFingerprint(base, null));
  });
});

describe('the access directory', () => {
  const policy = policyFingerprint(columns);
  const source = { dataset: 'residents', version: 1, policy: accessFingerprint(policy, null) };

  it('refuses a source with no grant record: no record, no access', () => {
    const access = new AccessDirectory([], new Map([['residents', policy]]));
    expect(access.verdict('t1', source, '2026-01-01')).toEqual({ ok: false, reason: 'no-grant' });
    expect(() => assertSourcesCurrent(access, 't1', [source], '2026-01-01')).toThrow(expect.objectContaining({ code: 'GRT_ERR_EXPIRED' }));
  });

  it('answers under a live grant and the current policy; stops the day after the grant ends', () => {
    const access = new AccessDirectory([grant('2026-01-10')], new Map([['residents', policy]]));
    expect(access.verdict('t1', source, '2026-01-10')).toEqual({ ok: true });
    expect(access.verdict('t1', source, '2026-01-11')).toEqual({ ok: false, reason: 'ended' });
    expect(access.verdict('t2', source, '2026-01-10')).toEqual({ ok: false, reason: 'no-grant' });
  });

  it('stops a copy made before a policy or the grant\'s columns changed, as being rebuilt', () => {
    const access = new AccessDirectory([grant('2026-12-31')], new Map([['residents', policy]]));
    access.putPolicy('residents', policyFingerprint([columns[0]!, { ...columns[1]!, policy: { kind: 'hidden' } }]));
    expect(access.verdict('t1', source, '2026-01-01')).toEqual({ ok: false, reason: 'changed' });
    try {
      assertSourcesCurrent(access, 't1', [source], '2026-01-01');
      expect.unreachable();
    } catch (error) {
      expect(isDomainError(error) && error.code).toBe('SBX_ERR_REBUILDING');
    }
    const narrowed = new AccessDirectory([grant('2026-12-31', ['id_card'])], new Map([['residents', policy]]));
    expect(narrowed.verdict('t1', source, '2026-01-01')).toEqual({ ok: false, reason: 'changed' });
    // A policy fingerprint never seen (a dataset unknown to the directory) does not answer either.
    expect(new AccessDirectory([grant('2026-12-31')], new Map()).verdict('t1', source, '2026-01-01').ok).toBe(false);
  });

  it('admits, for the engine before a run, exactly the sources its verdict accepts; the refusal names the reason; a failure after a withdrawal is not told', async () => {
    const access = new AccessDirectory([grant('2026-01-10'), { ...grant('2026-12-31'), dataset: 'payments' }, { ...grant('2026-12-31'), tenantId: 't2' }], new Map([['residents', policy], ['payments', policy]]));
    const payments = { ...source, dataset: 'payments' };
    expect(access.admissible('t1', '2026-01-10')).toEqual({ residents: source.policy, payments: payments.policy });
    const codeOf = async (today: string, run: (admissible: Record<string, string>) => Promise<void>) => {
      try {
        await runAdmitted(access, 't1', () => today, run);
        return 'ran';
      } catch (error) {
        return isDomainError(error) ? error.code : String(error);
      }
    };
    const refusalOf = (sources: typeof source[], today: string) => codeOf(today, async (admissible) => assertAdmissible(sources, admissible));
    expect(await refusalOf([source, payments], '2026-01-10')).toBe('ran');
    // The grant ended; a dataset withdrawn; a policy changed since; a dataset never granted.
    expect(await refusalOf([source, payments], '2026-01-11')).toBe('GRT_ERR_EXPIRED');
    access.putWithdrawn('payments', true);
    expect(access.admissible('t1', '2026-01-10')).toEqual({ residents: source.policy });
    expect(await refusalOf([payments], '2026-01-10')).toBe('CAT_ERR_DATASET_WITHDRAWN');
    access.putWithdrawn('payments', false);
    expect(await refusalOf([{ ...source, dataset: 'constructor' }], '2026-01-10')).toBe('GRT_ERR_EXPIRED');
    // A run that fails is told as it failed, unless what is admitted shrank while it ran.
    const failing = async () => {
      throw new DomainError('SBX_ERR_QUERY_FAILED', 'x');
    };
    expect(await codeOf('2026-01-10', failing)).toBe('SBX_ERR_QUERY_FAILED');
    expect(await codeOf('2026-01-10', async (admissible) => {
      expect(admissible).toHaveProperty('payments');
      access.putWithdrawn('payments', true);
      return failing();
    })).toBe('CAT_ERR_DATASET_WITHDRAWN');
    access.putWithdrawn('payments', false);
    access.putPolicy('payments', policyFingerprint([columns[0]!]));
    expect(await refusalOf([payments], '2026-01-10')).toBe('SBX_ERR_REBUILDING');
  });
});
