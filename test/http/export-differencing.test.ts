/**
 * Differencing against every earlier release (issue #11 item 2), known answers over the `pay`
 * dataset (400 people, 20 payments each; person p in district p % 4, person 0 alone in 孤岛区):
 * counts of payments per district, with and without a condition that drops three people of 二区.
 * Another tenant's earlier release is "an earlier release"; the same tenant's is named by its
 * export id; cells that differ by 0 or by 10 or more people pass; and the three people are three
 * entities, not their 60 payments.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayGrantee, licensePayTenant, paymentsPerDistrict as perDistrict, uniqueMaskedMobiles } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;

type CheckBody = { name: string; status: string; reason: string; cells?: { row: number; column: string }[] };

describe('differencing against earlier releases', () => {
  let t: TestApp;
  let three: string[];
  let twelve: string[];
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'alpha');
    await licensePayGrantee(t, 'beta');
    await t.app.controlPlane.refinery.refresh('beta');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'river-lab', name: 'River Lab' }), 201);
    twelve = await uniqueMaskedMobiles(12);
    three = twelve.slice(0, 3);
  });
  afterAll(() => t.close({ remove: true }));

  const create = async (claims: typeof ALPHA | typeof BETA, sql: string, recipient: string) =>
    expectStatus(await t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'differencing test', format: 'csv' }), 201).json();
  const differencingOf = (res: { checks: CheckBody[] }) => res.checks.find((c) => c.name === 'differencing');

  /** Submits and approves an export whose outcome is `pass` (one supervisor). */
  async function release(claims: typeof ALPHA | typeof BETA, id: string): Promise<void> {
    expectStatus(await t.call(claims, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 1, decision: 'approve' }), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json().status).toBe('approved');
  }

  it('fails a cell that differs from another tenant\'s release by three people, naming no one', async () => {
    // Nothing released yet: the first export's cells have nothing to be close to.
    const first = await create(ALPHA, perDistrict([]), 'city-lab');
    expect(differencingOf(first)).toMatchObject({ status: 'pass' });
    expect(first.outcome).toBe('pass');
    // Its cell sets were written beside the snapshot, owner-only.
    const cells = path.join(t.dataDir, 'exports', first.id, 'v1', 'cells.parquet');
    expect(fs.statSync(cells).mode & 0o777).toBe(0o400);
    await release(ALPHA, first.id);

    // Another tenant, another recipient, the same dataset: 二区 without three of its people.
    const second = await create(BETA, perDistrict(three), 'river-lab');
    const check = differencingOf(second)!;
    expect(check.status).toBe('fail');
    expect(second.outcome).toBe('fail');
    // Alone, the output is fine: only differencing fails it. Its three people made 60 payments:
    // counted as rows they would be 60 apart, not fewer than 10.
    expect(second.checks.filter((c: CheckBody) => c.status !== 'pass').map((c: CheckBody) => c.name)).toEqual(['differencing']);
    // 二区 is the third row (一区, 三区, 二区, 四区 in code-point order); the other three districts are the same people (Δ = 0): they pass.
    expect(check.cells).toEqual([{ row: 2, column: 'payments' }]);
    expect(check.reason).toContain('an earlier release');
    expect(check.reason).toContain('fewer than 10 people');
    // SECURITY: the other tenant's export id and recipient are not disclosed.
    expect(check.reason).not.toContain(first.id);
    expect(check.reason).not.toContain('city-lab');
    expect(check.reason).not.toContain('alpha');
    // The supervisor's audit carries the same reason.
    const audit = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${second.id}`), 200).json();
    const entries = audit.entries as { action: string; details: { name?: string; status?: string; reason?: string } }[];
    expect(entries.some((e) => e.action === 'export.check' && e.details.name === 'differencing' && e.details.status === 'fail' && e.details.reason === check.reason)).toBe(true);
  });

  it('names the same tenant\'s earlier export and cell', async () => {
    const earlier = (await t.app.controlPlane.exports.list({ role: 'operator', org: 'alpha', sub: 'alice' })).find((e) => e.status === 'approved')!;
    const again = await create(ALPHA, perDistrict(three), 'river-lab');
    const check = differencingOf(again)!;
    expect(check.status).toBe('fail');
    expect(check.reason).toContain(`row 2, payments against ${earlier.id} v1 (row 2, payments)`);
  });

  it('passes cells that differ by 10 or more people, or by none', async () => {
    // Twelve people of 二区 dropped: Δ = 12, not fewer than 10.
    const far = await create(BETA, perDistrict(twelve), 'river-lab');
    expect(differencingOf(far)).toMatchObject({ status: 'pass' });
    // The very same cells again: Δ = 0 everywhere.
    const same = await create(BETA, perDistrict([]), 'river-lab');
    expect(differencingOf(same)).toMatchObject({ status: 'pass' });
  });

  it('respects FILTER clauses: the entities whose rows count in the cell', async () => {
    // The same three people dropped by the count's FILTER: the group keeps them, the cell does not.
    const filtered = await create(BETA, perDistrict(three, { filter: true }), 'river-lab');
    expect(differencingOf(filtered)).toMatchObject({ status: 'fail', cells: [{ row: 2, column: 'payments' }] });
  });

  it('asks for review of row-level outputs over personal data (no cell sets are kept for them)', async () => {
    const rows = expectStatus(await t.call(BETA, 'POST', '/v1/exports', { source: { sql: "SELECT district FROM pay WHERE district = '一区'" }, recipient: 'river-lab', purpose: 'rows', format: 'csv' }), 201).json();
    expect(differencingOf(rows)).toMatchObject({ status: 'review' });
    expect(rows.outcome).toBe('review');
  });
});
