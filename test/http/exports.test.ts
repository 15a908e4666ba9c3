/**
 * Export requests over HTTP: checks that fail closed over personal data, empty outputs, table
 * sources, the three delivered formats read back (Parquet, XLSX, CSV with its injection guard),
 * requested changes and new versions, withdrawal, and bad bodies.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { readSheet } from 'read-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { BOUNDARY, multipart } from '../helpers/multipart.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, licenseAround, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const SALES = { name: 'shop_sales', sql: 'SELECT range % 3 AS district, range % 50 AS amount FROM range(300)' };
const CELLS = {
  name: 'labels',
  sql: `SELECT * FROM (VALUES ('=HYPERLINK("http://evil.example")', -3), ('+1', 4), ('plain, with "comma"', 5), ('@SUM(A1)', 6), ('-2', 7), ('safe', 8)) AS v(label, amount)`,
};

describe('export requests', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'acme', [SALES, CELLS]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    // A dataset with personal data (resident IDs, names, mobiles), under its default policies.
    expectStatus(await ingest(t, datasetMeta('people'), Buffer.from(residentsCsv(60).csv)), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/acme/grants', { dataset: 'people', purpose: 'test', until: licenseAround(new Date(), -1, 100).licenseTo }), 201);
    await t.app.controlPlane.refinery.refresh('acme');
  });
  afterAll(() => t.close({ remove: true }));

  const create = (source: object, format = 'csv') => t.call(OPERATOR, 'POST', '/v1/exports', { source, recipient: 'city-lab', purpose: 'test', format });

  async function approveAndDownload(id: string) {
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 1, decision: 'approve' }), 200);
    const manifest = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200).json();
    const file = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/download`), 200);
    expect(createHash('sha256').update(file.rawPayload).digest('hex')).toBe(manifest.dataFile.sha256);
    return file;
  }

  it('runs the person-level checks on outputs over personal data', async () => {
    // 60 residents in 3 districts: 20 people per cell, counts only: every person-level check passes.
    const res = expectStatus(await create({ sql: 'SELECT district, count(*) AS n FROM people GROUP BY district' }), 201).json();
    const byName = new Map(res.checks.map((c: { name: string; status: string }) => [c.name, c.status]));
    expect(byName.get('minimum-entities')).toBe('pass');
    expect(byName.get('dominance')).toBe('pass');
    expect(byName.has('person-level')).toBe(false);
    // Finer cells describe fewer than 10 people: fail, never pass.
    const fine = expectStatus(await create({ sql: 'SELECT district, CAST(amount AS DECIMAL(18, 2)) AS amount, count(*) AS n FROM people GROUP BY ALL' }), 201).json();
    expect(fine.outcome).toBe('fail');
    expect(fine.checks.find((c: { name: string }) => c.name === 'minimum-entities')).toMatchObject({ status: 'fail' });
  });

  it('never passes an output over uploaded data (the catalog never profiled it)', async () => {
    expectStatus(await t.app.inject({
      method: 'POST', url: '/v1/uploads', payload: multipart('visitors', { filename: 'visitors.csv', content: Buffer.from('district,visitors\n1,20\n2,35\n') }),
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    }), 201);
    const res = expectStatus(await create({ sql: 'SELECT district, visitors FROM visitors' }), 201).json();
    expect(res.outcome).toBe('review');
    expect(res.checks.find((c: { name: string }) => c.name === 'person-level').reason).toContain('workspace table visitors is uploaded data the catalog has not profiled');
  });

  it('asks for review of an empty output', async () => {
    const res = expectStatus(await create({ sql: 'SELECT district FROM shop_sales WHERE amount > 1000' }), 201).json();
    expect(res.checks.find((c: { name: string }) => c.name === 'empty-output')).toMatchObject({ status: 'review', rows: 0 });
    expect(res.outcome).toBe('review');
  });

  it('exports a prod workspace table as Parquet', async () => {
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'sales_by_district', sql: 'SELECT district, count(*) AS n, sum(amount) AS total FROM shop_sales GROUP BY district', env: 'prod' }), 201);
    const created = expectStatus(await create({ table: 'sales_by_district' }, 'parquet'), 201).json();
    expect(created.outcome).toBe('pass');
    const detail = (await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`)).json();
    expect(detail).toMatchObject({ sql: 'SELECT * FROM workspace.main."sales_by_district"', tables: ['workspace.sales_by_district'], lineage: [{ dataset: 'shop_sales', provider: 'test' }] });
    const file = await approveAndDownload(created.id);
    const copy = path.join(t.dataDir, 'downloaded.parquet');
    fs.writeFileSync(copy, file.rawPayload);
    const db = await openDatabase(':memory:');
    const connection = await db.connect();
    try {
      const rows = await connection.all(`SELECT district, n, total FROM read_parquet('${copy}') ORDER BY district`);
      expect(rows.map((r) => [Number(r.district), Number(r.n)])).toEqual([[0, 100], [1, 100], [2, 100]]);
    } finally {
      connection.close();
      db.close();
    }
  });

  it('exports XLSX with numbers as numbers and text as text', async () => {
    const created = expectStatus(await create({ sql: 'SELECT label, amount FROM labels ORDER BY amount' }, 'xlsx'), 201).json();
    expect(created.outcome).toBe('pass');
    const file = await approveAndDownload(created.id);
    const rows = await readSheet(file.rawPayload);
    expect(rows[0]).toEqual(['label', 'amount']);
    expect(rows[1]).toEqual(['=HYPERLINK("http://evil.example")', -3]);
    expect(rows).toHaveLength(7);
  });

  it('refuses to package XLSX with a cell longer than a spreadsheet keeps, and leaves the export submitted with nothing packaged', async () => {
    const created = expectStatus(await create({ sql: "SELECT lpad('', 32768, '长') AS note, amount FROM labels" }, 'xlsx'), 201).json();
    expect(created.outcome).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    const refused = await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' });
    expect([refused.statusCode, refused.json().code]).toEqual([422, 'EXP_ERR_XLSX_CELL_TOO_LONG']);
    expect((await t.call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`)).json().status).toBe('submitted');
    expect((await t.call(RECIPIENT, 'GET', `/v1/exports/${created.id}/download`)).statusCode).not.toBe(200);
    const dir = path.join(t.dataDir, 'exports', created.id);
    expect(fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => /data\.xlsx|manifest\.json/.test(f))).toEqual([]);
    // One character less is what Excel keeps: delivered.
    const fits = expectStatus(await create({ sql: "SELECT lpad('', 32767, '长') AS note, amount FROM labels" }, 'xlsx'), 201).json();
    const rows = await readSheet((await approveAndDownload(fits.id)).rawPayload);
    expect(String(rows[1]![0])).toHaveLength(32_767);
  });

  it('writes CSV that spreadsheets cannot run: formulas in text cells are quoted, numbers stay numbers', async () => {
    const created = expectStatus(await create({ sql: 'SELECT label, amount FROM labels ORDER BY amount' }), 201).json();
    const text = (await approveAndDownload(created.id)).rawPayload.toString('utf8');
    expect(text.startsWith('\uFEFF')).toBe(true);
    expect(text.slice(1).split('\r\n')).toEqual([
      'label,amount',
      `"'=HYPERLINK(""http://evil.example"")",-3`,
      `'+1,4`,
      `"plain, with ""comma""",5`,
      `'@SUM(A1),6`,
      `'-2,7`,
      'safe,8',
      '',
    ]);
  });

  it('returns an export for changes, takes a new version from new SQL, and lets the operator withdraw', async () => {
    const { id } = expectStatus(await create({ sql: 'SELECT district, count(*) AS n FROM shop_sales GROUP BY district' }), 201).json();
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`), 200);
    const back = expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 1, decision: 'request_changes', comment: 'add the totals' }), 200).json();
    expect(back.status).toBe('changes_requested');
    expect((await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {})).json().code).toBe('EXP_ERR_INVALID_STATE');
    const v2 = expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/versions`, { source: { sql: 'SELECT district, count(*) AS n, sum(amount) AS total FROM shop_sales GROUP BY district' } }), 201).json();
    expect(v2).toMatchObject({ version: 2, status: 'draft', outcome: 'pass' });
    const detail = (await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`)).json();
    expect(detail.changes).toMatchObject({ fromVersion: 1, toVersion: 2, sqlChanged: true, columns: { added: ['total'], removed: [] }, cells: null });
    expect(detail.reviews).toEqual([expect.objectContaining({ version: 1, decision: 'request_changes', comment: 'add the totals' })]);
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {}), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 2, decision: 'approve' }), 200);
    expect(expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/withdraw`), 200).json().status).toBe('withdrawn');
    expect((await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/download`)).json().code).toBe('EXP_ERR_NOT_APPROVED');
    expect(fs.existsSync(path.join(t.dataDir, 'exports', id, 'v2', 'package', 'data.csv'))).toBe(false);
    expect((await t.call(OPERATOR, 'POST', `/v1/exports/${id}/withdraw`)).json().code).toBe('EXP_ERR_INVALID_STATE');
  });

  it.each([
    ['an unknown format', { source: { sql: 'SELECT 1 AS x' }, recipient: 'city-lab', purpose: 'p', format: 'json' }],
    ['both a table and SQL', { source: { sql: 'SELECT 1 AS x', table: 'x' }, recipient: 'city-lab', purpose: 'p', format: 'csv' }],
    ['no purpose', { source: { sql: 'SELECT 1 AS x' }, recipient: 'city-lab', format: 'csv' }],
    ['a path as a table name', { source: { table: '../x' }, recipient: 'city-lab', purpose: 'p', format: 'csv' }],
  ])('refuses %s', async (_label, body) => {
    const res = await t.call(OPERATOR, 'POST', '/v1/exports', body);
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('REQ_ERR_VALIDATION');
  });

  it('refuses duplicate output column names and ids that are not export ids', async () => {
    const res = await create({ sql: 'SELECT district AS x, amount AS x FROM shop_sales' });
    expect(res.json().code).toBe('EXP_ERR_BAD_COLUMNS');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/exports/..%2F..%2Fsecrets')).json().code).toBe('REQ_ERR_VALIDATION');
  });
});
