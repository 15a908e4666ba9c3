import { SYSTEM_ACTOR } from '../../tenants/audit/audit-entry.js';
import { expectStatus } from './expect-status.js';
import { licenseAround, SUPERVISOR, type TestApp } from './test-app.js';

/** A dataset for a test: its id (also the table name tenants see) and trusted generating SQL. */
export interface FixtureDataset {
  name: string;
  sql: string;
  /** The column each row is about, when recognition finds identifiers of different people (the metadata's `entity`). */
  entity?: string;
}

/** What each app has ingested, so two tests cannot silently give one dataset two contents. */
const ingested = new WeakMap<TestApp, Map<string, string>>();

/**
 * Licenses a tenant and grants it datasets through the real pipeline: each dataset is ingested into
 * the raw domain (trusted generating SQL, as the demo domain is), recognized personal data is set
 * plain with a reason so the rows stay as written, the grant is made by the supervisor, and the
 * refinery's build is awaited. The tenant's prod tables are then the datasets as written; its dev
 * tables are their synthetic twins. Dataset ids are global: a second tenant granted the same
 * dataset sees the same rows.
 */
export async function licenseTenantWithData(t: TestApp, tenantId: string, datasets: FixtureDataset[]): Promise<void> {
  const license = licenseAround(new Date(), -1, 100);
  expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: tenantId, name: tenantId, ...license }), 201);
  for (const dataset of datasets) {
    await ensureDataset(t, dataset);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${tenantId}/grants`, { dataset: dataset.name, purpose: 'test fixture', until: license.licenseTo }), 201);
  }
  await t.app.controlPlane.refinery.refresh(tenantId);
}

/** Ingests a dataset once per app (its personal data set plain, with a reason). */
export async function ensureDataset(t: TestApp, dataset: FixtureDataset): Promise<void> {
  const known = ingested.get(t) ?? new Map<string, string>();
  ingested.set(t, known);
  const sql = known.get(dataset.name);
  if (sql !== undefined) {
    if (sql !== dataset.sql) throw new Error(`dataset ${dataset.name} was already ingested with other rows: give this one another name`);
    return;
  }
  known.set(dataset.name, dataset.sql);
  const view = await t.app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, {
    id: dataset.name, name: dataset.name, provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none',
    updateFrequency: 'once', acquiredAt: new Date().toISOString().slice(0, 10), ...(dataset.entity === undefined ? {} : { entity: dataset.entity }),
  }, dataset.sql);
  const personal = ('columns' in view ? view.columns : []).filter((c) => 'pii' in c && c.pii);
  if (personal.length > 0) {
    const columns = Object.fromEntries(personal.map((c) => [c.name, { kind: 'plain', reason: 'test fixture: rows stay as written' }]));
    expectStatus(await t.call(SUPERVISOR, 'PUT', `/v1/datasets/${dataset.name}/policy`, { columns }), 200);
  }
}

/** A small residents table; `marker` ends up in every name so leaks are easy to spot. */
export function residents(marker: string, rows = 50, name = 'residents'): FixtureDataset {
  return { name, sql: `SELECT range AS id, '${marker}-' || range AS name, range % 7 AS district FROM range(${rows})` };
}
