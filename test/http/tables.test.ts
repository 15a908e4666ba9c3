/**
 * Workspace tables: a gated SELECT saved by the server's own DDL, listed with rows, columns and
 * lineage, usable by later queries in both envs, deleted; every change audited; bad names and
 * collisions refused with nothing half-done.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantDirectory } from '../../sandbox/index.js';
import { expectStatus } from '../helpers/expect-status.js';
import { ensureDataset, licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('workspace tables', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'acme', [residents('ACME', 100)]);
  });
  afterAll(() => t.close({ remove: true }));

  const create = (body: object) => t.call(OPERATOR, 'POST', '/v1/tables', body);
  const query = async (sql: string, env = 'prod') => (await t.call(OPERATOR, 'POST', '/v1/query', { sql, env })).json();

  it('saves a SELECT as a table with its lineage, and later queries read it', async () => {
    const res = await create({ name: 'by_district', sql: 'SELECT district, count(*) AS n FROM residents GROUP BY district', env: 'prod' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      name: 'by_district', rows: 7, env: 'prod', sourceTables: ['granted.residents'], datasets: ['residents'], createdBy: 'olga',
      columns: [{ name: 'district', type: 'BIGINT' }, { name: 'n', type: 'BIGINT' }],
    });
    expect((await query('SELECT sum(n) AS total FROM by_district')).rows).toEqual([['100']]);
    // Built from prod, it is invisible in dev (whose engine messages echo values).
    const fromDev = await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT count(*) AS c FROM by_district', env: 'dev' });
    expect(fromDev.json()).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE', message: expect.stringContaining('built in prod') });
  });

  it('carries datasets through tables built from tables', async () => {
    expectStatus(await create({ name: 'base_ids', sql: 'SELECT id FROM residents WHERE id < 10', env: 'prod' }), 201);
    const res = await create({ name: 'derived_ids', sql: 'SELECT id * 2 AS double_id FROM base_ids', env: 'prod' });
    expect(res.json()).toMatchObject({ sourceTables: ['workspace.base_ids'], datasets: ['residents'], rows: 10 });
  });

  it('lists tables with rows, columns, SQL, sources and creation time', async () => {
    const { tables } = (await t.call(OPERATOR, 'GET', '/v1/tables')).json();
    const byDistrict = tables.find((x: { name: string }) => x.name === 'by_district');
    expect(byDistrict).toMatchObject({ rows: 7, sql: 'SELECT district, count(*) AS n FROM residents GROUP BY district', sourceTables: ['granted.residents'] });
    expect(Date.parse(byDistrict.createdAt)).toBeGreaterThan(0);
  });

  it.each([
    ['a name colliding with a granted table', { name: 'residents', sql: 'SELECT 1 AS x', env: 'prod' }, 409, 'TBL_ERR_NAME_TAKEN'],
    ['an upper-case name', { name: 'Bad', sql: 'SELECT 1 AS x', env: 'prod' }, 400, 'REQ_ERR_VALIDATION'],
    ['a quoted name', { name: 'x"; DROP TABLE y; --', sql: 'SELECT 1 AS x', env: 'prod' }, 400, 'REQ_ERR_VALIDATION'],
    ['DDL instead of a SELECT', { name: 'sneaky', sql: 'DROP TABLE by_district', env: 'prod' }, 400, 'SBX_ERR_SQL_NOT_SELECT'],
    ['a forbidden function', { name: 'sneaky', sql: "SELECT * FROM read_csv('/etc/passwd')", env: 'prod' }, 400, 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
    ['the other env', { name: 'sneaky', sql: 'SELECT * FROM dev.residents', env: 'prod' }, 400, 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
  ])('refuses %s, leaving nothing behind', async (_label, body, status, code) => {
    const res = await create(body);
    expect(res.statusCode).toBe(status);
    expect(res.json().code).toBe(code);
    const names = (await t.call(OPERATOR, 'GET', '/v1/tables')).json().tables.map((x: { name: string }) => x.name);
    expect(names).not.toContain('sneaky');
    expect((await query('SELECT count(*) AS n FROM by_district')).rows).toEqual([['7']]);
  });

  it('refuses an existing name with 409', async () => {
    const res = await create({ name: 'by_district', sql: 'SELECT 1 AS x', env: 'dev' });
    expect(res.statusCode).toBe(409);
    expect(res.json().code).toBe('TBL_ERR_EXISTS');
  });

  it('deletes a table and its lineage, and says so in the audit', async () => {
    expectStatus(await create({ name: 'scratch', sql: 'SELECT 1 AS x', env: 'dev' }), 201);
    const res = await t.call(OPERATOR, 'DELETE', '/v1/tables/scratch');
    expect(res.json()).toEqual({ name: 'scratch', deleted: true });
    expect((await t.call(OPERATOR, 'DELETE', '/v1/tables/scratch')).json().code).toBe('TBL_ERR_NOT_FOUND');
    expect((await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT * FROM scratch', env: 'dev' })).statusCode).toBe(400);
    const actions = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=table.*&limit=1000')).json().entries.map((e: { action: string; details: { name: string; outcome?: string } }) => `${e.action}:${e.details.name}:${e.details.outcome ?? ''}`);
    expect(actions).toContain('table.create:scratch:ok');
    expect(actions).toContain('table.drop:scratch:');
    expect(actions).toContain('table.create:sneaky:SBX_ERR_SQL_NOT_SELECT');
  });

  it("keeps a table made during a tenant's first, concurrent use, across a version swap", async () => {
    await licenseTenantWithData(t, 'fresh', [residents('FRESH', 10, 'fresh_residents')]);
    const operator = { role: 'operator', org: 'fresh', sub: 'fay' } as const;
    // Nothing of this tenant is open yet: all of these race to open its engine.
    const answers = await Promise.all([
      ...Array.from({ length: 3 }, () => t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM fresh_residents', env: 'prod' })),
      t.call(operator, 'POST', '/v1/tables', { name: 'kept', sql: 'SELECT id FROM fresh_residents', env: 'prod' }),
    ]);
    expect(answers.map((a) => a.statusCode)).toEqual([200, 200, 200, 201]);
    // A new grant publishes new versions (a rebuild that changes nothing publishes none): the engine
    // closes and reopens on the next use.
    const before = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/fresh/grants'), 200).json();
    await ensureDataset(t, residents('FRESH2', 5, 'fresh_more'));
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/fresh/grants', { dataset: 'fresh_more', purpose: 'test', until: before.grants[0].until }), 201);
    await t.app.controlPlane.refinery.refresh('fresh');
    const after = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/fresh/grants'), 200).json();
    expect([after.grantedVersion, after.devVersion]).toEqual([before.grantedVersion + 1, before.devVersion + 1]);
    expect((await t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM kept', env: 'prod' })).json().rows).toEqual([['10']]);
    expect((await t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM fresh_residents', env: 'dev' })).json().rows).toEqual([['10']]);
  });

  it('wipes the workspace when the tenant is revoked, after closing its engine', async () => {
    const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants/acme/revoke');
    expect(res.statusCode).toBe(200);
    expect(res.json().wiped.files).toBeGreaterThanOrEqual(3);
    expect((await t.call(OPERATOR, 'GET', '/v1/tables')).json().code).toBe('AUTH_ERR_TENANT_REVOKED');
  });
});

describe('workspace table time limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Queries may run 5 s; saving a table only 300 ms: the table's own limit applies.
    t = await startTestApp({ env: { INDOMAIN_QUERY_TIMEOUT_MS: '5000', INDOMAIN_TABLE_TIMEOUT_MS: '300' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME', 10)]);
  });
  afterAll(() => t.close({ remove: true }));

  it('interrupts a table that takes longer than INDOMAIN_TABLE_TIMEOUT_MS, leaving no table', async () => {
    const res = await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'endless', sql: 'SELECT count(*) AS n FROM range(1000000000000) r WHERE r.range % 7 = 1', env: 'prod' });
    expect(res.statusCode).toBe(408);
    expect(res.json()).toMatchObject({ code: 'SBX_ERR_QUERY_TIMEOUT', message: expect.stringContaining('300 ms') });
    expect((await t.call(OPERATOR, 'GET', '/v1/tables')).json().tables).toEqual([]);
  });
});
