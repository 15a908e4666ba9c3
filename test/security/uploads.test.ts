/**
 * Uploads cross the domain boundary inward: the client's filename never becomes a path, the
 * uploaded bytes are read only by trusted code from the server's own temp file, and nothing of an
 * upload survives a refusal. A CSV cannot smuggle a path to the reader either (DuckDB reads the
 * temp file, never a name inside it).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';
import { BOUNDARY, multipart } from '../helpers/multipart.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('upload attacks', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(() => t.close({ remove: true }));

  const upload = (name: string, filename: string, content: Buffer) =>
    t.app.inject({
      method: 'POST', url: '/v1/uploads', payload: multipart(name, { filename, content }),
      headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    });

  it('never uses the client filename as a path', async () => {
    const escape = path.join(t.dataDir, 'escaped.csv');
    const res = await upload('innocent', `../../../${path.basename(t.dataDir)}/escaped.csv`, Buffer.from('a\n1\n'));
    expect(res.statusCode).toBe(201);
    expect(fs.existsSync(escape)).toBe(false);
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp', 'uploads'))).toEqual([]);
  });

  it('treats a path inside the CSV as data', async () => {
    const res = await upload('paths', 'p.csv', Buffer.from(`file\n/etc/passwd\n${t.dataDir}/control.duckdb\n`));
    expect(res.statusCode).toBe(201);
    const rows = (await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT file FROM paths', env: 'dev' })).json().rows;
    expect(rows).toEqual([['/etc/passwd'], [`${t.dataDir}/control.duckdb`]]);
  });

  it('refuses a file dressed as Parquet that is not one, leaving nothing behind', async () => {
    const res = await upload('fake_parquet', 'x.parquet', Buffer.concat([Buffer.from('PAR1'), Buffer.from('not really parquet')]));
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('UPL_ERR_MALFORMED');
    expect(res.body).not.toContain(t.dataDir);
    expect(fs.readdirSync(path.join(t.dataDir, 'tmp', 'uploads'))).toEqual([]);
  });

  it('receives at most as many uploads at once per tenant as it builds tables (INDOMAIN_TABLE_CONCURRENCY_PER_TENANT, 2): a third is refused before a byte of it is written', async () => {
    const spooled = () => fs.readdirSync(path.join(t.dataDir, 'tmp', 'uploads'));
    const bodies = ['slow_a', 'slow_b'].map((name) => multipart(name, { filename: 's.csv', content: Buffer.from('a\n1\n') }));
    // Two uploads whose bodies stop inside the file's content: their files are being written.
    const cut = (body: Buffer) => body.indexOf('a\n1\n') + 2;
    const streams = bodies.map(() => new PassThrough());
    const held = bodies.map((body, i) => {
      streams[i]!.write(body.subarray(0, cut(body)));
      return t.app.inject({
        method: 'POST', url: '/v1/uploads', payload: streams[i]!,
        headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}`, 'content-length': String(body.length) },
      });
    });
    await waitUntil('both held uploads are being written', () => spooled().length === 2, { deadlineMs: 60_000 });
    const third = await upload('third', 't.csv', Buffer.from('a\n1\n'));
    expect(third.statusCode).toBe(429);
    expect(third.json().code).toBe('SBX_ERR_TENANT_BUSY');
    expect(spooled()).toHaveLength(2);
    bodies.forEach((body, i) => streams[i]!.end(body.subarray(cut(body))));
    expect((await Promise.all(held)).map((res) => res.statusCode)).toEqual([201, 201]);
    expect(spooled()).toEqual([]);
    expect((await upload('fourth', 'f.csv', Buffer.from('a\n1\n'))).statusCode).toBe(201);
  });
});
