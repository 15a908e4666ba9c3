import type { AuditEntry, AuditEntryInput, AuditHead } from '../audit/audit-entry.js';
import type { ColumnPolicy } from '../../desensitize/index.js';
import type { DownloadRecord, ExportRecord, ExportVersionRecord, ReviewRecord } from '../exports/export-model.js';
import type { ApplicantRecord, DatasetColumn, DatasetRecord, GrantRecord, TenantRecord, TenantStatus, Withdrawal, WorkspaceTableLineage } from '../model.js';

/**
 * The control store: everything the control plane persists, behind an interface narrow enough for a
 * PostgreSQL implementation to follow (DESIGN.md §7). It speaks in records, never in SQL.
 *
 * Writes happen only inside `mutate`, whose work commits atomically together with the audit entries
 * it appended: a mutation that appends no audit entry is refused. Work may be retried (alone) when a
 * batch it shared fails, so it must only read and write through the transaction it is given.
 */
export interface ControlStore {
  readonly reader: StoreReader;
  mutate<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Called after every commit, in commit order, with the new audit head. */
  onCommit(listener: (head: AuditHead) => void): void;
  /** True when the store answers a trivial query. */
  ping(): Promise<boolean>;
  /** Waits for queued mutations, then closes. */
  close(): Promise<void>;
}

export interface AuditFilter {
  actorSub?: string;
  org?: string;
  /** Exact action, or a prefix when it ends in `.*` (e.g. `tenant.*`). */
  action?: string;
  target?: string;
  fromTs?: string;
  toTs?: string;
  /** Keyset paging: only entries with a larger sequence number. */
  afterSeq?: number;
  limit: number;
}

export interface StoreReader {
  listTenants(): Promise<TenantRecord[]>;
  getTenant(id: string): Promise<TenantRecord | undefined>;
  listApplicants(): Promise<ApplicantRecord[]>;
  getApplicant(id: string): Promise<ApplicantRecord | undefined>;
  listWorkspaceTables(tenantId: string): Promise<WorkspaceTableLineage[]>;
  /** The latest version of every dataset. */
  listDatasets(): Promise<{ record: DatasetRecord; columns: DatasetColumn[] }[]>;
  /** Every version of one dataset, newest first. */
  datasetVersions(id: string): Promise<{ record: DatasetRecord; columns: DatasetColumn[] }[]>;
  /** The policies a supervisor set on a dataset's columns (columns without one use the default). */
  datasetPolicies(id: string): Promise<Record<string, ColumnPolicy>>;
  /** Grants of one tenant, or of every tenant when none is named. */
  listGrants(tenantId?: string): Promise<GrantRecord[]>;
  /** The datasets withdrawn now, by id. */
  listWithdrawals(): Promise<Map<string, Withdrawal>>;
  /** Exports of one tenant, or of every tenant when none is named, newest first. */
  listExports(tenantId?: string): Promise<ExportRecord[]>;
  getExport(id: string): Promise<ExportRecord | undefined>;
  /** Every version of an export, oldest first. */
  exportVersions(id: string): Promise<ExportVersionRecord[]>;
  /** Every review of an export (all versions), oldest first. */
  exportReviews(id: string): Promise<ReviewRecord[]>;
  exportDownloads(id: string): Promise<DownloadRecord[]>;
  queryAudit(filter: AuditFilter): Promise<AuditEntry[]>;
  /** Every entry in sequence order, read in pages. */
  scanAudit(): AsyncIterable<AuditEntry>;
  auditHead(): Promise<AuditHead>;
}

export interface StoreTransaction {
  /** Reads that see this transaction's own writes. */
  readonly reader: Pick<StoreReader, 'getTenant' | 'listGrants' | 'getApplicant' | 'listWorkspaceTables' | 'listWithdrawals' | 'datasetVersions' | 'datasetPolicies' | 'getExport' | 'exportReviews' | 'exportDownloads'>;
  insertTenant(record: TenantRecord): Promise<void>;
  updateTenantStatus(id: string, status: TenantStatus, updatedAt: string): Promise<void>;
  insertApplicant(record: ApplicantRecord): Promise<void>;
  /** Inserts or replaces (a rebuild) the lineage of a workspace table. */
  insertWorkspaceTable(record: WorkspaceTableLineage): Promise<void>;
  deleteWorkspaceTable(tenantId: string, name: string): Promise<void>;
  insertDatasetVersion(record: DatasetRecord, columns: DatasetColumn[]): Promise<void>;
  upsertGrant(grant: GrantRecord): Promise<void>;
  /** Records a dataset's withdrawal, or (null) removes it: the dataset is reinstated. */
  setWithdrawal(datasetId: string, withdrawal: Withdrawal | null): Promise<void>;
  setColumnPolicy(datasetId: string, column: string, policy: ColumnPolicy, updatedAt: string, updatedBy: string): Promise<void>;
  insertExport(record: ExportRecord): Promise<void>;
  /** Replaces an export's mutable state (status, current version, submission, package). */
  updateExport(record: ExportRecord): Promise<void>;
  /** Versions are immutable: inserted once, never updated. */
  insertExportVersion(record: ExportVersionRecord): Promise<void>;
  insertExportReview(record: ReviewRecord): Promise<void>;
  insertExportDownload(record: DownloadRecord): Promise<void>;
  appendAudit(input: AuditEntryInput): Promise<AuditEntry>;
  /** The chain's head as this transaction sees it (including its own appends). */
  auditHead(): AuditHead;
  /** Runs after the commit succeeded and before `mutate` resolves; never after a rollback. */
  afterCommit(callback: () => void): void;
}
