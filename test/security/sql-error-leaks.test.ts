/**
 * Errors that help must not help an attacker (issue 10, item 3): suggestions name only what the
 * query's own environment may read (never the other environment's workspace tables or columns, never
 * another tenant's tables, never a refused function), and prod messages never echo a value read
 * from a table, whatever the error.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { devMessage } from '../../sandbox/engine/tenant-engine.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const ACME = { role: 'operator', org: 'acme', sub: 'mallory' } as const;

describe('what error messages may say', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
    await licenseTenantWithData(t, 'rival', [residents('RIVALSECRET', 20, 'rival_residents')]);
    // A workspace table built from prod: invisible in dev (invariant 9), so never suggested there.
    expectStatus(await t.call(ACME, 'POST', '/v1/tables', { name: 'prod_summary', sql: 'SELECT district, count(*) AS secret_count FROM residents GROUP BY district', env: 'prod' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env: 'dev' | 'prod') => t.call(ACME, 'POST', '/v1/query', { sql, env });

  it("never suggests another tenant's table", async () => {
    for (const env of ['dev', 'prod'] as const) {
      const res = expectStatus(await query('SELECT * FROM rival_residnts', env), 400);
      expect(res.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
      expect(res.body).not.toContain('rival_residents');
      expect(res.body).not.toContain('RIVALSECRET');
    }
  });

  it("suggests a prod-built workspace table and its columns in prod, never in dev", async () => {
    const prodTable = expectStatus(await query('SELECT * FROM prod_sumary', 'prod'), 400);
    expect(prodTable.json().details.suggestions).toEqual(['prod_summary']);
    const devTable = expectStatus(await query('SELECT * FROM prod_sumary', 'dev'), 400);
    expect(devTable.json().details.suggestions).toEqual([]);
    expect(devTable.body).not.toContain('prod_summary');

    const prodColumn = expectStatus(await query('SELECT secret_cont FROM prod_summary', 'prod'), 400);
    expect(prodColumn.json().details.suggestions).toEqual(['secret_count']);
    // In dev the binder still sees the table (the workspace is shared); its columns are not suggested
    // and DuckDB's own candidate list is not passed on.
    const devColumn = await query('SELECT secret_cont FROM prod_summary', 'dev');
    expect(devColumn.statusCode).toBe(400);
    expect(devColumn.body).not.toContain('secret_count');
    expect(devColumn.body).not.toContain('district');
  });

  it('never suggests a refused function', async () => {
    for (const [typo, refused] of [['current_settin', 'current_setting'], ['json_serialize_pla', 'json_serialize_plan'], ['sleep_m', 'sleep_ms'], ['repeet', 'repeat']] as const) {
      const res = expectStatus(await query(`SELECT ${typo}('x')`, 'dev'), 400);
      expect(res.json().code, typo).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
      expect(res.json().details.suggestions, typo).not.toContain(refused);
      expect(res.body, typo).not.toContain(`${refused}(`);
    }
  });

  it('lets no typo hide a refusal: a probe behind a misspelt name is still refused (and counted)', async () => {
    for (const sql of [
      "SELECT lenght(name), current_setting('threads') FROM residents",
      "SELECT * FROM rangee(3), read_csv('/etc/passwd')",
      "SELECT * FROM rangee(current_setting('threads'))",
    ]) {
      const res = expectStatus(await query(sql, 'prod'), 400);
      expect(res.json().code, sql).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    }
    const typo = expectStatus(await query('SELECT * FROM rangee(3)', 'prod'), 400);
    expect(typo.json()).toMatchObject({ code: 'SBX_ERR_SQL_UNKNOWN_NAME', details: { kind: 'table function', suggestions: ['range'] } });
  });

  it('never echoes a value read from a table in prod, whatever fails', async () => {
    const failing = [
      'SELECT CAST(name AS INTEGER) FROM residents',
      'SELECT name::DATE FROM residents',
      "SELECT strptime(name, '%Y-%m-%d') FROM residents",
      'SELECT CAST(name AS DECIMAL(4, 1)) FROM residents',
      "SELECT json_extract(name, '$.x') FROM residents",
      'SELECT CAST(id + 100 AS TINYINT) * 200 FROM residents',
    ];
    for (const sql of failing) {
      const prod = await query(sql, 'prod');
      expect(prod.statusCode, `${sql}: ${prod.body}`).toBeGreaterThanOrEqual(400);
      expect(prod.body, sql).not.toContain('ACME-');
      // The same query in dev fails the same way and may show the engine's message.
      expect((await query(sql, 'dev')).statusCode, sql).toBe(prod.statusCode);
    }
    // One of them does show a dev value, so the check above is not vacuous.
    expect((await query(failing[0]!, 'dev')).json().message).toMatch(/Could not convert string '.+'/);
  });

  it('removes host paths from the engine messages dev shows', () => {
    expect(devMessage("IO Error: Could not write file \"/srv/indomain/data/tenants/acme/tmp/x.tmp\": No space left\nmore")).toBe('IO Error: Could not write file "<path>": No space left');
    expect(devMessage('Catalog Error: Table with name x does not exist!\nDid you mean "granted.x"?')).toBe('Catalog Error: Table with name x does not exist!');
  });
});
