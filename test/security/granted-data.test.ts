/**
 * Invariant 1 for desensitized data (issue #4): an operator querying `prod` never sees a raw
 * identifying value. Known values are ingested; every table and column of the tenant's granted and
 * dev files is scanned for them: at rest (the published files read directly, internal tables
 * included) and, in dev, through the operator's own queries. Prod answers are person-level checked
 * (docs/sandbox.md) and no longer show rows of identifiers, so the published values (masks, tokens)
 * are read from the granted file itself, and prod is checked to refuse showing them. Tokens of the
 * same person join across datasets within one tenant and differ between tenants.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidResidentId, luhnValid } from '../../desensitize/index.js';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { readPublished } from '../helpers/published-file.js';
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
  const tenantOf = (claims: typeof T1 | typeof T2) => claims.org;
  const asText = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
  /** Every table of a tenant's published file (internal tables included), read at rest. */
  const publishedTables = async (tenant: string, target: 'granted' | 'dev') =>
    (await readPublished(t, tenant, target, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY table_name")).map((r) => String(r.table_name));

  it('holds no raw identifier in any table or column, in prod or dev', async () => {
    const secrets = [...raw.ids, ...raw.mobiles];
    const expectNoSecret = (text: string, where: string) => {
      for (const secret of secrets) expect(text, where).not.toContain(secret);
      for (const name of new Set(raw.names)) expect(text, where).not.toContain(`"${name}"`);
    };
    for (const claims of [T1, T2]) {
      const granted = claims === T1 ? ['residents', 'payments'] : ['residents'];
      // At rest: every table of both published files (prod reads the granted one), internal tables
      // such as the entity side tables included. Stronger than a query: nothing the refinery wrote
      // holds a raw value, whatever a query could show.
      for (const target of ['granted', 'dev'] as const) {
        const tables = await publishedTables(tenantOf(claims), target);
        expect(tables, `${target} tables`).toEqual(expect.arrayContaining(granted));
        for (const table of tables) {
          const result = await readPublished(t, tenantOf(claims), target, `SELECT * FROM "${table}"`);
          expect(result.length, `${target}.${table}`).toBeGreaterThan(0);
          expectNoSecret(asText(result), `${target}.${table}`);
        }
      }
      for (const table of granted) {
        // Through the operator's own queries: dev answers row by row...
        const dev = await rows(claims, `SELECT * FROM ${table}`, 'dev');
        expect(dev.rows.length).toBeGreaterThan(0);
        expectNoSecret(JSON.stringify(dev.rows), `dev.${table}`);
        // ...prod refuses rows showing identifiers (tokens, masks), and says nothing raw doing so.
        const prod = await t.call(claims, 'POST', '/v1/query', { sql: `SELECT * FROM ${table}`, env: 'prod', maxRows: 10_000 });
        expect(prod.statusCode, prod.body).toBe(422);
        expect(prod.json().code).toBe('DSC_ERR_IDENTIFIERS');
        expectNoSecret(prod.body, `prod.${table}`);
      }
    }
  });

  it('keeps the columns usable: masks, tokens and derived columns', async () => {
    // The published granted file, read at rest: prod no longer shows these values row by row.
    const result = await readPublished(t, 't1', 'granted', 'SELECT * FROM residents LIMIT 3');
    expect(Object.keys(result[0]!)).toEqual(['id_card', 'id_card_birth_year', 'id_card_gender', 'id_card_region', 'name', 'mobile', 'bank_card', 'district', 'amount']);
    const first = result[0]!;
    expect(first.id_card).toMatch(/^[0-9a-f]{32}$/);
    expect(first.name).toMatch(/^\p{Script=Han}\*+$/u);
    expect(first.mobile).toMatch(/^1\d{2}\*{4}\d{4}$/);
    // And prod serves the same columns to the operator (the derived ones usable in aggregates).
    const prod = await rows(T1, 'SELECT id_card_gender, count(DISTINCT id_card) AS people FROM residents GROUP BY id_card_gender ORDER BY id_card_gender');
    expect(prod.rows).toEqual([['F', '200'], ['M', '200']]);
  });

  it('joins the same person across datasets within a tenant', async () => {
    const joined = await rows(T1, 'SELECT count(*) AS n FROM payments p JOIN residents r ON p.id_card = r.id_card');
    expect(joined.rows).toEqual([['150']]);
  });

  it('gives another tenant unrelated tokens for the same people', async () => {
    // The tokens as published in each tenant's granted file (prod refuses rows of tokens).
    const tokens = async (tenant: string) => new Set((await readPublished(t, tenant, 'granted', 'SELECT id_card FROM residents')).map((r) => r.id_card));
    const one = await tokens('t1');
    const two = await tokens('t2');
    expect(one.size).toBe(400);
    expect(two.size).toBe(400);
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
    // The prod (granted) file, by contrast, now holds the real values: plain means plain. Read at
    // rest, since prod answers never show identifiers row by row (checked too, with no raw value).
    expect((await readPublished(t, 't2', 'granted', 'SELECT id_card FROM residents')).map((r) => r.id_card)).toEqual(expect.arrayContaining(raw.ids.slice(0, 3)));
    const prod = await t.call(T2, 'POST', '/v1/query', { sql: 'SELECT id_card FROM residents', env: 'prod' });
    expect(prod.json().code, prod.body).toBe('DSC_ERR_IDENTIFIERS');
    for (const id of raw.ids) expect(prod.body).not.toContain(id);
  });

  it('rebuilds the files when a policy changes', async () => {
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/residents/policy', { columns: { district: { kind: 'hidden' } } }), 200);
    await t.app.controlPlane.refinery.refresh('t2');
    // The rebuilt granted file, at rest (prod refuses row-level LIMIT answers over personal data)...
    const [published] = await readPublished(t, 't2', 'granted', 'SELECT * FROM residents LIMIT 1');
    expect(Object.keys(published!)).not.toContain('district');
    expect(Object.keys(published!)).toContain('amount');
    // ...and what prod answers: the column is gone (unknown name), not merely withheld.
    const res = await t.call(T2, 'POST', '/v1/query', { sql: 'SELECT district, count(*) AS n FROM residents GROUP BY district', env: 'prod' });
    expect(res.statusCode, res.body).toBe(400);
    expect(res.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    expect(res.body).not.toMatch(/长安区|桥西区|新华区/);
  });
});
