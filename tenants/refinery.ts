import path from 'node:path';
import { compilePolicySelect, twinSql, type ColumnPolicy } from '../desensitize/index.js';
import { tenantDirectory, type PublishResult, type TableDefinition } from '../sandbox/index.js';
import type { CatalogService } from './catalog-service.js';
import type { DatasetColumn } from './model.js';
import type { ControlStore } from './store/control-store.js';
import { tenantTokenKey } from './token-keys.js';

/** What the refinery needs of the engine (the sandbox's EngineClient). */
export interface PublishEngine {
  publish(task: { tenantId: string; tenantDir: string; target: 'granted' | 'dev'; tables: TableDefinition[]; attach: Record<string, string> }): Promise<PublishResult>;
}

/** Rows of a synthetic twin: like the raw table, capped so dev files stay small. */
const MAX_TWIN_ROWS = 100_000;

/**
 * The refinery (DESIGN.md §3): builds a tenant's next granted file (its live grants, each dataset
 * through its column policies with the tenant's token key) and dev file (the same policies over a
 * synthetic twin of each raw table), then the engine swaps them in. Runs off the request path, one
 * build at a time per tenant; a change while a build runs queues exactly one more.
 */
export function createRefinery(deps: { store: ControlStore; catalog: CatalogService; engine: PublishEngine; dataDir: string; tokenMaster: Buffer; today: () => string; log: { error(obj: object, msg: string): void } }) {
  const builds = new Map<string, { running: Promise<void>; again: boolean }>();
  /** The day each tenant's files were last built: an expiry after it needs a rebuild. */
  const builtOn = new Map<string, string>();

  async function build(tenantId: string): Promise<void> {
    const today = deps.today();
    builtOn.set(tenantId, today);
    const grants = (await deps.store.reader.listGrants(tenantId)).filter((g) => g.until >= today);
    const tokenKey = tenantTokenKey(deps.tokenMaster, tenantId);
    const granted: TableDefinition[] = [];
    const dev: TableDefinition[] = [];
    const attach: Record<string, string> = {};
    for (const grant of grants) {
      const { record, columns } = await deps.catalog.policies(grant.dataset);
      const kept = grant.columns ? columns.filter((c) => grant.columns!.includes(c.name)) : columns;
      const policies = kept.map((c) => ({ name: c.name, policy: c.policy as ColumnPolicy }));
      const alias = `d_${grant.dataset}`;
      const grantedSql = compilePolicySelect(policies, { tokenKey, today }, `${alias}.data`);
      if (!grantedSql) continue;
      attach[alias] = path.join(deps.dataDir, 'domain', record.id, record.file);
      granted.push({ name: grant.dataset, sql: grantedSql });
      const twin = twinSql(columns.map(toTwinColumn), Math.min(record.rows, MAX_TWIN_ROWS), seedOf(record.id, record.version));
      dev.push({ name: grant.dataset, sql: compilePolicySelect(policies, { tokenKey, today }, `(${twin})`)! });
    }
    const tenantDir = tenantDirectory(deps.dataDir, tenantId);
    await deps.engine.publish({ tenantId, tenantDir, target: 'granted', tables: granted, attach });
    await deps.engine.publish({ tenantId, tenantDir, target: 'dev', tables: dev, attach: {} });
  }

  return {
    /** Schedules a rebuild of a tenant's files; resolves when the files that reflect this call are in place. */
    refresh(tenantId: string): Promise<void> {
      const current = builds.get(tenantId);
      if (current) {
        current.again = true;
        return current.running;
      }
      const state = { running: Promise.resolve(), again: false };
      state.running = (async () => {
        try {
          do {
            state.again = false;
            await build(tenantId).catch((error: unknown) => deps.log.error({ err: error, tenant: tenantId }, 'refinery build failed'));
          } while (state.again);
        } finally {
          builds.delete(tenantId);
        }
      })();
      builds.set(tenantId, state);
      return state.running;
    },

    /** Resolves when no build is running (before shutdown). */
    async idle(): Promise<void> {
      while (builds.size > 0) await Promise.all([...builds.values()].map((b) => b.running));
    },

    /**
     * Rebuilds tenants whose files may still hold a grant that has since ended (run at start and
     * periodically). Queries are refused the moment a grant ends (query service); this removes the
     * data from the files too.
     */
    async refreshExpired(): Promise<void> {
      const today = deps.today();
      const stale = new Set((await deps.store.reader.listGrants())
        .filter((g) => g.until < today && (builtOn.get(g.tenantId) ?? '') <= g.until)
        .map((g) => g.tenantId));
      await Promise.all([...stale].map((tenantId) => this.refresh(tenantId)));
    },

    /** Rebuilds every tenant that holds a grant on `datasetId` (after a policy change or a new version). */
    async refreshDataset(datasetId: string): Promise<void> {
      const holders = new Set((await deps.store.reader.listGrants()).filter((g) => g.dataset === datasetId).map((g) => g.tenantId));
      await Promise.all([...holders].map((tenantId) => this.refresh(tenantId)));
    },
  };
}

export type Refinery = ReturnType<typeof createRefinery>;

function toTwinColumn(c: DatasetColumn) {
  return { name: c.name, type: c.type, nullShare: c.nullShare, min: c.min, max: c.max, topValues: c.topValues, quantiles: c.quantiles ?? null, piiKind: c.pii?.kind ?? null };
}

/** A stable seed per dataset version: the same twin every time it is rebuilt. */
function seedOf(id: string, version: number): number {
  let hash = 2166136261;
  for (const ch of `${id}@${version}`) hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619) >>> 0;
  return hash % 1_000_000;
}
