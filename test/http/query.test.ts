/**
 * POST /v1/query: gated SQL over the tenant's dev and prod data and its workspace, through the real
 * engine host process. Shapes, caps, dev/prod separation, errors and the audit entry of each query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('POST /v1/query', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_TIMEOUT_MS: '1500' } });
    await licenseTenantWithData(t, 'acme', [residents('GRANTED', 5000)]);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (body: object) => t.call(OPERATOR, 'POST', '/v1/query', body);

  it('answers with columns, rows, truncated, env and ms', async () => {
    const res = await query({ sql: 'SELECT district, count(*) AS n FROM residents GROUP BY district ORDER BY district', env: 'prod' });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body.columns).toEqual([{ name: 'district', type: 'BIGINT' }, { name: 'n', type: 'BIGINT' }]);
    expect(body.rows).toHaveLength(7);
    expect(body.rows[0]).toEqual(['0', '715']);
    expect(body).toMatchObject({ truncated: false, env: 'prod' });
    expect(typeof body.ms).toBe('number');
  });

  it('reads the synthetic twin in dev and the granted data in prod, under the same names', async () => {
    const firstTwenty = 'SELECT string_agg(name, \',\' ORDER BY id) AS names FROM (SELECT id, name FROM residents ORDER BY id LIMIT 20)';
    const dev = (await query({ sql: firstTwenty, env: 'dev' })).json();
    const prod = (await query({ sql: firstTwenty, env: 'prod' })).json();
    expect(prod.rows[0][0]).toMatch(/^GRANTED-0,GRANTED-1,/);
    // The twin is drawn from the dataset's profile, not copied from its rows.
    expect(dev.rows[0][0]).not.toEqual(prod.rows[0][0]);
    expect((await query({ sql: 'SELECT count(*) AS n FROM residents', env: 'dev' })).json().rows).toEqual([['5000']]);
  });

  it('caps rows at 1,000 by default and at maxRows when given, saying it truncated', async () => {
    const all = (await query({ sql: 'SELECT * FROM residents', env: 'prod' })).json();
    expect(all.rows).toHaveLength(1000);
    expect(all.truncated).toBe(true);
    const few = (await query({ sql: 'SELECT * FROM residents', env: 'prod', maxRows: 3 })).json();
    expect(few.rows).toHaveLength(3);
    expect(few.truncated).toBe(true);
    const over = await query({ sql: 'SELECT 1', env: 'prod', maxRows: 10_001 });
    expect(over.statusCode).toBe(400);
    expect(over.json().code).toBe('REQ_ERR_VALIDATION');
  });

  it('keeps engine messages in dev and replaces them in prod', async () => {
    const sql = 'SELECT name::INTEGER FROM residents';
    const dev = await query({ sql, env: 'dev' });
    expect(dev.statusCode).toBe(422);
    expect(dev.json().message).toMatch(/^Conversion Error: Could not convert string '.+' to INT32/);
    const prod = await query({ sql, env: 'prod' });
    expect(prod.statusCode).toBe(422);
    expect(prod.json().code).toBe('SBX_ERR_QUERY_FAILED');
    expect(prod.body).not.toContain('GRANTED-');
  });

  it('stops a runaway query at its time limit', async () => {
    const res = await query({ sql: 'SELECT count(*) FROM range(100000000000) a', env: 'dev' });
    expect(res.statusCode).toBe(408);
    expect(res.json().code).toBe('SBX_ERR_QUERY_TIMEOUT');
    expect((await query({ sql: 'SELECT 42 AS answer', env: 'dev' })).json().rows).toEqual([[42]]);
  });

  it('audits every query with its SQL, hash, tables, rows and outcome', async () => {
    expectStatus(await query({ sql: 'SELECT id FROM residents WHERE id < 2', env: 'prod' }), 200);
    expectStatus(await query({ sql: "SELECT * FROM read_csv('/etc/passwd')", env: 'prod' }), 400);
    const entries = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.run&target=tenant:acme&limit=1000')).json().entries;
    const ok = entries.find((e: { details: { sql: string } }) => e.details.sql === 'SELECT id FROM residents WHERE id < 2');
    expect(ok).toMatchObject({ actor: OPERATOR, details: { env: 'prod', outcome: 'ok', tables: ['granted.residents'], rows: 2, truncated: false } });
    expect(ok.details.sqlSha256).toMatch(/^[0-9a-f]{64}$/);
    const refused = entries.find((e: { details: { sql: string } }) => e.details.sql.includes('read_csv'));
    expect(refused.details.outcome).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
  });

  it('is for operators only, on their own tenant', async () => {
    const res = await t.call(SUPERVISOR, 'POST', '/v1/query', { sql: 'SELECT 1', env: 'prod' });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
  });
});
