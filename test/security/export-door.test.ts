/**
 * Attacks on the export door (issue 11): downloads by anyone but the recipient, after expiry, beyond
 * the limit, of a rejected or superseded version, or of a package changed on disk; approval by the
 * author or twice by one supervisor; a review of a version changed after submission; exports of
 * another tenant's table, of SQL the gate refuses, of a dev table, to an unregistered recipient.
 * Each refusal has its stable code, and nothing is left half-done (no export, no files).
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const SECOND_SUPERVISOR = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const OTHER_APPLICANT = { role: 'applicant', org: 'other-lab', sub: 'oscar' } as const;
const SALES = { name: 'sales', sql: 'SELECT range % 4 AS district, (range * 13) % 100 AS amount FROM range(400)' };
/** Four rows: within the test's row cap of 5, so the checks pass. */
const AGGREGATE = 'SELECT district, count(*) AS n FROM sales GROUP BY district ORDER BY district';
/** Forty rows: beyond the row cap, so the outcome is review (two approvals needed). */
const ROW_LEVEL = 'SELECT district, amount FROM sales WHERE amount < 10 ORDER BY district, amount';

describe('the export door', () => {
  let t: TestApp;
  let offsetMs = 0;
  const exportsDir = () => path.join(t.dataDir, 'exports');
  const exportDirs = () => (fs.existsSync(exportsDir()) ? fs.readdirSync(exportsDir()).sort() : []);

  beforeAll(async () => {
    t = await startTestApp({ clock: () => new Date(Date.now() + offsetMs), env: { INDOMAIN_EXPORT_ROW_CAP: '5' } });
    await licenseTenantWithData(t, 'alpha', [SALES]);
    await licenseTenantWithData(t, 'beta', [SALES]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'other-lab', name: 'Other Lab' }), 201);
    expectStatus(await t.call(BETA, 'POST', '/v1/tables', { name: 'beta_secret', sql: 'SELECT district, sum(amount) AS beta_total FROM sales GROUP BY district', env: 'prod' }), 201);
    expectStatus(await t.call(ALPHA, 'POST', '/v1/tables', { name: 'dev_only', sql: 'SELECT district FROM sales', env: 'dev' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  const create = (sql = AGGREGATE, claims = ALPHA) => t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'door test', format: 'csv' });
  const review = (id: string, body: object, claims: typeof SUPERVISOR = SUPERVISOR) => t.call(claims, 'POST', `/v1/exports/${id}/reviews`, body);
  /** `null`: no token at all. */
  const download = (id: string, claims: object | null = RECIPIENT, query = '') => t.call((claims ?? undefined) as typeof RECIPIENT | undefined, 'GET', `/v1/exports/${id}/download${query}`);

  /** An aggregate export approved by one supervisor. */
  async function approvedExport(): Promise<string> {
    const { id } = expectStatus(await create(), 201).json();
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expect(expectStatus(await review(id, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
    return id;
  }

  it('delivers to the recipient organization only', async () => {
    const id = await approvedExport();
    for (const [caller, status, code] of [
      [OTHER_APPLICANT, 404, 'EXP_ERR_NOT_FOUND'], [ALPHA, 403, 'AUTH_ERR_ROLE_FORBIDDEN'], [BETA, 403, 'AUTH_ERR_ROLE_FORBIDDEN'],
      [SUPERVISOR, 403, 'AUTH_ERR_ROLE_FORBIDDEN'], [null, 401, 'AUTH_ERR_MISSING_TOKEN'],
    ] as const) {
      const res = await download(id, caller);
      expect(res.statusCode).toBe(status);
      expect(res.json().code).toBe(code);
      expect(res.body).not.toContain('district');
    }
    // Another applicant cannot even learn that it exists.
    expect((await t.call(OTHER_APPLICANT, 'GET', `/v1/exports/${id}`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expect((await t.call(OTHER_APPLICANT, 'GET', '/v1/exports')).json().exports).toEqual([]);
    // Another tenant's operator neither.
    expect((await t.call(BETA, 'GET', `/v1/exports/${id}`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expect((await t.call(BETA, 'POST', `/v1/exports/${id}/withdraw`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expectStatus(await download(id), 200);
  });

  it('stops at the download limit', async () => {
    // A HEAD request is no download: it neither counts nor is served (red-team pass 28b).
    const head = await approvedExport();
    const headed = await t.app.inject({ method: 'HEAD', url: `/v1/exports/${head}/download`, headers: { authorization: `Bearer ${t.token(RECIPIENT)}` } });
    expect(headed.statusCode).toBe(404);
    expect(expectStatus(await download(head), 200).headers['x-downloads-left']).toBe('2');
    const id = await approvedExport();
    for (let i = 0; i < 3; i++) expect(expectStatus(await download(id), 200).headers['x-downloads-left']).toBe(String(2 - i));
    const fourth = await download(id);
    expect(fourth.statusCode).toBe(410);
    expect(fourth.json().code).toBe('EXP_ERR_DOWNLOAD_LIMIT');
  });

  it('holds the limit under concurrent downloads, and two supervisors approving at once approve once', async () => {
    const id = await approvedExport();
    const statuses = (await Promise.all(Array.from({ length: 6 }, () => download(id)))).map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(3);
    expect(statuses.filter((s) => s === 410)).toHaveLength(3);
    const created = expectStatus(await create(ROW_LEVEL), 201).json();
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${created.id}/submit`, { justifications: { 'row-cap': 'needed' } }), 200);
    const [a, b, again] = await Promise.all([
      review(created.id, { version: 1, decision: 'approve' }),
      review(created.id, { version: 1, decision: 'approve' }, SECOND_SUPERVISOR),
      review(created.id, { version: 1, decision: 'approve' }),
    ]);
    // Sue's two reviews race each other: one counts, the other is refused; Sam's counts.
    expect(b.statusCode).toBe(200);
    const sues = [a, again];
    expect(sues.filter((r) => r.statusCode === 200)).toHaveLength(1);
    expect(sues.find((r) => r.statusCode !== 200)!.json().code).toMatch(/^EXP_ERR_(ALREADY_REVIEWED|INVALID_STATE)$/);
    expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`)).json().status).toBe('approved');
    const { entries } = (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${created.id}&action=export.package`)).json();
    expect(entries).toHaveLength(1);
  });

  it('refuses a rejected export, and a rejection needs a comment', async () => {
    const { id } = expectStatus(await create(), 201).json();
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expect((await review(id, { version: 1, decision: 'reject' })).json().code).toBe('EXP_ERR_COMMENT_REQUIRED');
    expect((await review(id, { version: 1, decision: 'request_changes', comment: '  ' })).json().code).toBe('EXP_ERR_COMMENT_REQUIRED');
    expect(expectStatus(await review(id, { version: 1, decision: 'reject', comment: 'not needed for the purpose' }), 200).json().status).toBe('rejected');
    const res = await download(id);
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('EXP_ERR_NOT_APPROVED');
    // Final: no new version, no second review.
    expect((await t.call(ALPHA, 'POST', `/v1/exports/${id}/versions`, { mitigation: 'round5', columns: ['n'] })).json().code).toBe('EXP_ERR_INVALID_STATE');
    expect((await review(id, { version: 1, decision: 'approve' }, SECOND_SUPERVISOR)).json().code).toBe('EXP_ERR_INVALID_STATE');
    expect(fs.existsSync(path.join(exportsDir(), id, 'v1', 'package'))).toBe(false);
  });

  it('refuses a review of a version changed after submission, and a superseded version', async () => {
    const { id } = expectStatus(await create(), 201).json();
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    // The operator changes the export after submitting: its reviews start again, on version 2.
    const v2 = expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/versions`, { mitigation: 'round5', columns: ['n'] }), 201).json();
    expect(v2).toMatchObject({ version: 2, status: 'draft' });
    const stale = await review(id, { version: 1, decision: 'approve' });
    expect(stale.statusCode).toBe(409);
    expect(stale.json().code).toBe('EXP_ERR_VERSION_CHANGED');
    // Not submitted yet: nothing to review.
    expect((await review(id, { version: 2, decision: 'approve' })).json().code).toBe('EXP_ERR_INVALID_STATE');
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expectStatus(await review(id, { version: 2, decision: 'approve' }), 200);
    const superseded = await download(id, RECIPIENT, '?version=1');
    expect(superseded.statusCode).toBe(409);
    expect(superseded.json().code).toBe('EXP_ERR_VERSION_SUPERSEDED');
    const current = expectStatus(await download(id, RECIPIENT, '?version=2'), 200);
    // 100 per district rounds to 100: the delivered file is version 2's.
    expect(current.rawPayload.toString('utf8')).toContain('\r\n0,100\r\n');
    expect(fs.existsSync(path.join(exportsDir(), id, 'v1', 'package'))).toBe(false);
  });

  it('needs two different supervisors for an outcome of review, and justifications to submit it', async () => {
    const created = expectStatus(await create(ROW_LEVEL), 201).json();
    expect(created.outcome).toBe('review');
    expect(created.checks.find((c: { name: string }) => c.name === 'row-cap')).toMatchObject({ status: 'review' });
    const id = created.id as string;
    const unjustified = await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, {});
    expect(unjustified.statusCode).toBe(400);
    expect(unjustified.json().code).toBe('EXP_ERR_JUSTIFICATION_MISSING');
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${id}/submit`, { justifications: { 'row-cap': 'the recipient needs the 40 small sales' } }), 200);
    // The author is an operator, and operators never review.
    expect((await review(id, { version: 1, decision: 'approve' }, ALPHA as unknown as typeof SUPERVISOR)).json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
    expect(expectStatus(await review(id, { version: 1, decision: 'approve' }), 200).json().status).toBe('submitted');
    const twice = await review(id, { version: 1, decision: 'approve' });
    expect(twice.statusCode).toBe(409);
    expect(twice.json().code).toBe('EXP_ERR_ALREADY_REVIEWED');
    // The refused attempts are audited beside the approval: the operator's at the role guard, the second approval.
    const reviews = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${id}&action=export.review`), 200).json().entries;
    expect(reviews.map((e: { actor: { sub: string }; details: { outcome: string } }) => [e.actor.sub, e.details.outcome]))
      .toEqual([['alice', 'AUTH_ERR_ROLE_FORBIDDEN'], ['sue', 'ok'], ['sue', 'EXP_ERR_ALREADY_REVIEWED']]);
    expect((await download(id)).json().code).toBe('EXP_ERR_NOT_APPROVED');
    expect(expectStatus(await review(id, { version: 1, decision: 'approve' }, SECOND_SUPERVISOR), 200).json().status).toBe('approved');
    const manifest = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200).json();
    expect(manifest.reviews.map((r: { reviewer: string }) => r.reviewer)).toEqual(['sue', 'sam']);
    expect(manifest.justifications).toEqual({ 'row-cap': 'the recipient needs the 40 small sales' });
    expectStatus(await download(id), 200);
  });

  it('refuses exports of another tenant\'s table, of SQL the gate refuses, of a dev table, to an unknown recipient', async () => {
    const before = exportDirs();
    const byTable = await t.call(ALPHA, 'POST', '/v1/exports', { source: { table: 'beta_secret' }, recipient: 'city-lab', purpose: 'steal', format: 'csv' });
    expect(byTable.statusCode).toBe(404);
    expect(byTable.json().code).toBe('EXP_ERR_SOURCE_NOT_FOUND');
    const bySql = await create('SELECT * FROM beta_secret');
    expect(bySql.statusCode).toBe(400);
    // Another tenant's table does not exist in this tenant's env: a name the env does not know.
    expect(bySql.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    const byPath = await create("SELECT * FROM read_parquet('../beta/workspace.duckdb')");
    expect(byPath.statusCode).toBe(400);
    expect(byPath.json().code).toMatch(/^SBX_ERR_SQL_/);
    const gate = await create("SELECT * FROM read_csv('/etc/passwd')");
    expect(gate.statusCode).toBe(400);
    expect(gate.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    const dev = await t.call(ALPHA, 'POST', '/v1/exports', { source: { table: 'dev_only' }, recipient: 'city-lab', purpose: 'x', format: 'csv' });
    expect(dev.statusCode).toBe(409);
    expect(dev.json().code).toBe('EXP_ERR_SOURCE_NOT_PROD');
    const stranger = await t.call(ALPHA, 'POST', '/v1/exports', { source: { sql: AGGREGATE }, recipient: 'nobody-lab', purpose: 'x', format: 'csv' });
    expect(stranger.statusCode).toBe(400);
    expect(stranger.json().code).toBe('EXP_ERR_RECIPIENT_UNKNOWN');
    // Nothing of this export fails a check: suppression has nothing to withhold and makes no version.
    const suppress = await t.call(ALPHA, 'POST', `/v1/exports/${expectStatus(await create(), 201).json().id}/versions`, { mitigation: 'suppress' });
    expect(suppress.json().code).toBe('EXP_ERR_BAD_MITIGATION');
    // Nothing half-done: only the last (valid) export left a directory.
    expect(exportDirs().length).toBe(before.length + 1);
    const { entries } = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=export.create&actor=alice&limit=500')).json();
    const outcomes = entries.map((e: { details: { outcome?: string } }) => e.details.outcome);
    for (const code of ['SBX_ERR_SQL_UNKNOWN_NAME', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION']) expect(outcomes).toContain(code);
  });

  it('withholds the exports of a suspended tenant, approved or not', async () => {
    const id = await approvedExport();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/suspend'), 200);
    try {
      const res = await download(id);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_TENANT_SUSPENDED');
    } finally {
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/resume'), 200);
    }
    expectStatus(await download(id), 200);
  });

  it('does not deliver a package changed on disk after approval', async () => {
    const id = await approvedExport();
    const file = path.join(exportsDir(), id, 'v1', 'package', 'data.csv');
    fs.chmodSync(file, 0o600);
    fs.appendFileSync(file, '9,9999\r\n');
    const res = await download(id);
    expect(res.statusCode).toBe(500);
    expect(res.json().code).toBe('EXP_ERR_PACKAGE_DAMAGED');
    expect(res.body).not.toContain('9999');
    // The refusal used none of the downloads.
    expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`)).json()).toMatchObject({ downloads: 0, status: 'approved' });
  });

  it('refuses downloads once the validity is over, and removes the data file', async () => {
    const id = await approvedExport();
    const untouched = await approvedExport();
    const manifest = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200).json();
    const data = expectStatus(await download(id), 200);
    expect(createHash('sha256').update(data.rawPayload).digest('hex')).toBe(manifest.dataFile.sha256);
    offsetMs = 30 * 86_400_000 + 60_000;
    try {
      const late = await download(id);
      expect(late.statusCode).toBe(410);
      expect(late.json().code).toBe('EXP_ERR_EXPIRED');
      expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`)).json().status).toBe('expired');
      expect(fs.existsSync(path.join(exportsDir(), id, 'v1', 'package', 'data.csv'))).toBe(false);
      // The manifest stays, as the record of what was released.
      expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200);
      const { entries } = (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${id}&action=export.expire`)).json();
      expect(entries).toHaveLength(1);
      // The hourly sweep expires packages nobody asked for, and deletes their files.
      expect(await t.app.controlPlane.exports.expireDue()).toBeGreaterThanOrEqual(1);
      expect(fs.existsSync(path.join(exportsDir(), untouched, 'v1', 'package', 'data.csv'))).toBe(false);
      expect(fs.existsSync(path.join(exportsDir(), untouched, 'v1', 'package', 'manifest.json'))).toBe(true);
      expect(await t.app.controlPlane.exports.expireDue()).toBe(0);
    } finally {
      offsetMs = 0;
    }
  });
});
