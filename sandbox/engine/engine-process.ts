import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DomainError, type ErrorCode } from '../../core/errors.js';
import type { EngineTask, HostOptions, HostReply, HostRequest, TaskOutcome } from './protocol.js';

/**
 * One engine process: a child of the API server that runs one tenant's engine (or the trusted
 * platform work: ingest and builds) in a worker thread, with a blast radius of that one owner. It
 * is killed, never asked, when something must stop:
 *
 * - a task past its deadline (its limit plus a grace): DuckDB cannot interrupt every call (one
 *   `levenshtein` on huge strings, planning many `IN (subquery)`), so the process goes;
 * - resident memory past the limit (read from /proc every 100 ms): DuckDB's `memory_limit` does not
 *   cover `range(1e9)` lists or `printf` widths;
 * - a native crash kills it by itself.
 *
 * Every task in flight then fails with a clear code; the owner of the process (EngineClient)
 * decides when to start another. Runs on the server's main thread.
 */
export type ExitReason = 'deadline' | 'memory' | 'crash' | 'stopped';

export interface ProcessExit {
  reason: ExitReason;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Resident memory when it was killed for memory. */
  rssMb?: number;
}

interface Pending {
  task: EngineTask;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  deadline: NodeJS.Timeout;
}

const MEMORY_CHECK_EVERY_MS = 100;
const PAGE_BYTES = 4096;
const READY_TIMEOUT_MS = 30_000;

/** `unshare -rn` runs the process in a user and network namespace of its own: no network at all. */
let unshareWorks: boolean | undefined;
export function networkIsolationAvailable(): boolean {
  unshareWorks ??= spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore', timeout: 5_000 }).status === 0;
  return unshareWorks;
}

export class EngineProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exitReason: ExitReason | undefined;
  private rssMb: number | undefined;
  private readonly memoryTimer: NodeJS.Timeout;
  readonly ready: Promise<void>;
  readonly exited: Promise<ProcessExit>;
  /** When the last task settled (for idle shutdown). */
  lastUsed = Date.now();
  /** Called with what the process raises unasked (unchecked: the client parses it). */
  onEvent: ((message: unknown) => void) | undefined;
  /** Called once, when the process is killed, asked to stop, or found dead. */
  onDying: (() => void) | undefined;

  constructor(
    readonly key: string,
    options: HostOptions & { memoryLimitMb: number; threadpoolSize: number; execArgv: string[]; isolateNetwork: boolean },
  ) {
    const entry = fileURLToPath(hostEntryUrl());
    const args = [...options.execArgv, entry, JSON.stringify({ key: options.key, dataDir: options.dataDir, engine: options.engine, concurrentTasks: options.concurrentTasks } satisfies HostOptions)];
    // SECURITY: the engine process gets no network where the OS allows (a namespace of its own), and
    // a clean environment: nothing of the server's (no secrets) crosses.
    const [command, commandArgs] = options.isolateNetwork ? ['unshare', ['-rn', process.execPath, ...args]] as const : [process.execPath, args] as const;
    this.child = spawn(command, commandArgs, {
      serialization: 'advanced',
      env: { UV_THREADPOOL_SIZE: String(options.threadpoolSize) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('error', () => undefined);
    let readyTimer: NodeJS.Timeout | undefined;
    this.ready = new Promise<void>((resolve, reject) => {
      readyTimer = setTimeout(() => {
        reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine did not start in time: retry shortly'));
        this.kill('crash');
      }, READY_TIMEOUT_MS);
      this.child.on('message', (message: HostReply) => {
        if ('event' in message) {
          this.onEvent?.(message);
          return;
        }
        if ('ready' in message) {
          clearTimeout(readyTimer);
          resolve();
          return;
        }
        const pending = this.pending.get(message.id);
        if (!pending) return;
        const outcome = message.outcome as TaskOutcome<unknown>;
        if (outcome.ok) pending.resolve(outcome.value);
        else pending.reject(new DomainError(outcome.code, outcome.message, outcome.details));
      });
      this.child.once('exit', () => reject(new DomainError('SBX_ERR_ENGINE_UNAVAILABLE', 'the engine exited while starting: retry shortly')));
    });
    this.ready.catch(() => undefined);
    this.exited = new Promise<ProcessExit>((resolve) => {
      this.child.once('exit', (code, signal) => {
        clearTimeout(readyTimer);
        clearInterval(this.memoryTimer);
        const reason = this.exitReason ?? 'crash';
        for (const pending of [...this.pending.values()]) pending.reject(failureFor(reason, pending.task));
        resolve({ reason, code, signal, ...(this.rssMb === undefined ? {} : { rssMb: this.rssMb }) });
      });
    });
    this.memoryTimer = this.watchMemory(options.memoryLimitMb);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** False from the moment it is killed or asked to stop, before the exit is seen. */
  get alive(): boolean {
    return this.exitReason === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Runs one task. `deadlineMs` bounds it from the moment the process has it, whatever it does: past
   * it the process is killed and the task fails with SBX_ERR_QUERY_TIMEOUT (the others in flight
   * with SBX_ERR_ENGINE_RESTARTED). Waiting for the process to start is not the task's work and is
   * bounded apart (READY_TIMEOUT_MS): killing a process that is still starting would only make the
   * next task wait for another start.
   */
  async run(task: EngineTask, deadlineMs: number, signal?: AbortSignal): Promise<unknown> {
    await this.ready;
    if (!this.alive || !this.child.connected) throw failureFor(this.exitReason ?? 'crash', task);
    const id = this.nextId++;
    return new Promise<unknown>((resolve, reject) => {
      const onAbort = () => this.post({ id, cancel: true });
      const settle = () => {
        clearTimeout(pending.deadline);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(id);
        this.lastUsed = Date.now();
      };
      const pending: Pending = {
        task,
        resolve: (value) => { settle(); resolve(value); },
        reject: (error) => { settle(); reject(error); },
        // SECURITY: invariant 3 and 9: a task that does not end in time takes its process with it.
        deadline: setTimeout(() => {
          const limit = 'timeoutMs' in task ? `${task.timeoutMs} ms ` : '';
          pending.reject(new DomainError('SBX_ERR_QUERY_TIMEOUT', `the task ran past its ${limit}time limit and its engine was stopped`));
          this.kill('deadline');
        }, deadlineMs),
      };
      this.pending.set(id, pending);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.post({ id, task })) pending.reject(failureFor(this.exitReason ?? 'crash', task));
    });
  }

  /** Forwards a cancellation to every task in flight (their queries are interrupted). */
  cancelAll(): void {
    for (const id of this.pending.keys()) this.post({ id, cancel: true });
  }

  /** Kills the process at once; in-flight tasks fail with the code for `reason`. */
  kill(reason: ExitReason): void {
    this.exitReason ??= reason;
    this.dying();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Asks the process to close its engines and exit; kills it if it has not within `graceMs`. */
  async stop(graceMs: number): Promise<ProcessExit> {
    this.exitReason ??= 'stopped';
    this.dying();
    if (this.child.connected) this.child.disconnect();
    const timer = setTimeout(() => this.kill('stopped'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  private dying(): void {
    const notify = this.onDying;
    this.onDying = undefined;
    notify?.();
  }

  private post(message: HostRequest): boolean {
    if (!this.child.connected) return false;
    this.child.send(message);
    return true;
  }

  private watchMemory(limitMb: number): NodeJS.Timeout {
    const statm = `/proc/${this.child.pid}/statm`;
    const limitBytes = limitMb * 1024 * 1024;
    return setInterval(() => {
      try {
        const rssBytes = Number(fs.readFileSync(statm, 'utf8').split(' ')[1]) * PAGE_BYTES;
        if (rssBytes > limitBytes) {
          this.rssMb = Math.round(rssBytes / 1048576);
          // SECURITY: invariant 9: the memory bound is the process, not DuckDB's cooperation.
          this.kill('memory');
        }
      } catch {
        // Gone (or no /proc): the exit handler reports it.
      }
    }, MEMORY_CHECK_EVERY_MS).unref();
  }
}

function failureFor(reason: ExitReason, task: EngineTask): DomainError {
  const [code, message]: [ErrorCode, string] = reason === 'memory'
    ? ['SBX_ERR_ENGINE_MEMORY', "the tenant's engine passed its memory limit while this task ran and was stopped"]
    : reason === 'deadline'
      ? ['SBX_ERR_ENGINE_RESTARTED', "another task of this tenant ran past its limit and the tenant's engine was stopped: retry"]
      : ['SBX_ERR_ENGINE_RESTARTED', `the engine stopped while the ${task.kind} ran: retry it`];
  return new DomainError(code, message);
}

/**
 * The host's entry point as built JavaScript. Under the test runner this module is the TypeScript
 * source, so the host is taken from `dist/` (`npm test` builds first): a spawned process cannot run
 * TypeScript on Node 20.
 */
function hostEntryUrl(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./engine-host.js', here);
  return new URL('../../dist/sandbox/engine/engine-host.js', here);
}
