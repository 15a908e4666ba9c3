/**
 * Attacks on differencing (issue #11 item 2): the release store holds every released cell's entity
 * keys across all tenants, so no tenant's SQL may read it (the gate refuses file reads, and it lies
 * outside every tenant directory, owner-only); two exports that are each fine alone but close to
 * each other cannot both be released by approving them before either is released (the race), also
 * when the approvals run at once; and a version whose cell sets vanished is not released.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayGrantee, licensePayTenant, paymentsPerDistrict, uniqueMaskedMobiles } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const RIVER = { role: 'applicant', org: 'river-lab', sub: 'rick' } as const;

type CheckBody = { name: string; status: string; reason: string };

describe('differencing under attack', () => {
  let t: TestApp;
  let three: string[];
  let fifteen: string[];
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'alpha');
    await licensePayGrantee(t, 'beta');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'river-lab', name: 'River Lab' }), 201);
    fifteen = await uniqueMaskedMobiles(15);
    three = fifteen.slice(0, 3);
  });
  afterAll(() => t.close({ remove: true }));

  const releasesDir = () => path.join(t.dataDir, 'releases');
  const releaseFiles = () => (fs.existsSync(releasesDir()) ? fs.readdirSync(releasesDir(), { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : []);
  const create = async (claims: typeof ALPHA | typeof BETA, sql: string, recipient: string) =>
    expectStatus(await t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'race', format: 'csv' }), 201).json();
  const differencingOf = (res: { checks: CheckBody[] }) => res.checks.find((c) => c.name === 'differencing');
  const approve = (id: string) => t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 1, decision: 'approve' });
  const statusOf = async (id: string) => expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json().status as string;

  /** Both close exports checked (and submitted) before either is approved: each passes alone. */
  async function closePair(aSql: string, bSql: string): Promise<[string, string]> {
    const a = await create(ALPHA, aSql, 'city-lab');
    const b = await create(BETA, bSql, 'river-lab');
    for (const res of [a, b]) {
      expect(res.outcome).toBe('pass');
      expect(differencingOf(res)).toMatchObject({ status: 'pass' });
    }
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${a.id}/submit`, {}), 200);
    expectStatus(await t.call(BETA, 'POST', `/v1/exports/${b.id}/submit`, {}), 200);
    return [a.id, b.id];
  }

  it('refuses the second of two close exports approved after both were checked', async () => {
    const [a, b] = await closePair(paymentsPerDistrict([]), paymentsPerDistrict(three));
    expect(await statusOf(a)).toBe('submitted');
    expectStatus(await approve(a), 200);
    expect(await statusOf(a)).toBe('approved');
    const refused = await approve(b);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('EXP_ERR_CHECKS_STALE');
    expect(refused.json().message).toContain('an earlier release');
    expect(refused.json().message).not.toContain(a);
    // It went back to its operator: no package, nothing for its recipient, no approval possible.
    expect(await statusOf(b)).toBe('changes_requested');
    const download = await t.call(RIVER, 'GET', `/v1/exports/${b}/download`);
    expect(download.statusCode).toBe(409);
    expect(download.json().code).toBe('EXP_ERR_NOT_APPROVED');
    expect((await approve(b)).json().code).toBe('EXP_ERR_INVALID_STATE');
    expect(fs.existsSync(path.join(t.dataDir, 'exports', b, 'v1', 'package'))).toBe(false);
    expect(releaseFiles().some((f) => f.includes(b))).toBe(false);
    // The new outcome is audited for the supervisor.
    const audit = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?action=export.check&target=export:${b}`), 200).json().entries as { details: { name: string; status: string; stale?: boolean; reason: string } }[];
    expect(audit.some((e) => e.details.name === 'differencing' && e.details.status === 'fail' && e.details.stale === true && e.details.reason.includes('an earlier release'))).toBe(true);
    // Its operator is told why, by the platform's own request for changes (another tenant's release unnamed).
    const seen = expectStatus(await t.call(BETA, 'GET', `/v1/exports/${b}`), 200).json();
    expect(seen.reviews).toEqual([expect.objectContaining({ reviewer: 'indomain', decision: 'request_changes', comment: expect.stringContaining('an earlier release') })]);
    expect(JSON.stringify(seen)).not.toContain(a);
    // A new version is checked against every release: it fails now.
    const next = expectStatus(await t.call(BETA, 'POST', `/v1/exports/${b}/versions`, { source: { sql: paymentsPerDistrict(three) } }), 201).json();
    expect(differencingOf(next)).toMatchObject({ status: 'fail' });
    // The first release is delivered as approved.
    expectStatus(await t.call(CITY, 'GET', `/v1/exports/${a}/download`), 200);
  });

  it('releases exactly one of two close exports approved at the same time', async () => {
    // Far (12 and 15 people) from everything released so far, 3 apart from each other.
    const inDistrict2 = (drop: string[]) => `SELECT district, count(*) AS payments FROM pay WHERE district = '二区' AND mobile NOT IN (${drop.map((m) => `'${m}'`).join(', ')}) GROUP BY district`;
    const [a, b] = await closePair(inDistrict2(fifteen.slice(3)), inDistrict2(fifteen));
    const results = await Promise.all([approve(a), approve(b)]);
    const codes = results.map((r) => (r.statusCode === 200 ? 'approved' : r.json().code)).sort();
    expect(codes).toEqual(['EXP_ERR_CHECKS_STALE', 'approved']);
    const statuses = [await statusOf(a), await statusOf(b)].sort();
    expect(statuses).toEqual(['approved', 'changes_requested']);
  });

  it('keeps the release store out of every tenant\'s reach', async () => {
    const files = releaseFiles();
    expect(files.length).toBeGreaterThan(0);
    // Outside every tenant directory, owner-only.
    const store = releasesDir();
    expect(path.relative(path.join(t.dataDir, 'tenants'), store).startsWith('..')).toBe(true);
    expect(fs.statSync(store).mode & 0o777).toBe(0o700);
    for (const file of files) expect(fs.statSync(path.join(store, file)).mode & 0o777).toBe(0o600);
    // Tenant SQL cannot name it: not by file function, not by a path as a table, not by glob, in prod, dev or an export.
    const target = path.join(store, files[0]!);
    for (const sql of [
      `SELECT * FROM read_parquet('${target}')`,
      `SELECT * FROM '${target}'`,
      `SELECT count(*) FROM read_parquet('${store}/*/*.parquet')`,
      `SELECT * FROM glob('${store}/*')`,
      "SELECT * FROM read_parquet('../../releases/*/*.parquet')",
    ]) {
      for (const env of ['prod', 'dev']) {
        const res = await t.call(ALPHA, 'POST', '/v1/query', { sql, env, maxRows: 10 });
        expect(res.statusCode, `${env}: ${sql}`).toBe(400);
        expect(res.json().code, `${env}: ${sql}`).toMatch(/^SBX_ERR_SQL_/);
        expect(res.body).not.toContain('entity');
      }
      const exported = await t.call(ALPHA, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'steal', format: 'csv' });
      expect(exported.statusCode, sql).toBe(400);
      expect(exported.json().code).toMatch(/^SBX_ERR_SQL_/);
    }
  });

  it('does not release a version whose cell sets vanished after its check passed', async () => {
    const res = await create(ALPHA, "SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district ORDER BY district", 'city-lab');
    expect(differencingOf(res)).toMatchObject({ status: 'pass' });
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${res.id}/submit`, {}), 200);
    fs.rmSync(path.join(t.dataDir, 'exports', res.id, 'v1', 'cells.parquet'));
    const refused = await approve(res.id);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('EXP_ERR_CHECKS_STALE');
    expect(await statusOf(res.id)).toBe('changes_requested');
    // A new version's cells are written again; its cells are those of a release (Δ = 0): pass.
    const next = expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${res.id}/versions`, { source: { sql: "SELECT district, count(*) AS payments FROM pay WHERE district IN ('一区', '三区') GROUP BY district ORDER BY district" } }), 201).json();
    expect(differencingOf(next)).toMatchObject({ status: 'pass' });
  });
});
