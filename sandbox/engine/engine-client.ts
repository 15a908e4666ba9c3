import fs from 'node:fs';
import path from 'node:path';
import { DomainError } from '../../core/errors.js';
import { writeFileAtomic } from '../atomic-write.js';
import { datasetDirectory, retiredMarker, retiredTenants, stagingDirectory, tenantDirectory } from '../data-paths.js';
import { wipeDirectory, type WipeRecord } from '../wipe-directory.js';
import type { EngineOptions } from './engine-options.js';
import { EngineProcess, networkIsolationAvailable, type ExitReason } from './engine-process.js';
import { ingestProgressPath, readIngestProgress, type IngestProgress } from './ingest-progress.js';
import type { IngestResult } from './ingest-dataset.js';
import {
  DifferencingResultSchema, HostEventSchema, isTrustedTask, TRUSTED_PROCESS, type BuildResult, type DifferencingResult, type ExportDifferenceTask, type ExportReleaseTask, type ExportUnreleaseTask,
  type DeliveredFile, type DerivedSnapshot, type HostEvent, type ExportDeliverTask, type ExportDeriveTask, type ExportReadTask, type ExportRows,
  type ExportSnapshot, type ExportSnapshotResult, type ExportSnapshotTask, type CreatedTable, type CreateTableTask, type EngineTask, type Env, type ImportTableTask, type IngestDatasetTask, type ListedTable,
  type PublishResult, type PublishTask, type QueryResult, type QueryTask, type WorkspaceTableInfo,
} from './protocol.js';
import { readTenantCatalog, type TenantCatalog } from './tenant-files.js';

export interface EngineClientOptions extends EngineOptions {
  dataDir: string;
  /** Queries one tenant may run at once; more get SBX_ERR_TENANT_BUSY. */
  maxConcurrentPerTenant: number;
  /** Table builds and uploads one tenant may run at once; more get SBX_ERR_TENANT_BUSY. */
  maxTableTasksPerTenant: number;
  /** Tasks in flight across all tenants; more get SBX_ERR_QUEUE_FULL. */
  maxQueued: number;
  /** Resident memory of a tenant's engine process beyond which it is killed. */
  processMemoryLimitMb: number;
  /** The same for the trusted process (ingest and builds work on whole datasets). */
  trustedMemoryLimitMb: number;
  /** Added to a task's own time limit before its process is killed (DuckDB could not stop it). */
  killGraceMs: number;
  /** How long a task waits for its tenant's engine to (re)start before SBX_ERR_ENGINE_UNAVAILABLE. */
  waitForHostMs: number;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Told whenever an engine process was killed or crashed (the control plane audits it). */
  onEngineStopped?: (event: EngineStopped) => void;
  /** Told when a tenant's prod answers come in pairs too close to each other (the control plane audits it). */
  onAnswerPairs?: (tenantId: string, event: AnswerPairsEvent) => void;
  /** Node flags for engine processes (e.g. `--cpu-prof` when profiling); none by default. */
  hostExecArgv?: string[];
}

/** Two of a tenant's prod answers whose cells differ by fewer than the threshold entities (SQL hashes and cells). */
export type AnswerPairsEvent = Omit<HostEvent, 'event'>;

/** An engine process that ended other than by being asked to. */
export interface EngineStopped {
  /** The tenant whose process it was, or `trusted`. */
  owner: string;
  reason: Exclude<ExitReason, 'stopped'>;
  signal: string | null;
  rssMb?: number;
  /** How long the owner's next engine waits to start (repeated failures slow a tenant down). */
  backoffMs: number;
}

/** Time limits of the tasks that carry none of their own. */
const TASK_LIMIT_MS = { short: 30_000, swap: 120_000, import: 15 * 60_000, trusted: 60 * 60_000 } as const;
/** Failures within this window count towards a tenant's restart backoff. */
const FAILURE_WINDOW_MS = 5 * 60_000;
const BACKOFF_MS = { first: 100, max: 30_000 } as const;
const IDLE_PROCESS_MS = 10 * 60_000;
const STOP_GRACE_MS = 5_000;
/** libuv threads per engine process: its concurrent DuckDB calls plus file I/O. */
const THREADPOOL_SIZE = 8;

/**
 * The API server's handle on the engine processes (DESIGN.md §4): one process per tenant with recent
 * work, started on demand, plus one trusted process for ingest and builds. A tenant's crash, memory
 * blow-up or runaway ends only its own process and fails only its own work; a tenant that keeps
 * killing its engine waits longer for the next one. The file work of the data plane happens here
 * or in the processes: publishing builds, revocation's fence and wipe. Runs on the server's main
 * thread.
 */
export class EngineClient {
  private readonly processes = new Map<string, EngineProcess>();
  /**
   * Processes killed or stopping, until they have exited: the next process of the same owner waits
   * for that, so two processes never hold one tenant's files.
   */
  private readonly exiting = new Map<string, Promise<unknown>>();
  /** Times of recent failures, per owner. */
  private readonly failures = new Map<string, number[]>();
  /** Running queries, and table builds and uploads, per tenant (for the per-tenant caps). */
  private readonly running = { query: new Map<string, number>(), table: new Map<string, number>() };
  /** Tasks per tenant from their start (before their process is even ready), builds included. */
  private readonly tasksPerTenant = new Map<string, number>();
  private readonly drained = new Map<string, (() => void)[]>();
  /** Revoked tenants: no task of theirs is sent again, no process of theirs starts again. */
  private readonly retired = new Set<string>();
  /** The last swap of each tenant's files, for the next to wait on. */
  private readonly swaps = new Map<string, Promise<unknown>>();
  private inFlight = 0;
  private restarts = 0;
  private closing = false;
  private started = false;
  private readonly isolateNetwork: boolean;
  private reaper: NodeJS.Timeout | undefined;

  constructor(private readonly options: EngineClientOptions) {
    this.isolateNetwork = networkIsolationAvailable();
  }

  /** Starts the trusted process and resolves when it is ready. */
  async start(): Promise<void> {
    for (const tenantId of retiredTenants(this.options.dataDir)) this.retired.add(tenantId);
    this.options.log.info({ networkIsolation: this.isolateNetwork }, this.isolateNetwork ? 'engine processes run without network' : 'engine processes keep the network: unshare is not available');
    await this.processFor(TRUSTED_PROCESS).ready;
    this.started = true;
    this.reaper = setInterval(() => this.stopIdleProcesses(), 30_000).unref();
  }

  get status(): { ready: boolean; processes: number; restarts: number; inFlight: number; networkIsolation: boolean } {
    return { ready: this.started && !this.closing, processes: this.processes.size, restarts: this.restarts, inFlight: this.inFlight, networkIsolation: this.isolateNetwork };
  }

  /** The pid of a tenant's engine process, when it runs (tests kill it). */
  pidOf(owner: string): number | undefined {
    return this.processes.get(owner)?.pid;
  }

  query(task: Omit<QueryTask, 'kind'>, signal?: AbortSignal): Promise<QueryResult> {
    return this.capped('query', task.tenantId, () => this.send({ kind: 'query', ...task }, task.timeoutMs + this.options.killGraceMs, signal)) as Promise<QueryResult>;
  }

  createTable(task: Omit<CreateTableTask, 'kind' | 'replace'> & { replace?: boolean }): Promise<CreatedTable> {
    return this.capped('table', task.tenantId, () => this.send({ kind: 'create-table', replace: false, ...task }, task.timeoutMs + this.options.killGraceMs)) as Promise<CreatedTable>;
  }

  /** Snapshots a gated prod query for an export, in the tenant's process (counted as a table build). */
  exportSnapshot(task: Omit<ExportSnapshotTask, 'kind'>): Promise<ExportSnapshotResult> {
    return this.capped('table', task.tenantId, () => this.send({ kind: 'export-snapshot', ...task }, task.timeoutMs + this.options.killGraceMs)) as Promise<ExportSnapshotResult>;
  }

  /** A mitigated snapshot derived from an earlier version's, in the trusted process. */
  exportDerive(task: Omit<ExportDeriveTask, 'kind'>): Promise<DerivedSnapshot> {
    return this.send({ kind: 'export-derive', ...task }, TASK_LIMIT_MS.import) as Promise<DerivedSnapshot>;
  }

  /** The first rows of a snapshot, read in the trusted process. */
  exportRead(task: Omit<ExportReadTask, 'kind'>): Promise<ExportRows> {
    return this.send({ kind: 'export-read', ...task }, TASK_LIMIT_MS.short) as Promise<ExportRows>;
  }

  /** Writes the delivered data file of an approved version, in the trusted process. */
  exportDeliver(task: Omit<ExportDeliverTask, 'kind'>): Promise<DeliveredFile> {
    return this.send({ kind: 'export-deliver', ...task }, TASK_LIMIT_MS.import) as Promise<DeliveredFile>;
  }

  /** The differencing check of a version's cells against every release, in the trusted process. */
  async exportDifference(task: Omit<ExportDifferenceTask, 'kind' | 'suppressed'> & { suppressed?: ExportDifferenceTask['suppressed'] }): Promise<DifferencingResult> {
    return DifferencingResultSchema.parse(await this.send({ kind: 'export-difference', suppressed: [], ...task }, TASK_LIMIT_MS.import));
  }

  /** At approval: differencing again and, when nothing is too close, the version's cells added to the release store. */
  async exportRelease(task: Omit<ExportReleaseTask, 'kind' | 'suppressed'> & { suppressed?: ExportReleaseTask['suppressed'] }): Promise<DifferencingResult> {
    return DifferencingResultSchema.parse(await this.send({ kind: 'export-release', suppressed: [], ...task }, TASK_LIMIT_MS.import));
  }

  /** Takes a version's cells out of the release store (its approval did not commit). */
  async exportUnrelease(task: Omit<ExportUnreleaseTask, 'kind'>): Promise<void> {
    await this.send({ kind: 'export-unrelease', ...task }, TASK_LIMIT_MS.short);
  }

  ingestDataset(task: Omit<IngestDatasetTask, 'kind'>): Promise<IngestResult> {
    return this.send({ kind: 'ingest-dataset', ...task }, TASK_LIMIT_MS.trusted) as Promise<IngestResult>;
  }

  /** Where an ingest stands, from the note its process writes next to the version it builds. */
  ingestProgress(datasetId: string, version: number): IngestProgress | null {
    return readIngestProgress(ingestProgressPath(datasetDirectory(this.options.dataDir, datasetId), version));
  }

  importTable(task: Omit<ImportTableTask, 'kind'>): Promise<WorkspaceTableInfo> {
    return this.capped('table', task.tenantId, () => this.send({ kind: 'import-table', ...task }, TASK_LIMIT_MS.import)) as Promise<WorkspaceTableInfo>;
  }

  async dropTable(task: { tenantId: string; name: string }): Promise<void> {
    await this.send({ kind: 'drop-table', ...task }, TASK_LIMIT_MS.short);
  }

  listTables(task: { tenantId: string }): Promise<WorkspaceTableInfo[]> {
    return this.send({ kind: 'list-tables', ...task }, TASK_LIMIT_MS.short) as Promise<WorkspaceTableInfo[]>;
  }

  /** The tables and columns a tenant's query can read in `env`, with their lineage (discovery). */
  schema(task: { tenantId: string; env: Env }): Promise<ListedTable[]> {
    return this.send({ kind: 'schema', ...task }, TASK_LIMIT_MS.short) as Promise<ListedTable[]>;
  }

  /**
   * Publishes a tenant's next granted or dev file: built by the trusted process in the staging area
   * (raw files are attached there, never in a tenant's process), then adopted by the tenant's own
   * process, which waits for its queries on the old version, closes its engine and swaps the
   * catalog. A staged file that is not adopted is removed. Tables whose definition is unchanged
   * are carried over from the current file (`publish.ts`); the fences are the same either way: the
   * build counts as the tenant's task from its start, and the swap never runs for a revoked tenant.
   */
  async publish(task: PublishTask): Promise<PublishResult> {
    const { staged, builds, rebuilt, carried } = await this.send({ kind: 'build', incremental: true, ...task }, TASK_LIMIT_MS.trusted) as BuildResult;
    if (staged === null) {
      // Nothing changed: the current version stays (no swap, no new version).
      const current = this.publishedCatalog(task.tenantId)[task.target];
      return { target: task.target, version: current?.version ?? 0, tables: current?.tables ?? [], rebuilt, carried, unchanged: true };
    }
    try {
      const sources = Object.fromEntries(task.tables.map((t) => [t.name, t.source]));
      const privacy = Object.fromEntries(task.tables.flatMap((t) => (t.privacy ? [[t.name, t.privacy]] : [])));
      // Builds of a tenant's two files may run at once; their swaps (each rewrites the catalog) do not.
      const previous = this.swaps.get(task.tenantId) ?? Promise.resolve();
      const swap = previous.catch(() => undefined).then(() => this.send({ kind: 'swap', tenantId: task.tenantId, target: task.target, staged, sources, builds, privacy }, TASK_LIMIT_MS.swap));
      this.swaps.set(task.tenantId, swap);
      try {
        return { ...await swap as PublishResult, rebuilt, carried };
      } finally {
        if (this.swaps.get(task.tenantId) === swap) this.swaps.delete(task.tenantId);
      }
    } finally {
      fs.rmSync(path.join(stagingDirectory(this.options.dataDir, task.tenantId), staged), { force: true });
    }
  }

  /** The versions of a tenant's published files. */
  publishedCatalog(tenantId: string): TenantCatalog {
    return readTenantCatalog(tenantDirectory(this.options.dataDir, tenantId));
  }

  /** Whether the tenant is fenced for good (revoked). */
  isRetired(tenantId: string): boolean {
    return this.retired.has(tenantId);
  }

  /** Interrupts every task of a tenant in flight (suspension: its answers are withheld anyway). */
  cancelTenant(tenantId: string): void {
    this.processes.get(tenantId)?.cancelAll();
  }

  /**
   * Revocation's fence and wipe, where the files are. From the synchronous first line on, no task of
   * the tenant is sent and no process of its starts; the fence is also written to disk, where engine
   * processes check it before they open or create anything of the tenant's. Then the tenant's
   * process is killed, its tasks in flight (counted from their start, builds included) are waited
   * for, and its directory and staged builds are destroyed. Safe to repeat.
   */
  async retireTenant(tenantId: string): Promise<WipeRecord> {
    // SECURITY: invariant 6: the fence goes up before anything awaits.
    this.retired.add(tenantId);
    const marker = retiredMarker(this.options.dataDir, tenantId);
    fs.mkdirSync(path.dirname(marker), { recursive: true });
    writeFileAtomic(marker, new Date().toISOString());
    this.processes.get(tenantId)?.kill('stopped');
    while (this.exiting.has(tenantId)) await this.exiting.get(tenantId);
    await this.tasksDrained(tenantId);
    const dir = await wipeDirectory(tenantDirectory(this.options.dataDir, tenantId));
    const staged = await wipeDirectory(stagingDirectory(this.options.dataDir, tenantId));
    return { files: [...dir.files, ...staged.files], totalBytes: dir.totalBytes + staged.totalBytes };
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.reaper) clearInterval(this.reaper);
    await Promise.all([...this.processes.values()].map((p) => p.stop(STOP_GRACE_MS)));
  }

  private async send(task: EngineTask, deadlineMs: number, signal?: AbortSignal): Promise<unknown> {
    if (this.closing) throw new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine is shutting down');
    if (this.inFlight >= this.options.maxQueued) throw new DomainError('SBX_ERR_QUEUE_FULL', 'the engine queue is full: retry shortly');
    const tenantId = 'tenantId' in task && task.tenantId !== '*' ? task.tenantId : undefined;
    this.assertNotRetired(tenantId);
    // SECURITY: invariant 9: one tenant's tasks of any kind (listings, drops) never fill the queue
    // every tenant shares: each gets at most an eighth of it.
    if (tenantId && (this.tasksPerTenant.get(tenantId) ?? 0) >= Math.max(16, Math.floor(this.options.maxQueued / 8))) {
      throw new DomainError('SBX_ERR_TENANT_BUSY', 'this tenant has too many engine tasks in flight: retry shortly');
    }
    const owner = isTrustedTask(task) ? TRUSTED_PROCESS : tenantId!;
    // In flight from here, before the process is ready: revocation waits for it.
    this.inFlight += 1;
    if (tenantId) this.tasksPerTenant.set(tenantId, (this.tasksPerTenant.get(tenantId) ?? 0) + 1);
    try {
      const sentAt = Date.now();
      // After a failure, the restart counts against the task's own time: a task never waits on a
      // slow restart past its limit and grace (a cold start, with no failure behind it, is not bounded).
      const restarting = this.restartingAfterFailure(owner);
      await this.waitForBackoff(owner);
      const host = restarting ? await this.withinDeadline(this.hostFor(owner, tenantId), deadlineMs - (Date.now() - sentAt)) : await this.hostFor(owner, tenantId);
      // SECURITY: checked again after the last await: no task of a tenant retired meanwhile is sent.
      this.assertNotRetired(tenantId);
      return await host.run(task, restarting ? Math.max(1, deadlineMs - (Date.now() - sentAt)) : deadlineMs, signal);
    } catch (error) {
      // SECURITY: work cut short by a revocation says so (its answer is withheld either way).
      this.assertNotRetired(tenantId);
      throw error;
    } finally {
      this.inFlight -= 1;
      if (tenantId) this.taskSettled(tenantId);
    }
  }

  /** The owner's process once it is ready, after any earlier one of the owner's has exited. */
  private async hostFor(owner: string, tenantId: string | undefined): Promise<EngineProcess> {
    while (this.exiting.has(owner)) await this.exiting.get(owner);
    // SECURITY: invariant 6: no process of a tenant retired while the old one exited is started.
    this.assertNotRetired(tenantId);
    const host = this.processFor(owner);
    await host.ready;
    return host;
  }

  /** Whether the owner's last process failed recently and no new one is running yet. */
  private restartingAfterFailure(owner: string): boolean {
    return !this.processes.get(owner)?.alive && this.recentFailures(owner).length > 0;
  }

  /** Times of the owner's failures within the failure window, oldest first. */
  private recentFailures(owner: string): number[] {
    return (this.failures.get(owner) ?? []).filter((t) => t > Date.now() - FAILURE_WINDOW_MS);
  }

  /**
   * The restarting host, or SBX_ERR_ENGINE_UNAVAILABLE once the task's time is up. The restart goes
   * on without the task, so the tenant's next task finds the engine ready.
   */
  private async withinDeadline(host: Promise<EngineProcess>, remainingMs: number): Promise<EngineProcess> {
    host.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', "this tenant's engine is restarting after a failure: retry shortly", { retryAfterSeconds: 1 })), Math.max(0, remainingMs));
    });
    try {
      return await Promise.race([host, late]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Runs `work` within the tenant's cap for its kind of task. */
  private async capped(kind: 'query' | 'table', tenantId: string, work: () => Promise<unknown>): Promise<unknown> {
    const counts = this.running[kind];
    const max = kind === 'query' ? this.options.maxConcurrentPerTenant : this.options.maxTableTasksPerTenant;
    const now = counts.get(tenantId) ?? 0;
    // SECURITY: invariant 9: one tenant cannot take the whole engine.
    if (now >= max) throw new DomainError('SBX_ERR_TENANT_BUSY', `at most ${max} ${kind === 'query' ? 'queries' : 'table builds and uploads'} run at once per tenant`);
    counts.set(tenantId, now + 1);
    try {
      return await work();
    } finally {
      const left = (counts.get(tenantId) ?? 1) - 1;
      if (left === 0) counts.delete(tenantId);
      else counts.set(tenantId, left);
    }
  }

  private assertNotRetired(tenantId: string | undefined): void {
    if (tenantId && this.retired.has(tenantId)) throw new DomainError('AUTH_ERR_TENANT_REVOKED', 'the tenant has been revoked');
  }

  private taskSettled(tenantId: string): void {
    const left = (this.tasksPerTenant.get(tenantId) ?? 1) - 1;
    if (left > 0) {
      this.tasksPerTenant.set(tenantId, left);
      return;
    }
    this.tasksPerTenant.delete(tenantId);
    for (const resolve of this.drained.get(tenantId) ?? []) resolve();
    this.drained.delete(tenantId);
  }

  private tasksDrained(tenantId: string): Promise<void> {
    if (!this.tasksPerTenant.has(tenantId)) return Promise.resolve();
    return new Promise((resolve) => this.drained.set(tenantId, [...(this.drained.get(tenantId) ?? []), resolve]));
  }

  /** The owner's running process, or a new one (stopping idle ones beyond the cap). */
  private processFor(owner: string): EngineProcess {
    const running = this.processes.get(owner);
    if (running?.alive) return running;
    if (this.closing) throw new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine is shutting down');
    this.stopIdleProcesses(this.options.maxProcesses - 1);
    const trusted = owner === TRUSTED_PROCESS;
    const child = new EngineProcess(owner, {
      key: owner,
      dataDir: this.options.dataDir,
      engine: this.options.engine,
      concurrentTasks: 16,
      memoryLimitMb: trusted ? this.options.trustedMemoryLimitMb : this.options.processMemoryLimitMb,
      threadpoolSize: THREADPOOL_SIZE,
      execArgv: this.options.hostExecArgv ?? [],
      isolateNetwork: this.isolateNetwork,
    });
    this.processes.set(owner, child);
    child.onEvent = (message) => {
      const event = HostEventSchema.safeParse(message);
      // SECURITY: the tenant is the process's owner, never a name the process sends; the trusted process raises none.
      if (event.success && owner !== TRUSTED_PROCESS) this.options.onAnswerPairs?.(owner, { sqlSha256: event.data.sqlSha256, pairs: event.data.pairs });
    };
    child.onDying = () => {
      if (this.processes.get(owner) !== child) return;
      this.processes.delete(owner);
      const gone = child.exited.then(() => {
        if (this.exiting.get(owner) === gone) this.exiting.delete(owner);
      });
      this.exiting.set(owner, gone);
    };
    void child.exited.then((exit) => {
      child.onDying?.();
      if (exit.reason === 'stopped' || this.closing) return;
      this.restarts += 1;
      const now = Date.now();
      const recent = [...(this.failures.get(owner) ?? []).filter((t) => t > now - FAILURE_WINDOW_MS), now];
      this.failures.set(owner, recent);
      const event: EngineStopped = { owner, reason: exit.reason, signal: exit.signal, backoffMs: backoffFor(recent.length), ...(exit.rssMb === undefined ? {} : { rssMb: exit.rssMb }) };
      this.options.log.error({ ...event, code: exit.code }, 'engine process stopped');
      this.options.onEngineStopped?.(event);
    });
    return child;
  }

  /**
   * A tenant whose engine keeps failing waits before its next one starts: 100 ms after the second
   * failure in five minutes, doubling to 30 s. Tasks wait for that when it is short (within
   * `waitForHostMs` and the kill grace), else they are refused at once with the time to come back.
   */
  private async waitForBackoff(owner: string): Promise<void> {
    if (this.processes.get(owner)?.alive) return;
    const recent = this.recentFailures(owner);
    if (recent.length === 0) return;
    const waitMs = recent[recent.length - 1]! + backoffFor(recent.length) - Date.now();
    if (waitMs <= 0) return;
    if (waitMs > Math.min(this.options.waitForHostMs, this.options.killGraceMs)) {
      throw new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', `this tenant's engine failed ${recent.length} times recently and restarts in ${Math.ceil(waitMs / 1000)} s`, { retryAfterSeconds: Math.ceil(waitMs / 1000) });
    }
    await new Promise((resolve) => setTimeout(resolve, waitMs));
  }

  private stopIdleProcesses(keep = this.options.maxProcesses): void {
    const idle = [...this.processes.values()]
      .filter((p) => p.key !== TRUSTED_PROCESS && p.inFlight === 0 && !this.tasksPerTenant.has(p.key))
      .sort((a, b) => a.lastUsed - b.lastUsed);
    const now = Date.now();
    for (const process of idle) {
      if (this.processes.size <= keep && now - process.lastUsed < IDLE_PROCESS_MS) break;
      void process.stop(STOP_GRACE_MS);
    }
  }
}

function backoffFor(failures: number): number {
  return failures <= 1 ? 0 : Math.min(BACKOFF_MS.max, BACKOFF_MS.first * 2 ** (failures - 2));
}
