/**
 * Red-team attacks on the export review door (issue #11): differencing against releases, its
 * reasons and errors, mitigations, the reviewers' views, delivery. Every test asserts the SAFE
 * behaviour. `was a hole:` failed against the door as first landed and passes since the fix;
 * `STOPPED:` passed from the start; `NOT CLOSED:` an attack that still works within what a
 * reviewer is told, pinned here and listed in docs/exports.md "Not yet done".
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts: 400 people x 20 payments; person 0 alone in
 * 孤岛区), granted to two tenants (alpha, beta), plus `codes`, a small dataset without personal data
 * (the districts), granted to both. Recipients: city-lab (alpha's), river-lab (beta's).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../tenants/audit/audit-entry.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayGrantee, licensePayTenant, paymentsPerDistrict, uniqueMaskedMobiles } from '../helpers/pay-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const SECOND_SUPERVISOR = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const RIVER = { role: 'applicant', org: 'river-lab', sub: 'rick' } as const;

type CheckBody = { name: string; status: string; reason: string; cells?: { row: number; column: string }[] };
type Operator = typeof ALPHA | typeof BETA;

describe('attacks on the export review door', () => {
  let t: TestApp;
  let fifteen: string[];
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'alpha');
    await licensePayGrantee(t, 'beta');
    await t.app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, {
      id: 'codes', name: 'codes', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: '2026-10-31',
    }, "SELECT d AS district, i AS code FROM (VALUES ('一区', 1), ('二区', 2), ('三区', 3), ('四区', 4), ('孤岛区', 5)) AS v(d, i)");
    const license = licenseAround(new Date(), -1, 100);
    for (const tenant of ['alpha', 'beta']) {
      expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${tenant}/grants`, { dataset: 'codes', purpose: 'test', until: license.licenseTo }), 201);
      await t.app.controlPlane.refinery.refresh(tenant);
    }
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'river-lab', name: 'River Lab' }), 201);
    fifteen = await uniqueMaskedMobiles(15);
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const create = async (claims: Operator, sql: string, recipient: string) =>
    expectStatus(await t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'red team', format: 'csv' }), 201).json();
  const check = (res: { checks: CheckBody[] }, name: string) => res.checks.find((c) => c.name === name);
  const releaseFiles = () => {
    const dir = path.join(t.dataDir, 'releases');
    return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : [];
  };
  /** Submits and approves (one supervisor, or two for an outcome of review) the current version. */
  async function release(claims: Operator, id: string, version = 1, justifications?: Record<string, string>): Promise<void> {
    expectStatus(await t.call(claims, 'POST', `/v1/exports/${id}/submit`, justifications ? { justifications } : {}), 200);
    const first = expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' }), 200).json();
    if (first.status !== 'approved') expectStatus(await t.call(SECOND_SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' }), 200);
  }
  /** Payments per district of 一区…四区 through a join with `codes` (sources: codes and pay). */
  const viaCodes = (drop: string[]) => `SELECT p.district, count(*) AS payments FROM pay p JOIN codes c ON p.district = c.district
    WHERE p.district <> '孤岛区'${drop.length > 0 ? ` AND p.mobile NOT IN (${drop.map((m) => `'${m}'`).join(', ')})` : ''} GROUP BY p.district ORDER BY p.district`;

  let released: string;

  it('STOPPED: a differencing failure names neither another tenant\'s export, tenant, recipient nor any value', async () => {
    const a = await create(ALPHA, paymentsPerDistrict([]), 'city-lab');
    expect(a.outcome).toBe('pass');
    await release(ALPHA, a.id);
    released = a.id;
    const b = await create(BETA, paymentsPerDistrict(fifteen.slice(0, 3)), 'river-lab');
    const differencing = check(b, 'differencing')!;
    expect(differencing.status).toBe('fail');
    expect(differencing.reason).toContain('an earlier release');
    const seen = JSON.stringify(expectStatus(await t.call(BETA, 'GET', `/v1/exports/${b.id}`), 200).json()) + JSON.stringify(b);
    for (const secret of [a.id, 'alpha', 'city-lab', 'alice']) expect(seen).not.toContain(secret);
    for (const mobile of fifteen.slice(0, 3)) expect(differencing.reason).not.toContain(mobile);
    // The count of the other release's cell is not told either (only the row and column of the new one).
    expect(differencing.reason).not.toMatch(/\d{3,}/);
    // Another tenant's export is unknown, not forbidden: its id cannot be confirmed by probing.
    const probe = await t.call(BETA, 'GET', `/v1/exports/${a.id}`);
    const unknown = await t.call(BETA, 'GET', '/v1/exports/exp-0000000000000000');
    expect([probe.statusCode, probe.json().code]).toEqual([unknown.statusCode, unknown.json().code]);
    expect(JSON.stringify(expectStatus(await t.call(BETA, 'GET', '/v1/exports'), 200).json())).not.toContain(a.id);
  });

  it('STOPPED: a rounded version of a close export is still close (rounding changes values, not people)', async () => {
    const b = await create(BETA, paymentsPerDistrict(fifteen.slice(3, 6)), 'river-lab');
    expect(check(b, 'differencing')!.status).toBe('fail');
    const rounded = expectStatus(await t.call(BETA, 'POST', `/v1/exports/${b.id}/versions`, { mitigation: 'round5', columns: ['payments'] }), 201).json();
    expect(check(rounded, 'differencing')!.status).toBe('fail');
    expect(rounded.outcome).toBe('fail');
    expect((await t.call(BETA, 'POST', `/v1/exports/${b.id}/submit`, {})).json().code).toBe('EXP_ERR_OUTCOME_FAIL');
  });

  it('STOPPED: a suppressed version withholds the close cell and a second one of its column, and releases neither', async () => {
    const b = await create(BETA, paymentsPerDistrict(fifteen.slice(6, 9)), 'river-lab');
    const close = check(b, 'differencing')!.cells!;
    expect(close.length).toBeGreaterThan(0);
    const suppressed = expectStatus(await t.call(BETA, 'POST', `/v1/exports/${b.id}/versions`, { mitigation: 'suppress' }), 201).json();
    expect(check(suppressed, 'differencing')!.status).toBe('pass');
    const withheld = check(suppressed, 'suppression')!;
    // The close cell and at least one more of the same column: the total minus the rest gives back no close cell.
    expect(withheld.cells!.filter((c) => c.column === 'payments').length).toBeGreaterThanOrEqual(2);
    // The operator never sees the values, before or after (no preview, no cell diff).
    const detail = expectStatus(await t.call(BETA, 'GET', `/v1/exports/${b.id}`), 200).json();
    expect(detail.preview).toBeUndefined();
    expect(detail.changes).toBeUndefined();
    await release(BETA, b.id, 2);
    const csv = expectStatus(await t.call(RIVER, 'GET', `/v1/exports/${b.id}/download`), 200).body;
    // The delivered file has the nulls where the check says: one empty payments cell per withheld cell.
    const empty = csv.split('\r\n').slice(1).filter((line) => line.endsWith(','));
    expect(empty.length).toBe(withheld.cells!.filter((c) => c.column === 'payments').length);
    // The released version's cells in the store do not hold the withheld cells: a later export one
    // person away from a withheld cell is not refused because of a cell nobody saw, but whatever it
    // shows is compared with what was shown.
    expect(releaseFiles().some((f) => f.includes(`${b.id}-v2`))).toBe(true);
  });

  it('was a hole: a join with a dataset without personal data does not take a close export out of comparison', async () => {
    // Released over {pay}; the same cells over {codes, pay}, three people fewer: compared on the pay label.
    const b = await create(BETA, viaCodes(fifteen.slice(9, 12)), 'river-lab');
    const differencing = check(b, 'differencing')!;
    expect(differencing.status).toBe('fail');
    expect(differencing.reason).toContain('an earlier release');
    expect(differencing.reason).not.toContain(released);
  });

  it('was a hole: the approval re-check compares across dataset sets too', async () => {
    // 12 and 15 people from the first release; 3 from each other, over {pay} and over {codes, pay}.
    const notIn = (drop: string[]) => drop.map((m) => `'${m}'`).join(', ');
    const a = await create(ALPHA, `SELECT district, count(*) AS payments FROM pay WHERE district = '二区' AND mobile NOT IN (${notIn(fifteen.slice(0, 12))}) GROUP BY district`, 'city-lab');
    const b = await create(BETA, `SELECT p.district, count(*) AS payments FROM pay p JOIN codes c ON p.district = c.district WHERE p.district = '二区' AND p.mobile NOT IN (${notIn(fifteen)}) GROUP BY p.district`, 'river-lab');
    // Checked before either is released: each passes alone.
    expect(check(a, 'differencing')!.status).toBe('pass');
    expect(check(b, 'differencing')!.status).toBe('pass');
    await release(ALPHA, a.id);
    expectStatus(await t.call(BETA, 'POST', `/v1/exports/${b.id}/submit`, {}), 200);
    const refused = await t.call(SUPERVISOR, 'POST', `/v1/exports/${b.id}/reviews`, { version: 1, decision: 'approve' });
    expect(refused.json().code).toBe('EXP_ERR_CHECKS_STALE');
  });

  it('was a hole: a total released after its breakdown does not give the person the breakdown left out', async () => {
    // Released: payments per district of 一区, 三区, 二区, 四区 (the first test). Person 0 alone in 孤岛区:
    // the total over 一区, 三区, 四区 and 孤岛区 minus three released cells is person 0's own value.
    // Each cell is hundreds of people from every released cell: only their sum is one person away.
    const total = await create(BETA, "SELECT count(*) AS payments, sum(amount) AS paid FROM pay WHERE district IN ('一区', '三区', '四区', '孤岛区')", 'river-lab');
    for (const name of ['minimum-entities', 'dominance', 'p-ratio']) expect(check(total, name)?.status, name).toBe('pass');
    const differencing = check(total, 'differencing')!;
    expect(differencing.status).toBe('fail');
    expect(differencing.reason).toContain('against the sum of cells of an earlier release');
    expect(differencing.reason).not.toContain(released);
    expect(differencing.cells).toEqual([{ row: 0, column: 'paid' }, { row: 0, column: 'payments' }]);
    // Its own tenant's release is named, by column.
    const own = await create(ALPHA, "SELECT count(*) AS payments FROM pay WHERE district IN ('一区', '三区', '四区', '孤岛区')", 'city-lab');
    expect(check(own, 'differencing')!.reason).toContain(`against the sum of cells of ${released} v1 (column payments)`);
  });

  it('was a hole: two row-level outputs, one without a chosen person, are not released on one supervisor\'s word', async () => {
    // Counted per (district, gender), the difference of the two files is the chosen person's rows:
    // the gender of the owner of a known masked mobile. Each file alone is k-anonymous.
    const rows = (drop: string[]) => `SELECT district, id_card_gender AS gender FROM pay WHERE district = '二区'${drop.length > 0 ? ` AND mobile <> '${drop[0]}'` : ''} ORDER BY district, gender`;
    for (const sql of [rows([]), rows(fifteen.slice(14))]) {
      const res = await create(ALPHA, sql, 'city-lab');
      expect(check(res, 'k-anonymity')?.status).toBe('pass');
      expect(check(res, 'identifiers')?.status).toBe('pass');
      expect(check(res, 'differencing')).toMatchObject({ status: 'review' });
      expect(res.outcome).toBe('review');
      expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${res.id}/submit`, { justifications: { differencing: 'red team' } }), 200);
      expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${res.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('submitted');
    }
  });

  it('NOT CLOSED: an aggregate whose cells cannot be followed needs two supervisors, who are told it is never compared', async () => {
    // Rows in an order no second run repeats: the checks cannot name the snapshot's cells, so no cell sets.
    // (50 groups in a random order: a second run repeats it with a chance of 1 in 50!.)
    const sql = "SELECT amount, count(*) AS payments FROM pay WHERE amount < 1000 GROUP BY amount ORDER BY random()";
    const body = await create(ALPHA, sql, 'city-lab');
    expect(body.outcome).toBe('review');
    const differencing = check(body, 'differencing')!;
    expect(differencing.status).toBe('review');
    // SECURITY: the reviewers are told what their approval means for every later export.
    expect(differencing.reason).toContain('never compared');
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${body.id}`), 200).json();
    expect(detail.approvalsNeeded).toBe(2);
    // One supervisor is not enough.
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${body.id}/submit`, { justifications: Object.fromEntries(body.checks.filter((c: CheckBody) => c.status === 'review').map((c: CheckBody) => [c.name, 'red team'])) }), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${body.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('submitted');
  });

  it('NOT CLOSED: a prod workspace table over personal data is exported only on two supervisors\' word, told it is never compared', async () => {
    // The close output, built as a table first (the prod refusal itself suggests exporting the table).
    expectStatus(await t.call(BETA, 'POST', '/v1/tables', { name: 'close_by_district', sql: paymentsPerDistrict(fifteen.slice(0, 2)), env: 'prod' }), 201);
    const res = await create(BETA, 'SELECT * FROM close_by_district ORDER BY district', 'river-lab');
    expect(check(res, 'person-level')).toMatchObject({ status: 'review' });
    expect(check(res, 'differencing')).toMatchObject({ status: 'review', reason: expect.stringContaining('never compared') });
    const viaTable = await t.call(BETA, 'POST', '/v1/exports', { source: { table: 'close_by_district' }, recipient: 'river-lab', purpose: 'red team', format: 'csv' });
    expect(expectStatus(viaTable, 201).json().outcome).toBe('review');
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${res.id}`), 200).json().approvalsNeeded).toBe(2);
  });

  it('STOPPED: errors of export requests echo no value, and a table source cannot be a path', async () => {
    for (const sql of [
      'SELECT CAST(mobile AS INTEGER) AS x, count(*) AS n FROM pay GROUP BY 1',
      'SELECT district, sum(CAST(mobile AS INTEGER)) AS n FROM pay GROUP BY district',
      'SELECT district, count(*) AS n FROM pay GROUP BY district HAVING count(*) > CAST(max(mobile) AS INTEGER)',
    ]) {
      const res = await t.call(ALPHA, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team', format: 'csv' });
      expect(res.statusCode, sql).toBe(422);
      expect(res.body, sql).not.toMatch(/\d{3}\*{4}\d{4}/);
    }
    for (const table of ['../../releases/x', 'releases/x', 'exp-0000000000000000']) {
      const res = await t.call(ALPHA, 'POST', '/v1/exports', { source: { table }, recipient: 'city-lab', purpose: 'red team', format: 'csv' });
      expect(res.statusCode, table).toBeGreaterThanOrEqual(400);
      expect(res.statusCode, table).toBeLessThan(500);
    }
  });

  it('STOPPED: another tenant\'s export id cannot be confirmed through any route', async () => {
    const unknown = 'exp-0000000000000000';
    const calls: [string, string, object | undefined][] = [
      ['GET', '', undefined], ['GET', '/manifest', undefined], ['POST', '/submit', {}], ['POST', '/withdraw', {}],
      ['POST', '/versions', { mitigation: 'suppress' }], ['POST', '/versions', { source: { sql: paymentsPerDistrict([]) } }],
    ];
    for (const [method, suffix, body] of calls) {
      const theirs = await t.call(BETA, method as 'GET', `/v1/exports/${released}${suffix}`, body);
      const none = await t.call(BETA, method as 'GET', `/v1/exports/${unknown}${suffix}`, body);
      expect([theirs.statusCode, theirs.json().code], `${method} ${suffix}`).toEqual([none.statusCode, none.json().code]);
      expect(theirs.body).not.toContain('city-lab');
    }
    // Nothing was changed by the attempts: still released as approved, one version.
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${released}`), 200).json();
    expect(detail.versions).toHaveLength(1);
    expect(['approved', 'released']).toContain(detail.status);
  });

  it('STOPPED: nothing of an export is readable by anyone but its recipient, and only once approved', async () => {
    const draft = await create(ALPHA, "SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district ORDER BY district", 'city-lab');
    for (const [claims, path] of [[CITY, 'download'], [CITY, 'manifest'], [RIVER, 'download'], [RIVER, 'manifest']] as const) {
      const res = await t.call(claims, 'GET', `/v1/exports/${draft.id}/${path}`);
      expect(res.statusCode, `${claims.org} ${path}`).toBeGreaterThanOrEqual(400);
      expect(res.body).not.toContain('payments,');
    }
    // The other applicant cannot tell a released export from an unknown one.
    const other = await t.call(RIVER, 'GET', `/v1/exports/${released}/download`);
    const unknown = await t.call(RIVER, 'GET', '/v1/exports/exp-0000000000000000/download');
    expect([other.statusCode, other.json().code]).toEqual([unknown.statusCode, unknown.json().code]);
    // The recipient's detail has no SQL, checks or preview.
    const seen = expectStatus(await t.call(CITY, 'GET', `/v1/exports/${released}`), 200).json();
    for (const key of ['sql', 'checks', 'preview', 'changes', 'lineage']) expect(seen[key], key).toBeUndefined();
    // An operator never downloads, even its own.
    expect((await t.call(ALPHA, 'GET', `/v1/exports/${released}/download`)).statusCode).toBe(403);
  });
});
