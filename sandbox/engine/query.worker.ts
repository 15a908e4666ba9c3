/**
 * The piscina worker of an engine process (`engine-host.ts`): in a tenant's process it owns that
 * tenant's engine, so the tenant's files are only ever opened here (one owner thread per file); in
 * the trusted process it runs ingest and builds. Paths come from the data dir and the ids in tasks.
 * Tasks never throw: they return `{ok, value}` or `{ok: false, code, message}`, since error classes
 * do not survive the thread and process boundaries.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { DomainError, isDomainError } from '../../core/errors.js';
import { EngineTaskSchema, type EngineTask, type HostEvent, type TaskOutcome } from './protocol.js';
import { assertNotRetired, datasetDirectory, exportVersionDirectory, requestTempDirectory, tenantDirectory } from '../data-paths.js';
import { DEFAULT_DISCLOSURE_RULES } from '../../desensitize/index.js';
import { deliverSnapshot, readSnapshotRows, writeCells, writeSnapshot } from './export-files.js';
import { deriveSnapshot, writeDisclosureFile } from './export-mitigations.js';
import { differencing, releaseCells, unreleaseCells } from './release-store.js';
import type { PreparedUpload } from '../upload/prepare-upload.js';
import { ingestDataset } from './ingest-dataset.js';
import { adoptStagedFile, buildStagedFile } from './publish.js';
import { readUpload } from './read-upload.js';
import type { EngineWorkerData } from './engine-options.js';
import { EngineClosedError, TenantEngine } from './tenant-engine.js';
import { writeTenantCatalog, type TenantCatalog } from './tenant-files.js';

const { dataDir: DATA_DIR, engine: ENGINE_OPTIONS } = workerData as EngineWorkerData;

interface Slot {
  engine: Promise<TenantEngine>;
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
        const options = { maxRows: task.maxRows, maxBytes: task.maxBytes, timeoutMs: task.timeoutMs, admissible: task.admissible, ...cancellation(input.cancelPort) };
        return { ok: true, value: await withEngine(task, (engine) => engine.query(task.sql, task.env, options)) };
      }
      case 'open':
        await engineFor(task.tenantId);
        return { ok: true, value: null };
      case 'build':
        return { ok: true, value: await buildStagedFile(DATA_DIR, task) };
      case 'swap': {
        const dir = tenantDirectory(DATA_DIR, task.tenantId);
        let published: ReturnType<typeof adoptStagedFile>['result'] | undefined;
        await swapEngine(task.tenantId, () => {
          const { catalog, result } = adoptStagedFile(DATA_DIR, task);
          writeTenantCatalog(dir, catalog);
          removeUnusedVersions(dir, catalog);
          published = result;
        });
        // Opened now, outside any query's time limit.
        await engineFor(task.tenantId);
        return { ok: true, value: published };
      }
      case 'close-all':
        // Before the thread ends: a DuckDB instance finalized during thread teardown aborts the process.
        for (const tenantId of [...slots.keys()]) await swapEngine(tenantId, () => undefined);
        return { ok: true, value: null };
      case 'create-table':
        return { ok: true, value: await withEngine(task, (engine) => engine.createTable(task.name, task.sql, task.env, { timeoutMs: task.timeoutMs, replace: task.replace, admissible: task.admissible, ...cancellation(input.cancelPort) })) };
      case 'drop-table':
        return { ok: true, value: await withEngine(task, async (engine) => { await engine.dropTable(task.name); return null; }) };
      case 'import-table':
        return { ok: true, value: await withEngine(task, async (engine) => {
          const rows = await readUpload(uploadInTempDir(task.upload), { maxRows: ENGINE_OPTIONS.uploadMaxRows, sampleSize: task.sampleSize, today: task.today });
          try {
            return await engine.importTable(task.name, rows.columns, rows.chunks(), rows.pii);
          } finally {
            rows.close();
          }
        }) };
      case 'ingest-dataset':
        return { ok: true, value: await ingestDataset({
          ...task, datasetDir: datasetDirectory(DATA_DIR, task.datasetId), upload: task.upload && uploadInTempDir(task.upload),
          linkTo: task.linkTo?.map((other) => ({ ...other, path: path.join(datasetDirectory(DATA_DIR, other.dataset), other.file) })),
        }) };
      case 'list-tables':
        return { ok: true, value: await withEngine(task, (engine) => engine.listTables()) };
      case 'schema':
        return { ok: true, value: await withEngine(task, (engine) => engine.schema(task.env)) };
      case 'export-snapshot': {
        // SECURITY: the snapshot's place comes from the data dir and the export's ids, never from a request.
        const dir = exportVersionDirectory(DATA_DIR, task.exportId, task.version);
        const options = { maxRows: task.maxRows, timeoutMs: task.timeoutMs, admissible: task.admissible, ...cancellation(input.cancelPort) };
        return { ok: true, value: await withEngine(task, async (engine) => {
          // Exports leave from the real data: always prod.
          const { value, tables, sources, personLevel, findings } = await engine.exportSnapshot(task.sql, 'prod', options, (columns, chunks) => writeSnapshot(dir, columns, chunks), (batches) => writeCells(dir, batches));
          // The statistics of this very run, kept beside the snapshot for mitigations (never delivered).
          writeDisclosureFile(dir, { findings: findings ?? null, uncheckable: personLevel && 'uncheckable' in personLevel ? personLevel.uncheckable : null, suppressed: [] });
          return { ...value, tables, sources, personLevel };
        }) };
      }
      case 'export-derive':
        return { ok: true, value: await deriveSnapshot(exportVersionDirectory(DATA_DIR, task.exportId, task.fromVersion), exportVersionDirectory(DATA_DIR, task.exportId, task.version), task.mitigation, DEFAULT_DISCLOSURE_RULES) };
      case 'export-read':
        return { ok: true, value: await readSnapshotRows(exportVersionDirectory(DATA_DIR, task.exportId, task.version), task.limit) };
      case 'export-deliver':
        return { ok: true, value: await deliverSnapshot(exportVersionDirectory(DATA_DIR, task.exportId, task.version), task.format, Buffer.from(task.fingerprintKey, 'hex')) };
      case 'export-difference':
        return { ok: true, value: await differencing(DATA_DIR, task) };
      case 'export-release':
        return { ok: true, value: await releaseCells(DATA_DIR, task) };
      case 'export-unrelease':
        unreleaseCells(DATA_DIR, task);
        return { ok: true, value: null };
    }
  } catch (error) {
    if (isDomainError(error)) return { ok: false, code: error.code, message: error.message, ...(error.details ? { details: error.details } : {}) };
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
async function withEngine<T>(task: { tenantId: string }, use: (engine: TenantEngine) => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    await slots.get(task.tenantId)?.swapping;
    const engine = await engineFor(task.tenantId);
    try {
      return await use(engine);
    } catch (error) {
      if (!(error instanceof EngineClosedError) || attempt >= 2) throw error;
    }
  }
}

/** A promise that resolves when the server cancels the task (client gone, tenant suspended). */
function cancellation(port: MessagePort | undefined): { cancelled?: Promise<void> } {
  return port ? { cancelled: new Promise<void>((resolve) => port.once('message', () => resolve())) } : {};
}

function taskKind(input: { task: EngineTask }): string {
  return typeof input.task?.kind === 'string' ? input.task.kind : 'task';
}

/** A prepared upload lies in the request temp dir: anything else is refused. */
function uploadInTempDir(upload: PreparedUpload): PreparedUpload {
  const relative = path.relative(requestTempDirectory(DATA_DIR), upload.path);
  // SECURITY: the engine reads only files the server received for this request, never a path it was handed.
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new DomainError('UPL_ERR_MALFORMED', 'the upload is not where uploads are received');
  return upload;
}

function engineFor(tenantId: string): Promise<TenantEngine> {
  let slot = slots.get(tenantId);
  if (!slot) {
    // SECURITY: invariant 6: a revoked tenant's files are never opened (or re-created) again.
    assertNotRetired(DATA_DIR, tenantId);
    // SECURITY: the slot is claimed synchronously, before any await: two concurrent first tasks of a
    // tenant must share one engine, never open the workspace file twice (silent data loss).
    slot = {
      engine: TenantEngine.open(tenantDirectory(DATA_DIR, tenantId), ENGINE_OPTIONS).then((engine) => {
        // Pairs of the tenant's own answers too close to each other go to the control plane's audit (engine-host relays them).
        engine.onAnswerPairs = (event) => parentPort?.postMessage({ event: 'answer-pairs', ...event } satisfies HostEvent);
        return engine;
      }),
    };
    slots.set(tenantId, slot);
    const created = slot;
    created.engine.catch(() => {
      if (slots.get(tenantId) === created) slots.delete(tenantId);
    });
  }
  return slot.engine;
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
function removeUnusedVersions(dir: string, catalog: TenantCatalog): void {
  const keep = new Set([catalog.granted?.file, catalog.dev?.file]);
  for (const name of fs.readdirSync(dir)) {
    if (/^(granted|dev)-\d+\.duckdb(\.wal)?$/.test(name) && !keep.has(name.replace(/\.wal$/, ''))) fs.rmSync(path.join(dir, name), { force: true });
  }
}
