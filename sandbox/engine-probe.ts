import { DuckDBInstance } from '@duckdb/node-api';

/**
 * Readiness of the query engine library: opens an in-memory DuckDB and runs one query.
 * The engine host of the sandbox issue (#3) replaces this with the state of its worker pool.
 */
export async function probeEngine(): Promise<{ ready: boolean; version?: string }> {
  try {
    const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
    try {
      const connection = await instance.connect();
      try {
        const reader = await connection.runAndReadAll('SELECT version() AS v');
        return { ready: true, version: String(reader.getRowObjectsJS()[0]?.v) };
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } catch {
    return { ready: false };
  }
}
