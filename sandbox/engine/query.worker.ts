/**
 * The piscina worker that owns tenants' engines. The engine host gives each worker thread its own
 * pool and routes every task of a tenant to the same thread (tenant affinity), so a tenant's files
 * are only ever opened here. Tasks never throw: they return `{ok, value}` or `{ok: false, code,
 * message}`, since error classes do not survive the thread and process boundaries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { workerData, type MessagePort } from 'node:worker_threads';
import { isDomainError } from '../../core/errors.js';
import { EngineTaskSchema, type EngineTask, type TaskOutcome } from './protocol.js';
import { ingestDataset } from './ingest-dataset.js';
import { buildPublishedFile } from './publish.js';
import { readUpload } from './read-upload.js';
import type { EngineWorkerData } from './engine-options.js';
import { EngineClosedError, TenantEngine } from './tenant-engine.js';
import { readTenantCatalog, writeTenantCatalog } from './tenant-files.js';

const { maxTenantsPerThread: MAX_OPEN_ENGINES, engine: ENGINE_OPTIONS } = workerData as EngineWorkerData;

interface Slot {
  engine: Promise<TenantEngine>;
  lastUsed: number;
  /** Set while a publish swaps this tenant's files: new queries wait for it. */
  swapping?: Promise<void>;
}

const slots = new Map<string, Slot>();

export default async function runTask(input: { task: EngineTask; cancelPort?: MessagePort }): Promise<TaskOutcome<unknown>> {
  try {
    return await dispatch(input);
  } finally {
    input.cancelPort?.close();
  }
}

async function dispatch(input: { task: EngineTask; cancelPort?: MessagePort }): Promise<TaskOutcome<unknown>> {
  try {
    const task = EngineTaskSchema.parse(input.task);
    switch (task.kind) {
      case 'query': {
        const cancelled = input.cancelPort ? new Promise<void>((resolve) => input.cancelPort!.once('message', () => resolve())) : undefined;
        const options = { maxRows: task.maxRows, maxBytes: task.maxBytes, timeoutMs: task.timeoutMs, ...(cancelled ? { cancelled } : {}) };
        return { ok: true, value: await withEngine(task, (engine) => engine.query(task.sql, task.env, options)) };
      }
      case 'publish': {
        const { catalog, result } = await buildPublishedFile(task, readTenantCatalog(task.tenantDir));
        await swapEngine(task.tenantId, () => writeTenantCatalog(task.tenantDir, catalog));
        removeUnusedVersions(task.tenantDir, catalog);
        return { ok: true, value: result };
      }
      case 'close-tenant':
        await swapEngine(task.tenantId, () => undefined);
        return { ok: true, value: null };
      case 'close-all':
        // Before the thread ends: a DuckDB instance finalized during thread teardown aborts the process.
        for (const tenantId of [...slots.keys()]) await swapEngine(tenantId, () => undefined);
        return { ok: true, value: null };
      case 'create-table':
        return { ok: true, value: await withEngine(task, (engine) => engine.createTable(task.name, task.sql, task.env, { timeoutMs: task.timeoutMs })) };
      case 'drop-table':
        return { ok: true, value: await withEngine(task, async (engine) => { await engine.dropTable(task.name); return null; }) };
      case 'import-table':
        return { ok: true, value: await withEngine(task, async (engine) => {
          const rows = await readUpload(task.upload);
          try {
            return await engine.importTable(task.name, rows.columns, rows.chunks());
          } finally {
            rows.close();
          }
        }) };
      case 'ingest-dataset':
        return { ok: true, value: await ingestDataset(task) };
      case 'list-tables':
        return { ok: true, value: await withEngine(task, (engine) => engine.listTables()) };
    }
  } catch (error) {
    if (isDomainError(error)) return { ok: false, code: error.code, message: error.message };
    // Unexpected: a bug or a failing trusted task (publish, ingest). Tenant SQL errors never get
    // here (they become coded errors first), so the first line goes to the host's stderr for the
    // operator of the platform; the caller gets a generic code.
    process.stderr.write(`engine worker: ${taskKind(input)} failed: ${String((error as Error).message ?? error).split('\n')[0]}\n`);
    return { ok: false, code: 'SBX_ERR_QUERY_FAILED', message: 'the engine failed to run the task' };
  }
}

/**
 * Runs `use` on the tenant's current engine. An engine can close between lookup and use when a swap
 * wins the race: then the work runs again on the new one.
 */
async function withEngine<T>(task: { tenantId: string; tenantDir: string }, use: (engine: TenantEngine) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    await slots.get(task.tenantId)?.swapping;
    const engine = await engineFor(task.tenantId, task.tenantDir);
    try {
      return await use(engine);
    } catch (error) {
      if (!(error instanceof EngineClosedError) || attempt >= 2) throw error;
    }
  }
}

function taskKind(input: { task: EngineTask }): string {
  return typeof input.task?.kind === 'string' ? input.task.kind : 'task';
}

function engineFor(tenantId: string, dir: string): Promise<TenantEngine> {
  let slot = slots.get(tenantId);
  if (!slot) {
    // SECURITY: the slot is claimed synchronously, before any await: two concurrent first tasks of a
    // tenant must share one engine, never open the workspace file twice (silent data loss).
    slot = { engine: evictIdleEngines(tenantId).then(() => TenantEngine.open(dir, ENGINE_OPTIONS)), lastUsed: Date.now() };
    slots.set(tenantId, slot);
    const created = slot;
    created.engine.catch(() => {
      if (slots.get(tenantId) === created) slots.delete(tenantId);
    });
  }
  slot.lastUsed = Date.now();
  return slot.engine;
}

/** Closes least recently used idle engines while more than the cap are open (never `opening`'s). */
async function evictIdleEngines(opening: string): Promise<void> {
  if (slots.size <= MAX_OPEN_ENGINES) return;
  const byAge = [...slots.entries()].filter(([tenantId]) => tenantId !== opening).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
  for (const [tenantId, slot] of byAge) {
    if (slots.size <= MAX_OPEN_ENGINES) return;
    const engine = await slot.engine.catch(() => undefined);
    if (engine && !engine.busy && !slot.swapping) {
      slots.delete(tenantId);
      engine.close();
    }
  }
}

/**
 * Waits for the tenant's in-flight queries to finish on the old engine, closes it, runs `change`
 * (e.g. the catalog swap), and lets the next query open the new version. Queries arriving meanwhile
 * wait. Two instances never hold the workspace file at once.
 */
async function swapEngine(tenantId: string, change: () => void): Promise<void> {
  const slot = slots.get(tenantId);
  if (!slot) {
    change();
    return;
  }
  let done!: () => void;
  slot.swapping = new Promise<void>((resolve) => (done = resolve));
  try {
    const engine = await slot.engine.catch(() => undefined);
    while (engine?.busy) await new Promise((resolve) => setTimeout(resolve, 5));
    slots.delete(tenantId);
    engine?.close();
    change();
  } finally {
    done();
  }
}

/** Deletes granted/dev files the catalog no longer names (no engine has them open any more). */
function removeUnusedVersions(dir: string, catalog: ReturnType<typeof readTenantCatalog>): void {
  const keep = new Set([catalog.granted?.file, catalog.dev?.file]);
  for (const name of fs.readdirSync(dir)) {
    if (/^(granted|dev)-\d+\.duckdb(\.wal)?$/.test(name) && !keep.has(name.replace(/\.wal$/, ''))) fs.rmSync(path.join(dir, name), { force: true });
  }
}
