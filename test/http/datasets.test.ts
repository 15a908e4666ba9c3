/**
 * Ingest and catalog (POST/GET /v1/datasets): profiles and PII recognition for the supervisor,
 * versions on re-ingest, core data refused, malformed input refused with nothing half-done, and the
 * catalog as each role sees it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, parquetOf, rawDatasetRows, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;
const APPLICANT = { role: 'applicant', org: 'bank', sub: 'ann' } as const;

describe('datasets', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'acme', name: 'acme', ...licenseAround(new Date(), -1, 100) }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'bank', name: 'bank' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  it('ingests a CSV into the raw domain, profiles it and recognizes its personal data', async () => {
    const res = await ingest(t, datasetMeta('residents'), Buffer.from(residentsCsv(300).csv));
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toMatchObject({ id: 'residents', version: 1, rows: 300, file: 'v1.duckdb', versions: [1], grade: 'general' });
    const byName = Object.fromEntries(body.columns.map((c: { name: string }) => [c.name, c]));
    expect(byName.id_card.pii).toMatchObject({ kind: 'resident_id', confidence: 1 });
    expect(byName.mobile.pii.kind).toBe('mobile');
    expect(byName.name.pii.kind).toBe('name');
    expect(byName.bank_card.pii.kind).toBe('bank_card');
    expect(byName.district).toMatchObject({ pii: null, type: 'VARCHAR', topValues: [{ value: '新华区', count: 100 }, { value: '桥西区', count: 100 }, { value: '长安区', count: 100 }] });
    expect(byName.amount).toMatchObject({ pii: null, type: 'DOUBLE', min: '0.5', nullShare: 0 });
    // Deciles for the twin, of non-personal numbers only.
    expect(byName.amount.quantiles).toHaveLength(9);
    expect(byName.amount.quantiles.map(Number)).toEqual([...byName.amount.quantiles.map(Number)].sort((a: number, b: number) => a - b));
    expect(byName.id_card.quantiles).toBeNull();
    // Small distinct counts are exact (a HyperLogLog estimate of 16 can read 18).
    expect(byName.id_card.distinctEstimate).toBe(300);
    expect(byName.district.distinctEstimate).toBe(3);
    expect(fs.existsSync(path.join(t.dataDir, 'domain', 'residents', 'v1.duckdb'))).toBe(true);
  });

  it('ingests a GBK CSV, as government systems export them, with a GBK header', async () => {
    // "编号,姓名,城市" then 1,张三,北京 and 2,李四,上海, all in GBK.
    const gbk = Buffer.from([
      0xb1, 0xe0, 0xba, 0xc5, 0x2c, 0xd0, 0xd5, 0xc3, 0xfb, 0x2c, 0xb3, 0xc7, 0xca, 0xd0, 0x0a,
      0x31, 0x2c, 0xd5, 0xc5, 0xc8, 0xfd, 0x2c, 0xb1, 0xb1, 0xbe, 0xa9, 0x0a,
      0x32, 0x2c, 0xc0, 0xee, 0xcb, 0xc4, 0x2c, 0xc9, 0xcf, 0xba, 0xa3, 0x0a,
    ]);
    const res = await ingest(t, datasetMeta('people_gbk'), gbk);
    expect(res.statusCode).toBe(201);
    expect(res.json().columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([['编号', 'BIGINT'], ['姓名', 'VARCHAR'], ['城市', 'VARCHAR']]);
    expect(await rawDatasetRows(t.dataDir, 'people_gbk', 'SELECT "姓名", "城市" FROM data ORDER BY "编号"')).toEqual([{ 姓名: '张三', 城市: '北京' }, { 姓名: '李四', 城市: '上海' }]);
  });

  it('ingests a Parquet file with its own types', async () => {
    const file = path.join(t.dataDir, 'fixture.parquet');
    const content = await parquetOf(file, "SELECT range AS n, 'p' || range AS label, DATE '2026-01-01' + range::INTEGER AS day FROM range(300)");
    const res = await ingest(t, datasetMeta('from_parquet'), content);
    expect(res.statusCode).toBe(201);
    expect(res.json().rows).toBe(300);
    expect(res.json().columns.map((col: { name: string; type: string }) => [col.name, col.type])).toEqual([['n', 'BIGINT'], ['label', 'VARCHAR'], ['day', 'DATE']]);
  });

  it('ingests a Parquet file whose columns are lists of numbers and timestamps', async () => {
    // `DECIMAL(10,2)[]` and `TIMESTAMP[]` used to be profiled as numbers and timestamps (a regex
    // read `DECIMAL.*`), and DuckDB refused their quantiles: the ingest failed.
    const file = path.join(t.dataDir, 'lists.parquet');
    const content = await parquetOf(file, "SELECT range AS n, [range::DECIMAL(10,2), 1.5] AS amounts, [TIMESTAMP '2026-01-01 08:00:00' + to_hours(range)] AS seen FROM range(200)");
    const res = await ingest(t, datasetMeta('with_lists'), content);
    expect(res.statusCode).toBe(201);
    expect(res.json().columns.map((col: { name: string; type: string }) => [col.name, col.type])).toEqual([['n', 'BIGINT'], ['amounts', 'DECIMAL(10,2)[]'], ['seen', 'TIMESTAMP[]']]);
  });

  it('keeps every version of a re-ingested dataset', async () => {
    const res = await ingest(t, datasetMeta('residents', { description: 'monthly refresh' }), Buffer.from(residentsCsv(120).csv));
    expect(res.json()).toMatchObject({ version: 2, rows: 120, versions: [2, 1] });
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/residents')).json()).toMatchObject({ version: 2, versions: [2, 1] });
  });

  it('refuses core data, and stores nothing of it', async () => {
    const res = await ingest(t, datasetMeta('secrets', { grade: 'core' }), Buffer.from('a\n1\n'));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('CAT_ERR_CORE_DATA');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/secrets')).statusCode).toBe(404);
    expect(fs.existsSync(path.join(t.dataDir, 'domain', 'secrets'))).toBe(false);
  });

  it.each([
    ['malformed rows', Buffer.from('a,b\n1,2\n3,4,5\n'), 'UPL_ERR_MALFORMED'],
    ['an empty file', Buffer.alloc(0), 'UPL_ERR_EMPTY'],
    ['a huge header-only line without a newline', Buffer.from('x'.repeat(70_000)), 'UPL_ERR_BAD_HEADER'],
    ['mis-encoded bytes', Buffer.from([0x61, 0x0a, 0xff, 0xfe, 0xff]), 'UPL_ERR_ENCODING'],
  ])('refuses %s with a 4xx, leaving no dataset and no file', async (_label, content, code) => {
    const res = await ingest(t, datasetMeta('broken'), content);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe(code);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/broken')).statusCode).toBe(404);
    const dir = path.join(t.dataDir, 'domain', 'broken');
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp', 'ingest'))).toEqual([]);
  });

  it('refuses a huge line and a binary file of the wrong type', async () => {
    const hugeLine = Buffer.from(`a,b\n1,${'x'.repeat(3_000_000)}\n`);
    const huge = await ingest(t, datasetMeta('broken'), hugeLine);
    expect(huge.statusCode).toBe(400);
    expect(huge.json()).toMatchObject({ code: 'UPL_ERR_MALFORMED', message: expect.stringMatching(/line 2/) });
    // A ZIP archive is read as an .xlsx workbook, and this one is not a readable one.
    const zip = Buffer.concat([Buffer.from('PK\u0003\u0004'), Buffer.from([0x14, 0x00, 0x06, 0x00, 0x08, 0x00, 0xff, 0xfe, 0x80, 0x81])]);
    expect((await ingest(t, datasetMeta('broken'), zip)).json()).toMatchObject({ code: 'UPL_ERR_MALFORMED', message: expect.stringMatching(/xlsx workbook/) });
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/broken')).statusCode).toBe(404);
  });

  it('names the line of a malformed row far past the rows read for the type guess, and keeps nothing', async () => {
    const lines = ['n,label'];
    for (let i = 0; i < 20_000; i++) lines.push(`${i},row${i}`);
    lines.push('20000,too,many');
    const res = await ingest(t, datasetMeta('late_broken'), Buffer.from(`${lines.join('\n')}\n`));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'UPL_ERR_MALFORMED', message: expect.stringContaining('line 20002, column 3') });
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/late_broken')).statusCode).toBe(404);
    const dir = path.join(t.dataDir, 'domain', 'late_broken');
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([]);
  });

  it('types columns from the first rows, checks every row as it loads, and re-infers when a later row does not fit', async () => {
    const lines = ['n,code,day'];
    for (let i = 0; i < 30_000; i++) lines.push(`${i},${1000 + i},2026-01-${String(1 + (i % 28)).padStart(2, '0')}`);
    lines.push('10.5,0042,2026-02-30');
    const res = await ingest(t, datasetMeta('late_misfits'), Buffer.from(`${lines.join('\n')}\n`));
    expect(res.statusCode).toBe(201);
    const types = Object.fromEntries(res.json().columns.map((c: { name: string; type: string }) => [c.name, c.type]));
    // The same types as inference over every row: a decimal, an identifier kept as text, an impossible date.
    expect(types).toEqual({ n: 'DOUBLE', code: 'VARCHAR', day: 'VARCHAR' });
    expect(await rawDatasetRows(t.dataDir, 'late_misfits', "SELECT n, code, day FROM data WHERE code = '0042'")).toEqual([{ n: 10.5, code: '0042', day: '2026-02-30' }]);
  });

  it('names every bad metadata field', async () => {
    const res = await ingest(t, datasetMeta('Bad Id', { grade: 'secret', acquiredAt: 'yesterday', extra: 1 }), Buffer.from('a\n1\n'));
    expect(res.statusCode).toBe(400);
    const fields = res.json().details.problems.map((p: { field: string }) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['meta.id', 'meta.grade', 'meta.acquiredAt']));
    expect((await ingest(t, '{not json', Buffer.from('a\n1\n'))).json().code).toBe('REQ_ERR_BAD_JSON');
  });

  it('shows operators and applicants metadata only, and 不予共享 datasets as existence only', async () => {
    expectStatus(await ingest(t, datasetMeta('closed', { shareAttribute: 'none', name: '不予共享数据' }), Buffer.from('a,b\n1,2\n')), 201);
    for (const claims of [OPERATOR, APPLICANT]) {
      const { datasets } = (await t.call(claims, 'GET', '/v1/datasets')).json();
      const residents = datasets.find((d: { id: string }) => d.id === 'residents');
      expect(residents.columns[0]).toEqual({ name: 'id_card', type: 'VARCHAR' });
      expect(residents).not.toHaveProperty('file');
      expect(JSON.stringify(residents)).not.toContain('pii');
      expect(datasets.find((d: { id: string }) => d.id === 'closed')).toEqual({ id: 'closed', name: '不予共享数据', provider: '市数据局', shareAttribute: 'none' });
      expect((await t.call(claims, 'GET', '/v1/datasets/closed')).json()).toEqual({ id: 'closed', name: '不予共享数据', provider: '市数据局', shareAttribute: 'none' });
    }
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/closed')).json()).toHaveProperty('columns');
    expect((await t.call(OPERATOR, 'GET', '/v1/datasets/nothing_here')).json().code).toBe('CAT_ERR_NOT_FOUND');
  });

  it('is ingested by supervisors only, and audited', async () => {
    const res = await ingest(t, datasetMeta('sneaky'), Buffer.from('a\n1\n'), OPERATOR);
    expect(res.statusCode).toBe(403);
    const entries = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.ingest&limit=100')).json().entries;
    const first = entries.find((e: { details: { version: number; outcome: string } }) => e.details.version === 1 && e.details.outcome === 'ok');
    expect(first.details.pii.map((p: { column: string }) => p.column)).toEqual(expect.arrayContaining(['id_card', 'mobile', 'name', 'bank_card']));
    expect(entries.some((e: { details: { outcome: string } }) => e.details.outcome === 'CAT_ERR_CORE_DATA')).toBe(true);
  });
});

describe('column policies', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expectStatus(await ingest(t, datasetMeta('people'), Buffer.from(residentsCsv(50).csv)), 201);
  });
  afterAll(() => t.close({ remove: true }));

  const columns = async () => Object.fromEntries((await t.call(SUPERVISOR, 'GET', '/v1/datasets/people')).json().columns.map((c: { name: string; policy: unknown }) => [c.name, c.policy]));

  it('defaults from recognition: never plain for personal data', async () => {
    expect(await columns()).toMatchObject({
      id_card: { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender', 'region'] },
      name: { kind: 'mask', rule: 'name' },
      mobile: { kind: 'mask', rule: 'mobile' },
      bank_card: { kind: 'mask', rule: 'bank_card' },
      district: { kind: 'plain' },
      amount: { kind: 'plain' },
    });
  });

  it('sets policies, and requires an audited reason to make personal data plain', async () => {
    const refused = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', { columns: { name: { kind: 'plain' }, nope: { kind: 'hidden' }, amount: { kind: 'generalize', rule: 'bucket:0' } } });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().code).toBe('CAT_ERR_BAD_POLICY');
    expect(refused.json().details.problems.map((p: { field: string }) => p.field).sort()).toEqual(['columns.amount', 'columns.name', 'columns.nope']);
    expect((await columns()).name).toEqual({ kind: 'mask', rule: 'name' });

    const res = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', {
      columns: { name: { kind: 'plain', reason: '公开的法定代表人姓名' }, amount: { kind: 'generalize', rule: 'bucket:100' }, bank_card: { kind: 'hidden' } },
    });
    expect(res.statusCode).toBe(200);
    expect(await columns()).toMatchObject({ name: { kind: 'plain', reason: '公开的法定代表人姓名' }, amount: { kind: 'generalize', rule: 'bucket:100' }, bank_card: { kind: 'hidden' } });
    const [entry] = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.policy')).json().entries;
    expect(entry.details.plainPersonal).toEqual([{ column: 'name', kind: 'name', reason: '公开的法定代表人姓名' }]);
  });

  it('is for supervisors, on existing datasets', async () => {
    expect((await t.call({ role: 'operator', org: 'x', sub: 'o' }, 'PUT', '/v1/datasets/people/policy', { columns: { name: { kind: 'plain', reason: 'x' } } })).statusCode).toBe(403);
    expect((await t.call(SUPERVISOR, 'PUT', '/v1/datasets/ghost/policy', { columns: { a: { kind: 'hidden' } } })).json().code).toBe('CAT_ERR_NOT_FOUND');
    expect((await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', { columns: {} })).json().code).toBe('REQ_ERR_VALIDATION');
  });
});

describe('dataset size limit', () => {
  let t: TestApp;
  beforeAll(async () => {
    // Tenant uploads may be tiny here; datasets have their own, larger limit.
    t = await startTestApp({ env: { INDOMAIN_UPLOAD_MAX_BYTES: String(1024), INDOMAIN_DATASET_MAX_BYTES: String(64 * 1024) } });
  });
  afterAll(() => t.close({ remove: true }));

  it('takes a file over the upload limit but within its own, and refuses one over it with 413, leaving nothing', async () => {
    expect((await ingest(t, datasetMeta('medium'), Buffer.from(residentsCsv(100).csv))).statusCode).toBe(201);
    const res = await ingest(t, datasetMeta('huge'), Buffer.from(`a\n${'1\n'.repeat(40_000)}`));
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('UPL_ERR_TOO_LARGE');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/datasets/huge')).statusCode).toBe(404);
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp', 'ingest'))).toEqual([]);
  });
});
