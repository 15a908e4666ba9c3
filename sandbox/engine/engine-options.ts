/** Sizing of the engine processes, chosen by the server's configuration and passed down explicitly. */
export interface EngineOptions {
  /** Engine processes alive at once (one per tenant with recent work, plus the trusted one). */
  maxProcesses: number;
  engine: {
    /** DuckDB threads per tenant engine. */
    threads: number;
    /** DuckDB memory_limit per tenant engine. */
    memoryLimitMb: number;
    /** A tenant's workspace file (with its WAL) may not grow past this. */
    workspaceMaxBytes: number;
    /** Rows one upload may bring (a small Parquet file can expand to tens of millions). */
    uploadMaxRows: number;
  };
}

/** What a worker thread of an engine process needs. */
export interface EngineWorkerData {
  dataDir: string;
  engine: EngineOptions['engine'];
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  maxProcesses: 32,
  engine: { threads: 1, memoryLimitMb: 512, workspaceMaxBytes: 10 * 1024 ** 3, uploadMaxRows: 10_000_000 },
};
