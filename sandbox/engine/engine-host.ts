/**
 * The engine host: a child process of the API server that hosts the piscina worker threads running
 * tenant SQL. A native crash, an abort or a memory blow-up in DuckDB kills this process, not the
 * server; the server's EngineClient restarts it. Started by `fork()` with its options as argv[2];
 * speaks the protocol in `protocol.ts` over the IPC channel. Exits when the server disconnects.
 *
 * Each worker thread has its own single-thread pool and every task of a tenant goes to the same one
 * (tenant affinity: a DuckDB file must have exactly one owner thread).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { EngineOptions, EngineWorkerData } from './engine-options.js';
import type { HostReply, HostRequest, TaskOutcome } from './protocol.js';

const options = JSON.parse(process.argv[2] ?? '{}') as EngineOptions & { concurrentTasksPerThread: number };
const workerData: EngineWorkerData = { maxTenantsPerThread: options.maxTenantsPerThread, engine: options.engine };
const pools = Array.from({ length: options.workerThreads }, () => new Piscina({
  filename: new URL('./query.worker.js', import.meta.url).href,
  minThreads: 1,
  maxThreads: 1,
  // Queries wait on DuckDB in the libuv threadpool, not on the worker's JS thread.
  concurrentTasksPerWorker: options.concurrentTasksPerThread,
  idleTimeout: Number.POSITIVE_INFINITY,
  // Tasks are asynchronous (DuckDB callbacks, interrupt timers): the worker's event loop must keep
  // running between messages, which 'sync' atomics would pause.
  atomics: 'disabled',
  workerData,
}));
const cancelPorts = new Map<number, MessagePort>();

/** FNV-1a: a stable thread for each tenant. */
function poolFor(tenantId: string): Piscina {
  let hash = 0x811c9dc5;
  for (let i = 0; i < tenantId.length; i++) hash = Math.imul(hash ^ tenantId.charCodeAt(i), 0x01000193) >>> 0;
  return pools[hash % pools.length]!;
}

function reply(message: HostReply): void {
  if (process.connected) process.send!(message);
}

process.on('message', (message: HostRequest) => {
  if ('cancel' in message) {
    cancelPorts.get(message.id)?.postMessage('cancel');
    return;
  }
  const { id, task } = message;
  const { port1, port2 } = new MessageChannel();
  cancelPorts.set(id, port1);
  // Never abort a piscina task with a query in flight (it aborts the process): cancel through the port.
  poolFor(task.tenantId)
    .run({ task, cancelPort: port2 }, { transferList: [port2] })
    .then(
      (outcome: TaskOutcome<unknown>) => reply({ id, outcome }),
      () => reply({ id, outcome: { ok: false, code: 'SBX_ERR_QUERY_FAILED', message: 'the engine failed to run the task' } }),
    )
    .finally(() => {
      cancelPorts.delete(id);
      port1.close();
    });
});

// The server went away (or closes us): let running tasks finish, close every tenant engine on its
// own thread, then end the threads and exit.
process.on('disconnect', () => {
  const closeAll = (pool: Piscina) => pool.run({ task: { kind: 'close-all', tenantId: '*' } }).then(() => pool.close());
  void Promise.allSettled(pools.map(closeAll)).finally(() => process.exit(0));
});

reply({ ready: true });
