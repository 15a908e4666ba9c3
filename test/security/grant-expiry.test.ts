/**
 * Invariant 6 for grants: a grant that has ended stops working on the next request, whatever the
 * tenant's files still hold; the refinery then removes the dataset from those files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 't1', sub: 'one' } as const;

describe('grant expiry', () => {
  let t: TestApp;
  let now = new Date();
  beforeAll(async () => {
    t = await startTestApp({ clock: () => now });
    expectStatus(await ingest(t, datasetMeta('residents'), Buffer.from(residentsCsv(30).csv)), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 't1', name: 't1', ...licenseAround(now, -1, 300) }), 201);
    const until = licenseAround(now, 0, 5).licenseTo;
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t1/grants', { dataset: 'residents', purpose: '统计', until }), 201);
    await t.app.controlPlane.refinery.refresh('t1');
  });
  afterAll(() => t.close({ remove: true }));

  const query = (env = 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM residents', env });

  it('answers while the grant is live', async () => {
    expect((await query()).json().rows).toEqual([['30']]);
  });

  it('refuses the day after the grant ends, before any rebuild, in prod and dev', async () => {
    now = new Date(now.getTime() + 10 * 86_400_000);
    for (const env of ['prod', 'dev']) {
      const res = await query(env);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('GRT_ERR_EXPIRED');
      expect(res.body).not.toContain('"rows"');
    }
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/t1/grants')).json().grants[0].status).toBe('expired');
  });

  it('removes the dataset from the tenant files once rebuilt', async () => {
    await t.app.controlPlane.refinery.idle();
    await t.app.controlPlane.refinery.refreshExpired();
    const res = await query();
    expect(res.statusCode).toBe(400);
    // The table is gone from the tenant's files: the same answer as for a table never granted.
    expect(res.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    expect(res.body).not.toContain('"rows"');
  });
});
