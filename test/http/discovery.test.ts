/**
 * Discovery (issue #10 item 2): SHOW TABLES, DESCRIBE <table>, DESCRIBE <query>, SUMMARIZE and
 * information_schema.tables / columns through POST /v1/query, and GET /v1/schema, each showing
 * exactly the tables of the query's env: the granted tables in prod or their twins in dev, plus the
 * workspace tables readable there (built in that env, or uploaded). What must never show (other
 * tenants, system catalogs, internal tables, prod values in SUMMARIZE) is in
 * test/security/discovery.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipart } from '../helpers/multipart.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('discovery', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    // citizens keeps the catalog's default policies (token, masks, derived columns); amount is generalized.
    expectStatus(await ingest(t, datasetMeta('citizens'), Buffer.from(residentsCsv(30).csv)), 201);
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/citizens/policy', { columns: { amount: { kind: 'generalize', rule: 'bucket:100' } } }), 200);
    await licenseTenantWithData(t, 'acme', [residents('PEOPLE', 40, 'people')]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/acme/grants', { dataset: 'citizens', purpose: '统计分析', until: new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10) }), 201);
    await t.app.controlPlane.refinery.refresh('acme');
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'by_district', sql: 'SELECT district, count(*) AS n FROM people GROUP BY 1', env: 'prod' }), 201);
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'dev_scratch', sql: 'SELECT id, district FROM people', env: 'dev' }), 201);
    expectStatus(await t.app.inject({
      method: 'POST', url: '/v1/uploads',
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      payload: multipart('households', { filename: 'households.csv', content: Buffer.from('district,households\n长安区,1200\n桥西区,800\n') }),
    }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env: 'dev' | 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
  const rowsOf = async (sql: string, env: 'dev' | 'prod') => expectStatus(await query(sql, env), 200).json().rows as unknown[][];

  it('SHOW TABLES lists the env\'s tables: granted or twin, the workspace tables built there, and uploads', async () => {
    expect(await rowsOf('SHOW TABLES', 'prod')).toEqual([['by_district'], ['citizens'], ['households'], ['people']]);
    expect(await rowsOf('show tables;', 'dev')).toEqual([['citizens'], ['dev_scratch'], ['households'], ['people']]);
    const all = expectStatus(await query('SHOW ALL TABLES', 'prod'), 200).json();
    expect(all.columns.map((c: { name: string }) => c.name)).toEqual(['database', 'schema', 'name', 'column_names', 'column_types', 'temporary']);
    expect(all.rows.map((r: unknown[]) => `${r[0]}.${r[2]}`).sort()).toEqual(['granted.citizens', 'granted.people', 'workspace.by_district', 'workspace.households']);
  });

  it('DESCRIBE <table> gives DuckDB\'s columns for tables of the env, resolving names as the search path does', async () => {
    const res = expectStatus(await query('DESCRIBE people', 'prod'), 200).json();
    expect(res.columns.map((c: { name: string }) => c.name)).toEqual(['column_name', 'column_type', 'null', 'key', 'default', 'extra']);
    expect(res.rows.map((r: unknown[]) => [r[0], r[1]])).toEqual([['id', 'BIGINT'], ['name', 'VARCHAR'], ['district', 'BIGINT']]);
    for (const name of ['main.people', 'granted.people', 'granted.main.people', '"PEOPLE"', 'DESC people', 'SHOW people']) {
      const sql = name.includes(' ') ? name : `DESCRIBE ${name}`;
      expect((await rowsOf(sql, 'prod')).map((r) => r[0]), sql).toEqual(['id', 'name', 'district']);
    }
    expect((await rowsOf('DESCRIBE dev.main.people', 'dev')).map((r) => r[0])).toEqual(['id', 'name', 'district']);
    expect((await rowsOf('DESCRIBE workspace.households', 'dev')).map((r) => r[0])).toEqual(['district', 'households']);
    // The other env's catalog and tables are not there.
    for (const [sql, env] of [['DESCRIBE dev.main.people', 'prod'], ['DESCRIBE granted.people', 'dev'], ['DESCRIBE by_district', 'dev'], ['DESCRIBE dev_scratch', 'prod'], ['DESCRIBE nope', 'prod']] as const) {
      const refused = await query(sql, env);
      expect(refused.statusCode, sql).toBe(400);
      expect(refused.json(), sql).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE', message: expect.stringContaining('SHOW TABLES') });
    }
  });

  it('DESCRIBE <query> gives the result columns of a query that passes the gate, without running it', async () => {
    const res = expectStatus(await query('DESCRIBE SELECT district, count(*) AS n, avg(id) AS mean FROM people GROUP BY district', 'prod'), 200).json();
    expect(res.rows.map((r: unknown[]) => [r[0], r[1]])).toEqual([['district', 'BIGINT'], ['n', 'BIGINT'], ['mean', 'DOUBLE']]);
    // Its lineage is the query's, as for any answer.
    expect(res.sources).toEqual([expect.objectContaining({ dataset: 'people' })]);
    // A query that would run for ages is only bound.
    expect((await rowsOf('DESCRIBE SELECT count(*) AS n FROM range(1000000000000) a', 'dev')).map((r) => r[0])).toEqual(['n']);
  });

  it('SUMMARIZE gives DuckDB\'s statistics: of the table in dev, of its twin in prod (saying so)', async () => {
    const dev = expectStatus(await query('SUMMARIZE people', 'dev'), 200).json();
    expect(dev.columns.map((c: { name: string }) => c.name)).toEqual(['column_name', 'column_type', 'min', 'max', 'approx_unique', 'avg', 'std', 'q25', 'q50', 'q75', 'count', 'null_percentage']);
    expect(dev.rows.map((r: unknown[]) => r[0])).toEqual(['id', 'name', 'district']);
    expect(dev.basis).toBe('table');
    const prod = expectStatus(await query('SUMMARIZE people', 'prod'), 200).json();
    expect(prod).toMatchObject({ basis: 'twin', note: expect.stringContaining('synthetic twin') });
    // The twin's statistics (those of SUMMARIZE in dev), without the ones that can be one person's value.
    const stat = (rows: unknown[][], column: string, index: number) => rows.find((r) => r[0] === column)![index];
    for (const column of ['id', 'name', 'district']) {
      for (const index of [2, 3, 7, 8, 9]) expect(stat(prod.rows, column, index), `${column} ${index}`).toBeNull();
      for (const index of [0, 1, 4, 5, 6, 10, 11]) expect(stat(prod.rows, column, index), `${column} ${index}`).toEqual(stat(dev.rows, column, index));
    }
    const upload = expectStatus(await query('SUMMARIZE households', 'prod'), 200).json();
    expect(upload).toMatchObject({ basis: 'table' });
    expect(upload.rows.find((r: unknown[]) => r[0] === 'households').slice(2, 4)).toEqual(['800', '1200']);
    const ofQuery = expectStatus(await query('SUMMARIZE SELECT district, 9007199254740993 AS big FROM dev_scratch', 'dev'), 200).json();
    // The twin's districts run between the values 10 people reach at either end (1 and 5 of 0..6: docs/catalog.md).
    expect(ofQuery.rows.map((r: unknown[]) => r.slice(0, 4))).toEqual([['district', 'BIGINT', '1', '5'], ['big', 'BIGINT', '9007199254740993', '9007199254740993']]);
  });

  it('information_schema.tables and .columns hold exactly the env\'s tables and columns', async () => {
    expect(await rowsOf('SELECT table_catalog, table_schema, table_name FROM information_schema.tables ORDER BY table_name', 'prod')).toEqual([
      ['workspace', 'main', 'by_district'], ['granted', 'main', 'citizens'], ['workspace', 'main', 'households'], ['granted', 'main', 'people'],
    ]);
    expect(await rowsOf("SELECT column_name, data_type, ordinal_position FROM information_schema.columns WHERE table_name = 'people' ORDER BY ordinal_position", 'dev'))
      .toEqual([['id', 'BIGINT', 1], ['name', 'VARCHAR', 2], ['district', 'BIGINT', 3]]);
    // Joins, aliases and the views' own names as qualifiers work as in DuckDB.
    const joined = await rowsOf(`SELECT tables.table_name, count(*) AS n FROM information_schema.tables JOIN information_schema.columns c
      ON c.table_name = tables.table_name GROUP BY ALL ORDER BY 1`, 'dev');
    expect(joined).toEqual([['citizens', expect.any(String)], ['dev_scratch', '2'], ['households', '2'], ['people', '3']]);
    // 64-bit constants survive the rewrite (JavaScript numbers would round them).
    expect(await rowsOf("SELECT 9007199254740993::VARCHAR AS big, count(*) AS n FROM information_schema.tables WHERE table_name = 'people'", 'prod')).toEqual([['9007199254740993', '1']]);
    const other = await query('SELECT * FROM information_schema.schemata', 'dev');
    expect(other.statusCode).toBe(400);
    expect(other.json()).toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE', message: expect.stringContaining('information_schema.tables') });
  });

  it('GET /v1/schema returns the same tables with each column\'s type, policy and source dataset', async () => {
    const prod = expectStatus(await t.call(OPERATOR, 'GET', '/v1/schema?env=prod'), 200).json();
    expect(prod.env).toBe('prod');
    expect(prod.tables.map((x: { name: string }) => x.name)).toEqual((await rowsOf('SHOW TABLES', 'prod')).map((r) => r[0]));
    const citizens = prod.tables.find((x: { name: string }) => x.name === 'citizens');
    expect(citizens).toMatchObject({ catalog: 'granted', kind: 'granted', sources: [{ dataset: 'citizens', version: 1 }] });
    const policy = Object.fromEntries(citizens.columns.map((c: { name: string; policy: string; rule?: string }) => [c.name, [c.policy, c.rule]]));
    expect(policy).toMatchObject({
      id_card: ['token', 'resident_id'], id_card_birth_year: ['derived', 'birth_year'], id_card_gender: ['derived', 'gender'],
      mobile: ['masked', 'mobile'], amount: ['generalized', 'bucket:100'],
    });
    expect(citizens.columns.find((c: { name: string }) => c.name === 'id_card_birth_year').source).toEqual({ dataset: 'citizens', version: 1, column: 'id_card' });
    expect(prod.tables.find((x: { name: string }) => x.name === 'by_district')).toMatchObject({
      catalog: 'workspace', kind: 'workspace', builtIn: 'prod', sources: [{ dataset: 'people', version: 1 }],
      columns: [{ name: 'district', type: 'BIGINT', policy: 'computed' }, { name: 'n', type: 'BIGINT', policy: 'computed' }],
    });
    expect(prod.tables.find((x: { name: string }) => x.name === 'households')).toMatchObject({ builtIn: 'upload', sources: [], columns: [expect.objectContaining({ policy: 'uploaded' }), expect.anything()] });
    const dev = expectStatus(await t.call(OPERATOR, 'GET', '/v1/schema?env=dev'), 200).json();
    expect(dev.tables.map((x: { name: string; kind: string }) => `${x.name}:${x.kind}`)).toEqual(['citizens:twin', 'dev_scratch:workspace', 'households:workspace', 'people:twin']);
    expect(dev.tables[0].columns.find((c: { name: string }) => c.name === 'mobile')).toMatchObject({ policy: 'masked', rule: 'mobile' });
    expect((await t.call(OPERATOR, 'GET', '/v1/schema?env=raw')).json().code).toBe('REQ_ERR_VALIDATION');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/schema?env=dev')).json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
  });

  it('the catalog tells an operator which datasets its tenant holds, and the operator reads its grants', async () => {
    const datasets = expectStatus(await t.call(OPERATOR, 'GET', '/v1/datasets'), 200).json().datasets as { id: string; granted?: boolean; grant?: { until: string; status: string } }[];
    expect(datasets.find((d) => d.id === 'citizens')).toMatchObject({ granted: true, grant: { status: 'active', columns: null, purpose: '统计分析' } });
    expect(expectStatus(await t.call(OPERATOR, 'GET', '/v1/datasets/people'), 200).json()).toMatchObject({ granted: true, grant: { status: 'active' } });
    const grants = expectStatus(await t.call(OPERATOR, 'GET', '/v1/tenants/acme/grants'), 200).json();
    expect(grants.grants.map((g: { dataset: string }) => g.dataset).sort()).toEqual(['citizens', 'people']);
  });
});
