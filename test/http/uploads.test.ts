/**
 * External data into the workspace (POST /v1/uploads): UTF-8 and GBK CSV and Parquet become typed
 * workspace tables without the tenant engine ever reading a file; malformed files get a 4xx naming
 * line and column and leave no table and no temp file behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parquetOf } from '../helpers/dataset-fixture.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { BOUNDARY, multipart } from '../helpers/multipart.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('uploads', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_UPLOAD_MAX_BYTES: String(64 * 1024) } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(() => t.close({ remove: true }));

  const upload = (name: string | undefined, file?: { filename: string; content: Buffer }) =>
    t.app.inject({
      method: 'POST', url: '/v1/uploads', payload: multipart(name, file),
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });
  const query = async (sql: string) => (await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'dev' })).json();
  const tableNames = async () => (await t.call(OPERATOR, 'GET', '/v1/tables')).json().tables.map((x: { name: string }) => x.name);
  const tempFiles = () => fs.readdirSync(path.join(t.dataDir, 'tmp', 'uploads'));

  it('imports a UTF-8 CSV with inferred types, keeping identifiers as text', async () => {
    const csv = 'id,name,amount,paid_on,code,resident_id\n1,张三,10.5,2026-01-02,007,11010519491231002X\n2,李四,,2026-02-03,010,110105194912310021\n';
    const res = await upload('payments', { filename: 'payments.csv', content: Buffer.from(csv) });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({
      name: 'payments', rows: 2, env: 'upload', sourceTables: [], datasets: [],
      columns: [
        { name: 'id', type: 'BIGINT' }, { name: 'name', type: 'VARCHAR' }, { name: 'amount', type: 'DOUBLE' },
        { name: 'paid_on', type: 'DATE' }, { name: 'code', type: 'VARCHAR' }, { name: 'resident_id', type: 'VARCHAR' },
      ],
    });
    expect((await query('SELECT name, amount, code, resident_id FROM payments ORDER BY id')).rows).toEqual([
      ['张三', 10.5, '007', '11010519491231002X'], ['李四', null, '010', '110105194912310021'],
    ]);
    expect(tempFiles()).toEqual([]);
  });

  it('imports a GBK CSV, as government systems export them', async () => {
    // "id,name,city" then 1,张三,北京 and 2,李四,上海 in GBK.
    const gbk = Buffer.concat([
      Buffer.from('id,name,city\n1,'), Buffer.from([0xd5, 0xc5, 0xc8, 0xfd]), Buffer.from(','), Buffer.from([0xb1, 0xb1, 0xbe, 0xa9]),
      Buffer.from('\n2,'), Buffer.from([0xc0, 0xee, 0xcb, 0xc4]), Buffer.from(','), Buffer.from([0xc9, 0xcf, 0xba, 0xa3]), Buffer.from('\n'),
    ]);
    const res = await upload('people_gbk', { filename: 'people.csv', content: gbk });
    expect(res.statusCode).toBe(201);
    expect((await query('SELECT name, city FROM people_gbk ORDER BY id')).rows).toEqual([['张三', '北京'], ['李四', '上海']]);
    const entry = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=table.upload&limit=100')).json().entries.find((e: { details: { name: string } }) => e.details.name === 'people_gbk');
    expect(entry.details).toMatchObject({ encoding: 'gb18030', format: 'csv', outcome: 'ok', rows: 2 });
    expect(entry.details.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('imports a Parquet file', async () => {
    const file = path.join(t.dataDir, 'fixture.parquet');
    const content = await parquetOf(file, "SELECT range AS id, 'p' || range AS label FROM range(300)");
    const res = await upload('from_parquet', { filename: 'x.parquet', content });
    expect(res.statusCode).toBe(201);
    expect(res.json().rows).toBe(300);
    expect((await query('SELECT max(label) AS m FROM from_parquet')).rows).toEqual([['p99']]);
  });

  it.each([
    ['a row with an extra field', 'a,b\n1,2\n3,4,5\n', 'UPL_ERR_MALFORMED', 'line 3, column 3'],
    ['a row with a missing field', 'a,b\n1,2\n3\n', 'UPL_ERR_MALFORMED', 'line 3, column 2'],
    ['an unterminated quote', 'a,b\n1,"open\n', 'UPL_ERR_MALFORMED', 'line 2'],
    ['a repeated header name', 'a,A\n1,2\n', 'UPL_ERR_BAD_HEADER', 'line 1, column 2'],
    ['an empty header name', 'a,,c\n1,2,3\n', 'UPL_ERR_BAD_HEADER', 'line 1, column 2'],
    ['an empty file', '', 'UPL_ERR_EMPTY', 'empty'],
    ['bytes that are neither UTF-8 nor GB18030', '\u0000', 'UPL_ERR_ENCODING', 'GB18030'],
  ])('refuses %s, naming where, and leaves nothing behind', async (_label, content, code, where) => {
    const bytes = code === 'UPL_ERR_ENCODING' ? Buffer.from([0x61, 0x0a, 0xff, 0xff, 0xff]) : Buffer.from(content);
    const res = await upload('broken', { filename: 'broken.csv', content: bytes });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe(code);
    expect(res.json().message).toContain(where);
    expect(await tableNames()).not.toContain('broken');
    expect(tempFiles()).toEqual([]);
  });

  it('refuses a file over the size limit with 413', async () => {
    const res = await upload('too_big', { filename: 'big.csv', content: Buffer.from(`a\n${'1\n'.repeat(40_000)}`) });
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('UPL_ERR_TOO_LARGE');
    expect(await tableNames()).not.toContain('too_big');
    expect(tempFiles()).toEqual([]);
  });

  it('refuses a missing file, a bad name, a taken name and a body that is not multipart', async () => {
    expect((await upload('nofile')).json().code).toBe('UPL_ERR_NO_FILE');
    expect((await upload('Bad-Name', { filename: 'x.csv', content: Buffer.from('a\n1\n') })).json().code).toBe('REQ_ERR_VALIDATION');
    expect((await upload('residents', { filename: 'x.csv', content: Buffer.from('a\n1\n') })).json().code).toBe('TBL_ERR_NAME_TAKEN');
    expect((await upload('payments', { filename: 'x.csv', content: Buffer.from('a\n1\n') })).json().code).toBe('TBL_ERR_EXISTS');
    const json = await t.call(OPERATOR, 'POST', '/v1/uploads', { name: 'x' });
    expect(json.statusCode).toBe(415);
    expect(tempFiles()).toEqual([]);
  });
});
