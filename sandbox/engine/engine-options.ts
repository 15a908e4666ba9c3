/** Sizing of the engine host, chosen by the server's configuration and passed down explicitly. */
export interface EngineOptions {
  /** Worker threads, each owning a share of the tenants (tenant affinity). */
  workerThreads: number;
  /** Tenant engines kept open per thread before idle ones are closed (LRU). */
  maxTenantsPerThread: number;
  engine: {
    /** DuckDB threads per tenant engine. */
    threads: number;
    /** DuckDB memory_limit per tenant engine. */
    memoryLimitMb: number;
  };
}

export type EngineWorkerData = Pick<EngineOptions, 'maxTenantsPerThread' | 'engine'>;

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  workerThreads: 2,
  maxTenantsPerThread: 16,
  engine: { threads: 1, memoryLimitMb: 512 },
};
