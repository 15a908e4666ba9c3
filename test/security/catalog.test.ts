/**
 * The catalog never shows raw identifying values, to any role: profiles keep no min, max or top
 * values of personal-data columns, and non-supervisors see names and types only. Raw data stays in
 * `domain/`, which no tenant engine attaches. A version still loading is shown to supervisors only.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('catalog leaks', () => {
  let t: TestApp;
  let raw: ReturnType<typeof residentsCsv>;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '1000' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
    raw = residentsCsv(200);
    expectStatus(await ingest(t, datasetMeta('people'), Buffer.from(raw.csv)), 201);
  });
  afterAll(() => t.close({ remove: true }));

  it('shows no raw identifier in any catalog answer, for any role', async () => {
    const answers = [
      await t.call(SUPERVISOR, 'GET', '/v1/datasets'),
      await t.call(SUPERVISOR, 'GET', '/v1/datasets/people'),
      await t.call(OPERATOR, 'GET', '/v1/datasets'),
      await t.call(OPERATOR, 'GET', '/v1/datasets/people'),
      await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.ingest'),
    ];
    for (const res of answers) {
      expect(res.statusCode).toBe(200);
      for (const value of [...raw.ids, ...raw.mobiles]) expect(res.body).not.toContain(value);
      for (const name of new Set(raw.names)) expect(res.body).not.toContain(`"${name}"`);
    }
  });

  it('keeps the raw domain out of every tenant engine', async () => {
    const rawFile = path.join(t.dataDir, 'domain', 'people', 'v1.duckdb');
    expect(fs.existsSync(rawFile)).toBe(true);
    for (const sql of [`SELECT * FROM '${rawFile}'`, `SELECT * FROM read_duckdb('${rawFile}')`, 'SELECT * FROM people', 'SELECT * FROM data', 'SELECT * FROM domain.main.data']) {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' });
      expect(res.statusCode, sql).toBe(400);
      for (const value of raw.ids.slice(0, 20)) expect(res.body).not.toContain(value);
    }
  });

  it('shows a loading version, with its stage, to the supervisor only, until it commits', async () => {
    const big = Buffer.from(residentsCsv(400_000).csv);
    // Its resident IDs repeat every 9,000 rows while mobiles do not: the mobile names the person.
    const pending = ingest(t, datasetMeta('big_load', { entity: 'mobile' }), big);
    const seen = new Set<string>();
    let done = false;
    void pending.finally(() => { done = true; });
    while (!done) {
      // The operator asks first: if the supervisor still sees the first version loading after
      // that, it was loading when the operator asked too.
      const operatorGet = await t.call(OPERATOR, 'GET', '/v1/datasets/big_load');
      const operatorList = (await t.call(OPERATOR, 'GET', '/v1/datasets')).json().datasets.map((d: { id: string }) => d.id);
      const res = await t.call(SUPERVISOR, 'GET', '/v1/datasets/big_load');
      if (res.statusCode === 200 && res.json().loading) {
        expect(res.json()).toMatchObject({ id: 'big_load', name: 'big_load 数据集', loading: { version: 1, filename: 'data.csv' } });
        seen.add(res.json().loading.stage);
        // Nothing of a loading version is in the catalog for other roles.
        expect(operatorGet.statusCode).toBe(404);
        expect(operatorList).not.toContain('big_load');
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    expect((await pending).statusCode).toBe(201);
    // The engine's own stages reach the server (they are written by the worker in the engine host).
    expect(seen.has('loading') || seen.has('profiling')).toBe(true);
    const after = (await t.call(SUPERVISOR, 'GET', '/v1/datasets/big_load')).json();
    expect(after).toMatchObject({ rows: 400_000, version: 1 });
    expect(after).not.toHaveProperty('loading');
    expect(fs.readdirSync(path.join(t.dataDir, 'domain', 'big_load'))).toEqual(['v1.duckdb']);
  });
});
