/**
 * Invariant 1 for desensitized data (issue #4): an operator querying `prod` never sees a raw
 * identifying value. Known values are ingested; every table and column of the tenant's granted and
 * dev files is scanned for them through the operator's own queries. Tokens of the same person join
 * across datasets within one tenant and differ between tenants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidResidentId, luhnValid } from '../../desensitize/index.js';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const T1 = { role: 'operator', org: 't1', sub: 'one' } as const;
const T2 = { role: 'operator', org: 't2', sub: 'two' } as const;

describe('granted data', () => {
  let t: TestApp;
  let raw: ReturnType<typeof residentsCsv>;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '1000' } });
    raw = residentsCsv(400);
    expectStatus(await ingest(t, datasetMeta('residents'), Buffer.from(raw.csv)), 201);
    const payments = ['id_card,month,amount', ...raw.ids.slice(0, 150).map((id, i) => `${id},2026-${String(1 + (i % 9)).padStart(2, '0')},${100 + i}`)].join('\n');
    expectStatus(await ingest(t, datasetMeta('payments'), Buffer.from(`${payments}\n`)), 201);
    const window = licenseAround(new Date(), -1, 200);
    for (const id of ['t1', 't2']) expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id, name: id, ...window }), 201);
    const until = licenseAround(new Date(), 0, 100).licenseTo;
    for (const [tenant, dataset] of [['t1', 'residents'], ['t1', 'payments'], ['t2', 'residents']]) {
      expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${tenant}/grants`, { dataset, purpose: '人口统计分析', until }), 201);
    }
    await Promise.all(['t1', 't2'].map((id) => t.app.controlPlane.refinery.refresh(id)));
  });
  afterAll(() => t.close({ remove: true }));

  const rows = async (claims: typeof T1 | typeof T2, sql: string, env = 'prod') => {
    const res = await t.call(claims, 'POST', '/v1/query', { sql, env, maxRows: 10_000 });
    expect(res.statusCode, `${sql}: ${res.body}`).toBe(200);
    return res.json() as { columns: { name: string }[]; rows: unknown[][] };
  };

  it('holds no raw identifier in any table or column, in prod or dev', async () => {
    const secrets = [...raw.ids, ...raw.mobiles];
    for (const claims of [T1, T2]) {
      for (const env of ['prod', 'dev']) {
        for (const table of claims === T1 ? ['residents', 'payments'] : ['residents']) {
          const result = await rows(claims, `SELECT * FROM ${table}`, env);
          expect(result.rows.length).toBeGreaterThan(0);
          const text = JSON.stringify(result.rows);
          for (const secret of secrets) expect(text, `${env}.${table}`).not.toContain(secret);
          for (const name of new Set(raw.names)) expect(text).not.toContain(`"${name}"`);
        }
      }
    }
  });

  it('keeps the columns usable: masks, tokens and derived columns', async () => {
    const result = await rows(T1, 'SELECT * FROM residents LIMIT 3');
    expect(result.columns.map((c) => c.name)).toEqual(['id_card', 'id_card_birth_year', 'id_card_gender', 'id_card_region', 'name', 'mobile', 'bank_card', 'district', 'amount']);
    const [first] = result.rows as string[][];
    expect(first![0]).toMatch(/^[0-9a-f]{32}$/);
    expect(first![4]).toMatch(/^\p{Script=Han}\*+$/u);
    expect(first![5]).toMatch(/^1\d{2}\*{4}\d{4}$/);
  });

  it('joins the same person across datasets within a tenant', async () => {
    const joined = await rows(T1, 'SELECT count(*) AS n FROM payments p JOIN residents r ON p.id_card = r.id_card');
    expect(joined.rows).toEqual([['150']]);
  });

  it('gives another tenant unrelated tokens for the same people', async () => {
    const one = new Set((await rows(T1, 'SELECT id_card FROM residents')).rows.map((r) => r[0]));
    const two = new Set((await rows(T2, 'SELECT id_card FROM residents')).rows.map((r) => r[0]));
    expect(one.size).toBe(400);
    expect([...two].filter((token) => one.has(token))).toEqual([]);
  });

  it("lists a tenant's grants with the versions of its files, and refuses bad grants", async () => {
    const listed = (await t.call(SUPERVISOR, 'GET', '/v1/tenants/t1/grants')).json();
    expect(listed.grants.map((g: { dataset: string; status: string }) => `${g.dataset}:${g.status}`)).toEqual(['payments:active', 'residents:active']);
    expect(listed.grantedVersion).toBeGreaterThanOrEqual(1);
    const until = licenseAround(new Date(), 0, 100).licenseTo;
    const refuse = async (body: object, code: string) => {
      const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/grants', body);
      expect(res.json().code, JSON.stringify(body)).toBe(code);
    };
    await refuse({ dataset: 'ghost', purpose: 'x', until }, 'CAT_ERR_NOT_FOUND');
    await refuse({ dataset: 'payments', columns: ['amount', 'salary'], purpose: 'x', until }, 'GRT_ERR_BAD_COLUMNS');
    await refuse({ dataset: 'payments', purpose: 'x', until: '2099-01-01' }, 'GRT_ERR_BAD_UNTIL');
    await refuse({ dataset: 'payments', purpose: '', until }, 'REQ_ERR_VALIDATION');
    expect((await t.call(T2, 'POST', '/v1/query', { sql: 'SELECT * FROM payments', env: 'prod' })).statusCode).toBe(400);
  });

  it('builds the dev twin from the profile alone: valid identifiers, none of the real ones', async () => {
    // With personal data plain (audited reasons), the dev file shows the raw-schema twin itself.
    const plain = { kind: 'plain', reason: '测试：检查合成数据' };
    const res = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/residents/policy', { columns: { id_card: plain, name: plain, mobile: plain, bank_card: plain } });
    expect(res.statusCode).toBe(200);
    await t.app.controlPlane.refinery.refresh('t2');
    const twin = await rows(T2, 'SELECT id_card, mobile, bank_card FROM residents', 'dev');
    expect(twin.rows.length).toBe(400);
    const real = new Set([...raw.ids, ...raw.mobiles, ...raw.cards]);
    for (const [id, mobile, card] of twin.rows as string[][]) {
      expect(isValidResidentId(id!, '2026-11-22')).toBe(true);
      expect(mobile).toMatch(/^1[3-9]\d{9}$/);
      expect(luhnValid(card!)).toBe(true);
      for (const value of [id, mobile, card]) expect(real.has(value!), `${value} is a real value`).toBe(false);
    }
    // The prod file, by contrast, now holds the real values: plain means plain.
    expect((await rows(T2, 'SELECT id_card FROM residents')).rows.map((r) => r[0])).toEqual(expect.arrayContaining(raw.ids.slice(0, 3)));
  });

  it('rebuilds the files when a policy changes', async () => {
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/residents/policy', { columns: { district: { kind: 'hidden' } } }), 200);
    await t.app.controlPlane.refinery.refresh('t2');
    const result = await rows(T2, 'SELECT * FROM residents LIMIT 1');
    expect(result.columns.map((c) => c.name)).not.toContain('district');
  });
});
