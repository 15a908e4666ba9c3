import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_DISCLOSURE_RULES } from '../desensitize/index.js';
import { removeLeftovers, type AnswerPairsEvent, type EngineStopped, type WipeRecord } from '../sandbox/index.js';
import { SYSTEM_ACTOR } from './audit/audit-entry.js';
import { createAuditService } from './audit/audit-service.js';
import { loadOrCreateAuditSigner } from './audit/signing-key.js';
import { checkOrgAccess } from './access.js';
import { createApplicantService } from './applicant-service.js';
import { todayFor } from './calendar.js';
import type { Claims } from './model.js';
import { OrgDirectory } from './org-directory.js';
import { openDuckDbControlStore } from './store/duckdb-control-store.js';
import { ProbeLimiter, probeLimitsFor } from './probe-limiter.js';
import { createQueryService, type QueryEngine, type QueryLimits } from './query-service.js';
import { createCatalogService, type CatalogEngine } from './catalog-service.js';
import { createGrantService, type PublishedVersions } from './grant-service.js';
import { AccessDirectory, policyFingerprint } from './lineage.js';
import { createRefinery, type PublishEngine, type Refinery } from './refinery.js';
import { exportFingerprintKey, loadOrCreateTokenMaster } from './token-keys.js';
import { createSchemaService, type SchemaEngine } from './schema-service.js';
import { createTableService, type TableEngine } from './table-service.js';
import { createTenantService } from './tenant-service.js';
import { createExportChecks } from './exports/export-checks.js';
import { removeExportLeftovers } from './exports/export-leftovers.js';
import { createExportService, DEFAULT_EXPORT_LIMITS, type ExportEngine, type ExportLimits } from './exports/export-service.js';

export interface ControlPlaneLog {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface ControlPlaneOptions {
  dataDir: string;
  /** IANA zone whose calendar days license windows are counted in. */
  timeZone: string;
  /** Append a signed audit checkpoint after this many entries. */
  auditCheckpointEvery: number;
  /** Also checkpoint at this interval when entries were added (0: never by time). */
  auditCheckpointIntervalMs: number;
  /** Values sampled per column for PII recognition at ingest. */
  piiSampleRows: number;
  /** How long saving a workspace table (CREATE TABLE … AS) may run. */
  tableTimeoutMs: number;
  log: ControlPlaneLog;
  /** The data plane: runs tenant queries, fences and closes a revoked tenant's engine before its files are wiped. */
  engine: QueryEngine & TableEngine & CatalogEngine & PublishEngine & SchemaEngine & ExportEngine & {
    retireTenant(tenantId: string): Promise<WipeRecord>;
    cancelTenant(tenantId: string): void;
    isRetired(tenantId: string): boolean;
    publishedCatalog(tenantId: string): PublishedVersions;
  };
  queryLimits: QueryLimits;
  /** Row caps, validity and download limit of exports; defaults when absent. */
  exportLimits?: ExportLimits;
  /** Injectable for tests of license expiry; defaults to the system clock. */
  clock?: () => Date;
  /** Whether the refinery carries unchanged tables over (default true; false only to measure against). */
  incrementalBuilds?: boolean;
}

export const CONTROL_DB_FILE = 'control.duckdb';
export const SECRETS_DIR = 'secrets';

/**
 * Opens the control plane over a data dir: the store (migrated), the audit signer, the directory of
 * organizations and the services. Removes what interrupted work left and finishes any revocation a
 * crash interrupted. The caller must `close()` it: that writes a final checkpoint and closes the
 * store.
 */
export async function openControlPlane(options: ControlPlaneOptions) {
  const clock = options.clock ?? (() => new Date());
  const today = todayFor(clock, options.timeZone);
  fs.mkdirSync(options.dataDir, { recursive: true });
  const firstStart = !fs.existsSync(path.join(options.dataDir, CONTROL_DB_FILE));
  const store = await openDuckDbControlStore({
    path: path.join(options.dataDir, CONTROL_DB_FILE),
    clock,
    onCallbackError: (error) => options.log.error({ err: error }, 'after-commit step failed'),
  });
  try {
    // Before any build or request, and only once the store's file lock says no other server runs
    // here: what interrupted work left half-done goes (its temp files hold raw data).
    const leftovers = removeLeftovers(options.dataDir);
    if (leftovers.length > 0) options.log.info({ files: leftovers }, 'removed what interrupted work left behind');
    const exportLeftovers = await removeExportLeftovers(options.dataDir, store);
    if (exportLeftovers.length > 0) options.log.info({ files: exportLeftovers }, 'removed export files no committed record accounts for');
    const signer = loadOrCreateAuditSigner(path.join(options.dataDir, SECRETS_DIR));
    const directory = new OrgDirectory(await store.reader.listTenants(), await store.reader.listApplicants());
    const tenants = createTenantService({ store, directory, dataDir: options.dataDir, now: clock, today, retireTenant: (id) => options.engine.retireTenant(id), cancelTenantWork: (id) => options.engine.cancelTenant(id), isRetired: (id) => options.engine.isRetired(id) });
    const probes = new ProbeLimiter(probeLimitsFor(options.queryLimits.maxRejectionsPerMinute), clock);
    // The catalog tells the refinery what changed; the refinery reads policies from the catalog.
    let refinery: Refinery | undefined;
    const access = new AccessDirectory(await store.reader.listGrants(), new Map());
    const catalog = createCatalogService({
      store, engine: options.engine, dataDir: options.dataDir, piiSampleRows: options.piiSampleRows, today, now: clock,
      onChanged: (id, fingerprint) => {
        // SECURITY: in the commit: copies made under the previous policies stop answering now.
        access.putPolicy(id, fingerprint);
        void refinery?.refreshDataset(id).catch((error: unknown) => options.log.error({ err: error, dataset: id }, 'refinery refresh failed'));
      },
      onWithdrawal: (id, withdrawn) => {
        // SECURITY: in the commit: a withdrawn dataset's copies stop answering now (lineage.ts).
        access.putWithdrawn(id, withdrawn);
        // Reinstated: tables that waited under a policy changed meanwhile are rebuilt now.
        if (!withdrawn) void refinery?.refreshDataset(id).catch((error: unknown) => options.log.error({ err: error, dataset: id }, 'refinery refresh failed'));
      },
    });
    for (const id of (await store.reader.listWithdrawals()).keys()) access.putWithdrawn(id, true);
    for (const { record } of await store.reader.listDatasets()) access.putPolicy(record.id, policyFingerprint((await catalog.policies(record.id)).columns));
    const assertTenantActive = (tenantId: string) => checkOrgAccess({ role: 'operator', org: tenantId, sub: 'engine' }, directory, today());
    const queries = createQueryService({
      store, engine: options.engine, limits: options.queryLimits, probes, access, today, assertTenantActive,
      rebuild: (tenantId) => void refinery?.refresh(tenantId),
    });
    const tables = createTableService({ store, engine: options.engine, access, timeoutMs: options.tableTimeoutMs, probes, now: clock, today, piiSampleRows: options.piiSampleRows, assertTenantActive });
    const tokenMaster = loadOrCreateTokenMaster(path.join(options.dataDir, SECRETS_DIR));
    refinery = createRefinery({ store, catalog, engine: options.engine, tokenMaster, today, log: options.log, afterBuild: (tenantId) => tables.reconcile(tenantId), incremental: options.incrementalBuilds ?? true });
    const grants = createGrantService({ store, directory, access, catalog, refinery, today, now: clock, publishedCatalog: (id) => options.engine.publishedCatalog(id) });
    const schema = createSchemaService({ engine: options.engine, catalog, access, today, assertTenantActive, rebuild: (tenantId) => void refinery?.refresh(tenantId) });
    const applicants = createApplicantService({ store, directory, now: clock });
    const exportLimits = options.exportLimits ?? DEFAULT_EXPORT_LIMITS;
    const exportChecks = createExportChecks({
      rowCap: exportLimits.rowCap,
      datasetColumns: async (dataset, version) => (await store.reader.datasetVersions(dataset)).find((v) => v.record.version === version)?.columns,
      workspaceTables: (tenantId) => store.reader.listWorkspaceTables(tenantId),
      minEntities: DEFAULT_DISCLOSURE_RULES.minEntities,
      difference: (task) => options.engine.exportDifference(task),
    });
    const exports = createExportService({
      store, engine: options.engine, checks: exportChecks, access, probes, dataDir: options.dataDir, limits: exportLimits, now: clock, today, assertTenantActive,
      minEntities: DEFAULT_DISCLOSURE_RULES.minEntities,
      fingerprintKey: (exportId, recipient) => exportFingerprintKey(tokenMaster, exportId, recipient),
    });
    const audit = await createAuditService({ store, signer, dataDir: options.dataDir, checkpointEvery: options.auditCheckpointEvery, log: options.log });
    const finished = await tenants.finishRevocations(SYSTEM_ACTOR);
    const refineExpired = () => refinery!.refreshExpired().catch((error: unknown) => options.log.error({ err: error }, 'refinery expiry check failed'));
    const startupRefine = refineExpired();
    // Packages past their validity are marked expired (audited) and their data files deleted, also when nobody asks for them.
    const expireExports = () => exports.expireDue().catch((error: unknown) => options.log.error({ err: error }, 'export expiry check failed'));
    const startupExpire = expireExports();
    const expiryTimer = setInterval(() => {
      void refineExpired();
      void expireExports();
    }, 60 * 60 * 1000).unref();
    if (finished.length > 0) options.log.info({ tenants: finished }, 'finished interrupted revocations');
    const timer = options.auditCheckpointIntervalMs > 0
      ? setInterval(() => audit.checkpoint().catch((error: unknown) => options.log.error({ err: error }, 'audit checkpoint failed')), options.auditCheckpointIntervalMs).unref()
      : undefined;

    return {
      firstStart,
      tenants,
      applicants,
      exports,
      queries,
      tables,
      catalog,
      grants,
      schema,
      refinery: refinery as Refinery,
      audit,
      today,
      /** What the tenant's engine may run over now (AccessDirectory `admissible`), for callers of the engine other than the services (tests). */
      admissible: (tenantId: string) => access.admissible(tenantId, today()),
      /** An engine process was killed or crashed: the supervisor sees it in the audit. */
      engineStopped(event: EngineStopped): void {
        const target = event.owner === 'trusted' ? 'engine:trusted' : `tenant:${event.owner}`;
        store.mutate((tx) => tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'engine.stopped', target, details: { ...event } }))
          .catch((error: unknown) => options.log.error({ err: error }, 'could not audit an engine failure'));
      },
      /**
       * Two of a tenant's prod answers cover almost the same people (1 to threshold - 1 apart): each
       * passed its own checks, but together they may give those people's values by subtraction. The
       * supervisor sees both queries by their SQL hashes (`query.run` entries) in the audit.
       */
      answerPairs(tenantId: string, event: AnswerPairsEvent): void {
        const details = { sqlSha256: event.sqlSha256, pairs: event.pairs.length, smallestDifference: Math.min(...event.pairs.map((p) => p.difference)), examples: event.pairs.slice(0, 20) };
        store.mutate((tx) => tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'query.differencing', target: `tenant:${tenantId}`, details }))
          .catch((error: unknown) => options.log.error({ err: error }, 'could not audit a differencing pair'));
      },
      /** Throws a DomainError when the caller's organization may not act today. */
      checkAccess: (claims: Claims) => checkOrgAccess(claims, directory, today()),
      ping: () => store.ping(),
      async close(): Promise<void> {
        if (timer) clearInterval(timer);
        clearInterval(expiryTimer);
        await startupRefine;
        await startupExpire;
        await refinery!.close();
        try {
          await audit.checkpoint();
        } finally {
          await store.close();
        }
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

export type ControlPlane = Awaited<ReturnType<typeof openControlPlane>>;
