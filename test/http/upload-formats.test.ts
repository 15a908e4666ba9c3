/**
 * External data the way it arrives (issue #10, item 7): semicolon-, tab- and pipe-delimited text
 * with quoted fields holding the delimiter, .xlsx workbooks with Chinese headers (a sheet chosen by
 * name or position), uploaded into a workspace and ingested into the domain alike; columns that
 * hold personal data are recognized and flagged in the answer, in GET /v1/tables and in the
 * workspace table's own tag, where export checks read it. Personal data here is synthetic, drawn
 * by the project's generators.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdSql } from '../../desensitize/index.js';
import { openDatabase } from '../../sandbox/index.js';
import { WorkspaceTagSchema } from '../../sandbox/engine/protocol.js';
import { datasetMeta, rawDatasetRows } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipartForm } from '../helpers/multipart.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { xlsxOf } from '../helpers/zip-fixture.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

/** Synthetic resident IDs (valid check characters, real county codes) and mobiles from desensitize/synthetic.ts. */
async function syntheticPeople(rows: number): Promise<{ id: string; mobile: string }[]> {
  const db = await openDatabase(':memory:');
  const connection = await db.connect();
  try {
    return await connection.all<{ id: string; mobile: string }>(`SELECT ${residentIdSql('range', 20261130)} AS id, ${mobileSql('range', 20261130)} AS mobile FROM range(${rows}) ORDER BY range`);
  } finally {
    connection.close();
    db.close();
  }
}

describe('uploads and ingests of delimited text and workbooks', () => {
  // The data dir outlives one app: the last test restarts the server over it.
  const temp = makeTempDir();
  let t: TestApp;
  let closed = false;
  beforeAll(async () => {
    t = await startTestApp({ dataDir: temp.dir });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(async () => {
    if (!closed) await t.close();
    temp.remove();
  });

  const upload = (fields: Record<string, string>, file: { filename: string; content: Buffer }) =>
    t.app.inject({
      method: 'POST', url: '/v1/uploads', payload: multipartForm(fields, file),
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
  const ingest = (fields: Record<string, string>, file: { filename: string; content: Buffer }) =>
    t.app.inject({
      method: 'POST', url: '/v1/datasets', payload: multipartForm(fields, file),
      headers: { authorization: `Bearer ${t.token(SUPERVISOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
  const rows = async (sql: string) => {
    const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'dev' });
    expectStatus(res, 200);
    return res.json().rows;
  };
  const tables = async () => {
    const res = await t.call(OPERATOR, 'GET', '/v1/tables');
    expectStatus(res, 200);
    return res.json().tables as { name: string; columns: { name: string; type: string; pii?: string }[] }[];
  };

  it.each([
    ['semicolon', 'semicolon_file', ';'],
    ['tab', 'tab_file', '\t'],
    ['pipe', 'pipe_file', '|'],
  ])('reads a %s-delimited file whose quoted fields hold the delimiter', async (_label, name, d) => {
    const text = `id${d}name${d}amount${d}note\n1${d}"Zhang${d}San"${d}10.5${d}"said ""hi""${d}left"\n2${d}"Li, Si"${d}7${d}plain\n`;
    const res = await upload({ name }, { filename: `${name}.txt`, content: Buffer.from(text) });
    expectStatus(res, 201);
    expect(res.json().columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([['id', 'BIGINT'], ['name', 'VARCHAR'], ['amount', 'DOUBLE'], ['note', 'VARCHAR']]);
    expect(await rows(`SELECT name, amount, note FROM ${name} ORDER BY id`)).toEqual([[`Zhang${d}San`, 10.5, `said "hi"${d}left`], ['Li, Si', 7, 'plain']]);
  });

  it('reads Excel\'s "Unicode text" export: UTF-16 with a byte order mark, tab-separated', async () => {
    const text = '区县\t户数\t备注\n长安区\t120\t"含\t制表符"\n桥西区\t95\t\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const res = await upload({ name: 'unicode_text' }, { filename: 'households.txt', content: le });
    expectStatus(res, 201);
    expect(res.json().columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([['区县', 'VARCHAR'], ['户数', 'BIGINT'], ['备注', 'VARCHAR']]);
    expect(await rows('SELECT "区县", "户数"::INTEGER, "备注" FROM unicode_text ORDER BY "户数"')).toEqual([['桥西区', 95, null], ['长安区', 120, '含\t制表符']]);
    const be = Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]);
    expectStatus(await upload({ name: 'unicode_text_be' }, { filename: 'households.txt', content: be }), 201);
    // A byte order mark followed by a lone surrogate is not text: refused, not guessed.
    const broken = await upload({ name: 'broken_utf16' }, { filename: 'x.txt', content: Buffer.from([0xff, 0xfe, 0x61, 0x00, 0x00, 0xd8, 0x0a, 0x00]) });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ code: 'UPL_ERR_ENCODING', message: expect.stringContaining('UTF-16') });
  });

  it('reads an .xlsx workbook with Chinese headers, typing numbers, dates, times and booleans', async () => {
    const xlsx = await xlsxOf([{
      name: '登记表',
      rows: [
        ['编号', '企业名称', '注册资本', '登记日期', '办结时间', '是否有效', '邮编'],
        [1, '石家庄市某某科技有限公司', 1250000.5, new Date(Date.UTC(2024, 0, 2)), new Date(Date.UTC(2024, 0, 2, 9, 30)), true, '050000'],
        [null, null, null, null, null, null, null],
        [2, '河北"长安"商贸, 有限公司', 300, new Date(Date.UTC(2023, 11, 31)), new Date(Date.UTC(2024, 1, 29, 17, 0, 5)), false, '050011'],
      ],
    }]);
    const res = await upload({ name: 'firms' }, { filename: '企业登记.xlsx', content: xlsx });
    expectStatus(res, 201);
    expect(res.json()).toMatchObject({ name: 'firms', rows: 2, env: 'upload' });
    expect(res.json().columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([
      ['编号', 'BIGINT'], ['企业名称', 'VARCHAR'], ['注册资本', 'DOUBLE'], ['登记日期', 'DATE'], ['办结时间', 'TIMESTAMP'], ['是否有效', 'BOOLEAN'], ['邮编', 'VARCHAR'],
    ]);
    expect(await rows('SELECT "企业名称", "注册资本", CAST("登记日期" AS VARCHAR), CAST("办结时间" AS VARCHAR), "是否有效", "邮编" FROM firms ORDER BY "编号"')).toEqual([
      ['石家庄市某某科技有限公司', 1250000.5, '2024-01-02', '2024-01-02 09:30:00', true, '050000'],
      ['河北"长安"商贸, 有限公司', 300, '2023-12-31', '2024-02-29 17:00:05', false, '050011'],
    ]);
    const audit = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=table.upload&limit=100')).json().entries.find((e: { details: { name: string } }) => e.details.name === 'firms');
    expect(audit.details).toMatchObject({ format: 'xlsx', outcome: 'ok', rows: 2, filename: '企业登记.xlsx' });
  });

  it('reads the sheet named, or numbered, in the `sheet` field, and names the sheets when it is missing', async () => {
    const xlsx = await xlsxOf([
      { name: '说明', rows: [['本表说明'], ['仅供测试']] },
      { name: '明细', rows: [['区县', '户数'], ['长安区', 120], ['桥西区', 95]] },
    ]);
    const byName = await upload({ name: 'by_name', sheet: '明细' }, { filename: 'book.xlsx', content: xlsx });
    expectStatus(byName, 201);
    expect(await rows('SELECT "区县", "户数"::INTEGER FROM by_name ORDER BY "户数"')).toEqual([['桥西区', 95], ['长安区', 120]]);
    expectStatus(await upload({ name: 'by_position', sheet: '2' }, { filename: 'book.xlsx', content: xlsx }), 201);
    expect(await rows('SELECT count(*)::INTEGER FROM by_position')).toEqual([[2]]);
    const first = await upload({ name: 'first_sheet' }, { filename: 'book.xlsx', content: xlsx });
    expectStatus(first, 201);
    expect(first.json().columns.map((c: { name: string }) => c.name)).toEqual(['本表说明']);
    const missing = await upload({ name: 'no_such_sheet', sheet: '汇总' }, { filename: 'book.xlsx', content: xlsx });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toMatchObject({ code: 'UPL_ERR_SHEET_NOT_FOUND' });
    expect(missing.json().message).toContain('"明细"');
    expect((await tables()).map((x) => x.name)).not.toContain('no_such_sheet');
  });

  it('flags columns of resident IDs and mobiles as personal data, in the answer, the table list and the table tag', async () => {
    const people = await syntheticPeople(80);
    const csv = `序号,身份证号,联系电话,补贴金额,备注\n${people.map((p, i) => `${i + 1},${p.id},${p.mobile},${(i % 9) * 100},第${i % 3}批`).join('\n')}\n`;
    const res = await upload({ name: 'subsidies' }, { filename: 'subsidies.csv', content: Buffer.from(csv) });
    expectStatus(res, 201);
    const expected = [
      { name: '序号', type: 'BIGINT' }, { name: '身份证号', type: 'VARCHAR', pii: 'resident_id' }, { name: '联系电话', type: 'VARCHAR', pii: 'mobile' },
      { name: '补贴金额', type: 'BIGINT' }, { name: '备注', type: 'VARCHAR' },
    ];
    expect(res.json().columns).toEqual(expected);
    expect((await tables()).find((x) => x.name === 'subsidies')!.columns).toEqual(expected);

    // The same people in a workbook, headers without hints: recognized by their values.
    const xlsx = await xlsxOf([{ name: 'Sheet1', rows: [['a', 'b', 'c'], ...people.map((p, i) => [p.id, Number(p.mobile), i])] }]);
    const fromXlsx = await upload({ name: 'people_xlsx' }, { filename: 'people.xlsx', content: xlsx });
    expectStatus(fromXlsx, 201);
    expect(fromXlsx.json().columns).toEqual([{ name: 'a', type: 'VARCHAR', pii: 'resident_id' }, { name: 'b', type: 'VARCHAR', pii: 'mobile' }, { name: 'c', type: 'BIGINT' }]);
    expect(await rows('SELECT b FROM people_xlsx ORDER BY c LIMIT 1')).toEqual([[people[0]!.mobile]]);

    const audit = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=table.upload&limit=100')).json().entries.find((e: { details: { name: string } }) => e.details.name === 'subsidies');
    expect(audit.details.pii).toEqual([{ column: '身份证号', kind: 'resident_id' }, { column: '联系电话', kind: 'mobile' }]);
    // No value of the file is in the audit.
    expect(JSON.stringify(audit)).not.toContain(people[0]!.id);
  });

  it('ingests a semicolon-delimited file and a workbook sheet into the domain, recognizing personal data', async () => {
    const people = await syntheticPeople(40);
    const semicolon = `编号;姓名;身份证号;金额\n${people.map((p, i) => `${i};"张${i}; 户主";${p.id};${i * 1.5}`).join('\n')}\n`;
    const text = await ingest({ meta: JSON.stringify(datasetMeta('relief_semicolon')) }, { filename: 'relief.csv', content: Buffer.from(semicolon) });
    expectStatus(text, 201);
    expect(text.json().columns.map((c: { name: string; type: string }) => [c.name, c.type])).toEqual([['编号', 'BIGINT'], ['姓名', 'VARCHAR'], ['身份证号', 'VARCHAR'], ['金额', 'DOUBLE']]);
    expect(text.json().columns.find((c: { name: string }) => c.name === '身份证号').pii.kind).toBe('resident_id');
    expect(await rawDatasetRows(t.dataDir, 'relief_semicolon', 'SELECT "姓名" FROM data WHERE "编号" = 3')).toEqual([{ 姓名: '张3; 户主' }]);

    const xlsx = await xlsxOf([
      { name: '封面', rows: [['标题'], ['某市救助名单']] },
      { name: '名单', rows: [['身份证号', '手机号', '发放日期'], ...people.map((p, i) => [p.id, p.mobile, new Date(Date.UTC(2025, i % 12, 1))])] },
    ]);
    const book = await ingest({ meta: JSON.stringify(datasetMeta('relief_xlsx')), sheet: '名单' }, { filename: 'relief.xlsx', content: xlsx });
    expectStatus(book, 201);
    expect(book.json().rows).toBe(40);
    const byName = Object.fromEntries(book.json().columns.map((c: { name: string }) => [c.name, c]));
    expect(byName['身份证号'].pii.kind).toBe('resident_id');
    expect(byName['手机号'].pii.kind).toBe('mobile');
    expect(byName['发放日期'].type).toBe('DATE');
    const entry = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.ingest&limit=100')).json().entries.find((e: { target: string; details: { outcome: string } }) => e.target === 'dataset:relief_xlsx' && e.details.outcome === 'ok');
    expect(entry.details).toMatchObject({ format: 'xlsx', sheet: '名单' });
  });

  it('keeps the PII flags in the workspace table itself: its tag parses and names them after a restart', async () => {
    await t.close();
    closed = true;
    const db = await openDatabase(path.join(t.dataDir, 'tenants', 'acme', 'workspace.duckdb'), { readOnly: true });
    const connection = await db.connect();
    try {
      const [row] = await connection.all<{ comment: string }>("SELECT comment FROM duckdb_tables() WHERE table_name = 'subsidies'");
      const tag = WorkspaceTagSchema.parse(JSON.parse(row!.comment));
      expect(tag).toEqual({ env: 'upload', sources: [], pii: { 身份证号: 'resident_id', 联系电话: 'mobile' } });
    } finally {
      connection.close();
      db.close();
    }
    // And the engine reads it back: GET /v1/tables on a restarted server still flags them.
    t = await startTestApp({ dataDir: t.dataDir });
    closed = false;
    expect((await tables()).find((x) => x.name === 'subsidies')!.columns.filter((c) => c.pii).map((c) => [c.name, c.pii])).toEqual([['身份证号', 'resident_id'], ['联系电话', 'mobile']]);
  });
});
