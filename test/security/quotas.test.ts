/**
 * Per-tenant quotas and new columns (issue #9, "also tighten"): a tenant cannot fill the shared disk
 * (workspace bytes), run unbounded table builds and uploads at once, or expand a small file into
 * millions of rows; the result byte cap counts UTF-8 bytes, not UTF-16 units (CJK answers were up to
 * 3× over it); and a column a new dataset version adds stays hidden until a supervisor sets it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipart } from '../helpers/multipart.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('per-tenant quotas', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        INDOMAIN_UPLOAD_MAX_ROWS: '1000',
        INDOMAIN_WORKSPACE_MAX_BYTES: String(4 * 1024 * 1024),
        INDOMAIN_TABLE_CONCURRENCY_PER_TENANT: '1',
        INDOMAIN_QUERY_MAX_BYTES: '2048',
        INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000',
      },
    });
    await licenseTenantWithData(t, 'acme', [{ name: 'places', sql: "SELECT range AS id, '统计口径说明第' || range || '条' AS place FROM range(500)" }]);
  });
  afterAll(() => t.close({ remove: true }));

  const upload = (name: string, content: string) => t.app.inject({
    method: 'POST', url: '/v1/uploads',
    headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
    payload: multipart(name, { filename: `${name}.csv`, content: Buffer.from(content) }),
  });
  const tables = async () => (expectStatus(await t.call(OPERATOR, 'GET', '/v1/tables'), 200).json().tables as { name: string }[]).map((x) => x.name);

  it('refuses an upload with more rows than allowed, leaving no table', async () => {
    const rows = Array.from({ length: 1001 }, (_, i) => `${i}`).join('\n');
    const res = await upload('too_many', `n\n${rows}\n`);
    expect(res.statusCode).toBe(413);
    expect(res.json().code).toBe('UPL_ERR_TOO_MANY_ROWS');
    expect(await tables()).not.toContain('too_many');
    expectStatus(await upload('fits', `n\n${rows.split('\n').slice(0, 1000).join('\n')}\n`), 201);
  });

  it('does not keep a table that takes the workspace past its quota', async () => {
    const res = await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'huge', sql: "SELECT range AS i, md5(range::VARCHAR) || md5((range + 1)::VARCHAR) AS h FROM range(400000)", env: 'prod' });
    expect(res.statusCode).toBe(507);
    expect(res.json().code).toBe('TBL_ERR_WORKSPACE_FULL');
    expect(await tables()).not.toContain('huge');
    // Small tables still fit.
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'small', sql: 'SELECT id FROM places WHERE id < 10', env: 'prod' }), 201);
  });

  it('runs one table build at a time for a tenant when so configured', async () => {
    const slow = { sql: 'SELECT count(*) AS n FROM range(300000000) r WHERE r.range % 7 = 1', env: 'prod' };
    const answers = await Promise.all([
      t.call(OPERATOR, 'POST', '/v1/tables', { name: 'slow_a', ...slow }),
      t.call(OPERATOR, 'POST', '/v1/tables', { name: 'slow_b', ...slow }),
    ]);
    const codes = answers.map((a) => (a.statusCode === 201 ? 'created' : a.json().code));
    expect(codes).toContain('SBX_ERR_TENANT_BUSY');
  }, 120_000);

  it('caps an answer by its UTF-8 bytes', async () => {
    const res = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT place FROM places ORDER BY id', env: 'prod' }), 200);
    const body = res.json();
    expect(body.truncated).toBe(true);
    // The cap is on the rows' JSON, counted in bytes: three per CJK character.
    const bytes = (body.rows as unknown[][]).reduce((sum, row) => sum + Buffer.byteLength(JSON.stringify(row), 'utf8'), 0);
    const units = (body.rows as unknown[][]).reduce((sum, row) => sum + JSON.stringify(row).length, 0);
    expect(bytes).toBeLessThanOrEqual(2048);
    expect(bytes).toBeGreaterThan(2048 - 64);
    expect(units).toBeLessThan(bytes / 2);
  });
});

describe('columns a new dataset version adds', () => {
  it('stay hidden until a supervisor sets their policy', async () => {
    const t = await startTestApp();
    try {
      expectStatus(await ingest(t, datasetMeta('permits'), Buffer.from('district,permits\n长安区,3\n桥西区,5\n')), 201);
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'acme', name: 'acme', ...licenseAround(new Date(), -1, 300) }), 201);
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/acme/grants', { dataset: 'permits', purpose: 'p', until: licenseAround(new Date(), 0, 200).licenseTo }), 201);
      await t.app.controlPlane.refinery.refresh('acme');
      // Version 2 brings a new column, `notes`.
      expectStatus(await ingest(t, datasetMeta('permits'), Buffer.from('district,permits,notes\n长安区,3,NEWSECRET-1\n桥西区,5,NEWSECRET-2\n')), 201);
      const view = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/permits'), 200).json();
      expect(view.columns.find((c: { name: string }) => c.name === 'notes').policy).toEqual({ kind: 'hidden' });
      await t.app.controlPlane.refinery.idle();
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT * FROM permits', env: 'prod' });
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain('NEWSECRET');
      expect(res.json().columns.map((c: { name: string }) => c.name)).toEqual(['district', 'permits']);
    } finally {
      await t.close({ remove: true });
    }
  });
});
