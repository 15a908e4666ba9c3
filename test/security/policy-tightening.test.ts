/**
 * Issue #9 item 4: a policy tightening is fail-closed. From the moment the supervisor's change is
 * accepted, the looser copy stops answering, even while the operator crashes its own engine during
 * the rebuild (which makes the swap fail): the refinery retries until the new version is published,
 * and meanwhile queries get SBX_ERR_REBUILDING, never the hidden column. The probe is an aggregate
 * by district: prod answers it before the change, while a row-level read of residents with amounts
 * is refused by the person-level checks whatever the version (docs/sandbox.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 't1', sub: 'mallory' } as const;
const CRASH = "SELECT json_structure(lpad('', 100000, '['))";

describe('policy tightening under attack', () => {
  let t: TestApp;
  const data = residentsCsv(60);
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    expectStatus(await ingest(t, datasetMeta('residents'), Buffer.from(data.csv)), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 't1', name: 't1', ...licenseAround(new Date(), -1, 300) }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t1/grants', { dataset: 'residents', purpose: '统计', until: licenseAround(new Date(), 0, 200).licenseTo }), 201);
    await t.app.controlPlane.refinery.refresh('t1');
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string) => t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' });

  it('never answers from the looser version once the tightening is accepted, and publishes the new one', async () => {
    // An aggregate over both columns that the looser version answers in full (20 people a district).
    const PROBE = 'SELECT district, sum(amount) AS amount FROM residents GROUP BY district';
    const before = expectStatus(await query(PROBE), 200).json();
    expect(before.columns.map((c: { name: string }) => c.name)).toEqual(['district', 'amount']);
    expect(before.rows.map((r: unknown[]) => r[0]).sort()).toEqual(['长安区', '新华区', '桥西区'].sort());
    const versionBefore = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/t1/grants'), 200).json().grantedVersion as number;

    // The operator crashes its engine over and over while the rebuild runs.
    let attacking = true;
    const crashes = (async () => {
      const codes: string[] = [];
      for (let i = 0; attacking && i < 6; i++) codes.push((await query(CRASH)).json().code);
      return codes;
    })();
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/residents/policy', { columns: { amount: { kind: 'hidden' }, district: { kind: 'hidden' } } }), 200);
    // From acceptance on: the old copy, which has both columns, never answers.
    const during: string[] = [];
    for (let i = 0; i < 10; i++) {
      const res = await query(PROBE);
      during.push(res.statusCode === 200 ? 'answered' : res.json().code);
      expect(res.body).not.toMatch(/长安区|桥西区|新华区/);
    }
    expect(during).not.toContain('answered');
    attacking = false;
    const codes = await crashes;
    expect(codes.length).toBeGreaterThan(0);
    // The build is retried until it succeeds; then the new version is in force.
    await t.app.controlPlane.refinery.idle();
    const after = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/t1/grants'), 200).json();
    expect(after.grantedVersion).toBeGreaterThan(versionBefore);
    const res = await query('SELECT district FROM residents');
    expect(res.statusCode).toBeGreaterThanOrEqual(400);
    expect(res.body).not.toMatch(/长安区|桥西区|新华区/);
    // Refused because the column is gone, not by the person-level checks; the probe too.
    expect(res.json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    expect(expectStatus(await query(PROBE), 400).json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
    expect(expectStatus(await query('SELECT count(*) AS n FROM residents'), 200).json().rows).toEqual([['60']]);
  }, 180_000);
});
