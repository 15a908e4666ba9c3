/**
 * The export door end to end, across roles, over HTTP: an operator exports an aggregate over a
 * dataset without personal data (so the checks available today can pass it), rounds it to base 5 as
 * a second version, submits; a supervisor sees the SQL, lineage, checks, preview and what changed,
 * and approves; the recipient downloads a file whose SHA-256 matches its manifest, which names the
 * sources with their provider and acquisition date. Another applicant, the operator, a supervisor
 * and an anonymous caller cannot download. Every step is in the audit chain.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'ops', sub: 'olga' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const OTHER_APPLICANT = { role: 'applicant', org: 'other-lab', sub: 'oscar' } as const;
/** Sales by district: no personal data, 7 districts of 100 rows each. */
const SALES = { name: 'sales', sql: 'SELECT range % 7 AS district, (range * 13) % 100 AS amount FROM range(700)' };
const AGGREGATE = 'SELECT district, count(*) + 2 AS n, sum(amount) AS total FROM sales GROUP BY district ORDER BY district';

describe('export flow across roles', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'ops', [SALES]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'other-lab', name: 'Other Lab' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  it('goes from request to a verified download by the recipient only', async () => {
    const created = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', {
      source: { sql: AGGREGATE }, recipient: 'city-lab', purpose: 'district sales report', format: 'csv',
    }), 201).json();
    expect(created).toMatchObject({ id: expect.stringMatching(/^exp-[0-9a-f]{16}$/), version: 1, status: 'draft', outcome: 'pass' });
    expect(created.checks.map((c: { name: string; status: string }) => [c.name, c.status])).toEqual([['row-cap', 'pass'], ['empty-output', 'pass'], ['person-level', 'pass']]);
    const id = created.id as string;

    // The recipient sees nothing before approval.
    expect((await t.call(RECIPIENT, 'GET', '/v1/exports')).json().exports).toEqual([]);
    expect((await t.call(RECIPIENT, 'GET', `/v1/exports/${id}`)).json().code).toBe('EXP_ERR_NOT_FOUND');

    // A mitigation makes version 2: counts rounded to base 5, checks run again.
    const rounded = expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/versions`, { mitigation: 'round5', columns: ['n'] }), 201).json();
    expect(rounded).toMatchObject({ id, version: 2, status: 'draft', outcome: 'pass' });
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {}), 200);

    // The reviewer's view: SQL, lineage with provider and acquisition date, checks, preview, changes.
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    expect(detail).toMatchObject({ status: 'submitted', version: 2, sql: AGGREGATE, approvalsNeeded: 1, rowCount: 7 });
    expect(detail.lineage).toEqual([{ dataset: 'sales', name: 'sales', version: 1, provider: 'test', acquiredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }]);
    expect(detail.preview.rows).toHaveLength(7);
    // 100 sales per district, plus 2: 102 rounds to 100 (BIGINTs are strings in JSON, as in query answers).
    expect(detail.preview.rows[0]).toEqual(['0', '100', expect.anything()]);
    expect(detail.changes).toMatchObject({ fromVersion: 1, toVersion: 2, mitigation: { kind: 'round5', columns: ['n'] }, cells: { changed: 7 } });
    expect(detail.changes.cells.sample[0]).toEqual({ row: 0, column: 'n', from: '102', to: '100' });
    // The operator does not get the preview (reviewers only).
    expect((await t.call(OPERATOR, 'GET', `/v1/exports/${id}`)).json().preview).toBeUndefined();

    // Operators never review.
    expect((await t.call(OPERATOR, 'POST', `/v1/exports/${id}/reviews`, { version: 2, decision: 'approve' })).json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
    const approved = expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 2, decision: 'approve', comment: 'rounded counts' }), 200).json();
    expect(approved.status).toBe('approved');

    // The recipient sees it now, with its manifest.
    expect((await t.call(RECIPIENT, 'GET', '/v1/exports')).json().exports.map((e: { id: string }) => e.id)).toEqual([id]);
    const manifest = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200).json();
    expect(manifest).toMatchObject({
      exportId: id, version: 2, recipient: 'city-lab', purpose: 'district sales report', sql: AGGREGATE, outcome: 'pass',
      sources: [{ dataset: 'sales', provider: 'test', acquiredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) }],
      reviews: [{ reviewer: SUPERVISOR.sub, organization: SUPERVISOR.org, decision: 'approve' }],
      maxDownloads: 3,
    });
    expect(Date.parse(manifest.validUntil) - Date.parse(manifest.packagedAt)).toBe(30 * 86_400_000);

    // Nobody else downloads.
    expect((await t.call(OTHER_APPLICANT, 'GET', `/v1/exports/${id}/download`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expect((await t.call(OTHER_APPLICANT, 'GET', `/v1/exports/${id}/manifest`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expect((await t.call(OPERATOR, 'GET', `/v1/exports/${id}/download`)).statusCode).toBe(403);
    expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}/download`)).statusCode).toBe(403);
    const anonymous = await t.call(undefined, 'GET', `/v1/exports/${id}/download`);
    expect(anonymous.statusCode).toBe(401);

    // The recipient does, and the bytes are what the manifest says.
    const download = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/download`), 200);
    const sha256 = createHash('sha256').update(download.rawPayload).digest('hex');
    expect(sha256).toBe(manifest.dataFile.sha256);
    expect(download.headers['x-content-sha256']).toBe(sha256);
    expect(download.headers['content-type']).toMatch(/^text\/csv/);
    const text = download.rawPayload.toString('utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    const lines = text.slice(1).trim().split('\r\n');
    expect(lines[0]).toBe('district,n,total');
    expect(lines).toHaveLength(8);
    expect(lines[1]).toMatch(/^0,100,/);
    expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`)).json().status).toBe('released');

    // Every step is in the audit chain.
    const { entries } = (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${id}&limit=100`)).json();
    const actions = entries.map((e: { action: string }) => e.action);
    for (const action of ['export.create', 'export.check', 'export.version', 'export.submit', 'export.review', 'export.package', 'export.download']) expect(actions).toContain(action);
    const refused = entries.filter((e: { action: string; details: { outcome?: string } }) => e.action === 'export.download' && e.details.outcome !== 'ok');
    expect(refused.length).toBeGreaterThanOrEqual(1);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/audit/verify')).json()).toMatchObject({ ok: true });
  });
});
