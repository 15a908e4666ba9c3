/**
 * Mitigations of exports over personal data (issue #11 item 2): a mitigated version re-runs every
 * check on the statistics measured with the data it was made from, and says what it is now. Rounding
 * cures no small cell; suppression of a row-level output removes the rows that are not k-anonymous
 * (and one passing row with them); a chain of mitigations keeps saying what was withheld; nothing is
 * suppressed by guesswork (no statistics, nothing failing) or from data whose grant ended.
 * The `pay` dataset: test/helpers/pay-fixture.ts (孤岛区: 1 person, 一区: 99, the others 100).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayTenant } from '../helpers/pay-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'ops', sub: 'olga' } as const;
const SHORT = { role: 'operator', org: 'short', sub: 'sam' } as const;
const BY_DISTRICT = 'SELECT district, count(*) AS payments, sum(amount) AS total FROM pay GROUP BY district ORDER BY district';

type CheckJson = { name: string; status: string; reason: string; cells?: { row: number; column: string }[]; rows?: number };
const byName = (checks: CheckJson[]) => new Map(checks.map((c) => [c.name, c]));

describe('export mitigations over personal data', () => {
  let t: TestApp;
  let now = new Date();
  beforeAll(async () => {
    t = await startTestApp({ clock: () => now });
    await licensePayTenant(t, 'ops');
    // A second tenant whose grant of `pay` ends in 5 days (its license runs on).
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'short', name: 'short', ...licenseAround(now, -1, 300) }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/short/grants', { dataset: 'pay', purpose: 'test', until: licenseAround(now, 0, 5).licenseTo }), 201);
    await t.app.controlPlane.refinery.refresh('short');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const create = (operator: typeof OPERATOR | typeof SHORT, sql: string) => t.call(operator, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'test', format: 'csv' });
  const mitigate = (operator: typeof OPERATOR | typeof SHORT, id: string, body: object) => t.call(operator, 'POST', `/v1/exports/${id}/versions`, body);

  it('rounds to base 5 and still reports the small cells: rounding cures none', async () => {
    const { id, checks } = expectStatus(await create(OPERATOR, BY_DISTRICT), 201).json();
    const rounded = expectStatus(await mitigate(OPERATOR, id, { mitigation: 'round5', columns: ['payments'] }), 201).json();
    expect(rounded).toMatchObject({ version: 2, outcome: 'fail' });
    const before = byName(checks);
    const after = byName(rounded.checks);
    // The person-level checks ran again (no fail-closed placeholder), with the same findings.
    expect(after.has('person-level')).toBe(false);
    expect(after.get('minimum-entities')).toEqual(before.get('minimum-entities'));
    expect(after.get('minimum-entities')).toMatchObject({ status: 'fail', rows: 1 });
    expect(after.get('dominance')).toMatchObject({ status: 'fail', cells: [{ row: 2, column: 'total' }] });
    expect(after.has('suppression')).toBe(false);
    // 孤岛区's 20 payments round to 20: still there, still failing.
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    expect(detail.preview.rows[4].slice(0, 2)).toEqual(['孤岛区', '20']);
    expect(detail.withheld).toBeNull();
  });

  it('suppresses a rounded version, then rounds the suppressed one: each says what was withheld', async () => {
    const { id } = expectStatus(await create(OPERATOR, BY_DISTRICT), 201).json();
    expectStatus(await mitigate(OPERATOR, id, { mitigation: 'round5', columns: ['payments'] }), 201);
    const suppressed = expectStatus(await mitigate(OPERATOR, id, { mitigation: 'suppress' }), 201).json();
    expect(suppressed).toMatchObject({ version: 3, outcome: 'pass' });
    expect(byName(suppressed.checks).get('suppression')).toMatchObject({ status: 'pass', rows: 2, cells: [{ row: 1, column: 'total' }] });
    // Nothing fails any more: suppressing again has nothing to withhold.
    expect((await mitigate(OPERATOR, id, { mitigation: 'suppress' })).json().code).toBe('EXP_ERR_BAD_MITIGATION');
    const again = expectStatus(await mitigate(OPERATOR, id, { mitigation: 'round5', columns: ['payments'] }), 201).json();
    expect(again).toMatchObject({ version: 4, outcome: 'pass' });
    expect(byName(again.checks).get('suppression')).toMatchObject({ rows: 2, cells: [{ row: 1, column: 'total' }] });
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    expect(detail.withheld).toEqual({ rows: 2, cells: 1, primaryRows: 1, secondaryRows: 1, primaryCells: 1, secondaryCells: 0 });
    expect(detail.mitigation).toMatchObject({ kind: 'round5', fromVersion: 3 });
  });

  it('removes the rows of a row-level output that are not k-anonymous, and one passing row with them', async () => {
    // 20 rows of 孤岛区 describe one person; every other row is shared by 99 or 100.
    const created = expectStatus(await create(OPERATOR, 'SELECT district FROM pay ORDER BY district'), 201).json();
    expect(byName(created.checks).get('k-anonymity')?.status).toBe('fail');
    const suppressed = expectStatus(await mitigate(OPERATOR, created.id, { mitigation: 'suppress' }), 201).json();
    // The operator reads that rows were removed, not how many (red-team pass 38b): the reviewers do.
    expect(byName(suppressed.checks).get('suppression')).toEqual({ name: 'suppression', status: 'pass', reason: 'rows that failed a check were removed (how many is for reviewers to see)' });
    const operatorView = expectStatus(await t.call(OPERATOR, 'GET', `/v1/exports/${created.id}`), 200).json();
    expect([operatorView.withheld, operatorView.mitigation]).toEqual([null, { kind: 'suppress', fromVersion: 1 }]);
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`), 200).json();
    const checks = byName(detail.checks);
    expect(checks.get('k-anonymity')?.status).toBe('pass');
    expect(checks.get('suppression')).toMatchObject({ status: 'pass', rows: 21 });
    expect(checks.get('suppression')?.reason).toContain('20 rows and 0 cells that failed a check, and 1 row and 0 cells more');
    expect(detail.rowCount).toBe(8000 - 21);
    // The rows removed are 孤岛区's (the last 20) and the first row that passed (一区's first).
    expect(detail.mitigation.removedRows).toEqual([0, ...Array.from({ length: 20 }, (_, i) => 7980 + i)]);
    // Approved (a row-level output is `review`: two supervisors), its manifest tells the operator that
    // rows were removed, not how many; the supervisors read the counts.
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, { justifications: { differencing: 'row-level' } }), 200);
    for (const reviewer of [SUPERVISOR, { role: 'supervisor', org: 'province', sub: 'pat' } as const]) {
      expectStatus(await t.call(reviewer, 'POST', `/v1/exports/${created.id}/reviews`, { version: 2, decision: 'approve', comment: 'k-anonymous' }), 200);
    }
    const manifestAs = async (who: typeof OPERATOR | typeof SUPERVISOR) => expectStatus(await t.call(who, 'GET', `/v1/exports/${created.id}/manifest`), 200).json() as { withheld: { rows: number } | null; notes: string[]; checks: { name: string; rows?: number }[] };
    const [operatorManifest, reviewerManifest] = [await manifestAs(OPERATOR), await manifestAs(SUPERVISOR)];
    expect(reviewerManifest.withheld?.rows).toBe(21);
    expect(reviewerManifest.checks.find((c) => c.name === 'suppression')?.rows).toBe(21);
    expect(operatorManifest.withheld).toBeNull();
    expect(JSON.stringify([operatorManifest.notes, operatorManifest.checks])).not.toMatch(/\b21\b|\b20 rows/);
  });

  it('does not suppress without the statistics of the version (fail closed)', async () => {
    const { id } = expectStatus(await create(OPERATOR, BY_DISTRICT), 201).json();
    fs.rmSync(path.join(t.dataDir, 'exports', id, 'v1', 'disclosure.json'));
    const res = await mitigate(OPERATOR, id, { mitigation: 'suppress' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('EXP_ERR_MITIGATION_UNAVAILABLE');
    expect(fs.existsSync(path.join(t.dataDir, 'exports', id, 'v2'))).toBe(false);
    // Rounding still works, but the person-level checks are then unknown: review, never pass.
    const rounded = expectStatus(await mitigate(OPERATOR, id, { mitigation: 'round5', columns: ['payments'] }), 201).json();
    expect(byName(rounded.checks).get('person-level')?.status).toBe('review');
    // ... and the rounded version does not pass for "not personal": suppressing it is refused alike.
    expect((await mitigate(OPERATOR, id, { mitigation: 'suppress' })).json().code).toBe('EXP_ERR_MITIGATION_UNAVAILABLE');
  });

  it('does not pair the checks with a snapshot a second run could give otherwise (fail closed)', async () => {
    // The snapshot is a second run of the query: random values make it another output (its rows in
    // another order here), so the query is not checked person by person at all: `review` with the
    // reason, and suppression, which needs the statistics row by row, is refused. (Without an
    // unstable function, rows that still come in another order are caught as they stream.)
    const created = expectStatus(await create(OPERATOR, 'SELECT district, amount, count(*) AS n FROM pay GROUP BY district, amount ORDER BY random()'), 201).json();
    const check = byName(created.checks).get('person-level');
    expect(check?.status).toBe('review');
    expect(check?.reason).toContain('random values');
    expect(created.checks.map((c: CheckJson) => c.name)).not.toContain('minimum-entities');
    expect((await mitigate(OPERATOR, created.id, { mitigation: 'suppress' })).json().code).toBe('EXP_ERR_MITIGATION_UNAVAILABLE');
  });

  it('refuses a mitigation of a version whose grant ended', async () => {
    const { id } = expectStatus(await create(SHORT, BY_DISTRICT), 201).json();
    now = new Date(now.getTime() + 10 * 86_400_000);
    try {
      for (const body of [{ mitigation: 'suppress' }, { mitigation: 'round5', columns: ['payments'] }]) {
        const res = await mitigate(SHORT, id, body);
        expect(res.statusCode, JSON.stringify(body)).toBe(403);
        expect(res.json().code).toBe('GRT_ERR_EXPIRED');
      }
      expect(fs.existsSync(path.join(t.dataDir, 'exports', id, 'v2'))).toBe(false);
    } finally {
      now = new Date(now.getTime() - 10 * 86_400_000);
    }
  });
});
