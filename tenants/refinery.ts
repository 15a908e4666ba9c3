import { createHmac } from 'node:crypto';
import { classifyPublished, compilePolicySelect, entityColumnOf, isJoinKind, planTwins, twinSql, type ColumnPolicy, type JoinKind, type KeyedDataset } from '../desensitize/index.js';
import { isDomainError } from '../core/errors.js';
import type { PublishResult, TableDefinition } from '../sandbox/index.js';
import type { CatalogService } from './catalog-service.js';
import { accessFingerprint, policyFingerprint } from './lineage.js';
import type { DatasetColumn } from './model.js';
import type { ControlStore } from './store/control-store.js';
import { entityKey, tenantTokenKey } from './token-keys.js';

/** What the refinery needs of the engine (the sandbox's EngineClient). */
export interface PublishEngine {
  publish(task: { tenantId: string; target: 'granted' | 'dev'; tables: TableDefinition[]; attach: Record<string, { dataset: string; file: string }> }): Promise<PublishResult>;
}

/** Rows of a synthetic twin: like the raw table, capped so dev files stay small. */
const MAX_TWIN_ROWS = 100_000;
/**
 * Twins linked by shared identifiers are scaled alike (so joins keep their rates both ways), down to
 * the scale of the largest; none below this many rows, or its dataset's size.
 */
const MIN_TWIN_ROWS = 1_000;
/** A failed build is tried again after 1 s, doubling to a minute, until it succeeds. */
const RETRY_MS = { first: 1_000, max: 60_000 } as const;

/**
 * The refinery (DESIGN.md §3): builds a tenant's next granted file (its live grants, each dataset
 * through its column policies with the tenant's token key) and dev file (the same policies over a
 * synthetic twin of each raw table), then the engine swaps them in. Every table carries its source
 * (dataset, version, access fingerprint: `lineage.ts`), so a copy made under an older policy or
 * grant stops answering as soon as the change is accepted, whether or not this build has finished.
 *
 * Runs off the request path, one build at a time per tenant; a change while a build runs queues
 * exactly one more. A failed build (an operator crashing its engine during the swap, a full disk) is
 * retried with backoff until it succeeds or the tenant is revoked: until then the tenant's queries
 * over the changed datasets are refused, never answered from the looser version. After each build,
 * `afterBuild` brings the tenant's derived workspace tables in line (rebuilt or dropped).
 */
export function createRefinery(deps: {
  store: ControlStore;
  catalog: CatalogService;
  engine: PublishEngine;
  tokenMaster: Buffer;
  today: () => string;
  log: { error(obj: object, msg: string): void };
  afterBuild: (tenantId: string) => Promise<void>;
}) {
  const builds = new Map<string, { running: Promise<void>; again: boolean }>();
  /** The day each tenant's files were last built: an expiry after it needs a rebuild. */
  const builtOn = new Map<string, string>();
  let stopping = false;
  const wakers = new Set<() => void>();

  async function build(tenantId: string): Promise<void> {
    const today = deps.today();
    const grants = (await deps.store.reader.listGrants(tenantId)).filter((g) => g.until >= today);
    const tokenKey = tenantTokenKey(deps.tokenMaster, tenantId);
    const entityKeyOf = entityKey(deps.tokenMaster);
    const granted: TableDefinition[] = [];
    const dev: TableDefinition[] = [];
    const attach: Record<string, { dataset: string; file: string }> = {};
    const live = await Promise.all(grants.map(async (grant) => ({ grant, ...(await deps.catalog.policies(grant.dataset)) })));
    // Issue #10: identifier columns draw from shared populations, laid out from the measured overlaps.
    const twins = planTwins(live.map(({ record, columns }) => keyedDataset(record, columns)), {
      maxRows: MAX_TWIN_ROWS, minRows: MIN_TWIN_ROWS, populationSeed: (kind) => populationSeed(deps.tokenMaster, kind), seedOf: (d) => seedOf(d.id, d.version),
    });
    for (const { grant, record, columns } of live) {
      const source = { dataset: record.id, version: record.version, policy: accessFingerprint(policyFingerprint(columns), grant.columns) };
      const kept = grant.columns ? columns.filter((c) => grant.columns!.includes(c.name)) : columns;
      const policies = kept.map((c) => ({ name: c.name, policy: c.policy as ColumnPolicy }));
      const alias = `d_${grant.dataset}`;
      // Entities are counted on the dataset's identifier, whether or not the grant or policy shows it.
      const entityColumn = entityColumnOf(columns.map((c) => ({ name: c.name, piiKind: c.pii?.kind ?? null })));
      const entity = entityColumn === undefined ? undefined : { column: entityColumn, key: entityKeyOf, normalization: columns.find((c) => c.name === entityColumn)!.pii!.kind === 'resident_id' ? 'resident_id' as const : 'identifier' as const };
      const grantedSql = compilePolicySelect(policies, { tokenKey, today, entity }, `${alias}.data`);
      if (!grantedSql) continue;
      attach[alias] = { dataset: record.id, file: record.file };
      const privacy = classifyPublished(kept.map((c) => ({ name: c.name, type: c.type, piiKind: c.pii?.kind ?? null, policy: c.policy as ColumnPolicy })), entity !== undefined);
      granted.push({ name: grant.dataset, sql: grantedSql, source, ...(privacy.personal ? { privacy } : {}) });
      const plan = twins.get(record.id);
      const twin = twinSql(columns.map(toTwinColumn), plan?.rows ?? Math.min(record.rows, MAX_TWIN_ROWS), seedOf(record.id, record.version), plan?.keys);
      dev.push({ name: grant.dataset, sql: compilePolicySelect(policies, { tokenKey, today }, `(${twin})`)!, source });
    }
    await deps.engine.publish({ tenantId, target: 'granted', tables: granted, attach });
    await deps.engine.publish({ tenantId, target: 'dev', tables: dev, attach: {} });
    builtOn.set(tenantId, today);
  }

  /** Waits `ms`, or less when the refinery stops. */
  function pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      wakers.add(wake);
    });
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
          let failures = 0;
          do {
            state.again = false;
            try {
              await build(tenantId);
              failures = 0;
              await deps.afterBuild(tenantId);
            } catch (error) {
              // A revoked tenant has nothing left to build.
              if (isDomainError(error) && error.code === 'AUTH_ERR_TENANT_REVOKED') return;
              deps.log.error({ err: error, tenant: tenantId, failures: failures + 1 }, 'refinery build failed; retrying');
              // SECURITY: a failed build is never the end: the looser version stays refused until one succeeds.
              state.again = !stopping;
              await pause(Math.min(RETRY_MS.max, RETRY_MS.first * 2 ** failures++));
            }
          } while (state.again && !stopping);
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

    /** Stops retrying (shutdown) and waits for builds in progress. */
    async close(): Promise<void> {
      stopping = true;
      for (const wake of [...wakers]) wake();
      await this.idle();
    },

    /**
     * Rebuilds tenants whose files may still hold a grant that has since ended (run at start and
     * periodically). Queries are refused the moment a grant ends (lineage.ts); this removes the
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

/** A dataset's identifier columns with what ingest measured of them (profiles from before issue #10 have none). */
function keyedDataset(record: { id: string; version: number; rows: number }, columns: DatasetColumn[]): KeyedDataset {
  return {
    id: record.id, version: record.version, rows: record.rows,
    columns: columns.flatMap((c) => {
      const kind = c.pii?.kind;
      return isJoinKind(kind) && c.keys ? [{ name: c.name, kind, nullShare: c.nullShare, keys: c.keys, links: c.links ?? [] }] : [];
    }),
  };
}

/**
 * The seed of a kind's synthetic population, the same for every dataset and tenant of this data
 * dir, different between data dirs: derived from the token master (one-way; it needs no secrecy of
 * its own, and a new file would be one more thing to back up). Kept above the per-dataset seeds.
 */
function populationSeed(master: Buffer, kind: JoinKind): number {
  return 1_000_000 + (createHmac('sha256', master).update(`indomain.twin-population.v1.${kind}`).digest().readUInt32BE(0) % 1_000_000_000);
}

/** A stable seed per dataset version: the same twin every time it is rebuilt. */
function seedOf(id: string, version: number): number {
  let hash = 2166136261;
  for (const ch of `${id}@${version}`) hash = Math.imul(hash ^ ch.charCodeAt(0), 16777619) >>> 0;
  return hash % 1_000_000;
}
