/**
 * Issue #10 item 5, soundness of incremental builds: the refinery carries unchanged tables over from
 * the tenant's current file, but a table whose source (dataset, version, access fingerprint) changed
 * is always rebuilt from the domain. A policy tightening on one dataset therefore reaches that
 * dataset's table in both files even though every other table is carried over (what a carried
 * file keeps, internal tables included, is tested in test/unit/sandbox/incremental-build.test.ts).
 * Prod answers no longer show identifiers row by row (person-level checks, docs/sandbox.md), so the
 * mobiles prod answers from are read in the published granted file, at rest.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantDirectory } from '../../sandbox/index.js';
import { readTenantCatalog } from '../../sandbox/engine/tenant-files.js';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { readPublished } from '../helpers/published-file.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const OPERATOR = { role: 'operator', org: 'inc', sub: 'ivan' } as const;

describe('incremental builds never carry a table past a policy change', () => {
  let t: TestApp;
  const people = residentsCsv(80);
  const until = licenseAround(new Date(), 0, 90).licenseTo;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    expectStatus(await ingest(t, datasetMeta('inc_people'), Buffer.from(people.csv)), 201);
    expectStatus(await ingest(t, datasetMeta('inc_other'), Buffer.from('district,amount\n长安区,10\n桥西区,20\n新华区,30\n')), 201);
    // Mobiles start plain (with a reason), so the tightening below has something to hide.
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/inc_people/policy', { columns: { mobile: { kind: 'plain', reason: 'test: start loose' } } }), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'inc', name: 'inc', ...licenseAround(new Date(), -1, 100) }), 201);
    for (const dataset of ['inc_people', 'inc_other']) {
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/inc/grants', { dataset, purpose: '统计', until }), 201);
    }
    await t.app.controlPlane.refinery.refresh('inc');
    await t.app.controlPlane.refinery.idle();
  }, 180_000);
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env: 'prod' | 'dev' = 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
  const rows = async (sql: string, env: 'prod' | 'dev' = 'prod') => expectStatus(await query(sql, env), 200).json().rows as unknown[][];

  it('rebuilds the tightened dataset under its new policy while the other table is carried over', async () => {
    // The loose copy, as published in the granted file (prod refuses rows of mobiles).
    const loose = (await readPublished(t, 'inc', 'granted', 'SELECT mobile FROM inc_people ORDER BY ALL')).map((r) => r.mobile);
    expect(loose).toEqual([...people.mobiles].sort());
    // An aggregate the loose copy answers in prod (the "during" probe below).
    const probe = 'SELECT count(DISTINCT mobile) AS mobiles FROM inc_people';
    expect(await rows(probe)).toEqual([['80']]);
    const other = await rows('SELECT * FROM inc_other ORDER BY ALL');
    const otherDev = await rows('SELECT * FROM inc_other ORDER BY ALL', 'dev');
    const before = readTenantCatalog(tenantDirectory(t.dataDir, 'inc'));

    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/inc_people/policy', { columns: { mobile: { kind: 'mask', rule: 'mobile' } } }), 200);
    // SECURITY: from acceptance on, the looser copy never answers: not even the aggregate it
    // answered just before (a row-level probe would be refused by the person-level checks anyway)...
    const during = await query(probe);
    expect(during.statusCode, during.body).not.toBe(200);
    // ...and a row-level read of the mobiles shows none of them, whichever refusal it gets
    // (SBX_ERR_REBUILDING while rebuilding; the person-level checks' DSC_ codes would not show them either).
    const duringRows = await query('SELECT mobile FROM inc_people');
    expect(duringRows.statusCode).not.toBe(200);
    for (const mobile of people.mobiles) expect(duringRows.body).not.toContain(mobile);
    await waitUntil('the tightened table to be published', async () => {
      const grants = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/inc/grants'), 200).json().grants as { dataset: string; status: string }[];
      return grants.every((g) => g.status === 'active');
    }, { deadlineMs: 120_000, intervalMs: 50 });
    await t.app.controlPlane.refinery.idle();

    const last = t.app.controlPlane.refinery.buildStats('inc').last!;
    for (const file of [last.granted, last.dev]) {
      expect(file.rebuilt).toEqual(['inc_people']);
      expect(file.carried).toEqual(['inc_other']);
    }
    // SECURITY: the rebuilt table is under the new policy: no full mobile in either env.
    // Read in the published granted file, at rest: prod does not show mobiles row by row.
    const masked = (await readPublished(t, 'inc', 'granted', 'SELECT mobile FROM inc_people')).map((r) => String(r.mobile));
    expect(masked).toHaveLength(80);
    for (const value of masked) expect(people.mobiles).not.toContain(value);
    for (const value of masked) expect(value).toMatch(/\*/);
    expect(await rows(probe)).toEqual([['80']]);
    const prodRows = await query('SELECT mobile FROM inc_people');
    expect(prodRows.json().code, prodRows.body).toBe('DSC_ERR_IDENTIFIERS');
    for (const mobile of people.mobiles) expect(prodRows.body).not.toContain(mobile);
    const devMasked = (await rows('SELECT mobile FROM inc_people', 'dev')).map((r) => String(r[0]));
    for (const value of devMasked) expect(value).toMatch(/\*/);
    // The carried table is what it was.
    expect(await rows('SELECT * FROM inc_other ORDER BY ALL')).toEqual(other);
    expect(await rows('SELECT * FROM inc_other ORDER BY ALL', 'dev')).toEqual(otherDev);
    const after = readTenantCatalog(tenantDirectory(t.dataDir, 'inc'));
    expect(after.granted!.sources.inc_people!.policy).not.toBe(before.granted!.sources.inc_people!.policy);
    expect(after.granted!.builds.inc_other).toEqual(before.granted!.builds.inc_other);
  }, 240_000);
});
