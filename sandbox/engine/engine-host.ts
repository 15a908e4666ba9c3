/**
 * An engine process: a child of the API server that runs the work of one owner, a tenant (its SQL,
 * on its engine) or the trusted platform work (`TRUSTED_PROCESS`: ingest and builds). A native
 * crash, an abort, a memory blow-up or a kill past a deadline ends only this process and the work of
 * its owner; the server's EngineClient starts another. Started with its HostOptions as argv[2];
 * speaks `protocol.ts` over the IPC channel; exits when the server disconnects.
 *
 * DuckDB runs in one piscina worker thread (`query.worker.ts`); this main thread only relays
 * messages, so it stays responsive while a query runs.
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { EngineWorkerData } from './engine-options.js';
import { isTrustedTask, TRUSTED_PROCESS, type EngineTask, type HostOptions, type HostReply, type HostRequest, type TaskOutcome } from './protocol.js';

const options = JSON.parse(process.argv[2] ?? '{}') as HostOptions;
const workerData: EngineWorkerData = { dataDir: options.dataDir, engine: options.engine };
const pool = new Piscina({
  filename: new URL('./query.worker.js', import.meta.url).href,
  minThreads: 1,
  maxThreads: 1,
  // Tasks wait on DuckDB in the libuv threadpool, not on the worker's JS thread.
  concurrentTasksPerWorker: options.concurrentTasks,
  idleTimeout: Number.POSITIVE_INFINITY,
  // Tasks are asynchronous (DuckDB callbacks, interrupt timers): the worker's event loop must keep
  // running between messages, which 'sync' atomics would pause.
  atomics: 'disabled',
  workerData,
});
const cancelPorts = new Map<number, MessagePort>();
// Events the engine raises unasked (answer pairs for the audit) are relayed as they are; the server checks them.
pool.on('message', (message: unknown) => {
  if (typeof message === 'object' && message !== null && 'event' in message) reply(message as HostReply);
});

function reply(message: HostReply): void {
  if (process.connected) process.send!(message);
}

/** Whether this process may run the task: a tenant's process runs only that tenant's tasks. */
function belongsHere(task: EngineTask): boolean {
  const trusted = isTrustedTask(task);
  // SECURITY: invariant 9: tenant SQL never runs in the trusted process (which reads raw data), and
  // a tenant's process never runs another tenant's work.
  return trusted ? options.key === TRUSTED_PROCESS : options.key !== TRUSTED_PROCESS && 'tenantId' in task && task.tenantId === options.key;
}

process.on('message', (message: HostRequest) => {
  if ('cancel' in message) {
    cancelPorts.get(message.id)?.postMessage('cancel');
    return;
  }
  const { id, task } = message;
  if (!belongsHere(task)) {
    reply({ id, outcome: { ok: false, code: 'SBX_ERR_QUERY_FAILED', message: 'the task was sent to the wrong engine process' } });
    return;
  }
  const { port1, port2 } = new MessageChannel();
  cancelPorts.set(id, port1);
  // Never abort a piscina task with a query in flight (it aborts the process): cancel through the port.
  pool.run({ task, cancelPort: port2 }, { transferList: [port2] })
    .then(
      (outcome: TaskOutcome<unknown>) => reply({ id, outcome }),
      () => reply({ id, outcome: { ok: false, code: 'SBX_ERR_QUERY_FAILED', message: 'the engine failed to run the task' } }),
    )
    .finally(() => {
      cancelPorts.delete(id);
      port1.close();
    });
});

// The server went away (or stops us): let running tasks finish, close the engines on their own
// thread (a DuckDB instance finalized during thread teardown aborts the process), then exit.
process.on('disconnect', () => {
  void pool.run({ task: { kind: 'close-all', tenantId: '*' } }).then(() => pool.close()).finally(() => process.exit(0));
});

// A tenant's engine is opened before the process says it is ready, so that no task's time limit
// pays for opening it (a query's limit is the query's).
const warm = options.key === TRUSTED_PROCESS ? Promise.resolve() : pool.run({ task: { kind: 'open', tenantId: options.key } }).catch(() => undefined);
void warm.then(() => reply({ ready: true }));
