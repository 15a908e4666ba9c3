import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { DomainError, isDomainError } from '../../core/errors.js';
import { DISPLAY_CONTROLS } from '../../core/text.js';
import { quoteIdentifier } from '../../desensitize/index.js';
import {
  exportVersionDirectory, hashFile, type DeliveredFile, type DerivedSnapshot, type DifferencingResult, type ExportFormat, type ExportMitigation, type SuppressionSummary,
  type Admissible, type ExportRows, type ExportSnapshot, type ExportSnapshotResult, type PersonLevel, type SourceRef,
} from '../../sandbox/index.js';
import { SYSTEM_ACTOR, type AuditActor } from '../audit/audit-entry.js';
import { assertLicensed, failureOf } from '../access.js';
import { AccessDirectory, assertNotStopped, assertSourcesCurrent, runAdmitted } from '../lineage.js';
import type { Claims } from '../model.js';
import { FAILED_PERSON_CHECKS, probingOutcome, UNCHECKABLE_BY_DATA, type ProbeLimiter } from '../probe-limiter.js';
import { auditedSql } from '../query-service.js';
import type { ControlStore, StoreReader, StoreTransaction } from '../store/control-store.js';
import { datasetsOf, DIFFERENCING_CHECK, differencingOutcome, type DifferenceTask, type ExportCheckInput, type ExportChecks } from './export-checks.js';
import type {
  Check, CreateExport, CreateReview, ExportRecord, ExportSource, ExportStatus, ExportVersionRecord, Mitigation, NewVersion, ReviewRecord, Withheld,
} from './export-model.js';
import { describeChanges, type VersionChanges } from './version-diff.js';
import { buildManifest, readManifest, removePackage, WITHHELD_NOTE, writeManifest, type Manifest, type ManifestView, type SourceDataset } from './package-builder.js';
import { assertCanMakeVersion, assertCanWithdraw, approvalsNeeded, decideDownload, decideReview, decideSubmit, worstOutcome } from './review-flow.js';

/** What the export service needs of the engine (the sandbox's EngineClient). */
export interface ExportEngine {
  exportSnapshot(task: { tenantId: string; exportId: string; version: number; sql: string; maxRows: number; timeoutMs: number; admissible: Admissible }): Promise<ExportSnapshotResult>;
  exportDerive(task: { exportId: string; fromVersion: number; version: number; mitigation: ExportMitigation }): Promise<DerivedSnapshot>;
  exportRead(task: { exportId: string; version: number; limit: number }): Promise<ExportRows>;
  exportDeliver(task: { exportId: string; version: number; format: ExportFormat; fingerprintKey: string }): Promise<DeliveredFile>;
  /** The differencing check of a version's cells (`export-checks.ts`). */
  exportDifference(task: DifferenceTask): Promise<DifferencingResult>;
  /** Differencing again at approval and, when nothing is too close, the version's cells added to the release store. */
  exportRelease(task: { exportId: string; version: number; tenantId: string; recipient: string; datasets: string[]; minEntities: number }): Promise<DifferencingResult>;
  exportUnrelease(task: { exportId: string; version: number; tenantId: string; datasets: string[] }): Promise<void>;
}

export interface ExportLimits {
  /** Rows beyond which an output needs review. */
  rowCap: number;
  /** Rows beyond which an export is refused outright (disk and memory). */
  maxRows: number;
  /** How long the snapshot query may run. */
  timeoutMs: number;
  /** Days a package may be downloaded after approval. */
  validityDays: number;
  /** Downloads allowed per package. */
  maxDownloads: number;
}

export const DEFAULT_EXPORT_LIMITS: ExportLimits = { rowCap: 100_000, maxRows: 1_000_000, timeoutMs: 60_000, validityDays: 30, maxDownloads: 3 };

const PREVIEW_ROWS = 20;
/** Outputs up to this many rows get a cell-by-cell diff against the previous version. */
const DIFF_MAX_ROWS = 1_000;
const CONTENT_TYPES: Record<ExportFormat, string> = {
  csv: 'text/csv; charset=utf-8',
  parquet: 'application/vnd.apache.parquet',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

/** What a version becomes before it is stored. */
type VersionDraft = Omit<ExportVersionRecord, 'exportId' | 'version' | 'createdAt' | 'createdBy'>;

/**
 * Exports (出域审核): the one door through which results leave the domain (DESIGN.md §3.5, issue 11).
 * An operator asks for an export of a gated prod query or a prod workspace table to a registered
 * application entity; the output is snapshotted inside the domain, checked (`export-checks.ts`),
 * submitted, reviewed by supervisors (`review-flow.ts`), packaged for its recipient on approval
 * (`package-builder.ts`), and downloaded by that recipient only, within its validity and download
 * limit. Every step is audited. Work on one export is serialized (one state change at a time).
 */
export function createExportService(deps: {
  store: ControlStore;
  engine: ExportEngine;
  checks: ExportChecks;
  access: AccessDirectory;
  probes: ProbeLimiter;
  dataDir: string;
  limits: ExportLimits;
  now: () => Date;
  today: () => string;
  /** Throws when the tenant may not act now (suspended, revoked, license over). */
  assertTenantActive: (tenantId: string) => void;
  /** Entities below which a cell discloses (the differencing threshold at approval, as in the checks). */
  minEntities: number;
  /** The recipient's fingerprint key for an export (`token-keys.ts`), derived from the token master. */
  fingerprintKey: (exportId: string, recipient: string) => Buffer;
}) {
  const busy = new Map<string, Promise<unknown>>();
  /** Approvals add to the release store one at a time, across all exports (see `release`). */
  let releasing: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every earlier piece of work on the same export. */
  async function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const run = (busy.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    busy.set(id, run);
    try {
      return await run;
    } finally {
      if (busy.get(id) === run) busy.delete(id);
    }
  }

  const target = (id: string) => `export:${id}`;
  const nowIso = () => deps.now().toISOString();

  async function load(id: string): Promise<ExportRecord> {
    const record = await deps.store.reader.getExport(id);
    if (!record) throw notFound(id);
    return record;
  }

  /** The export if the caller may see it; else "not found" (its existence is not disclosed). */
  async function visible(claims: Claims, id: string): Promise<ExportRecord> {
    const record = await load(id);
    if (!mayView(claims, record)) throw notFound(id);
    return record;
  }

  /** The export if it belongs to the calling operator's tenant. */
  async function owned(claims: Claims, id: string): Promise<ExportRecord> {
    const record = await load(id);
    // SECURITY: tenant isolation: an operator acts only on its own tenant's exports.
    if (claims.role !== 'operator' || record.tenantId !== claims.org) throw notFound(id);
    return record;
  }

  async function currentVersion(record: ExportRecord): Promise<ExportVersionRecord> {
    const version = (await deps.store.reader.exportVersions(record.id)).find((v) => v.version === record.currentVersion);
    if (!version) throw new Error(`export ${record.id} has no version ${record.currentVersion}`);
    return version;
  }

  /** The SQL of a source: a table source must be the tenant's own workspace table built in prod. */
  async function sqlOf(tenantId: string, source: ExportSource): Promise<string> {
    if ('sql' in source) return source.sql;
    const table = (await deps.store.reader.listWorkspaceTables(tenantId)).find((t) => t.name === source.table);
    // SECURITY: only the caller's own tables are looked up: another tenant's name is simply unknown.
    if (!table) throw new DomainError('EXP_ERR_SOURCE_NOT_FOUND', `no workspace table ${source.table}`);
    // SECURITY: exports leave from the real data: a table built from the synthetic twin, or an upload, is not exported.
    if (table.env !== 'prod') throw new DomainError('EXP_ERR_SOURCE_NOT_PROD', `workspace table ${source.table} was ${table.env === 'upload' ? 'uploaded' : `built in ${table.env}`}, not computed from prod`);
    return `SELECT * FROM workspace.main.${quoteIdentifier(source.table)}`;
  }

  /** Snapshots a source through the gate, then checks it. Removes the version's directory on failure. */
  async function snapshotSource(tenantId: string, sub: string, exportId: string, version: number, source: ExportSource): Promise<VersionDraft> {
    const sql = await sqlOf(tenantId, source);
    const admission = deps.probes.admit(tenantId, sub);
    let result: ExportSnapshotResult;
    try {
      result = await runAdmitted(deps.access, tenantId, deps.today, (admissible) => deps.engine.exportSnapshot({ tenantId, exportId, version, sql, maxRows: deps.limits.maxRows, timeoutMs: deps.limits.timeoutMs, admissible }));
      // SECURITY: invariant 6: a snapshot of a tenant suspended or revoked while it ran is not kept.
      deps.assertTenantActive(tenantId);
      // SECURITY: invariants 6 and 9: nothing computed from a grant that ended or a policy that changed leaves.
      assertSourcesCurrent(deps.access, tenantId, result.sources, deps.today());
      // SECURITY: what reviewers and the recipient read as a column's name is its name: names from
      // data (an upload's header, a PIVOT over values) are not checked by the gate's text rule.
      const hidden = result.columns.findIndex((c) => DISPLAY_CONTROLS.test(c.name));
      if (hidden >= 0) throw new DomainError('EXP_ERR_COLUMN_NAME', `the name of column ${hidden + 1} holds characters that change how text is shown (control characters, bidirectional marks, zero-width characters): name it with AS`, { column: hidden + 1 });
    } catch (failure) {
      removeVersion(exportId, version);
      const error = failureOf(failure, () => deps.assertTenantActive(tenantId));
      const code = isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED';
      // SECURITY: invariant 8: an export's shape that cannot be checked is a `review` outcome, not a
      // refusal; a refusal as uncheckable comes from the run (a companion that failed, too many
      // groups, rows two groups match), which the rows may have decided: counted, as for prod answers.
      admission.settle(code === 'DSC_ERR_UNCHECKABLE' ? UNCHECKABLE_BY_DATA : probingOutcome(code, 'prod'));
      throw error;
    }
    const { tables, sources, personLevel, ...snapshot } = result;
    let draft: VersionDraft;
    try {
      draft = await checked(tenantId, exportId, version, { source, sql, tables, sources, mitigation: null }, snapshot, personLevel);
    } catch (error) {
      removeVersion(exportId, version);
      admission.settle(isDomainError(error) ? error.code : 'SRV_ERR_INTERNAL');
      throw error;
    }
    admission.settle(answersAboutPeople(draft, personLevel) ? FAILED_PERSON_CHECKS : 'ok');
    return draft;
  }

  /**
   * Whether a version over personal data was decided by its data in a way one person can decide:
   * a failing check (person-level, or differencing against earlier releases), person-level checks
   * the data made underivable (a join repeating rows), or a row count the checks did not judge
   * person by person: an empty output whose checks ran (it asks for review: nobody matched), or one
   * past the row cap. An output whose checks could not be derived for its shape says nothing of
   * whether it is empty or past the cap (`empty-output` and `row-cap` review it either way), so
   * neither does this.
   */
  function answersAboutPeople(draft: VersionDraft, personLevel: PersonLevel | undefined): boolean {
    if (!personLevel) return false;
    // SECURITY: invariant 8: such an outcome can answer a question about one person: counted as probing.
    if (draft.checks.some((c) => c.status === 'fail')) return true;
    return 'checks' in personLevel ? draft.rowCount === 0 || draft.checks.some((c) => c.name === 'row-cap' && c.status === 'review') : personLevel.byData === true;
  }

  /**
   * A version made from the previous one by a mitigation, in the trusted process, on the previous
   * snapshot and the statistics measured with it; then every check runs again on what it is now.
   */
  async function mitigate(tenantId: string, previous: ExportVersionRecord, next: number, input: Extract<NewVersion, { mitigation: string }>): Promise<VersionDraft> {
    const exportId = previous.exportId;
    const task: ExportMitigation = input.mitigation === 'round5'
      ? { kind: 'round5', columns: [...new Set(input.columns)] }
      : { kind: 'suppress', cells: failingCells(previous) };
    let derived: DerivedSnapshot;
    try {
      derived = await deps.engine.exportDerive({ exportId, fromVersion: previous.version, version: next, mitigation: task });
    } catch (error) {
      removeVersion(exportId, next);
      throw error;
    }
    const { personLevel, suppression, suppressedCells, ...snapshot } = derived;
    const withheld = withheldAfter(previous.mitigation?.withheld ?? null, suppression, suppressedCells.length);
    const mitigation: Mitigation = task.kind === 'round5'
      ? { kind: 'round5', columns: task.columns, fromVersion: previous.version, ...(withheld ? { withheld } : {}) }
      : { kind: 'suppress', fromVersion: previous.version, removedRows: suppression!.removedRows, withheld: withheld! };
    const base = { source: previous.source, sql: previous.sql, tables: previous.tables, sources: previous.sources, mitigation };
    return checked(tenantId, exportId, next, base, snapshot, personLevel, {
      suppressedCells: suppressedCells.map(([row, column]) => ({ row, column: snapshot.columns[column]?.name ?? String(column) })),
      withheld: withheld ?? undefined,
    });
  }

  async function checked(
    tenantId: string, exportId: string, version: number, base: Pick<VersionDraft, 'source' | 'sql' | 'tables' | 'sources' | 'mitigation'>, snapshot: ExportSnapshot, personLevel?: PersonLevel,
    suppression?: Pick<ExportCheckInput, 'suppressedCells' | 'withheld'>,
  ): Promise<VersionDraft> {
    let checks: Check[];
    try {
      checks = await deps.checks.runChecks({ tenantId, exportId, version, snapshot, sources: base.sources, tables: base.tables, columns: snapshot.columns, rowCount: snapshot.rowCount, personLevel, ...suppression });
    } catch (error) {
      removeVersion(exportId, version);
      throw error;
    }
    return {
      ...base,
      snapshot: { file: snapshot.file, sha256: snapshot.sha256, bytes: snapshot.bytes },
      rowCount: snapshot.rowCount,
      columns: snapshot.columns,
      checks,
      outcome: worstOutcome(checks),
    };
  }

  function removeVersion(exportId: string, version: number): void {
    fs.rmSync(exportVersionDirectory(deps.dataDir, exportId, version), { recursive: true, force: true });
  }

  /** Audits a stored version: one entry for the version, one per check outcome. */
  async function auditVersion(tx: StoreTransaction, actor: AuditActor, action: 'export.create' | 'export.version', record: ExportRecord, version: ExportVersionRecord): Promise<void> {
    await tx.appendAudit({
      actor, action, target: target(record.id), details: {
        tenant: record.tenantId, recipient: record.recipient, purpose: record.purpose, format: record.format,
        version: version.version, source: 'table' in version.source ? { table: version.source.table } : { sql: true }, ...auditedSql(version.sql),
        mitigation: auditedMitigation(version.mitigation), rows: version.rowCount, snapshotSha256: version.snapshot.sha256, tables: version.tables, sources: version.sources,
        outcome: version.outcome, checks: version.checks.map((c) => ({ name: c.name, status: c.status })),
      },
    });
    for (const check of version.checks) {
      await tx.appendAudit({ actor, action: 'export.check', target: target(record.id), details: { version: version.version, name: check.name, status: check.status, reason: check.reason, ...(check.rows === undefined ? {} : { rows: check.rows }) } });
    }
  }

  /** Source datasets with their catalog facts (provider, acquisition date); unknown ones say so. */
  async function sourceDatasets(sources: readonly SourceRef[]): Promise<SourceDataset[]> {
    const out: SourceDataset[] = [];
    for (const source of sources) {
      const entry = (await deps.store.reader.datasetVersions(source.dataset)).find((v) => v.record.version === source.version);
      out.push({ dataset: source.dataset, version: source.version, name: entry?.record.name ?? null, provider: entry?.record.provider ?? null, acquiredAt: entry?.record.acquiredAt ?? null });
    }
    return out;
  }

  /** An export past its validity becomes `expired` (audited once), and its data file is removed. */
  async function expire(record: ExportRecord): Promise<ExportRecord> {
    const updated: ExportRecord = { ...record, status: 'expired', updatedAt: nowIso() };
    const committed = await deps.store.mutate(async (tx) => {
      const fresh = await tx.reader.getExport(record.id);
      if (!fresh || fresh.status === 'expired') return false;
      await tx.updateExport(updated);
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'export.expire', target: target(record.id), details: { version: record.package?.version ?? null, validUntil: record.package?.validUntil ?? null } });
      return true;
    });
    // SECURITY: an expired package's data file leaves the disk; the manifest stays as the record of what was released.
    if (committed && record.package) removePackage(deps.dataDir, record.id, record.package.version, { keepManifest: true });
    return updated;
  }

  /** Expires an approved or released export whose validity is over, before anyone reads it. */
  async function current(record: ExportRecord): Promise<ExportRecord> {
    if ((record.status === 'approved' || record.status === 'released') && record.package && nowIso() >= record.package.validUntil) {
      return serialized(record.id, async () => {
        const fresh = await load(record.id);
        return fresh.status === 'approved' || fresh.status === 'released' ? expire(fresh) : fresh;
      });
    }
    return record;
  }

  /**
   * Builds the package of an approved version (data file and manifest) before the approval commits:
   * if the commit fails, the package is removed again.
   */
  async function buildPackage(record: ExportRecord, version: ExportVersionRecord, reviews: ReviewRecord[]): Promise<{ manifest: Manifest; pkg: NonNullable<ExportRecord['package']> }> {
    removePackage(deps.dataDir, record.id, version.version, { keepManifest: false });
    const delivered = await deps.engine.exportDeliver({
      exportId: record.id, version: version.version, format: record.format,
      fingerprintKey: deps.fingerprintKey(record.id, record.recipient).toString('hex'),
    });
    // One reading of the clock, so the manifest's validity is exactly the configured days.
    const packaged = deps.now();
    const packagedAt = packaged.toISOString();
    const validUntil = new Date(packaged.getTime() + deps.limits.validityDays * 86_400_000).toISOString();
    const manifest = buildManifest({
      record, version, reviews, justifications: record.submission?.justifications ?? {}, delivered, packagedAt, validUntil,
      maxDownloads: deps.limits.maxDownloads, sources: await sourceDatasets(version.sources),
    });
    writeManifest(deps.dataDir, manifest);
    return { manifest, pkg: { version: version.version, file: delivered.file, sha256: delivered.sha256, bytes: delivered.bytes, builtAt: packagedAt, validUntil, maxDownloads: deps.limits.maxDownloads } };
  }

  /**
   * Differencing again at approval, against every release (those made since the version was
   * checked included), and the version's cells added to the release store when none is too close
   * (run by `oneApprovalAtATime`). When the version now fails (or its cells can no
   * longer be compared though they could before), the approval is refused with
   * EXP_ERR_CHECKS_STALE, the new outcome is audited and the export goes back to the operator
   * (`changes_requested`, with the platform's own review saying why): a new version or a
   * mitigation is needed. Returns the release key to
   * undo when the approval does not commit, or null when nothing was added (no cells).
   */
  async function release(actor: AuditActor, record: ExportRecord, version: ExportVersionRecord): Promise<{ exportId: string; version: number; tenantId: string; datasets: string[] } | null> {
    const datasets = datasetsOf(version.sources);
    if (datasets.length === 0) return null;
    const key = { exportId: record.id, version: version.version, tenantId: record.tenantId, datasets };
    let result: DifferencingResult;
    try {
      result = await deps.engine.exportRelease({ ...key, recipient: record.recipient, minEntities: deps.minEntities });
    } catch {
      // SECURITY: fail closed: a release whose comparison could not run is not approved.
      result = { missing: 'the comparison with earlier releases could not run' };
    }
    const recorded = version.checks.find((c) => c.name === DIFFERENCING_CHECK);
    const now = differencingOutcome(result, deps.minEntities);
    // No cells and none expected (no personal table, row-level, or already judged by reviewers): nothing to keep.
    if ('missing' in result && recorded?.status !== 'pass') return null;
    if (!('missing' in result) && result.pairs.length === 0) return result.released ? key : null;
    return sendBack(actor, record, version, now.reason, { name: now.name, status: now.status, was: recorded?.status ?? null });
  }

  /**
   * Refuses an approval with EXP_ERR_CHECKS_STALE and sends the export back to its operator
   * (`changes_requested`, the platform's own review saying why: versions are immutable, and reviews
   * are shown to the operator), audited as a stale check.
   */
  async function sendBack(actor: AuditActor, record: ExportRecord, version: ExportVersionRecord, reason: string, check: { name: string; status: string; was: string | null }): Promise<never> {
    const at = nowIso();
    const updated: ExportRecord = { ...record, status: 'changes_requested', updatedAt: at };
    const request: ReviewRecord = {
      exportId: record.id, version: version.version, reviewerSub: SYSTEM_ACTOR.sub, reviewerOrg: SYSTEM_ACTOR.org, decision: 'request_changes',
      comment: `checked again at approval: ${reason}`, createdAt: at,
    };
    await deps.store.mutate(async (tx) => {
      await tx.updateExport(updated);
      await tx.insertExportReview(request);
      // SECURITY: the supervisors see why the approval was refused: which cells are too close (and to which of the tenant's own releases), or which source changed.
      await tx.appendAudit({ actor, action: 'export.check', target: target(record.id), details: { version: version.version, name: check.name, status: check.status, reason, stale: true, was: check.was } });
    });
    throw new DomainError('EXP_ERR_CHECKS_STALE', `the version's checks are out of date: ${reason}. The export went back to its operator for a new version`);
  }

  /**
   * Sends the export back when what the version was computed from has changed since it was made: a
   * policy or grant (a column hidden since, say: the same SQL could no longer read it), or a newer
   * version of a dataset (one without a data subject who objected, say). Its snapshot holds the
   * older data; a new version from the source holds the current. Packages approved before a change
   * are not recalled (docs/exports.md).
   */
  async function assertSourcesUnchanged(actor: AuditActor, record: ExportRecord, version: ExportVersionRecord): Promise<void> {
    const changed = await changedSources(deps.store.reader, record, version);
    // SECURITY: invariants 4 and 9: an approval is a release; what the sources no longer hold or show is not released.
    if (changed.length > 0) await sendBack(actor, record, version, `${changed.join(', ')} changed after this version was made (its policy, the grant, or a newer version of the data): make a new version from the source`, { name: 'sources', status: 'fail', was: null });
  }

  /** The datasets of the version whose policy, grant or data (a newer version) changed since it was made. */
  async function changedSources(reader: Pick<StoreReader, 'datasetVersions'>, record: ExportRecord, version: ExportVersionRecord): Promise<string[]> {
    const changed = new Set(version.sources.filter((s) => {
      const verdict = deps.access.verdict(record.tenantId, s, deps.today());
      return !verdict.ok && verdict.reason === 'changed';
    }).map((s) => s.dataset));
    for (const source of version.sources) {
      const [latest] = await reader.datasetVersions(source.dataset);
      if (latest && latest.record.version > source.version) changed.add(source.dataset);
    }
    return [...changed];
  }

  /**
   * Final approvals run one at a time across all exports, from their comparison with earlier
   * releases to their commit or its undo: two versions checked before either was released could
   * otherwise each pass and both be released, and another export was sent back for the cells of an
   * approval whose commit was then refused, a release that never happened (red-team pass 19b).
   */
  function oneApprovalAtATime<T>(work: () => Promise<T>): Promise<T> {
    const run = releasing.catch(() => undefined).then(work);
    releasing = run;
    return run;
  }

  /**
   * assertTenantActive and assertGrantsLive as a transaction reads the store (its batch's earlier
   * writes included): the in-memory directories learn of a suspension, revocation, grant's end or
   * withdrawal only after its commit, so a check made before a commit can be stale at the commit.
   */
  async function assertLiveInTransaction(tx: StoreTransaction, record: ExportRecord, version: ExportVersionRecord): Promise<void> {
    assertLicensed(record.tenantId, await tx.reader.getTenant(record.tenantId), deps.today());
    const access = new AccessDirectory(await tx.reader.listGrants(record.tenantId), new Map());
    for (const dataset of (await tx.reader.listWithdrawals()).keys()) access.putWithdrawn(dataset, true);
    assertNotStopped(access, record.tenantId, version.sources, deps.today(), ': the export cannot be delivered');
  }

  /** Throws when a grant behind the version has ended or its dataset was withdrawn: nothing of it leaves. */
  function assertGrantsLive(record: ExportRecord, version: ExportVersionRecord): void {
    // SECURITY: invariants 4 and 6: a grant that ended, or a dataset withdrawn, stops delivery of what was computed from it.
    assertNotStopped(deps.access, record.tenantId, version.sources, deps.today(), ': the export cannot be delivered');
  }

  return {
    async create(actor: AuditActor, tenantId: string, input: CreateExport) {
      // SECURITY: invariant 4: an export goes only to an application entity a supervisor registered.
      if (!(await deps.store.reader.getApplicant(input.recipient))) {
        throw new DomainError('EXP_ERR_RECIPIENT_UNKNOWN', `${input.recipient} is not a registered application entity`);
      }
      // SECURITY: invariant 4: never to the exporting tenant itself (ids registered as both before
      // the directory kept them apart: an org id names one organization).
      if (input.recipient === tenantId || (await deps.store.reader.getTenant(input.recipient))) {
        throw new DomainError('EXP_ERR_RECIPIENT_UNKNOWN', `${input.recipient} is an operating entity's id, not an application entity's: results leave the domain only to application entities`);
      }
      const id = `exp-${randomBytes(8).toString('hex')}`;
      const at = nowIso();
      const record: ExportRecord = {
        id, tenantId, recipient: input.recipient, purpose: input.purpose, format: input.format, status: 'draft', currentVersion: 1,
        submission: null, package: null, createdAt: at, createdBy: actor.sub, updatedAt: at,
      };
      try {
        const draft = await snapshotSource(tenantId, actor.sub, id, 1, input.source);
        const version: ExportVersionRecord = { ...draft, exportId: id, version: 1, createdAt: at, createdBy: actor.sub };
        await deps.store.mutate(async (tx) => {
          // SECURITY: checked again in the commit, as for a new version (passes 17d, 19b).
          deps.assertTenantActive(tenantId);
          assertSourcesCurrent(deps.access, tenantId, version.sources, deps.today());
          await tx.insertExport(record);
          await tx.insertExportVersion(version);
          await auditVersion(tx, actor, 'export.create', record, version);
        });
        return summary(record, version);
      } catch (error) {
        // Nothing half-done, and the refusal audited.
        fs.rmSync(path.dirname(exportVersionDirectory(deps.dataDir, id, 1)), { recursive: true, force: true });
        const sql = 'sql' in input.source ? auditedSql(input.source.sql) : { table: input.source.table };
        await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'export.create', target: `tenant:${tenantId}`, details: { recipient: input.recipient, format: input.format, ...sql, outcome: isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED' } }));
        throw error;
      }
    },

    /** A new version: new SQL or table, or a mitigation of the current one. Its reviews start again. */
    async newVersion(actor: AuditActor, claims: Claims, id: string, input: NewVersion) {
      return serialized(id, async () => {
        const record = await owned(claims, id);
        const next = record.currentVersion + 1;
        try {
          assertCanMakeVersion(record.status);
          const previous = await currentVersion(record);
          let draft: VersionDraft;
          if ('source' in input) {
            draft = await snapshotSource(record.tenantId, actor.sub, id, next, input.source);
          } else {
            // SECURITY: invariants 6 and 9: a mitigation of data whose grant ended or policy changed is not made.
            assertSourcesCurrent(deps.access, record.tenantId, previous.sources, deps.today());
            draft = await mitigate(record.tenantId, previous, next, input);
          }
          const at = nowIso();
          const version: ExportVersionRecord = { ...draft, exportId: id, version: next, createdAt: at, createdBy: actor.sub };
          const updated: ExportRecord = { ...record, status: 'draft', currentVersion: next, submission: null, updatedAt: at };
          try {
            await deps.store.mutate(async (tx) => {
              // SECURITY: checked again in the commit: a tenant suspended, a grant that ended, a dataset
              // withdrawn or a policy changed while the version was made stops it (passes 17d, 19b).
              deps.assertTenantActive(record.tenantId);
              assertSourcesCurrent(deps.access, record.tenantId, version.sources, deps.today());
              await tx.insertExportVersion(version);
              await tx.updateExport(updated);
              await auditVersion(tx, actor, 'export.version', updated, version);
            });
          } catch (error) {
            removeVersion(id, next);
            throw error;
          }
          return summary(updated, version);
        } catch (error) {
          // SECURITY: invariant 5: a refused version is audited like a refused export.
          if (isDomainError(error)) await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'export.version', target: target(id), details: { version: next, outcome: error.code } }));
          throw error;
        }
      });
    },

    async submit(actor: AuditActor, claims: Claims, id: string, input: { justifications?: Record<string, string> | undefined }) {
      return serialized(id, async () => {
        const record = await owned(claims, id);
        const version = await currentVersion(record);
        const justifications = decideSubmit({ status: record.status, outcome: version.outcome, checks: version.checks, justifications: input.justifications });
        const at = nowIso();
        const updated: ExportRecord = { ...record, status: 'submitted', submission: { version: version.version, justifications, submittedAt: at, submittedBy: actor.sub }, updatedAt: at };
        await deps.store.mutate(async (tx) => {
          await tx.updateExport(updated);
          await tx.appendAudit({ actor, action: 'export.submit', target: target(id), details: { version: version.version, outcome: version.outcome, justifications } });
        });
        return summary(updated, version);
      });
    },

    async withdraw(actor: AuditActor, claims: Claims, id: string) {
      return serialized(id, async () => {
        const record = await owned(claims, id);
        assertCanWithdraw(record.status);
        const updated: ExportRecord = { ...record, status: 'withdrawn', updatedAt: nowIso() };
        await deps.store.mutate(async (tx) => {
          await tx.updateExport(updated);
          await tx.appendAudit({ actor, action: 'export.withdraw', target: target(id), details: { version: record.currentVersion, from: record.status } });
        });
        // SECURITY: invariant 4: a withdrawn package is not left on disk for anyone.
        if (record.package) removePackage(deps.dataDir, id, record.package.version, { keepManifest: true });
        return summary(updated, await currentVersion(updated));
      });
    },

    /** A supervisor's review of the version it names; enough approvals build the package. */
    async review(actor: AuditActor, id: string, input: CreateReview) {
      return serialized(id, async () => {
        const record = await load(id);
        const version = await currentVersion(record);
        const previous = (await deps.store.reader.exportReviews(id)).filter((r) => r.version === record.currentVersion);
        // SECURITY: a refused review is audited too (an operator's own approval, a second one by the same supervisor, a fail outcome): supervisors see who tried.
        const refuse = async (error: DomainError) => {
          await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'export.review', target: target(id), details: { version: input.version, decision: input.decision, outcome: error.code } }));
          return error;
        };
        let next: ExportStatus;
        try {
          next = decideReview(
            { status: record.status, currentVersion: record.currentVersion, outcome: version.outcome, authors: [record.createdBy, version.createdBy], reviews: previous },
            { reviewerSub: actor.sub, version: input.version, decision: input.decision, comment: input.comment },
          );
          if (input.decision === 'approve') {
            // SECURITY: invariant 6: nothing of a suspended or revoked tenant, an ended grant or a
            // withdrawn dataset is approved, the first of two approvals included (pass 17d).
            deps.assertTenantActive(record.tenantId);
            assertGrantsLive(record, version);
          }
        } catch (error) {
          throw isDomainError(error) ? await refuse(error) : error;
        }
        const at = nowIso();
        const review: ReviewRecord = { exportId: id, version: version.version, reviewerSub: actor.sub, reviewerOrg: actor.org, decision: input.decision, comment: input.comment?.trim() || null, createdAt: at };
        let updated: ExportRecord = { ...record, status: next, updatedAt: at };
        let packaged: Awaited<ReturnType<typeof buildPackage>> | undefined;
        let released: Awaited<ReturnType<typeof release>> = null;
        let stale = false;
        /** Records the review (and the package): checked again in the commit; undone when refused. */
        const commit = async () => {
          try {
            await deps.store.mutate(async (tx) => {
              if (input.decision === 'approve') {
                // SECURITY: invariants 6 and 9: checked again in the commit (a package takes seconds to
                // build): a tenant suspended, a grant ended or a dataset withdrawn meanwhile stops the
                // approval (passes 17d, 19b and 28b), the first of two approvals included.
                await assertLiveInTransaction(tx, record, version);
                // SECURITY: invariant 9: and for the final one, a policy changed or a newer version of
                // the data published meanwhile (say, without a person who objected) sends it back.
                stale = next === 'approved' && (await changedSources(tx.reader, record, version)).length > 0;
                if (stale) throw new DomainError('EXP_ERR_CHECKS_STALE', 'a source changed while the package was built');
              }
              await tx.insertExportReview(review);
              await tx.updateExport(updated);
              await tx.appendAudit({
                actor, action: 'export.review', target: target(id),
                details: { version: version.version, decision: input.decision, outcome: 'ok', comment: review.comment, status: next, approvalsNeeded: approvalsNeeded(version.outcome) },
              });
              if (packaged) {
                await tx.appendAudit({
                  actor, action: 'export.package', target: target(id),
                  details: { version: version.version, recipient: record.recipient, format: record.format, file: packaged.pkg.file, sha256: packaged.pkg.sha256, bytes: packaged.pkg.bytes, validUntil: packaged.pkg.validUntil, maxDownloads: packaged.pkg.maxDownloads,
                    fingerprint: { tokenColumns: packaged.manifest.fingerprint.tokenColumns, markedColumns: packaged.manifest.fingerprint.markedColumns.map((c) => c.column) } },
                });
              }
            });
          } catch (error) {
            if (packaged) removePackage(deps.dataDir, id, version.version, { keepManifest: false });
            if (released) await deps.engine.exportUnrelease(released);
            // A source changed: the export goes back to its operator, as when that is found before the build.
            if (stale) await assertSourcesUnchanged(actor, record, version);
            throw isDomainError(error) ? await refuse(error) : error;
          }
          return summary(updated, version, true);
        };
        if (next !== 'approved') return commit();
        // A final approval: the package is built first, on this export's turn only (it can take
        // minutes), then the comparison with earlier releases and the commit take the platform's
        // one turn (pass 20a: a slow build held every tenant's approvals).
        await assertSourcesUnchanged(actor, record, version);
        try {
          packaged = await buildPackage(record, version, [...previous, review]);
        } catch (error) {
          // Nothing half-done: what the build wrote goes.
          removePackage(deps.dataDir, id, version.version, { keepManifest: false });
          throw isDomainError(error) ? await refuse(error) : error;
        }
        updated = { ...updated, package: packaged.pkg };
        return oneApprovalAtATime(async () => {
          try {
            released = await release(actor, record, version);
          } catch (error) {
            removePackage(deps.dataDir, id, version.version, { keepManifest: false });
            // Sent back as stale by `release` (audited there), or refused.
            throw isDomainError(error) && error.code !== 'EXP_ERR_CHECKS_STALE' ? await refuse(error) : error;
          }
          return commit();
        });
      });
    },

    /** Expires every approved or released export past its validity; returns how many it expired. */
    async expireDue(): Promise<number> {
      let expired = 0;
      for (const record of await deps.store.reader.listExports()) {
        if ((await current(record)).status === 'expired' && record.status !== 'expired') expired += 1;
      }
      return expired;
    },

    async list(claims: Claims) {
      const records = await deps.store.reader.listExports(claims.role === 'operator' ? claims.org : undefined);
      const out = [];
      for (const record of records) {
        if (!mayView(claims, record)) continue;
        const fresh = await current(record);
        if (!mayView(claims, fresh)) continue;
        out.push(listing(fresh));
      }
      return out;
    },

    /** The detail a caller may see: reviewers get the SQL, lineage, checks, preview and changes. */
    async get(claims: Claims, id: string) {
      const record = await current(await visible(claims, id));
      const versions = await deps.store.reader.exportVersions(id);
      const version = versions.find((v) => v.version === record.currentVersion)!;
      const downloads = (await deps.store.reader.exportDownloads(id)).length;
      const base = { ...listing(record), downloads };
      if (claims.role === 'applicant') return { ...base, manifestAvailable: record.package !== null };
      const reviews = await deps.store.reader.exportReviews(id);
      // SECURITY: invariant 8: an output's row count is a count no person-level check has seen
      // ("四区 without this person's payments above X" has 1,996 rows or 2,000): reviewers only.
      const rowsOf = (rowCount: number) => (claims.role === 'supervisor' ? rowCount : null);
      const detail = {
        ...base,
        ...summary(record, version, claims.role === 'supervisor'),
        sql: version.sql,
        source: version.source,
        ...(claims.role === 'supervisor' ? { mitigation: version.mitigation, withheld: version.mitigation?.withheld ?? null } : mitigationForOperator(version)),
        rowCount: rowsOf(version.rowCount),
        columns: version.columns,
        // SECURITY: invariant 8: the hash of a snapshot nobody approved is its content for anyone who can
        // guess it (one person's total, rebuilt as a Parquet file offline): reviewers only.
        snapshotSha256: claims.role === 'supervisor' ? version.snapshot.sha256 : null,
        submission: record.submission,
        approvalsNeeded: Number.isFinite(approvalsNeeded(version.outcome)) ? approvalsNeeded(version.outcome) : null,
        reviews: reviews.map((r) => ({ version: r.version, reviewer: r.reviewerSub, organization: r.reviewerOrg, decision: r.decision, comment: r.comment, at: r.createdAt })),
        versions: versions.map((v) => ({ version: v.version, outcome: v.outcome, rowCount: rowsOf(v.rowCount), mitigation: claims.role === 'supervisor' ? v.mitigation : mitigationForOperator(v).mitigation, createdAt: v.createdAt, createdBy: v.createdBy })),
        lineage: await sourceDatasets(version.sources),
        tables: version.tables,
      };
      if (claims.role !== 'supervisor') return detail;
      // Reviewers only: the first rows of the snapshot, and what changed since the previous version.
      let preview: ExportRows | null = null;
      let changes: VersionChanges | null = null;
      const previous = versions.find((v) => v.version === version.version - 1);
      const snapshotKept = fs.existsSync(path.join(exportVersionDirectory(deps.dataDir, id, version.version), version.snapshot.file));
      // SECURITY: a withdrawn dataset is not read, not even for its reviewers' preview (pass 17d).
      const withdrawn = versions.some((v) => v.sources.some((s) => deps.access.isWithdrawn(s.dataset)));
      if (snapshotKept && !withdrawn) {
        const rows = await deps.engine.exportRead({ exportId: id, version: version.version, limit: Math.min(DIFF_MAX_ROWS, Math.max(PREVIEW_ROWS, version.rowCount)) });
        preview = { columns: rows.columns, rows: rows.rows.slice(0, PREVIEW_ROWS) };
        if (previous) {
          const before = previous.rowCount <= DIFF_MAX_ROWS && version.rowCount <= DIFF_MAX_ROWS
            ? await deps.engine.exportRead({ exportId: id, version: previous.version, limit: DIFF_MAX_ROWS }).catch(() => null)
            : null;
          changes = describeChanges(previous, version, before && version.rowCount <= DIFF_MAX_ROWS ? { before, after: rows } : null);
        }
      } else if (previous) {
        changes = describeChanges(previous, version, null);
      }
      return { ...detail, preview, changes };
    },

    /**
     * The data file for its recipient: the applicant organization named in the export, once approved,
     * within its validity and download limit, with the file checked against the SHA-256 recorded at
     * approval. Every attempt is audited, refusals included.
     */
    async download(actor: AuditActor, claims: Claims, id: string, version: number | undefined) {
      const refuse = async (error: unknown, exportVersion?: number) => {
        await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'export.download', target: target(id), details: { version: exportVersion ?? version ?? null, outcome: isDomainError(error) ? error.code : 'SRV_ERR_INTERNAL' } }));
        return error;
      };
      return serialized(id, async () => {
        const record = await deps.store.reader.getExport(id);
        // SECURITY: invariant 4: only the recipient organization downloads; others learn nothing of the export.
        if (!record || claims.role !== 'applicant' || record.recipient !== claims.org) throw await refuse(notFound(id));
        const decision = decideDownload(deliveryFacts(record, (await deps.store.reader.exportDownloads(id)).length), { nowIso: nowIso(), version });
        if (!decision.ok) {
          if (decision.expired) await expire(record);
          throw await refuse(decision.error, record.package?.version);
        }
        const pkg = record.package!;
        const exportVersion = (await deps.store.reader.exportVersions(id)).find((v) => v.version === pkg.version)!;
        try {
          // SECURITY: invariant 6: a suspended or revoked tenant's exports are withheld, approved or not.
          deps.assertTenantActive(record.tenantId);
          assertGrantsLive(record, exportVersion);
        } catch (error) {
          throw await refuse(error, pkg.version);
        }
        const file = path.join(exportVersionDirectory(deps.dataDir, id, pkg.version), pkg.file);
        // SECURITY: what is delivered is exactly what was approved: a file changed since is not served.
        const actual = fs.existsSync(file) ? hashFile(file).sha256 : null;
        if (actual !== pkg.sha256) throw await refuse(new DomainError('EXP_ERR_PACKAGE_DAMAGED', 'the package does not match what was approved and is not delivered'), pkg.version);
        let count = 0;
        try {
          await deps.store.mutate(async (tx) => {
            const downloads = await tx.reader.exportDownloads(id);
            count = downloads.length + 1;
            // SECURITY: decided again in the transaction that records the download, from the store: the
            // limit, the validity, and a suspension, revocation, grant's end or withdrawal committed
            // since the checks above (the directory learns of them only after their commit; red-team
            // pass 28b saw a download recorded after the tenant's suspension).
            const again = decideDownload(deliveryFacts((await tx.reader.getExport(id))!, downloads.length), { nowIso: nowIso(), version: pkg.version });
            if (!again.ok) throw again.error;
            await assertLiveInTransaction(tx, record, exportVersion);
            await tx.insertExportDownload({ exportId: id, version: pkg.version, recipient: claims.org, sub: claims.sub, count, createdAt: nowIso() });
            if (record.status === 'approved') await tx.updateExport({ ...record, status: 'released', updatedAt: nowIso() });
            await tx.appendAudit({ actor, action: 'export.download', target: target(id), details: { version: pkg.version, outcome: 'ok', count, of: pkg.maxDownloads, sha256: pkg.sha256, ...(record.status === 'approved' ? { released: true } : {}) } });
          });
        } catch (error) {
          throw await refuse(error, pkg.version);
        }
        return {
          file, sha256: pkg.sha256, contentType: CONTENT_TYPES[record.format],
          filename: `${id}-v${pkg.version}${path.extname(pkg.file)}`, downloadsLeft: pkg.maxDownloads - count,
        };
      });
    },

    /**
     * Audits an attempt to download or review refused before this service ran (the role guard, a
     * malformed version or body), as the service audits its own refusals: supervisors see who tried.
     */
    async auditRefusedAttempt(actor: AuditActor, action: 'export.download' | 'export.review', id: string | null, code: string): Promise<void> {
      await deps.store.mutate((tx) => tx.appendAudit({ actor, action, target: id === null ? 'export:?' : target(id), details: { outcome: code, refusedBefore: 'the export service' } }));
    },

    /** The manifest of the packaged version: for the recipient, supervisors, and the owning operator (without its sizes). */
    async manifest(claims: Claims, id: string): Promise<ManifestView> {
      const record = await current(await visible(claims, id));
      if (!record.package) throw new DomainError('EXP_ERR_NOT_APPROVED', `the export is ${record.status.replace('_', ' ')}: it has no package yet`);
      const manifest = readManifest(deps.dataDir, id, record.package.version);
      // SECURITY: invariant 8: the operator learns no row count of its export (as in the detail): not its size either.
      if (claims.role === 'operator') {
        // ... nor, for a row-level output, how many rows failed or were removed, nor which
        // (checksForOperator; the mitigation's `removedRows` and counts: red-team pass 39a).
        const counts = isRowLevel(manifest.checks) ? { ...mitigationForOperator(manifest), notes: manifest.notes.filter((note) => !note.startsWith(WITHHELD_NOTE)) } : {};
        return { ...manifest, rows: null, snapshotSha256: null, dataFile: { name: manifest.dataFile.name, sha256: null, bytes: null }, fingerprint: null, checks: checksForOperator(manifest.checks), ...counts };
      }
      return manifest;
    },
  };
}

export type ExportService = ReturnType<typeof createExportService>;

const RECIPIENT_VISIBLE: ReadonlySet<ExportStatus> = new Set(['approved', 'released', 'expired']);

/** Who may see an export at all: its tenant's operators, supervisors, and its recipient once approved. */
function mayView(claims: Claims, record: ExportRecord): boolean {
  if (claims.role === 'supervisor') return true;
  // SECURITY: tenant isolation.
  if (claims.role === 'operator') return record.tenantId === claims.org;
  // SECURITY: an applicant sees only what is addressed to it, and only once approved.
  return record.recipient === claims.org && RECIPIENT_VISIBLE.has(record.status) && record.package !== null;
}

const FailingCellSchema = z.object({ row: z.number().int().nonnegative(), column: z.string() });

/**
 * The cells of every failing check of a version, as {row, column}: suppression withholds them
 * whichever check named them (the person-level ones, differencing, any later one). A failing cell
 * that cannot be read as such stops the mitigation (fail closed: it would otherwise stay shown).
 */
function failingCells(version: ExportVersionRecord): { row: number; column: string }[] {
  return version.checks.filter((c) => c.status === 'fail').flatMap((check) => (check.cells ?? []).map((cell) => {
    const parsed = FailingCellSchema.safeParse(cell);
    // SECURITY: invariant 8: a failing cell suppression cannot place is not left in the output.
    if (!parsed.success) throw new DomainError('EXP_ERR_MITIGATION_UNAVAILABLE', `check ${check.name} names a cell that cannot be placed in the output, so it cannot be suppressed: change the SQL`);
    return parsed.data;
  }));
}

/** A mitigation as the audit keeps it: the removed rows counted, not listed (there may be many). */
function auditedMitigation(mitigation: Mitigation | null) {
  if (mitigation?.kind !== 'suppress') return mitigation;
  const { removedRows, ...rest } = mitigation;
  return { ...rest, removedRows: removedRows.length };
}

/** What suppression has withheld after one more mitigation: the step's counts added to the earlier ones. */
function withheldAfter(before: Withheld | null, step: SuppressionSummary | null, nullCells: number): Withheld | null {
  if (!step) return before && { ...before, cells: nullCells };
  return {
    rows: (before?.rows ?? 0) + step.removedRows.length,
    cells: nullCells,
    primaryRows: (before?.primaryRows ?? 0) + step.primaryRows,
    secondaryRows: (before?.secondaryRows ?? 0) + step.secondaryRows,
    primaryCells: (before?.primaryCells ?? 0) + step.primaryCells,
    secondaryCells: (before?.secondaryCells ?? 0) + step.secondaryCells,
  };
}

/** What decides a download, of an export record and the downloads recorded so far. */
function deliveryFacts(record: ExportRecord, downloads: number) {
  return {
    status: record.status, packagedVersion: record.package?.version ?? null, validUntil: record.package?.validUntil ?? null,
    downloads, maxDownloads: record.package?.maxDownloads ?? 0,
  };
}

function notFound(id: string): DomainError {
  return new DomainError('EXP_ERR_NOT_FOUND', `no export ${id}`);
}

/** What `POST /v1/exports` and the state changes answer. */
function summary(record: ExportRecord, version: ExportVersionRecord, reviewer = false) {
  return { id: record.id, version: version.version, status: record.status, outcome: version.outcome, checks: reviewer ? version.checks : checksForOperator(version.checks) };
}

/** A row-level output's checks: its k-anonymity check (aggregates have none). */
function isRowLevel(checks: readonly Check[]): boolean {
  return checks.some((c) => c.name === 'k-anonymity');
}

/**
 * A version's checks as its operator reads them. SECURITY: invariant 8: in a row-level output, how
 * many rows fail k-anonymity, or were removed by suppression, is how many of one person's rows
 * match ("1984 rows describe fewer than 5 people" against 1980 told person 7's four payments above
 * X: red-team pass 38b): reviewers only (supervisors and the audit keep them). Aggregate outputs
 * keep their cell counts ("3 cells describe fewer than 10 people"), which prod answers show too.
 */
function checksForOperator(checks: Check[]): Check[] {
  if (!isRowLevel(checks)) return checks;
  return checks.map(({ rows: _, cells: __, ...check }) => {
    if (check.name === 'k-anonymity' && check.status !== 'pass') return { ...check, reason: check.reason.replace(/^\d+ rows describe/, 'some rows describe') + ' (how many is for reviewers to see)' };
    if (check.name === 'suppression') return { ...check, reason: 'rows that failed a check were removed (how many is for reviewers to see)' };
    return check;
  });
}

/** A version's mitigation as its operator reads it: a row-level output's removed rows and counts are reviewers' (checksForOperator). */
function mitigationForOperator(version: Pick<ExportVersionRecord, 'checks'> & { mitigation?: unknown }): { mitigation: unknown; withheld: Withheld | null } {
  // The manifest keeps the version's mitigation as it was recorded (typed `unknown` there).
  const mitigation = (version.mitigation ?? null) as ExportVersionRecord['mitigation'] | null;
  if (!mitigation || !isRowLevel(version.checks)) return { mitigation, withheld: mitigation?.withheld ?? null };
  return { mitigation: { kind: mitigation.kind, fromVersion: mitigation.fromVersion }, withheld: null };
}

/** One line of `GET /v1/exports`. */
function listing(record: ExportRecord) {
  return {
    id: record.id, tenant: record.tenantId, recipient: record.recipient, purpose: record.purpose, format: record.format, status: record.status,
    version: record.currentVersion, createdAt: record.createdAt, updatedAt: record.updatedAt,
    validUntil: record.package?.validUntil ?? null, packagedVersion: record.package?.version ?? null, maxDownloads: record.package?.maxDownloads ?? null,
  };
}
