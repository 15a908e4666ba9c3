import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DomainError } from '../../core/errors.js';
import type { EngineOptions } from './engine-options.js';
import type { IngestResult } from './ingest-dataset.js';
import type { CreatedTable, CreateTableTask, EngineTask, ImportTableTask, IngestDatasetTask, HostReply, HostRequest, PublishResult, PublishTask, QueryResult, QueryTask, TaskOutcome, WorkspaceTableInfo } from './protocol.js';

export interface EngineClientOptions extends EngineOptions {
  /** Concurrent tasks per worker thread (queries wait on DuckDB, not on the JS thread). */
  concurrentTasksPerThread: number;
  /** Queries one tenant may run at once; more get SBX_ERR_TENANT_BUSY. */
  maxConcurrentPerTenant: number;
  /** Tasks in flight across all tenants; more get SBX_ERR_QUEUE_FULL. */
  maxQueued: number;
  /** Resident memory of the host process beyond which it is killed and restarted. */
  hostMemoryLimitMb: number;
  /** libuv threads of the host: DuckDB calls hold one each while they run. */
  hostThreadpoolSize: number;
  /** How long a request waits for a restarting host before SBX_ERR_ENGINE_UNAVAILABLE. */
  waitForHostMs: number;
  log: { info(obj: object, msg: string): void; error(obj: object, msg: string): void };
  /** Node flags for the host process (e.g. `--cpu-prof` when profiling); none by default. */
  hostExecArgv?: string[];
}

interface Pending {
  tenantId: string;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

const RESTART_BACKOFF_MS = { first: 50, max: 2_000 } as const;
const MEMORY_CHECK_EVERY_MS = 100;
const PAGE_BYTES = 4096;

/**
 * The API server's handle on the engine host process: sends tasks, matches replies, and keeps the
 * host alive. When the host dies (crash, abort, or killed for exceeding its memory limit), every
 * task in flight fails with SBX_ERR_ENGINE_RESTARTED and the host restarts with backoff; the
 * server process itself never runs tenant SQL. Runs on the server's main thread.
 */
export class EngineClient {
  private child: ChildProcess | undefined;
  private ready: Promise<void> | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly perTenant = new Map<string, number>();
  /** Tenants being revoked: no task of theirs reaches the host any more. */
  private readonly retired = new Set<string>();
  private nextId = 1;
  private restarts = 0;
  private backoffMs: number = RESTART_BACKOFF_MS.first;
  private closing = false;
  private memoryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: EngineClientOptions) {}

  /** Starts the host and resolves when it is ready. */
  start(): Promise<void> {
    this.ready = this.spawn();
    return this.ready;
  }

  get status(): { ready: boolean; pid: number | undefined; restarts: number; inFlight: number } {
    return { ready: Boolean(this.child?.connected), pid: this.child?.pid, restarts: this.restarts, inFlight: this.pending.size };
  }

  query(task: Omit<QueryTask, 'kind'>, signal?: AbortSignal): Promise<QueryResult> {
    const running = this.perTenant.get(task.tenantId) ?? 0;
    // SECURITY: one tenant cannot take the whole engine.
    if (running >= this.options.maxConcurrentPerTenant) {
      return Promise.reject(new DomainError('SBX_ERR_TENANT_BUSY', `at most ${this.options.maxConcurrentPerTenant} queries run at once per tenant`));
    }
    return this.send({ kind: 'query', ...task }, signal) as Promise<QueryResult>;
  }

  createTable(task: Omit<CreateTableTask, 'kind'>): Promise<CreatedTable> {
    return this.send({ kind: 'create-table', ...task }) as Promise<CreatedTable>;
  }

  ingestDataset(task: Omit<IngestDatasetTask, 'kind'>): Promise<IngestResult> {
    return this.send({ kind: 'ingest-dataset', ...task }) as Promise<IngestResult>;
  }

  importTable(task: Omit<ImportTableTask, 'kind'>): Promise<WorkspaceTableInfo> {
    return this.send({ kind: 'import-table', ...task }) as Promise<WorkspaceTableInfo>;
  }

  async dropTable(task: { tenantId: string; tenantDir: string; name: string }): Promise<void> {
    await this.send({ kind: 'drop-table', ...task });
  }

  listTables(task: { tenantId: string; tenantDir: string }): Promise<WorkspaceTableInfo[]> {
    return this.send({ kind: 'list-tables', ...task }) as Promise<WorkspaceTableInfo[]>;
  }

  publish(task: Omit<PublishTask, 'kind'>): Promise<PublishResult> {
    return this.send({ kind: 'publish', ...task }) as Promise<PublishResult>;
  }

  /**
   * Fences a tenant being revoked, then closes its engine once its queries drain (before its files
   * are wiped). A task that passed the access check before the revocation committed but has not
   * reached the host yet is refused, so nothing re-opens the tenant's files after the wipe.
   */
  async retireTenant(tenantId: string): Promise<void> {
    this.retired.add(tenantId);
    await this.send({ kind: 'close-tenant', tenantId });
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    // Disconnecting asks the host to drain and exit; a stuck host is killed.
    if (child.connected) child.disconnect();
    const killTimer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killTimer);
  }

  private async send(task: EngineTask, signal?: AbortSignal): Promise<unknown> {
    if (this.closing) throw new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine is shutting down');
    if (this.pending.size >= this.options.maxQueued) throw new DomainError('SBX_ERR_QUEUE_FULL', 'the engine queue is full: retry shortly');
    await this.whenReady();
    // SECURITY: checked after the last await, so no task of a retired tenant is posted after its close.
    if (this.retired.has(task.tenantId) && task.kind !== 'close-tenant') throw new DomainError('AUTH_ERR_TENANT_REVOKED', 'the tenant has been revoked');
    const child = this.child!;
    const id = this.nextId++;
    const tenantId = task.tenantId;
    this.perTenant.set(tenantId, (this.perTenant.get(tenantId) ?? 0) + 1);
    return new Promise<unknown>((resolve, reject) => {
      const settle = () => {
        this.pending.delete(id);
        const left = (this.perTenant.get(tenantId) ?? 1) - 1;
        if (left === 0) this.perTenant.delete(tenantId);
        else this.perTenant.set(tenantId, left);
        signal?.removeEventListener('abort', onAbort);
      };
      const onAbort = () => this.post({ id, cancel: true });
      this.pending.set(id, {
        tenantId,
        resolve: (value) => { settle(); resolve(value); },
        reject: (error) => { settle(); reject(error); },
      });
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.post({ id, task }, child)) this.pending.get(id)?.reject(restartedError());
    });
  }

  private post(message: HostRequest, child = this.child): boolean {
    if (!child?.connected) return false;
    child.send(message);
    return true;
  }

  private async whenReady(): Promise<void> {
    if (this.child?.connected) return;
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine is restarting: retry shortly')), this.options.waitForHostMs).unref(),
    );
    await Promise.race([this.ready, timeout]);
  }

  private spawn(): Promise<void> {
    const { log: _log, hostExecArgv = [], ...hostOptions } = this.options;
    const child = fork(fileURLToPath(hostEntryUrl()), [JSON.stringify(hostOptions)], {
      serialization: 'advanced',
      execArgv: hostExecArgv,
      // A clean environment: the host needs nothing from the server's (no secrets cross).
      env: { UV_THREADPOOL_SIZE: String(this.options.hostThreadpoolSize) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onMessage = (message: HostReply) => {
        if ('ready' in message) {
          resolve();
          return;
        }
        const pending = this.pending.get(message.id);
        if (!pending) return;
        const outcome = message.outcome as TaskOutcome<unknown>;
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(new DomainError(outcome.code, outcome.message));
      };
      child.on('message', onMessage);
      child.once('exit', (code, signal) => {
        reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine host exited while starting'));
        this.onExit(child, code, signal);
      });
    });
    ready.catch(() => undefined);
    this.watchMemory(child);
    return ready.then(() => {
      this.backoffMs = RESTART_BACKOFF_MS.first;
    });
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    for (const pending of [...this.pending.values()]) pending.reject(restartedError());
    if (this.closing) return;
    this.restarts += 1;
    this.options.log.error({ code, signal, restarts: this.restarts, backoffMs: this.backoffMs }, 'engine host exited; restarting');
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, RESTART_BACKOFF_MS.max);
    this.ready = new Promise<void>((resolve, reject) => {
      setTimeout(() => {
        if (this.closing) return reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine is shutting down'));
        this.spawn().then(resolve, reject);
      }, delay);
    });
    this.ready.catch(() => undefined);
  }

  /**
   * A hard memory bound needs a process boundary (DuckDB's memory_limit does not cover everything):
   * the host's resident size is read from /proc and the host is killed when it passes the limit.
   */
  private watchMemory(child: ChildProcess): void {
    if (this.memoryTimer) clearInterval(this.memoryTimer);
    const statm = `/proc/${child.pid}/statm`;
    if (!fs.existsSync(statm)) return;
    const limitBytes = this.options.hostMemoryLimitMb * 1024 * 1024;
    this.memoryTimer = setInterval(() => {
      try {
        const rssPages = Number(fs.readFileSync(statm, 'utf8').split(' ')[1]);
        if (rssPages * PAGE_BYTES > limitBytes) {
          this.options.log.error({ rssMb: Math.round((rssPages * PAGE_BYTES) / 1048576), limitMb: this.options.hostMemoryLimitMb }, 'engine host over its memory limit; killing it');
          child.kill('SIGKILL');
        }
      } catch {
        // The process is gone; its exit handler restarts it.
      }
    }, MEMORY_CHECK_EVERY_MS).unref();
  }
}

function restartedError(): DomainError {
  return new DomainError('SBX_ERR_ENGINE_RESTARTED', 'the engine restarted while the query ran: retry it');
}

/**
 * The host's entry point as built JavaScript. Under the test runner this module is the TypeScript
 * source, so the host is taken from `dist/` (`npm test` builds first): a forked process cannot run
 * TypeScript on Node 20.
 */
function hostEntryUrl(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./engine-host.js', here);
  return new URL('../../dist/sandbox/engine/engine-host.js', here);
}
