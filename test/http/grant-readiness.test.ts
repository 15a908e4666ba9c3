/**
 * Issue #10 item 5: grants and policies say when they are ready. A new grant reads `building` (with
 * progress) until the tenant can query it, then `active`, and a query on it then succeeds in both
 * envs; a policy change to several columns publishes exactly one new version of each file (one
 * build, one audit entry); an incremental build carries unchanged tables over byte for byte and
 * rebuilds only what changed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tenantDirectory } from '../../sandbox/index.js';
import { readTenantCatalog } from '../../sandbox/engine/tenant-files.js';
import { expectStatus } from '../helpers/expect-status.js';
import { ensureDataset, licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const OPERATOR = { role: 'operator', org: 'ready', sub: 'olga' } as const;
const PEOPLE = { name: 'ready_people', sql: "SELECT range AS id, 'p-' || range AS label, range % 5 AS district, range * 3 AS score FROM range(300)" };
const LATE = { name: 'ready_late', sql: 'SELECT range AS id, range % 4 AS kind, range * 1.5 AS amount FROM range(200)' };
const POLICY = { name: 'ready_policy', sql: 'SELECT range AS id, range % 3 AS a, range % 7 AS b, range % 11 AS c FROM range(100)' };

interface GrantView { dataset: string; status: string; progress?: { done: number; total: number } }

describe('grants that say when they are ready', () => {
  let t: TestApp;
  const until = licenseAround(new Date(), 0, 90).licenseTo;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'ready', [PEOPLE]);
    await ensureDataset(t, LATE);
    await ensureDataset(t, POLICY);
  }, 180_000);
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env: 'prod' | 'dev' = 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
  const grants = async () => expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/ready/grants'), 200).json() as { grants: GrantView[]; grantedVersion: number; devVersion: number };
  const grantOf = async (dataset: string) => (await grants()).grants.find((g) => g.dataset === dataset)!;
  const rows = async (sql: string, env: 'prod' | 'dev' = 'prod') => expectStatus(await query(sql, env), 200).json().rows as unknown[][];

  it('reads building with progress until the tenant can query the grant, then active; queries then succeed in both envs', async () => {
    expect((await grantOf(PEOPLE.name)).status).toBe('active');
    const created = expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/ready/grants', { dataset: LATE.name, purpose: '统计', until }), 201).json() as GrantView;
    // Nothing is published yet when the grant is answered.
    expect(created).toMatchObject({ dataset: LATE.name, status: 'building', progress: { done: 0, total: 2 } });
    const seen = new Set<string>();
    await waitUntil('the new grant to read active', async () => {
      const grant = await grantOf(LATE.name);
      seen.add(grant.status);
      if (grant.status === 'building') {
        expect(grant.progress!.total).toBe(2);
        expect(grant.progress!.done).toBeLessThan(2);
      }
      return grant.status === 'active';
    }, { deadlineMs: 120_000, intervalMs: 20 });
    // Active means queryable, at once, in both envs.
    expect(await rows(`SELECT count(*) FROM ${LATE.name}`)).toEqual([['200']]);
    expect(await rows(`SELECT count(*) FROM ${LATE.name}`, 'dev')).toEqual([['200']]);
    expect((await grantOf(LATE.name)).progress).toBeUndefined();
    expect((await grantOf(PEOPLE.name)).status).toBe('active');
  }, 180_000);

  it('reads building again when a policy changes it, until rebuilt', async () => {
    await t.app.controlPlane.refinery.idle();
    expectStatus(await t.call(SUPERVISOR, 'PUT', `/v1/datasets/${LATE.name}/policy`, { columns: { amount: { kind: 'hidden' } } }), 200);
    expect((await grantOf(LATE.name)).status).toBe('building');
    expect((await grantOf(PEOPLE.name)).status).toBe('active');
    await waitUntil('the changed grant to read active', async () => (await grantOf(LATE.name)).status === 'active', { deadlineMs: 120_000, intervalMs: 50 });
    const columns = expectStatus(await query(`SELECT * FROM ${LATE.name} LIMIT 1`), 200).json().columns.map((c: { name: string }) => c.name);
    expect(columns).toEqual(['id', 'kind']);
  }, 180_000);

  it('publishes one new version (one build, one audit entry) for a policy change to several columns', async () => {
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/ready/grants', { dataset: POLICY.name, purpose: '统计', until }), 201);
    await t.app.controlPlane.refinery.refresh('ready');
    await t.app.controlPlane.refinery.idle();
    const before = await grants();
    const buildsBefore = t.app.controlPlane.refinery.buildStats('ready').completed;
    const auditBefore = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?action=dataset.policy&target=dataset:${POLICY.name}&limit=1000`), 200).json().entries.length as number;

    expectStatus(await t.call(SUPERVISOR, 'PUT', `/v1/datasets/${POLICY.name}/policy`, { columns: { a: { kind: 'hidden' }, b: { kind: 'hidden' }, c: { kind: 'hidden' } } }), 200);
    await waitUntil('the policy change to be published', async () => (await grantOf(POLICY.name)).status === 'active', { deadlineMs: 120_000, intervalMs: 50 });
    await t.app.controlPlane.refinery.idle();

    const after = await grants();
    expect(after.grantedVersion).toBe(before.grantedVersion + 1);
    expect(after.devVersion).toBe(before.devVersion + 1);
    expect(t.app.controlPlane.refinery.buildStats('ready').completed).toBe(buildsBefore + 1);
    const audit = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?action=dataset.policy&target=dataset:${POLICY.name}&limit=1000`), 200).json().entries as { details: { columns: Record<string, unknown> } }[];
    expect(audit.length).toBe(auditBefore + 1);
    expect(audit.map((entry) => Object.keys(entry.details.columns).sort())).toContainEqual(['a', 'b', 'c']);
    // The one new version has all three columns hidden at once, in both envs.
    for (const env of ['prod', 'dev'] as const) {
      const columns = expectStatus(await query(`SELECT * FROM ${POLICY.name} LIMIT 1`, env), 200).json().columns.map((c: { name: string }) => c.name);
      expect(columns).toEqual(['id']);
    }
  }, 240_000);

  it('carries unchanged tables over with identical data and rebuilds only the changed one', async () => {
    await t.app.controlPlane.refinery.idle();
    const snapshot = async () => ({
      prod: await rows(`SELECT * FROM ${PEOPLE.name} ORDER BY ALL`),
      dev: await rows(`SELECT count(*) FROM ${PEOPLE.name}`, 'dev'),
      late: await rows(`SELECT * FROM ${LATE.name} ORDER BY ALL`),
      lateDev: await rows(`SELECT * FROM ${LATE.name} ORDER BY ALL`, 'dev'),
    });
    const before = await snapshot();
    const keysBefore = readTenantCatalog(tenantDirectory(t.dataDir, 'ready'));
    // Narrow the people grant to three columns: only that table's definition changes.
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/ready/grants', { dataset: PEOPLE.name, columns: ['id', 'label', 'district'], purpose: '统计', until }), 201);
    await waitUntil('the narrowed grant to read active', async () => (await grantOf(PEOPLE.name)).status === 'active', { deadlineMs: 120_000, intervalMs: 50 });
    await t.app.controlPlane.refinery.idle();

    const last = t.app.controlPlane.refinery.buildStats('ready').last!;
    for (const file of [last.granted, last.dev]) {
      expect(file.rebuilt).toEqual([PEOPLE.name]);
      expect(file.carried.sort()).toEqual([LATE.name, POLICY.name].sort());
    }
    const keysAfter = readTenantCatalog(tenantDirectory(t.dataDir, 'ready'));
    for (const target of ['granted', 'dev'] as const) {
      expect(keysAfter[target]!.builds[LATE.name]).toEqual(keysBefore[target]!.builds[LATE.name]);
      expect(keysAfter[target]!.builds[PEOPLE.name]!.key).not.toBe(keysBefore[target]!.builds[PEOPLE.name]!.key);
    }
    const after = await snapshot();
    expect(after.late).toEqual(before.late);
    expect(after.lateDev).toEqual(before.lateDev);
    // The rebuilt table is the grant's three columns of the same rows.
    expect(after.prod).toEqual(before.prod.map((row) => row.slice(0, 3)));
    expect(after.dev).toEqual(before.dev);
    const devColumns = expectStatus(await query(`SELECT * FROM ${PEOPLE.name} LIMIT 1`, 'dev'), 200).json().columns.map((c: { name: string }) => c.name);
    expect(devColumns).toEqual(['id', 'label', 'district']);
  }, 240_000);
});
