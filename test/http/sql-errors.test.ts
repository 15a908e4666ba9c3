/**
 * Errors that help (issue 10, item 3): a misspelt function, column or table says so and suggests the
 * nearest allowed name; a syntax error gives its line, column and token; a refusal names what is not
 * available and why, under a code distinct from an error in the operator's SQL. Through POST
 * /v1/query against the real engine, in dev and prod.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('errors that help', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'acme', [residents('ACME'), { name: 'payments', sql: 'SELECT range AS resident_id, range * 10 AS amount FROM range(20)' }]);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env: 'dev' | 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql, env });

  it('suggests the nearest allowed function for a misspelt one', async () => {
    for (const env of ['dev', 'prod'] as const) {
      const res = expectStatus(await query('SELECT lenght(name) FROM residents', env), 400);
      expect(res.json()).toMatchObject({ code: 'SBX_ERR_SQL_UNKNOWN_NAME', details: { kind: 'function', name: 'lenght', suggestions: ['length'] } });
      expect(res.json().message).toBe('function lenght() does not exist: did you mean length()?');
    }
  });

  it('suggests the nearest column of the tables the query reads, in dev and prod', async () => {
    for (const env of ['dev', 'prod'] as const) {
      const res = expectStatus(await query('SELECT nme, district\nFROM residents', env), 400);
      expect(res.json()).toMatchObject({ code: 'SBX_ERR_SQL_UNKNOWN_NAME', details: { kind: 'column', name: 'nme', suggestions: ['name'], line: 1, column: 8 } });
      expect(res.json().message).toContain('did you mean name?');
      // A qualified column, and a column of the other table of a join.
      const qualified = expectStatus(await query('SELECT r.nmae FROM residents r', env), 400);
      expect(qualified.json().details).toMatchObject({ kind: 'column', name: 'nmae', suggestions: ['name'] });
      const joined = expectStatus(await query('SELECT amout FROM residents JOIN payments ON id = resident_id', env), 400);
      expect(joined.json().details).toMatchObject({ kind: 'column', name: 'amout', suggestions: ['amount'] });
    }
  });

  it('suggests the nearest table of the environment for an unknown one', async () => {
    for (const env of ['dev', 'prod'] as const) {
      const res = expectStatus(await query('SELECT * FROM residnts', env), 400);
      expect(res.json()).toMatchObject({ code: 'SBX_ERR_SQL_UNKNOWN_NAME', details: { kind: 'table', name: 'residnts', suggestions: ['residents'] } });
      expect(res.json().message).toBe('table residnts does not exist in this environment: did you mean residents?');
    }
  });

  it('says a window function needs OVER, and suggests a type for a misspelt cast', async () => {
    const window = expectStatus(await query('SELECT row_number() FROM residents', 'prod'), 400);
    expect(window.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    expect(window.json().message).toContain('row_number() is a window function: add an OVER clause');
    const type = expectStatus(await query('SELECT CAST(id AS INTEGR) FROM residents', 'prod'), 400);
    expect(type.json()).toMatchObject({ code: 'SBX_ERR_SQL_UNKNOWN_NAME', details: { kind: 'type', name: 'INTEGR', suggestions: ['INTEGER'] } });
  });

  it('gives the line, column and token of a syntax error', async () => {
    const res = expectStatus(await query('SELECT name\nFROM residents\nWHERE id = = 1', 'prod'), 400);
    expect(res.json()).toMatchObject({ code: 'SBX_ERR_SQL_SYNTAX', details: { line: 3, column: 12, near: '=' } });
    expect(res.json().message).toBe('syntax error at line 3, column 12 near "="');
    const form = expectStatus(await query('SELECT * FORM residents', 'dev'), 400);
    expect(form.json().message).toBe('syntax error at line 1, column 15 near "residents"');
    const cut = expectStatus(await query('SELECT (1 + 2', 'prod'), 400);
    expect(cut.json().message).toMatch(/^the query ends too early at line 1, column 14/);
    const quote = expectStatus(await query("SELECT 'abc", 'prod'), 400);
    expect(quote.json().message).toBe('unterminated quoted string at line 1, column 8: close the quote');
    // Columns count characters, not bytes.
    const cjk = expectStatus(await query("SELECT '张三' FORM residents", 'prod'), 400);
    expect(cjk.json().details).toMatchObject({ line: 1, column: 18, near: 'residents' });
  });

  it('names the refused function and why, under a refusal code', async () => {
    const res = expectStatus(await query("SELECT * FROM read_csv('/etc/passwd')", 'prod'), 400);
    expect(res.json()).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', details: { function: 'read_csv' } });
    expect(res.json().message).toMatch(/^table function read_csv\(\) is not available in the sandbox: it reads files/);
    const setting = expectStatus(await query("SELECT current_setting('threads')", 'dev'), 400);
    expect(setting.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    expect(setting.json().message).toMatch(/current_setting\(\) is not available in the sandbox: it reveals or changes the engine's settings/);
    const sqlString = expectStatus(await query("SELECT json_serialize_plan('SELECT 1')", 'dev'), 400);
    expect(sqlString.json().message).toContain('it runs or plans SQL given as a string');
    const otherEnv = expectStatus(await query('SELECT * FROM dev.residents', 'prod'), 400);
    expect(otherEnv.json()).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE', details: { table: 'dev.residents' } });
    expect(otherEnv.json().message).toMatch(/^dev\.residents is not available in this environment/);
  });

  it('rebuilds wrong-argument and GROUP BY errors in prod from names and types only', async () => {
    const types = expectStatus(await query('SELECT length(id) FROM residents', 'prod'), 422);
    expect(types.json().message).toBe('function length() does not take arguments of type (BIGINT): cast them to the types it takes');
    const group = expectStatus(await query('SELECT name, count(*) FROM residents GROUP BY district', 'prod'), 422);
    expect(group.json().message).toBe('column name must appear in GROUP BY or inside an aggregate, e.g. any_value(name)');
  });

  it("keeps a run-time error's values out of prod and shows the engine's message in dev", async () => {
    const sql = 'SELECT CAST(name AS INTEGER) FROM residents';
    const prod = expectStatus(await query(sql, 'prod'), 422);
    expect(prod.json().code).toBe('SBX_ERR_QUERY_FAILED');
    expect(prod.json().message).toContain('(Conversion Error)');
    expect(prod.body).not.toContain('ACME-');
    const dev = expectStatus(await query(sql, 'dev'), 422);
    expect(dev.json().message).toMatch(/^Conversion Error: Could not convert string '.+' to INT32/);
  });
});
