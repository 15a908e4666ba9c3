/**
 * Invariant 6 under races (issue #9 item 5): a revocation fences the tenant where its files are.
 * Uploads, queries, table builds and publishes are in flight when the supervisor revokes; repeated
 * for several tenants. After the revoke answers, no answer of the tenant is delivered, nothing
 * re-creates its directory or its staged builds, and its engine is gone. A query running when its
 * tenant is suspended is withheld too.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BOUNDARY, multipart } from '../helpers/multipart.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ROUNDS = 4;
const UPLOAD_ROWS = 200_000;

describe('revocation with work in flight', () => {
  let t: TestApp;
  const csv = Buffer.from(`id,label\n${Array.from({ length: UPLOAD_ROWS }, (_, i) => `${i},row-${i}`).join('\n')}\n`);
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000', INDOMAIN_QUERY_CONCURRENCY_PER_TENANT: '16', INDOMAIN_TABLE_CONCURRENCY_PER_TENANT: '8' } });
  });
  afterAll(() => t.close({ remove: true }));

  for (let round = 1; round <= ROUNDS; round++) {
    it(`round ${round}: delivers nothing after the revoke and never re-creates the tenant's files`, async () => {
      const tenantId = `race-${round}`;
      const operator = { role: 'operator', org: tenantId, sub: 'mallory' } as const;
      await licenseTenantWithData(t, tenantId, [residents('RACE', 20_000)]);
      const answers: { what: string; status: number; at: number }[] = [];
      const record = (what: string) => (res: { statusCode: number }) => answers.push({ what, status: res.statusCode, at: Date.now() });
      const upload = (name: string) => t.app.inject({
        method: 'POST', url: '/v1/uploads',
        headers: { authorization: `Bearer ${t.token(operator)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
        payload: multipart(name, { filename: `${name}.csv`, content: csv }),
      }).then(record(`upload ${name}`));
      let revoked = false;
      const queries = (async () => {
        // Bounded: one query at a time until the revocation is seen, at most 200.
        for (let i = 0; i < 200 && !revoked; i++) {
          const res = await t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM residents, range(50)', env: 'prod' });
          record('query')(res);
          if (res.statusCode === 403) break;
        }
        // A few more after the revoke: all refused.
        for (let i = 0; i < 3; i++) await t.call(operator, 'POST', '/v1/query', { sql: 'SELECT 1 AS one', env: 'dev' }).then(record('late query'));
      })();
      const work = [
        upload('up_a'), upload('up_b'), queries,
        t.call(operator, 'POST', '/v1/tables', { name: 'big_a', sql: 'SELECT r.*, x.range AS k FROM residents r, range(100) x', env: 'prod' }).then(record('table big_a')),
        t.call(operator, 'POST', '/v1/tables', { name: 'big_b', sql: 'SELECT r.*, x.range AS k FROM residents r, range(100) x', env: 'dev' }).then(record('table big_b')),
        // A publish (the refinery rebuilding the tenant's files) racing the wipe.
        t.app.controlPlane.refinery.refresh(tenantId),
      ];
      await new Promise((resolve) => setTimeout(resolve, 50 * round));
      const revoke = expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${tenantId}/revoke`), 200);
      const revokedAt = Date.now();
      revoked = true;
      expect(revoke.json().status).toBe('revoked');
      await Promise.all(work);
      // Nothing of the tenant answered after the revocation was acknowledged.
      const late = answers.filter((a) => a.at > revokedAt && a.status < 300);
      expect(late).toEqual([]);
      expect(answers.filter((a) => a.what === 'late query').every((a) => a.status === 403)).toBe(true);
      // Its files stay gone, also after stragglers had time to do anything.
      await new Promise((resolve) => setTimeout(resolve, 500));
      const dir = path.join(t.dataDir, 'tenants', tenantId);
      expect(fs.existsSync(dir), `${dir} exists again`).toBe(false);
      expect(fs.existsSync(path.join(t.dataDir, 'builds', tenantId))).toBe(false);
      expect(t.app.engine.pidOf(tenantId)).toBeUndefined();
      expect(fs.existsSync(path.join(t.dataDir, 'tenants', '.retired', tenantId))).toBe(true);
    }, 120_000);
  }

  it('does not keep a table whose build was running when its tenant was suspended', async () => {
    await licenseTenantWithData(t, 'sleeper', [residents('SLEEP', 10, 'sleeper_residents')]);
    const operator = { role: 'operator', org: 'sleeper', sub: 'sam' } as const;
    const build = t.call(operator, 'POST', '/v1/tables', { name: 'late_table', sql: 'SELECT count(*) AS n FROM range(3000000000) r WHERE r.range % 7 = 1', env: 'prod' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/sleeper/suspend'), 200);
    const res = await build;
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_TENANT_SUSPENDED');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/sleeper/resume'), 200);
    const tables = expectStatus(await t.call(operator, 'GET', '/v1/tables'), 200).json().tables as { name: string }[];
    expect(tables.map((x) => x.name)).not.toContain('late_table');
  }, 120_000);

  it('withholds the answer of a query running when its tenant is suspended', async () => {
    await licenseTenantWithData(t, 'napper', [residents('NAP', 10, 'nap_residents')]);
    const operator = { role: 'operator', org: 'napper', sub: 'nora' } as const;
    const slow = t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM range(3000000000) r WHERE r.range % 7 = 1', env: 'prod' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/napper/suspend'), 200);
    const res = await slow;
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_TENANT_SUSPENDED');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/napper/resume'), 200);
    expect((await t.call(operator, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM nap_residents', env: 'prod' })).json().rows).toEqual([['10']]);
  }, 120_000);
});
