/**
 * Discovery shows exactly the query's environment and nothing else (issue #10 item 2, invariants 1,
 * 8 and 9): never another tenant's tables, a system catalog, the other env's tables, a platform
 * internal `__` table, a host path or setting; DESCRIBE of a query is the gate's decision on that
 * query; SUMMARIZE in prod never shows a person's value (markers placed as a column's unique min and
 * max); an operator reads its own tenant's grants and nobody else's.
 *
 * The internal table is added to the tenant's published files by hand between two starts over the
 * same data dir (with a lineage entry, so nothing but the `__` rule keeps it out), as the refinery
 * will add `__entities_*` side tables for disclosure checks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantDirectory } from '../../sandbox/index.js';
import { checkPlan } from '../../sandbox/gate/plan-check.js';
import { isDomainError } from '../../core/errors.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ACME = { role: 'operator', org: 'acme', sub: 'olga' } as const;
const RIVAL = { role: 'operator', org: 'rival', sub: 'rita' } as const;
const MAX_MARKER = '987654.321';
const MIN_MARKER = '-123456.789';
const TEXT_MARKER = 'zz-marker-max';

/** Payments with three markers, each one row's value: the unique max and min of `amount`, the unique max of `label`. */
const payments = {
  name: 'payments',
  sql: `SELECT range AS id, CASE range WHEN 7 THEN ${MAX_MARKER} WHEN 3 THEN ${MIN_MARKER} ELSE (range % 90) + 0.5 END::DOUBLE AS amount,
    CASE WHEN range = 11 THEN '${TEXT_MARKER}' ELSE 'label-' || (range % 3) END AS label FROM range(61)`,
};

/** Every way to list or describe what an env holds, as SQL. */
const LISTINGS = ['SHOW TABLES', 'SHOW ALL TABLES', 'DESCRIBE', 'SELECT * FROM information_schema.tables', 'SELECT * FROM information_schema.columns'];

describe('discovery shows the env and nothing else', () => {
  const dir = makeTempDir();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ dataDir: dir.dir, env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'acme', [residents('PEOPLE', 30, 'people'), payments]);
    await licenseTenantWithData(t, 'rival', [residents('RIVAL', 20, 'rival_only')]);
    expectStatus(await t.call(RIVAL, 'POST', '/v1/tables', { name: 'rival_table', sql: 'SELECT * FROM rival_only', env: 'prod' }), 201);
    expectStatus(await t.call(ACME, 'POST', '/v1/tables', { name: 'pay_copy', sql: 'SELECT * FROM payments', env: 'prod' }), 201);
    await t.close();
    await addInternalTable(dir.dir, 'acme');
    t = await startTestApp({ dataDir: dir.dir, env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
  });
  afterAll(async () => {
    await t.close();
    dir.remove();
  });

  const query = (sql: string, env: 'dev' | 'prod', who: typeof ACME | typeof RIVAL = ACME) => t.call(who, 'POST', '/v1/query', { sql, env });
  const names = async (env: 'dev' | 'prod', who: typeof ACME | typeof RIVAL = ACME) => (expectStatus(await query('SHOW TABLES', env, who), 200).json().rows as string[][]).map((r) => r[0]);

  it('lists exactly the env\'s tables: no other tenant\'s, no system catalog, no internal table, no path', async () => {
    expect(await names('prod')).toEqual(['pay_copy', 'payments', 'people']);
    // The prod-built copy is not in dev.
    expect(await names('dev')).toEqual(['payments', 'people']);
    expect(await names('prod', RIVAL)).toEqual(['rival_only', 'rival_table']);
    for (const env of ['dev', 'prod'] as const) {
      for (const sql of LISTINGS) {
        const res = expectStatus(await query(sql, env), 200);
        expect(res.body, `${sql} in ${env}`).not.toMatch(/rival|__entities|ENTITY-SECRET|duckdb_|sqlite_|pg_catalog|information_schema_|"system"|"temp"|"memory"/);
        expect(res.body).not.toContain(dir.dir);
        if (env === 'dev') expect(res.body).not.toContain('pay_copy');
        if (env === 'prod') expect(res.body).not.toContain('"dev"');
      }
      const schema = expectStatus(await t.call(ACME, 'GET', `/v1/schema?env=${env}`), 200);
      expect(schema.json().tables.map((x: { name: string }) => x.name)).toEqual(await names(env));
      expect(schema.body).not.toMatch(/rival|__entities/);
    }
  });

  it('never describes, summarizes or reads an internal `__` table, in any catalog', async () => {
    // The table is there, with lineage: only the `__` rule keeps it out.
    const catalog = JSON.parse(fs.readFileSync(path.join(tenantDirectory(dir.dir, 'acme'), 'catalog.json'), 'utf8'));
    expect(catalog.granted.sources.__entities_people).toBeDefined();
    for (const sql of [
      'DESCRIBE __entities_people', 'DESCRIBE granted.main.__entities_people', 'SUMMARIZE __entities_people', 'SUMMARIZE "__entities_people"',
      'SELECT * FROM __entities_people', 'SELECT count(*) FROM granted.main.__entities_people', 'SELECT * FROM "__ENTITIES_PEOPLE"',
      'DESCRIBE SELECT * FROM __entities_people', 'SUMMARIZE SELECT entity FROM __entities_people',
      'SELECT * FROM people WHERE id IN (SELECT id FROM __entities_people)',
    ]) {
      for (const env of ['dev', 'prod'] as const) {
        const res = await query(sql, env);
        expect(res.json(), `${sql} in ${env}`).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE' });
        expect(res.body).not.toContain('ENTITY-SECRET');
      }
    }
  });

  it('refuses DESCRIBE and SUMMARIZE of a forbidden query with the gate\'s code', async () => {
    const refusals: [string, 'dev' | 'prod', string][] = [
      ["DESCRIBE SELECT * FROM read_csv('/etc/passwd')", 'prod', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ['DESCRIBE SELECT * FROM duckdb_settings()', 'dev', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ["DESCRIBE SELECT current_setting('temp_directory') AS p", 'dev', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ['DESCRIBE SELECT * FROM duckdb_databases()', 'prod', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ['SUMMARIZE SELECT * FROM duckdb_tables()', 'dev', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ['DESCRIBE SELECT * FROM dev.main.people', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['DESCRIBE SELECT * FROM pay_copy', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['SUMMARIZE SELECT * FROM pay_copy', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['DESCRIBE SELECT * FROM rival_table', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['DESCRIBE rival_only', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['SUMMARIZE rival_table', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['DESCRIBE system.main.duckdb_tables', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['DESCRIBE information_schema.tables', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['SELECT * FROM (DESCRIBE people)', 'prod', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT'],
      ['SHOW DATABASES', 'prod', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT'],
      ['SHOW TABLES FROM dev', 'prod', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT'],
      ['DESCRIBE people; SELECT 1', 'prod', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS'],
      ['SELECT * FROM information_schema.schemata', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['SELECT * FROM system.information_schema.key_column_usage', 'dev', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ['SELECT * FROM temp.main.information_schema_tables', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
      ["SELECT * FROM information_schema.tables, read_text('/etc/hostname')", 'dev', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION'],
      ['SELECT t.table_name FROM information_schema.tables t JOIN dev.main.people p ON true', 'prod', 'SBX_ERR_SQL_FORBIDDEN_TABLE'],
    ];
    for (const [sql, env, code] of refusals) {
      const res = await query(sql, env);
      expect(res.statusCode, sql).toBe(400);
      expect(res.json().code, sql).toBe(code);
      expect(res.body).not.toContain(dir.dir);
    }
  });

  it('never shows a prod value in SUMMARIZE: markers placed as a column\'s unique min and max stay out', async () => {
    // The markers are in prod, where a plain query reaches them: a summary over prod would show them.
    expect(expectStatus(await query('SELECT max(amount)::VARCHAR, min(amount)::VARCHAR, max(label) FROM payments', 'prod'), 200).json().rows)
      .toEqual([[MAX_MARKER, MIN_MARKER, TEXT_MARKER]]);
    for (const sql of ['SUMMARIZE payments', 'SUMMARIZE pay_copy', 'SUMMARIZE SELECT amount, label FROM payments', 'SUMMARIZE SELECT * FROM payments WHERE id IN (3, 7, 11)']) {
      const res = expectStatus(await query(sql, 'prod'), 200);
      expect(res.body, sql).not.toContain(MAX_MARKER);
      expect(res.body, sql).not.toContain(MIN_MARKER);
      expect(res.body, sql).not.toContain(TEXT_MARKER);
      expect(res.body, sql).not.toContain('987654');
      expect(['twin', 'suppressed']).toContain(res.json().basis);
    }
    const copy = expectStatus(await query('SUMMARIZE pay_copy', 'prod'), 200).json();
    expect(copy.basis).toBe('suppressed');
    expect(copy.rows.map((r: unknown[]) => r.slice(2).every((v) => v === null))).toEqual([true, true, true]);
  });

  it('lets an operator read its own tenant\'s grants, never another tenant\'s', async () => {
    const own = expectStatus(await t.call(ACME, 'GET', '/v1/tenants/acme/grants'), 200).json();
    expect(own.grants.map((g: { dataset: string }) => g.dataset).sort()).toEqual(['payments', 'people']);
    for (const other of ['rival', 'nosuch']) {
      const res = await t.call(ACME, 'GET', `/v1/tenants/${other}/grants`);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_ORG_MISMATCH');
      expect(res.body).not.toContain('rival_only');
    }
    // The catalog marks the caller's own grants only.
    const catalog = expectStatus(await t.call(ACME, 'GET', '/v1/datasets'), 200).json().datasets as { id: string; granted?: boolean; grant?: unknown }[];
    expect(catalog.find((d) => d.id === 'rival_only')).toMatchObject({ granted: false });
    expect(catalog.find((d) => d.id === 'rival_only')!.grant).toBeUndefined();
    expect(catalog.find((d) => d.id === 'payments')).toMatchObject({ granted: true, grant: { status: 'active' } });
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'bank', name: 'bank' }), 201);
    const applicant = expectStatus(await t.call({ role: 'applicant', org: 'bank', sub: 'ann' }, 'GET', '/v1/datasets'), 200).json().datasets;
    expect(applicant.every((d: { granted?: boolean }) => d.granted === undefined)).toBe(true);
  });

  it('the plan check refuses reads of `__` tables in any catalog', () => {
    for (const table of ['"granted".main.__entities_people', '"workspace".main.__x', '"dev".main.__entities_people']) {
      let code: string | undefined;
      try {
        checkPlan([{ name: 'PROJECTION', children: [{ name: 'SEQ_SCAN', extra_info: { Table: table } }] }], new Set(['granted', 'dev', 'workspace']));
      } catch (error) {
        code = isDomainError(error) ? error.code : 'other';
      }
      expect(code, table).toBe('SBX_ERR_SQL_FORBIDDEN_TABLE');
    }
    expect(checkPlan([{ name: 'SEQ_SCAN', extra_info: { Table: '"granted".main.people__x' } }], new Set(['granted']))).toHaveLength(1);
  });
});

/** Adds `__entities_people` (with a lineage entry) to the tenant's granted and dev files, as the refinery would. */
async function addInternalTable(dataDir: string, tenantId: string): Promise<void> {
  const tenantDir = tenantDirectory(dataDir, tenantId);
  const catalogFile = path.join(tenantDir, 'catalog.json');
  const catalog = JSON.parse(fs.readFileSync(catalogFile, 'utf8'));
  for (const target of ['granted', 'dev']) {
    const instance = await DuckDBInstance.create(path.join(tenantDir, catalog[target].file));
    const connection = await instance.connect();
    try {
      await connection.run("CREATE TABLE __entities_people AS SELECT id, 'ENTITY-SECRET' AS entity FROM people");
      await connection.run('CHECKPOINT');
    } finally {
      connection.closeSync();
      instance.closeSync();
    }
    catalog[target].sources.__entities_people = catalog[target].sources.people;
  }
  fs.writeFileSync(catalogFile, JSON.stringify(catalog));
}
