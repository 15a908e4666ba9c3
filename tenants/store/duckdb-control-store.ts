import { DomainError } from '../../core/errors.js';
import { openDatabase, type Connection, type Row, type SqlSession, type SqlValue } from '../../sandbox/index.js';
import { chainAuditEntry, GENESIS_HASH, type AuditEntry, type AuditHead } from '../audit/audit-entry.js';
import type { ColumnPolicy } from '../../desensitize/index.js';
import type { ApplicantRecord, DatasetColumn, DatasetRecord, GrantRecord, TenantRecord, WorkspaceTableLineage } from '../model.js';
import type { AuditFilter, ControlStore, StoreReader, StoreTransaction } from './control-store.js';
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
}

/**
 * The control store on an embedded DuckDB file.
 *
 * Writes go through one connection, one batch at a time (group commit): every mutation queued while
 * a commit is in flight joins the next transaction, so each acknowledged mutation is durable (DuckDB
 * fsyncs its WAL on commit) while the fsync cost is shared. If any work in a batch throws, the batch
 * rolls back and each of its jobs runs again alone, so one failure never takes another's result.
 * Reads use a fresh connection each and see committed state only.
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
  const reader = createReader(readSession);
  let head = await reader.auditHead();
  const queue: Job[] = [];
  const listeners: ((head: AuditHead) => void)[] = [];
  // `draining` is cleared in the same microtask as the loop's last empty-queue check, so a job
  // queued at any moment either is seen by the loop or starts a new one.
  let draining: Promise<void> | undefined;
  let closed = false;

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
   * them with one autocommitted multi-row INSERT, a single round trip to DuckDB.
   */
  async function commitBatch(batch: Job[]): Promise<unknown> {
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
    try {
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
            getApplicant: (id) => read(() => getApplicant(writer, id)),
            listWorkspaceTables: (id) => read(() => listWorkspaceTables(writer, id)),
            datasetVersions: (id) => read(() => datasetVersions(writer, id)),
          },
          insertTenant: (t) => write('INSERT INTO tenants VALUES ($1, $2, $3, $4, $5, $6, $7)', [t.id, t.name, t.status, t.licenseFrom, t.licenseTo, t.createdAt, t.updatedAt]),
          updateTenantStatus: (id, status, updatedAt) => write('UPDATE tenants SET status = $2, updated_at = $3 WHERE id = $1', [id, status, updatedAt]),
          insertApplicant: (a) => write('INSERT INTO applicants VALUES ($1, $2, $3)', [a.id, a.name, a.createdAt]),
          insertWorkspaceTable: (w) => write('INSERT INTO workspace_tables VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
            w.tenantId, w.name, w.env, w.sql, JSON.stringify(w.sourceTables), JSON.stringify(w.datasets), w.createdAt, w.createdBy,
          ]),
          deleteWorkspaceTable: (tenantId, name) => write('DELETE FROM workspace_tables WHERE tenant_id = $1 AND name = $2', [tenantId, name]),
          upsertGrant: (g) => write('INSERT OR REPLACE INTO grants VALUES ($1, $2, $3)', [g.tenantId, g.dataset, JSON.stringify(g)]),
          setColumnPolicy: (datasetId, column, policy, updatedAt, updatedBy) => write(
            'INSERT OR REPLACE INTO dataset_policies VALUES ($1, $2, $3, $4, $5)', [datasetId, column, JSON.stringify(policy), updatedAt, updatedBy],
          ),
          insertDatasetVersion: (record, columns) => write('INSERT INTO datasets VALUES ($1, $2, $3, $4, $5)', [record.id, record.version, JSON.stringify(record), JSON.stringify(columns), record.createdAt]),
          async appendAudit(input) {
            const entry = chainAuditEntry(batchHead, input, options.clock().toISOString());
            // Written with the batch's other entries at the end: one statement, same transaction.
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
        await insertAuditEntries(writer, entries);
        await writer.run('COMMIT');
      } else if (entries.length > 0) {
        // No other write: the INSERT is its own (atomic, durable) transaction. More than one
        // statement's worth of entries needs a transaction to stay all-or-nothing.
        if (entries.length > AUDIT_ROWS_PER_STATEMENT) {
          await begin();
          await insertAuditEntries(writer, entries);
          await writer.run('COMMIT');
        } else {
          await insertAuditEntries(writer, entries);
        }
      }
    } catch (error) {
      if (inTransaction) await writer.run('ROLLBACK').catch(() => undefined);
      return error ?? new Error('mutation failed');
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
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        draining ??= drain();
      });
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
      writer.close();
      readSession.close();
      db.close();
    },
  };
}

const AUDIT_ROWS_PER_STATEMENT = 64;
const AUDIT_COLUMNS = 10;

async function insertAuditEntries(session: SqlSession, entries: AuditEntry[]): Promise<void> {
  for (let start = 0; start < entries.length; start += AUDIT_ROWS_PER_STATEMENT) {
    const chunk = entries.slice(start, start + AUDIT_ROWS_PER_STATEMENT);
    const rows = chunk.map((_, r) => `(${Array.from({ length: AUDIT_COLUMNS }, (_, c) => `$${r * AUDIT_COLUMNS + c + 1}`).join(', ')})`);
    const params = chunk.flatMap((e) => [e.seq, e.ts, e.actor.sub, e.actor.role, e.actor.org, e.action, e.target, JSON.stringify(e.details), e.prevHash, e.hash]);
    await session.run(`INSERT INTO audit_log VALUES ${rows.join(', ')}`, params);
  }
}

/**
 * One read connection shared by all readers, one statement at a time: a DuckDB connection runs one
 * query at a time, and a cached connection keeps its prepared statements. Reads are rare here (the
 * per-request checks use the in-memory directory).
 */
function serialized(connection: Connection): Connection {
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
    listGrants: async (tenantId) => (tenantId === undefined
      ? await session.all('SELECT grant_record FROM grants ORDER BY tenant_id, dataset_id')
      : await session.all('SELECT grant_record FROM grants WHERE tenant_id = $1 ORDER BY dataset_id', [tenantId])
    ).map((r) => JSON.parse(String(r.grant_record)) as GrantRecord),
    datasetPolicies: async (id) => Object.fromEntries(
      (await session.all('SELECT column_name, policy FROM dataset_policies WHERE dataset_id = $1', [id])).map((r) => [String(r.column_name), JSON.parse(String(r.policy)) as ColumnPolicy]),
    ),
    queryAudit: (filter) => queryAudit(session, filter),
    scanAudit: () => scanAudit(session),
    auditHead: async () => {
      const [row] = await session.all<{ seq: number; hash: string }>('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
      return row ? { seq: row.seq, hash: row.hash } : { seq: 0, hash: GENESIS_HASH };
    },
  };
}

async function getTenant(session: SqlSession, id: string): Promise<TenantRecord | undefined> {
  const [row] = await session.all('SELECT * FROM tenants WHERE id = $1', [id]);
  return row ? toTenant(row) : undefined;
}

async function getApplicant(session: SqlSession, id: string): Promise<ApplicantRecord | undefined> {
  const [row] = await session.all('SELECT * FROM applicants WHERE id = $1', [id]);
  return row ? toApplicant(row) : undefined;
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
