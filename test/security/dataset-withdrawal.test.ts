/**
 * Invariant 6 for datasets (DESIGN.md §5, `POST /v1/datasets/:id/withdraw · /reinstate`): a dataset
 * a supervisor withdraws stops being read on the next request, by every tenant, in both envs, in
 * every workspace table built from it, and in the export door (creation, approval, download); no
 * grant of it is made. Reinstating gives everything back as it was: the tenants' copies and tables
 * were kept, refused, not destroyed. Only supervisors do either; both are audited, and a
 * withdrawal survives a restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const SALES = { name: 'sales', sql: 'SELECT range % 4 AS district, (range * 13) % 100 AS amount FROM range(400)' };
const OTHER = { name: 'weather', sql: 'SELECT range AS day, range % 30 AS degrees FROM range(10)' };
const AGGREGATE = 'SELECT district, count(*) AS n FROM sales GROUP BY district ORDER BY district';
const WITHDRAWN = 'CAT_ERR_DATASET_WITHDRAWN';

describe('dataset withdrawal', () => {
  let t: TestApp;
  let approved: string;
  let submitted: string;
  const exportDirs = () => (fs.existsSync(path.join(t.dataDir, 'exports')) ? fs.readdirSync(path.join(t.dataDir, 'exports')).sort() : []);
  const query = (sql: string, env: 'prod' | 'dev' = 'prod', claims: typeof ALPHA | typeof BETA = ALPHA) => t.call(claims, 'POST', '/v1/query', { sql, env });
  const createExport = () => t.call(ALPHA, 'POST', '/v1/exports', { source: { sql: AGGREGATE }, recipient: 'city-lab', purpose: 'withdrawal test', format: 'csv' });
  const withdraw = (id = 'sales', claims: object = SUPERVISOR, body: object = { reason: '数据提供单位要求暂停使用' }) => t.call(claims as typeof SUPERVISOR, 'POST', `/v1/datasets/${id}/withdraw`, body);
  const reinstate = (id = 'sales', claims: object = SUPERVISOR) => t.call(claims as typeof SUPERVISOR, 'POST', `/v1/datasets/${id}/reinstate`, { reason: '已核实' });
  /** What alpha reads before the withdrawal and after the reinstatement: the same. */
  const readings = async () => ({
    prod: expectStatus(await query(AGGREGATE), 200).json().rows,
    dev: expectStatus(await query('SELECT count(*) AS n FROM sales', 'dev'), 200).json().rows,
    table: expectStatus(await query('SELECT * FROM alpha_totals ORDER BY district'), 200).json().rows,
    devTable: expectStatus(await query('SELECT count(*) AS n FROM alpha_dev', 'dev'), 200).json().rows,
    beta: expectStatus(await query(AGGREGATE, 'prod', BETA), 200).json().rows,
  });
  let before: Awaited<ReturnType<typeof readings>>;

  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'alpha', [SALES, OTHER]);
    await licenseTenantWithData(t, 'beta', [SALES]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(ALPHA, 'POST', '/v1/tables', { name: 'alpha_totals', sql: 'SELECT district, sum(amount) AS total FROM sales GROUP BY district', env: 'prod' }), 201);
    expectStatus(await t.call(ALPHA, 'POST', '/v1/tables', { name: 'alpha_dev', sql: 'SELECT district FROM sales', env: 'dev' }), 201);
    approved = expectStatus(await createExport(), 201).json().id;
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${approved}/submit`, {}), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${approved}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
    submitted = expectStatus(await createExport(), 201).json().id;
    expectStatus(await t.call(ALPHA, 'POST', `/v1/exports/${submitted}/submit`, {}), 200);
    before = await readings();
  }, 120_000);
  afterAll(() => t.close({ remove: true }));

  it('is for supervisors only, needs a reason in plain text, and names a dataset that exists', async () => {
    for (const [claims, code] of [[ALPHA, 'AUTH_ERR_ROLE_FORBIDDEN'], [RECIPIENT, 'AUTH_ERR_ROLE_FORBIDDEN']] as const) {
      expect((await withdraw('sales', claims)).json().code).toBe(code);
      expect((await reinstate('sales', claims)).json().code).toBe(code);
    }
    expect((await withdraw('sales', SUPERVISOR, {})).json().code).toBe('REQ_ERR_VALIDATION');
    expect((await withdraw('sales', SUPERVISOR, { reason: 'a\u202Eb' })).json().code).toBe('REQ_ERR_VALIDATION');
    expect((await withdraw('nowhere')).json().code).toBe('CAT_ERR_NOT_FOUND');
    expect((await reinstate()).json().code).toBe('CAT_ERR_WITHDRAWAL_STATE');
    // Nothing of the above withdrew anything.
    expect(await readings()).toEqual(before);
  });

  it('stops every read of the dataset at once: both tenants, both envs, tables built from it, the export door, new grants', async () => {
    const view = expectStatus(await withdraw(), 200).json();
    expect(view.withdrawal).toMatchObject({ reason: '数据提供单位要求暂停使用', by: 'sue' });
    expect((await withdraw()).json().code).toBe('CAT_ERR_WITHDRAWAL_STATE');
    for (const [sql, env, claims] of [
      [AGGREGATE, 'prod', ALPHA], ['SELECT count(*) FROM sales', 'dev', ALPHA], [AGGREGATE, 'prod', BETA],
      ['SELECT * FROM alpha_totals', 'prod', ALPHA], ['SELECT * FROM alpha_dev', 'dev', ALPHA],
      // Joined with a dataset that is not withdrawn: still refused.
      ['SELECT count(*) FROM weather, sales', 'prod', ALPHA],
    ] as const) {
      const res = await query(sql, env, claims);
      expect(res.statusCode, sql).toBe(403);
      expect(res.json().code).toBe(WITHDRAWN);
      expect(res.json().details.datasets).toEqual(['sales']);
      expect(res.body).not.toContain('"rows"');
    }
    // Other datasets answer as before.
    expect(expectStatus(await query('SELECT count(*) AS n FROM weather'), 200).json().rows).toEqual([['10']]);
    // No table is built from it, and none is left behind.
    const table = await t.call(ALPHA, 'POST', '/v1/tables', { name: 'copied', sql: 'SELECT * FROM sales', env: 'prod' });
    expect(table.json().code).toBe(WITHDRAWN);
    expect((await query('SELECT * FROM copied')).json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    // The export door: no new export (and no files), no approval, no download.
    const dirs = exportDirs();
    expect((await createExport()).json().code).toBe(WITHDRAWN);
    expect(exportDirs()).toEqual(dirs);
    const approval = await t.call(SUPERVISOR, 'POST', `/v1/exports/${submitted}/reviews`, { version: 1, decision: 'approve' });
    expect(approval.json().code).toBe(WITHDRAWN);
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${submitted}`), 200).json().status).toBe('submitted');
    const download = await t.call(RECIPIENT, 'GET', `/v1/exports/${approved}/download`);
    expect(download.statusCode).toBe(403);
    expect(download.json().code).toBe(WITHDRAWN);
    expect(download.body).not.toContain('district');
    // No grant of it is made, to a tenant that has none or one that has.
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'gamma', name: 'gamma', ...licenseAround(new Date(), -1, 100) }), 201);
    const grant = await t.call(SUPERVISOR, 'POST', '/v1/tenants/gamma/grants', { dataset: 'sales', purpose: 'test', until: licenseAround(new Date(), 0, 50).licenseTo });
    expect(grant.json().code).toBe(WITHDRAWN);
    expect(expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/gamma/grants'), 200).json().grants).toEqual([]);
    // The schema lists it no more.
    const schema = expectStatus(await t.call(ALPHA, 'GET', '/v1/schema?env=prod'), 200).json();
    expect(schema.tables.map((table: { name: string }) => table.name)).not.toContain('sales');
    expect(schema.tables.map((table: { name: string }) => table.name)).not.toContain('alpha_totals');
  });

  it('shows the withdrawal in the catalog: when to everyone, why only to supervisors', async () => {
    const operatorView = expectStatus(await t.call(ALPHA, 'GET', '/v1/datasets/sales'), 200).json();
    expect(Object.keys(operatorView.withdrawal)).toEqual(['at']);
    expect(operatorView.granted).toBe(false);
    expect(operatorView.grant.status).toBe('withdrawn');
    const grants = expectStatus(await t.call(ALPHA, 'GET', '/v1/tenants/alpha/grants'), 200).json().grants;
    expect(grants.map((g: { dataset: string; status: string }) => [g.dataset, g.status])).toEqual([['sales', 'withdrawn'], ['weather', 'active']]);
    expect(JSON.stringify(expectStatus(await t.call(ALPHA, 'GET', '/v1/datasets'), 200).json())).not.toContain('暂停');
    const supervisorView = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets'), 200).json().datasets.find((d: { id: string }) => d.id === 'sales');
    expect(supervisorView.withdrawal.reason).toBe('数据提供单位要求暂停使用');
    expect(expectStatus(await t.call(ALPHA, 'GET', '/v1/datasets/weather'), 200).json().withdrawal).toBeUndefined();
  });

  it('keeps the tenants\' copies and tables through rebuilds, refused, and survives a restart', async () => {
    // A rebuild while withdrawn drops nothing (a table whose grant ended would be dropped).
    await t.app.controlPlane.refinery.refresh('alpha');
    await t.app.controlPlane.refinery.idle();
    await t.close();
    t = await startTestApp({ dataDir: t.dataDir });
    expect((await query(AGGREGATE)).json().code).toBe(WITHDRAWN);
    expect((await query('SELECT * FROM alpha_totals')).json().code).toBe(WITHDRAWN);
    expect((await t.call(RECIPIENT, 'GET', `/v1/exports/${approved}/download`)).json().code).toBe(WITHDRAWN);
  }, 120_000);

  it('gives everything back when reinstated, audited both ways', async () => {
    const view = expectStatus(await reinstate(), 200).json();
    expect(view.withdrawal).toBeUndefined();
    expect(await readings()).toEqual(before);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${submitted}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
    expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${approved}/download`), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/gamma/grants', { dataset: 'sales', purpose: 'test', until: licenseAround(new Date(), 0, 50).licenseTo }), 201);
    const { entries } = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?target=dataset:sales&action=dataset.*'), 200).json();
    expect(entries.filter((e: { action: string }) => e.action !== 'dataset.policy' && e.action !== 'dataset.ingest').map((e: { action: string; actor: { sub: string }; details: { reason: string } }) => [e.action, e.actor.sub, e.details.reason]))
      .toEqual([['dataset.withdraw', 'sue', '数据提供单位要求暂停使用'], ['dataset.reinstate', 'sue', '已核实']]);
    // The refused approval while withdrawn is audited with its code.
    const reviews = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${submitted}&action=export.review`), 200).json().entries;
    expect(reviews.map((e: { details: { outcome: string } }) => e.details.outcome)).toEqual([WITHDRAWN, 'ok']);
  });
});
