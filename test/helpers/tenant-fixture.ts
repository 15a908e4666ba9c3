import type { TableDefinition } from '../../sandbox/index.js';
import { tenantDirectory } from '../../sandbox/index.js';
import { licenseAround, SUPERVISOR, type TestApp } from './test-app.js';

/** Licenses a tenant and publishes fixture tables into its granted and dev files (trusted path). */
export async function licenseTenantWithData(t: TestApp, tenantId: string, tables: { granted: TableDefinition[]; dev: TableDefinition[] }): Promise<void> {
  const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: tenantId, name: tenantId, ...licenseAround(new Date(), -1, 100) });
  if (res.statusCode !== 201) throw new Error(`cannot license ${tenantId}: ${res.body}`);
  const tenantDir = tenantDirectory(t.dataDir, tenantId);
  for (const target of ['granted', 'dev'] as const) {
    await t.app.engine.publish({ tenantId, tenantDir, target, attach: {}, tables: tables[target] });
  }
}

/** A small residents table; `marker` ends up in every name so leaks are easy to spot. */
export function residents(marker: string, rows = 50): TableDefinition {
  return { name: 'residents', sql: `SELECT range AS id, '${marker}-' || range AS name, range % 7 AS district FROM range(${rows})` };
}
