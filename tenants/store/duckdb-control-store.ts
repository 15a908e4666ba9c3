import path from 'node:path';
import { DomainError } from '../../core/errors.js';
import { openDatabase, type Connection, type Row, type SqlSession, type SqlValue } from '../../sandbox/index.js';
import { chainAuditEntry, GENESIS_HASH, type AuditEntry, type AuditHead } from '../audit/audit-entry.js';
import type { ColumnPolicy } from '../../desensitize/index.js';
import type { ApplicantRecord, DatasetColumn, DatasetRecord, GrantRecord, TenantRecord, Withdrawal, WorkspaceTableLineage } from '../model.js';
import type { DownloadRecord, ExportRecord, ExportVersionRecord, ReviewRecord } from '../exports/export-model.js';
import type { AuditFilter, ControlStore, StoreReader, StoreTransaction } from './control-store.js';
import { AUDIT_JOURNAL_FILE, AuditJournal, JournalBrokenError, readJournal } from './audit-journal.js';
import { applyMigrations } from './migrations.js';

export interface DuckDbControlStoreOptions {
  /** Path of `control.duckdb`. Only one process may open it (DuckDB takes a file lock). */
  path: string;
  clock: () => Date;
  /** Most mutations committed together in one transaction (group commit). */
  maxBatch?: number;
  /** Open without migrating and refuse every mutation (offline verification). */
  readOnly?: boolean;
  /** Receives errors thrown by after-commit callbacks: the commit stands, the error is reported. */
  onCallbackError: (error: unknown) => void;
}

interface Job {
  work: (tx: StoreTransaction) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Moves the journaled audit entries into the table, in this batch's transaction. */
  moveJournal?: true;
}

/** Journaled entries are moved into the table once this many wait (and by every other commit). */
const JOURNAL_MOVE_AT = 1_000;

/**
 * The control store on an embedded DuckDB file.
 *
 * Writes go through one connection, one batch at a time (group commit): every mutation queued while
 * a commit is in flight joins the next transaction, so each acknowledged mutation is durable (DuckDB
 * fsyncs its WAL on commit) while the fsync cost is shared. If any work in a batch throws, the batch
 * rolls back and each of its jobs runs again alone, so one failure never takes another's result.
 * Reads use one shared read connection and see committed state only.
 *
 * A batch that only appends audit entries (the query log) commits to the audit journal next to the
 * database instead (`audit-journal.ts`): the chain is the `audit_log` table followed by the journal.
 * Any batch with a state change first moves the journaled entries into the table in its own
 * transaction, so the table never has a gap; so does a batch of its own every JOURNAL_MOVE_AT
 * entries, and `close()`. Readers see both parts.
 */
export async function openDuckDbControlStore(options: DuckDbControlStoreOptions): Promise<ControlStore> {
  const db = await openDatabase(options.path, { threads: 1, memoryLimitMb: 512, readOnly: options.readOnly ?? false });
  let writer: Connection;
  try {
    writer = await db.connect();
    if (!options.readOnly) await applyMigrations(writer);
  } catch (error) {
    db.close();
    throw error;
  }
  const maxBatch = options.maxBatch ?? 256;
  const readSession = serialized(await db.connect());
  const table = createReader(readSession);
  // Entries durable in the journal but not yet in the table, in sequence order.
  let journaled: AuditEntry[];
  let journal: AuditJournal | undefined;
  try {
    const journalFile = path.join(path.dirname(options.path), AUDIT_JOURNAL_FILE);
    const reading = readJournal(journalFile, await table.auditHead());
    journaled = reading.entries;
    journal = options.readOnly ? undefined : await AuditJournal.open(journalFile, reading.validBytes);
  } catch (error) {
    readSession.close();
    writer.close();
    db.close();
    throw error;
  }
  const reader = withJournaledEntries(table, () => journaled);
  let head = await reader.auditHead();
  const queue: Job[] = [];
  const listeners: ((head: AuditHead) => void)[] = [];
  // `draining` is cleared in the same microtask as the loop's last empty-queue check, so a job
  // queued at any moment either is seen by the loop or starts a new one.
  let draining: Promise<void> | undefined;
  let closed = false;
  /** Set when the journal failed beyond repair: every further mutation is refused. */
  let broken: Error | undefined;

  function enqueue(job: Job): void {
    queue.push(job);
    draining ??= drain();
  }

  /** Queues a batch of its own that moves the journaled entries into the table. */
  function moveJournal(): Promise<unknown> {
    return new Promise((resolve, reject) => enqueue({ work: async () => undefined, resolve, reject, moveJournal: true }));
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, maxBatch);
        const failure = await commitBatch(batch);
        if (failure === undefined) continue;
        if (batch.length === 1) batch[0]!.reject(failure);
        // Isolate the failure: every job gets its own transaction and its own outcome.
        else for (const job of batch) {
          const alone = await commitBatch([job]);
          if (alone !== undefined) job.reject(alone);
        }
      }
    } finally {
      draining = undefined;
    }
  }

  /**
   * Runs a batch in one transaction. Returns the error when it rolled back, else settles the jobs.
   * The transaction opens lazily: a batch that only appends audit entries (the query log) commits
   * them to the journal, with no DuckDB transaction at all.
   */
  async function commitBatch(batch: Job[]): Promise<unknown> {
    if (broken) return broken;
    let batchHead = head;
    const results: unknown[] = [];
    const callbacks: (() => void)[] = [];
    const entries: AuditEntry[] = [];
    let inTransaction = false;
    const begin = async () => {
      if (inTransaction) return;
      await writer.run('BEGIN TRANSACTION');
      inTransaction = true;
    };
    const read = async <T>(reading: () => Promise<T>): Promise<T> => {
      await begin();
      return reading();
    };
    const moving = journaled;
    try {
      if (batch.some((job) => job.moveJournal) && moving.length > 0) await begin();
      for (const job of batch) {
        let wrote = false;
        let audited = false;
        const write = async (sql: string, params: SqlValue[]) => {
          wrote = true;
          await begin();
          await writer.run(sql, params);
        };
        const tx: StoreTransaction = {
          reader: {
            getTenant: (id) => read(() => getTenant(writer, id)),
            listGrants: (id) => read(() => listGrants(writer, id)),
            getApplicant: (id) => read(() => getApplicant(writer, id)),
            listWorkspaceTables: (id) => read(() => listWorkspaceTables(writer, id)),
            datasetVersions: (id) => read(() => datasetVersions(writer, id)),
            listWithdrawals: () => read(() => listWithdrawals(writer)),
            datasetPolicies: (id) => read(() => datasetPolicies(writer, id)),
            getExport: (id) => read(() => getExport(writer, id)),
            exportReviews: (id) => read(() => exportReviews(writer, id)),
            exportDownloads: (id) => read(() => exportDownloads(writer, id)),
          },
          insertExport: (e) => write('INSERT INTO exports VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)', exportRow(e)),
          updateExport: (e) => write(
            'UPDATE exports SET status = $2, current_version = $3, submission = $4, package = $5, updated_at = $6 WHERE id = $1',
            [e.id, e.status, e.currentVersion, e.submission === null ? null : JSON.stringify(e.submission), e.package === null ? null : JSON.stringify(e.package), e.updatedAt],
          ),
          insertExportVersion: (v) => write('INSERT INTO export_versions VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)', [
            v.exportId, v.version, JSON.stringify(v.source), v.sql, v.snapshot.file, v.snapshot.sha256, v.snapshot.bytes, v.rowCount,
            JSON.stringify(v.columns), JSON.stringify(v.tables), JSON.stringify(v.sources), JSON.stringify(v.checks), v.outcome,
            v.mitigation === null ? null : JSON.stringify(v.mitigation), v.createdAt, v.createdBy,
          ]),
          insertExportReview: (r) => write('INSERT INTO export_reviews VALUES ($1, $2, $3, $4, $5, $6, $7)', [r.exportId, r.version, r.reviewerSub, r.reviewerOrg, r.decision, r.comment, r.createdAt]),
          insertExportDownload: (d) => write('INSERT INTO export_downloads VALUES ($1, $2, $3, $4, $5, $6)', [d.exportId, d.version, d.recipient, d.sub, d.count, d.createdAt]),
          insertTenant: (t) => write('INSERT INTO tenants VALUES ($1, $2, $3, $4, $5, $6, $7)', [t.id, t.name, t.status, t.licenseFrom, t.licenseTo, t.createdAt, t.updatedAt]),
          updateTenantStatus: (id, status, updatedAt) => write('UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1', [id, status, updatedAt]),
          insertApplicant: (a) => write('INSERT INTO applicants VALUES ($1, $2, $3)', [a.id, a.name, a.createdAt]),
          insertWorkspaceTable: (w) => write('INSERT OR REPLACE INTO workspace_tables VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)', [
            w.tenantId, w.name, w.env, w.sql, JSON.stringify(w.sourceTables), JSON.stringify(w.datasets), w.createdAt, w.createdBy, JSON.stringify(w.sources),
          ]),
          deleteWorkspaceTable: (tenantId, name) => write('DELETE FROM workspace_tables WHERE tenant_id = $1 AND name = $2', [tenantId, name]),
          upsertGrant: (g) => write('INSERT OR REPLACE INTO grants VALUES ($1, $2, $3)', [g.tenantId, g.dataset, JSON.stringify(g)]),
          setWithdrawal: (datasetId, withdrawal) => (withdrawal === null
            ? write('DELETE FROM dataset_withdrawals WHERE dataset_id = $1', [datasetId])
            : write('INSERT OR REPLACE INTO dataset_withdrawals VALUES ($1, $2)', [datasetId, JSON.stringify(withdrawal)])),
          setColumnPolicy: (datasetId, column, policy, updatedAt, updatedBy) => write(
            'INSERT OR REPLACE INTO dataset_policies VALUES ($1, $2, $3, $4, $5)', [datasetId, column, JSON.stringify(policy), updatedAt, updatedBy],
          ),
          insertDatasetVersion: (record, columns) => write('INSERT INTO datasets VALUES ($1, $2, $3, $4, $5)', [record.id, record.version, JSON.stringify(record), JSON.stringify(columns), record.createdAt]),
          async appendAudit(input) {
            const entry = chainAuditEntry(batchHead, input, options.clock().toISOString());
            // Written with the batch's other entries at the end: same transaction (or journal write).
            entries.push(entry);
            wrote = true;
            audited = true;
            batchHead = { seq: entry.seq, hash: entry.hash };
            return entry;
          },
          auditHead: () => batchHead,
          afterCommit: (callback) => void callbacks.push(callback),
        };
        results.push(await job.work(tx));
        // An unaudited state change would break invariant 5: refuse it, whatever the caller meant.
        if (wrote && !audited) throw new Error('a control-store mutation must append an audit entry');
      }
      if (inTransaction) {
        // SECURITY: invariant 5: the journaled entries enter the table before this batch's own, in
        // the same transaction, so the table is always a gapless prefix of the chain.
        await appendAuditRows(writer, [...moving, ...entries]);
        await writer.run('COMMIT');
      } else if (entries.length > 0) {
        await journal!.append(entries);
      }
    } catch (error) {
      if (inTransaction) await writer.run('ROLLBACK').catch(() => undefined);
      if (error instanceof JournalBrokenError) broken = error;
      return error ?? new Error('mutation failed');
    }
    if (inTransaction) {
      journaled = [];
      // Entries left in the file by a failed truncation are already in the table: reading skips them.
      if (moving.length > 0) await journal!.clear().catch(options.onCallbackError);
    } else if (entries.length > 0) {
      journaled.push(...entries);
      if (journaled.length >= JOURNAL_MOVE_AT && !queue.some((job) => job.moveJournal)) moveJournal().catch(options.onCallbackError);
    }
    head = batchHead;
    for (const callback of callbacks) {
      try {
        callback();
      } catch (error) {
        options.onCallbackError(error);
      }
    }
    batch.forEach((job, i) => job.resolve(results[i]));
    for (const listener of listeners) listener(head);
    return undefined;
  }

  return {
    reader,
    mutate<T>(work: (tx: StoreTransaction) => Promise<T>): Promise<T> {
      if (options.readOnly) return Promise.reject(new Error('the control store is open read-only'));
      if (closed) return Promise.reject(new DomainError('SRV_ERR_UNAVAILABLE', 'the service is shutting down: retry shortly'));
      // SECURITY: invariant 5: with the journal in doubt, nothing more is acknowledged as audited.
      if (broken) return Promise.reject(new DomainError('SRV_ERR_UNAVAILABLE', 'the audit journal failed: the service must be restarted'));
      return new Promise<T>((resolve, reject) => enqueue({ work: work as Job['work'], resolve: resolve as (value: unknown) => void, reject }));
    },
    onCommit: (listener) => void listeners.push(listener),
    async ping() {
      try {
        return (await readSession.all('SELECT 1 AS ok')).length === 1;
      } catch {
        return false;
      }
    },
    async close() {
      closed = true;
      while (draining) await draining;
      if (journal && journaled.length > 0 && !broken) await moveJournal().catch(options.onCallbackError);
      await journal?.close();
      writer.close();
      readSession.close();
      db.close();
    },
  };
}

async function appendAuditRows(writer: Connection, entries: AuditEntry[]): Promise<void> {
  if (entries.length === 0) return;
  await writer.append('audit_log', entries.map((e) => [e.seq, e.ts, e.actor.sub, e.actor.role, e.actor.org, e.action, e.target, JSON.stringify(e.details), e.prevHash, e.hash]));
}

/**
 * The chain as readers see it: the table, then the journaled entries past what the table returned.
 * `journaled` is read before the table, and a move only adds to the table what it removes from the
 * journal, so every entry appears once, in order.
 */
function withJournaledEntries(table: StoreReader, journaled: () => readonly AuditEntry[]): StoreReader {
  return {
    ...table,
    async queryAudit(filter) {
      const tail = journaled();
      const stored = await table.queryAudit(filter);
      const seen = new Set(stored.map((entry) => entry.seq));
      const more = tail.filter((entry) => !seen.has(entry.seq) && matchesAuditFilter(entry, filter));
      return more.length === 0 ? stored : [...stored, ...more].sort((a, b) => a.seq - b.seq).slice(0, filter.limit);
    },
    async *scanAudit() {
      const tail = journaled();
      let last = 0;
      for await (const entry of table.scanAudit()) {
        last = entry.seq;
        yield entry;
      }
      for (const entry of tail) if (entry.seq > last) yield entry;
    },
    async auditHead() {
      const last = journaled().at(-1);
      const stored = await table.auditHead();
      return last && last.seq > stored.seq ? { seq: last.seq, hash: last.hash } : stored;
    },
  };
}

/** `queryAudit`'s SQL conditions, for journaled entries. */
function matchesAuditFilter(entry: AuditEntry, filter: AuditFilter): boolean {
  const action = filter.action;
  return (filter.actorSub === undefined || entry.actor.sub === filter.actorSub)
    && (filter.org === undefined || entry.actor.org === filter.org)
    && (action === undefined || (action.endsWith('.*') ? entry.action.startsWith(action.slice(0, -1)) : entry.action === action))
    && (filter.target === undefined || entry.target === filter.target)
    && (filter.fromTs === undefined || entry.ts >= filter.fromTs)
    && (filter.toTs === undefined || entry.ts < filter.toTs)
    && (filter.afterSeq === undefined || entry.seq > filter.afterSeq);
}

/**
 * One read connection shared by all readers, one statement at a time: a DuckDB connection runs one
 * query at a time, and a cached connection keeps its prepared statements. Reads are rare here (the
 * per-request checks use the in-memory directory).
 */
function serialized(connection: Connection): SqlSession & Pick<Connection, 'close'> {
  let tail: Promise<unknown> = Promise.resolve();
  const enqueue = <T>(work: () => Promise<T>): Promise<T> => {
    const result = tail.then(work, work);
    tail = result.catch(() => undefined);
    return result;
  };
  return {
    run: (sql, params) => enqueue(() => connection.run(sql, params)),
    all: (sql, params) => enqueue(() => connection.all(sql, params)),
    close: () => connection.close(),
  };
}

function createReader(session: SqlSession): StoreReader {
  return {
    listTenants: async () => (await session.all('SELECT * FROM tenants ORDER BY id')).map(toTenant),
    getTenant: (id) => getTenant(session, id),
    listApplicants: async () => (await session.all('SELECT * FROM applicants ORDER BY id')).map(toApplicant),
    getApplicant: (id) => getApplicant(session, id),
    listWorkspaceTables: (tenantId) => listWorkspaceTables(session, tenantId),
    listDatasets: async () => (await session.all(
      'SELECT record, columns FROM datasets d WHERE version = (SELECT max(version) FROM datasets v WHERE v.id = d.id) ORDER BY id',
    )).map(toDataset),
    datasetVersions: (id) => datasetVersions(session, id),
    listGrants: (tenantId) => listGrants(session, tenantId),
    datasetPolicies: (id) => datasetPolicies(session, id),
    listWithdrawals: () => listWithdrawals(session),
    listExports: async (tenantId) => (tenantId === undefined
      ? await session.all('SELECT * FROM exports ORDER BY created_at DESC, id')
      : await session.all('SELECT * FROM exports WHERE tenant_id = $1 ORDER BY created_at DESC, id', [tenantId])
    ).map(toExport),
    getExport: (id) => getExport(session, id),
    exportVersions: async (id) => (await session.all('SELECT * FROM export_versions WHERE export_id = $1 ORDER BY version', [id])).map(toExportVersion),
    exportReviews: (id) => exportReviews(session, id),
    exportDownloads: (id) => exportDownloads(session, id),
    queryAudit: (filter) => queryAudit(session, filter),
    scanAudit: () => scanAudit(session),
    auditHead: async () => {
      const [row] = await session.all<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
    },
  };
}

async function listGrants(session: SqlSession, tenantId: string | undefined): Promise<GrantRecord[]> {
  return (tenantId === undefined
    ? await session.all('SELECT grant_record FROM grants ORDER BY tenant_id, dataset_id')
    : await session.all('SELECT grant_record FROM grants WHERE tenant_id = $1 ORDER BY dataset_id', [tenantId])
  ).map((r) => JSON.parse(String(r.grant_record)) as GrantRecord);
}

async function getTenant(session: SqlSession, id: string): Promise<TenantRecord | undefined> {
  const [row] = await session.all('SELECT * FROM tenants WHERE id = $1', [id]);
  return row ? toTenant(row) : undefined;
}

async function getApplicant(session: SqlSession, id: string): Promise<ApplicantRecord | undefined> {
  const [row] = await session.all('SELECT * FROM applicants WHERE id = $1', [id]);
  return row ? toApplicant(row) : undefined;
}

async function datasetPolicies(session: SqlSession, id: string): Promise<Record<string, ColumnPolicy>> {
  const rows = await session.all('SELECT column_name, policy FROM dataset_policies WHERE dataset_id = $1', [id]);
  return Object.fromEntries(rows.map((r) => [String(r.column_name), JSON.parse(String(r.policy)) as ColumnPolicy]));
}

async function listWorkspaceTables(session: SqlSession, tenantId: string): Promise<WorkspaceTableLineage[]> {
  const rows = await session.all('SELECT * FROM workspace_tables WHERE tenant_id = $1 ORDER BY name', [tenantId]);
  return rows.map((row) => ({
    tenantId: String(row.tenant_id),
    name: String(row.name),
    env: row.env as WorkspaceTableLineage['env'],
    sql: String(row.sql),
    sourceTables: JSON.parse(String(row.source_tables)) as string[],
    datasets: JSON.parse(String(row.datasets)) as string[],
    createdAt: String(row.created_at),
    createdBy: String(row.created_by),
    sources: JSON.parse(String(row.sources)) as WorkspaceTableLineage['sources'],
  }));
}

async function datasetVersions(session: SqlSession, id: string): Promise<{ record: DatasetRecord; columns: DatasetColumn[] }[]> {
  return (await session.all('SELECT record, columns FROM datasets WHERE id = $1 ORDER BY version DESC', [id])).map(toDataset);
}

function toDataset(row: Row): { record: DatasetRecord; columns: DatasetColumn[] } {
  return { record: JSON.parse(String(row.record)) as DatasetRecord, columns: JSON.parse(String(row.columns)) as DatasetColumn[] };
}

async function queryAudit(session: SqlSession, filter: AuditFilter): Promise<AuditEntry[]> {
  const where: string[] = [];
  const params: SqlValue[] = [];
  const add = (clause: string, value: SqlValue) => {
    params.push(value);
    where.push(clause.replace('?', `$${params.length}`));
  };
  if (filter.actorSub !== undefined) add('actor_sub = ?', filter.actorSub);
  if (filter.org !== undefined) add('actor_org = ?', filter.org);
  if (filter.action !== undefined) {
    if (filter.action.endsWith('.*')) add('starts_with(action, ?)', filter.action.slice(0, -1));
    else add('action = ?', filter.action);
  }
  if (filter.target !== undefined) add('target = ?', filter.target);
  if (filter.fromTs !== undefined) add('ts >= ?', filter.fromTs);
  if (filter.toTs !== undefined) add('ts < ?', filter.toTs);
  if (filter.afterSeq !== undefined) add('seq > ?', filter.afterSeq);
  params.push(filter.limit);
  const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq LIMIT $${params.length}`;
  return (await session.all(sql, params)).map(toAuditEntry);
}

async function* scanAudit(session: SqlSession): AsyncGenerator<AuditEntry> {
  let after = 0;
  for (;;) {
    const page = await session.all('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 5000', [after]);
    if (page.length === 0) return;
    for (const row of page) yield toAuditEntry(row);
    after = Number(page[page.length - 1]!.seq);
  }
}

async function getExport(session: SqlSession, id: string): Promise<ExportRecord | undefined> {
  const [row] = await session.all('SELECT * FROM exports WHERE id = $1', [id]);
  return row ? toExport(row) : undefined;
}

async function exportReviews(session: SqlSession, id: string): Promise<ReviewRecord[]> {
  return (await session.all('SELECT * FROM export_reviews WHERE export_id = $1 ORDER BY created_at, reviewer_sub', [id])).map((row) => ({
    exportId: String(row.export_id),
    version: Number(row.version),
    reviewerSub: String(row.reviewer_sub),
    reviewerOrg: String(row.reviewer_org),
    decision: row.decision as ReviewRecord['decision'],
    comment: row.comment === null ? null : String(row.comment),
    createdAt: String(row.created_at),
  }));
}

async function exportDownloads(session: SqlSession, id: string): Promise<DownloadRecord[]> {
  return (await session.all('SELECT * FROM export_downloads WHERE export_id = $1 ORDER BY count', [id])).map((row) => ({
    exportId: String(row.export_id),
    version: Number(row.version),
    recipient: String(row.recipient),
    sub: String(row.sub),
    count: Number(row.count),
    createdAt: String(row.created_at),
  }));
}

function exportRow(e: ExportRecord): SqlValue[] {
  return [
    e.id, e.tenantId, e.recipient, e.purpose, e.format, e.status, e.currentVersion,
    e.submission === null ? null : JSON.stringify(e.submission), e.package === null ? null : JSON.stringify(e.package),
    e.createdAt, e.createdBy, e.updatedAt,
  ];
}

function toExport(row: Row): ExportRecord {
  return {
    id: String(row.id),
    tenantId: String(row.tenant_id),
    recipient: String(row.recipient),
    purpose: String(row.purpose),
    format: row.format as ExportRecord['format'],
    status: row.status as ExportRecord['status'],
    currentVersion: Number(row.current_version),
    submission: row.submission === null ? null : JSON.parse(String(row.submission)) as ExportRecord['submission'],
    package: row.package === null ? null : JSON.parse(String(row.package)) as ExportRecord['package'],
    createdAt: String(row.created_at),
    createdBy: String(row.created_by),
    updatedAt: String(row.updated_at),
  };
}

function toExportVersion(row: Row): ExportVersionRecord {
  return {
    exportId: String(row.export_id),
    version: Number(row.version),
    source: JSON.parse(String(row.source)) as ExportVersionRecord['source'],
    sql: String(row.sql),
    snapshot: { file: String(row.snapshot_file), sha256: String(row.snapshot_sha256), bytes: Number(row.snapshot_bytes) },
    rowCount: Number(row.row_count),
    columns: JSON.parse(String(row.columns)) as ExportVersionRecord['columns'],
    tables: JSON.parse(String(row.tables)) as string[],
    sources: JSON.parse(String(row.sources)) as ExportVersionRecord['sources'],
    checks: JSON.parse(String(row.checks)) as ExportVersionRecord['checks'],
    outcome: row.outcome as ExportVersionRecord['outcome'],
    mitigation: row.mitigation === null ? null : JSON.parse(String(row.mitigation)) as ExportVersionRecord['mitigation'],
    createdAt: String(row.created_at),
    createdBy: String(row.created_by),
  };
}

function toTenant(row: Row): TenantRecord {
  return {
    id: String(row.id),
    name: String(row.name),
    status: row.status as TenantRecord['status'],
    licenseFrom: String(row.license_from),
    licenseTo: String(row.license_to),
    createdAt: String(row.created_at),
    updatedAt: String(row.updated_at),
  };
}

function toApplicant(row: Row): ApplicantRecord {
  return { id: String(row.id), name: String(row.name), createdAt: String(row.created_at) };
}

function toAuditEntry(row: Row): AuditEntry {
  return {
    seq: Number(row.seq),
    ts: String(row.ts),
    actor: { sub: String(row.actor_sub), role: row.actor_role as AuditEntry['actor']['role'], org: String(row.actor_org) },
    action: String(row.action),
    target: String(row.target),
    details: JSON.parse(String(row.details)) as Record<string, unknown>,
    prevHash: String(row.prev_hash),
    hash: String(row.hash),
  };
}

async function listWithdrawals(session: SqlSession): Promise<Map<string, Withdrawal>> {
  const rows = await session.all('SELECT dataset_id, withdrawal FROM dataset_withdrawals ORDER BY dataset_id');
  return new Map(rows.map((r) => [String(r.dataset_id), JSON.parse(String(r.withdrawal)) as Withdrawal]));
}
