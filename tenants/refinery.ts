import { createHmac } from 'node:crypto';
import { canShowDoubt, classifyPublished, compileDoubtfulKeys, compileMergedKeys, compilePolicySelect, entityCandidates, entityNormalization, isJoinKind, planTwins, twinNullShare, twinSql, witnessKindOf, IN_TEXT_KINDS, type ColumnPolicy, type DoubtSource, type EntityKeyOptions, type JoinKind, type KeyedDataset, type TwinColumn } from '../desensitize/index.js';
import { isDomainError } from '../core/errors.js';
import type { PublishResult, SourceRef, TableDefinition } from '../sandbox/index.js';
import { entityOfVersion, isPersonalVersion, wasEverPersonal, type CatalogService } from './catalog-service.js';
import { accessFingerprint, policyFingerprint } from './lineage.js';
import type { DatasetColumn, DatasetRecord } from './model.js';
import type { ControlStore } from './store/control-store.js';
import { entityKey, tenantTokenKey } from './token-keys.js';

/** What the refinery needs of the engine (the sandbox's EngineClient). */
export interface PublishEngine {
  publish(task: { tenantId: string; target: 'granted' | 'dev'; tables: TableDefinition[]; attach: Record<string, { dataset: string; file: string }>; keyCorrections?: string; incremental?: boolean }): Promise<PublishResult>;
}

/** A published file: its version, the tables built from the domain and those carried over unchanged. */
export interface FileBuild { version: number; rebuilt: string[]; carried: string[] }
export interface BuildStats { completed: number; last?: { granted: FileBuild; dev: FileBuild } }

/** What the next build of a tenant's files will hold: its tables' definitions, by env. */
interface BuildPlan {
  granted: TableDefinition[];
  dev: TableDefinition[];
  attach: Record<string, { dataset: string; file: string }>;
  /** The domain's corrections of entity keys (BuildTask `keyCorrections`), over datasets in `attach` (undefined: none can be). */
  keyCorrections?: string;
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
 *
 * Every build defines every table; the engine rebuilds only the tables whose definition changed and
 * carries the others over from the current file (`sandbox/engine/publish.ts`), so a new grant costs
 * the new dataset, not the tenant's whole domain. A change to several policies of a dataset is one
 * fingerprint, one refresh and therefore one new version of each file.
 */
export function createRefinery(deps: {
  store: ControlStore;
  catalog: CatalogService;
  engine: PublishEngine;
  tokenMaster: Buffer;
  today: () => string;
  log: { error(obj: object, msg: string): void; info(obj: object, msg: string): void };
  afterBuild: (tenantId: string) => Promise<void>;
  /** Carry unchanged tables over (default); false builds every table from the domain each time. */
  incremental?: boolean;
}) {
  const builds = new Map<string, { running: Promise<void>; again: boolean }>();
  /** The day each tenant's files were last built: an expiry after it needs a rebuild. */
  const builtOn = new Map<string, string>();
  let stopping = false;
  const wakers = new Set<() => void>();

  /** Builds completed per tenant (both files published) and what the last one rebuilt and carried. */
  const completed = new Map<string, BuildStats>();

  /** The tables a build now would publish for the tenant (its live grants under today's policies). */
  async function plan(tenantId: string, today: string): Promise<BuildPlan> {
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
      // The column ingest settled (declared, or recognition's unambiguous choice).
      const entity = entityKeyOptions({ record, columns }, entityKeyOf);
      const grantedSql = compilePolicySelect(policies, { tokenKey, today, entity }, `${alias}.data`);
      if (!grantedSql) continue;
      attach[alias] = { dataset: record.id, file: record.file };
      const personal = await wasEverPersonal(deps.store.reader, record.id);
      const privacy = classifyPublished(kept.map((c) => ({ name: c.name, type: c.type, piiKind: c.pii?.kind ?? null, policy: c.policy as ColumnPolicy })), { entity: entity !== undefined, personal });
      granted.push({ name: grant.dataset, sql: grantedSql, source, ...(privacy.personal ? { privacy } : {}) });
      const plan = twins.get(record.id);
      const twin = twinSql(columns.map((c) => toTwinColumn(c, record.rows, personal)), plan?.rows ?? Math.min(record.rows, MAX_TWIN_ROWS), seedOf(record.id, record.version), plan?.keys, personal);
      dev.push({ name: grant.dataset, sql: compilePolicySelect(policies, { tokenKey, today }, `(${twin})`)!, source });
    }
    const keyCorrections = await domainKeyCorrections(entityKeyOf, attach);
    return { granted, dev, attach, ...(keyCorrections ? { keyCorrections } : {}) };
  }

  /**
   * The SQL of the domain's corrections of entity keys: the doubtful keys (compileDoubtfulKeys),
   * person NULL, and one person's identifiers merged into their resident ID's or passport's key
   * (compileMergedKeys): over every version of every dataset with an entity column (withdrawn or
   * not, granted to this tenant or not: a key is shared or not whoever holds the dataset, and a
   * later version does not unsay an earlier one), each attached under its own alias (a grant's for
   * the current version).
   */
  async function domainKeyCorrections(entityKeyOf: Buffer, attach: BuildPlan['attach']): Promise<string | undefined> {
    const sources: DoubtSource[] = [];
    for (const { record: current } of await deps.store.reader.listDatasets()) {
      for (const version of await deps.store.reader.datasetVersions(current.id)) {
        const alias = version.record.version === current.version ? `d_${current.id}` : `h${version.record.version}_${current.id}`;
        const source = doubtSource(version, `${alias}.data`);
        if (!source) continue;
        attach[alias] = { dataset: current.id, file: version.record.file };
        sources.push(source);
      }
    }
    const doubtful = compileDoubtfulKeys(sources, entityKeyOf);
    const merged = compileMergedKeys(sources, entityKeyOf);
    if (!doubtful) return undefined;
    const keyless = `SELECT entity, NULL::VARCHAR AS person FROM (${doubtful})`;
    return merged ? `${keyless}\nUNION ALL\nSELECT entity, person FROM (${merged})` : keyless;
  }

  async function build(tenantId: string): Promise<void> {
    const today = deps.today();
    const { granted, dev, attach, keyCorrections } = await plan(tenantId, today);
    const incremental = deps.incremental ?? true;
    const started = performance.now();
    // Both files build at once (the engine swaps them one after the other). Both are settled before
    // a failure fails the build, so a retry never overlaps a publish of this one.
    const [prodOutcome, twinOutcome] = await Promise.allSettled([
      deps.engine.publish({ tenantId, target: 'granted', tables: granted, attach, ...(keyCorrections ? { keyCorrections } : {}), incremental }),
      deps.engine.publish({ tenantId, target: 'dev', tables: dev, attach: {}, incremental }),
    ]);
    if (prodOutcome.status === 'rejected') throw prodOutcome.reason;
    if (twinOutcome.status === 'rejected') throw twinOutcome.reason;
    const [prod, twin] = [prodOutcome.value, twinOutcome.value];
    builtOn.set(tenantId, today);
    // A build that changed nothing (e.g. requested by a query that met a stale copy meanwhile rebuilt) publishes nothing.
    if (prod.unchanged && twin.unchanged) return;
    const summary = (r: PublishResult) => ({ version: r.version, rebuilt: r.rebuilt, carried: r.carried });
    completed.set(tenantId, { completed: (completed.get(tenantId)?.completed ?? 0) + 1, last: { granted: summary(prod), dev: summary(twin) } });
    deps.log.info({ tenant: tenantId, ms: Math.round(performance.now() - started), granted: { version: prod.version, rebuilt: prod.rebuilt, carried: prod.carried }, dev: { version: twin.version, rebuilt: twin.rebuilt, carried: twin.carried } }, 'refinery build published');
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

    /**
     * The source each live grant's table will carry once built (dataset, current version, access
     * fingerprint), by dataset; a grant whose every column is hidden publishes no table and is absent.
     */
    async expectedSources(tenantId: string): Promise<Map<string, SourceRef>> {
      const { granted } = await plan(tenantId, deps.today());
      return new Map(granted.map((t) => [t.name, t.source]));
    },

    /** How many builds published a new version of the tenant's files since start, and what the last one did. */
    buildStats(tenantId: string): BuildStats {
      return completed.get(tenantId) ?? { completed: 0 };
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

    /**
     * Rebuilds every tenant that holds a grant on `datasetId` (after a policy change or a new
     * version); every tenant with a grant when the dataset can tell of shared keys (doubtSource: the
     * doubtful keys are the whole domain's; a build that changes nothing publishes nothing).
     */
    async refreshDataset(datasetId: string): Promise<void> {
      const version = (await deps.store.reader.listDatasets()).find((d) => d.record.id === datasetId);
      const domainWide = version !== undefined && doubtSource(version, '') !== undefined;
      const holders = new Set((await deps.store.reader.listGrants()).filter((g) => domainWide || g.dataset === datasetId).map((g) => g.tenantId));
      await Promise.all([...holders].map((tenantId) => this.refresh(tenantId)));
    },
  };
}

export type Refinery = ReturnType<typeof createRefinery>;

/** Identifier kinds of enterprises: judged as a dataset's entity only (an employer's code beside its employees is not theirs). */
const ENTERPRISE_KINDS = new Set(['uscc']);

/**
 * What a dataset version tells of shared keys (DoubtSource), or undefined when nothing: its entity
 * column and other identifier columns of people, beside what witnesses who a row's person is
 * (witnessKindOf); a dataset without an entity column too (its rows are counted nowhere, but its
 * identifiers are the keys of other datasets), and the mobiles and resident IDs its free text
 * holds. A fixed-line column is judged as a mobile: a clerk's mobile written in a column of
 * landlines is the key of a mobile elsewhere (red-team pass 33a); a real fixed-line number makes no
 * key.
 */
function doubtSource(version: { record: DatasetRecord; columns: readonly DatasetColumn[] }, from: string): DoubtSource | undefined {
  const counted = entityOfVersion(version);
  const kinds = version.columns.map((c) => ({ name: c.name, piiKind: c.pii?.kind ?? null }));
  const others = [...entityCandidates(kinds), ...kinds.filter((c) => c.piiKind === 'fixed_line')]
    .filter((c) => c.name !== counted?.column && !ENTERPRISE_KINDS.has(c.piiKind!));
  const inText = kinds.filter((c) => c.piiKind === 'free_text').flatMap((c) => IN_TEXT_KINDS.map((kind) => ({ column: c.name, kind, inText: true })));
  const identifiers = [...(counted ? [counted] : []), ...others.map((c) => ({ column: c.name, kind: c.piiKind === 'fixed_line' ? 'mobile' : c.piiKind! })), ...inText]
    .map((identifier) => ({ ...identifier, normalization: entityNormalization(identifier.kind) }));
  const people = version.columns.find((c) => c.name === counted?.column)?.distinctEstimate;
  const witnesses = version.columns.flatMap((c) => {
    const kind = witnessKindOf({ name: c.name, type: c.type, piiKind: c.pii?.kind ?? null, values: [c.min, c.max, ...(c.topValues ?? []).map((v) => v.value)], distinct: c.distinctEstimate,
      ...(c.nullPeople ? { valuedPeople: c.nullPeople.valued } : {}) }, people);
    return kind ? [{ column: c.name, kind }] : [];
  });
  const source = { from, identifiers, witnesses, recordedOn: version.record.createdAt.slice(0, 10), entity: counted?.column };
  return canShowDoubt(source) ? source : undefined;
}

/**
 * How a dataset version's entity keys are made: on the column ingest settled (declared, or
 * recognition's unambiguous choice), whether or not a grant or policy shows it; undefined without one.
 */
function entityKeyOptions(version: { record: DatasetRecord; columns: readonly DatasetColumn[] }, key: Buffer): EntityKeyOptions | undefined {
  const counted = entityOfVersion(version);
  return counted && { column: counted.column, key, normalization: entityNormalization(counted.kind) };
}

function toTwinColumn(c: DatasetColumn, rows: number, personal: boolean): TwinColumn {
  return {
    name: c.name, type: c.type, nullShare: twinNullShare(c, personal), min: c.min, max: c.max, topValues: c.topValues, quantiles: c.quantiles ?? null, quantilePeople: c.quantilePeople, ends: c.ends,
    profiledRows: Math.round(rows * (1 - c.nullShare)), piiKind: c.pii?.kind ?? null,
  };
}

/** A dataset's identifier columns with what ingest measured of them (profiles from before issue #10 have none). */
function keyedDataset(record: { id: string; version: number; rows: number }, columns: DatasetColumn[]): KeyedDataset {
  const personal = isPersonalVersion({ record, columns });
  return {
    id: record.id, version: record.version, rows: record.rows,
    columns: columns.flatMap((c) => {
      const kind = c.pii?.kind;
      return isJoinKind(kind) && c.keys ? [{ name: c.name, kind, nullShare: twinNullShare(c, personal), keys: c.keys, links: c.links ?? [] }] : [];
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
