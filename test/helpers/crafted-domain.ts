import { SYSTEM_ACTOR } from '../../tenants/audit/audit-entry.js';
import { expectStatus } from './expect-status.js';
import { licenseAround, SUPERVISOR, startTestApp, type TestApp } from './test-app.js';

/** A dataset's profile as a supervisor reads it, as far as the red-team files look. */
export interface CraftedProfile {
  entity: string | null;
  version: number;
  columns: { name: string; type: string; pii: { kind: string } | null }[];
}

const META = { provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'monthly' } as const;

/**
 * The red-team files' domain: `start` (in beforeAll) starts a test app with tenant `org` licensed for
 * 100 days and the application entity `applicant`; `ingest` takes a dataset crafted in SQL through
 * the trusted pipeline (what a provider could hand the platform), sets its personal columns plain
 * with a reason (the supervisor's choice: rows stay as written) and grants it to the tenant;
 * `refresh` builds the tenant's tables once every dataset is in.
 */
export function craftedDomain(org: string, applicant: { id: string; name: string }, purpose: string, env: Record<string, string> = {}) {
  let app: TestApp | undefined;
  const t = (): TestApp => {
    if (!app) throw new Error('craftedDomain: call start() first');
    return app;
  };
  const profileOf = async (dataset: string) => expectStatus(await t().call(SUPERVISOR, 'GET', `/v1/datasets/${dataset}`), 200).json() as CraftedProfile;
  return {
    async start(): Promise<TestApp> {
      app = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '1000', INDOMAIN_LOG_LEVEL: 'error', ...env } });
      expectStatus(await app.call(SUPERVISOR, 'POST', '/v1/tenants', { id: org, name: org, ...licenseAround(new Date(), -1, 100) }), 201);
      expectStatus(await app.call(SUPERVISOR, 'POST', '/v1/applicants', applicant), 201);
      return app;
    },
    profileOf,
    /** Each column's recognized kind (null: none), by name. */
    kindsOf: async (dataset: string): Promise<Record<string, string | null>> => Object.fromEntries((await profileOf(dataset)).columns.map((c) => [c.name, c.pii?.kind ?? null])),
    /** `entity` declares the dataset's entity column; `plain: false` keeps the default policies, `grant: false` grants nothing. */
    async ingest(id: string, sql: string, options: { entity?: string; plain?: boolean; grant?: boolean } = {}): Promise<void> {
      await t().app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, { id, name: id, ...META, acquiredAt: new Date().toISOString().slice(0, 10), ...(options.entity ? { entity: options.entity } : {}) }, sql);
      const personal = options.plain === false ? [] : (await profileOf(id)).columns.filter((c) => c.pii);
      if (personal.length > 0) {
        const columns = Object.fromEntries(personal.map((c) => [c.name, { kind: 'plain', reason: `${purpose}: rows stay as written` }]));
        expectStatus(await t().call(SUPERVISOR, 'PUT', `/v1/datasets/${id}/policy`, { columns }), 200);
      }
      if (options.grant !== false) expectStatus(await t().call(SUPERVISOR, 'POST', `/v1/tenants/${org}/grants`, { dataset: id, purpose, until: licenseAround(new Date(), -1, 100).licenseTo }), 201);
    },
    refresh: () => t().app.controlPlane.refinery.refresh(org),
  };
}
