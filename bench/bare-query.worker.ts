/**
 * The anchor's worker: DuckDB over a copy of a tenant's granted file, with the tenant engine's
 * settings (1 DuckDB thread, same memory limit), and none of the platform's work: no lockdown,
 * no gate, no audit, no process boundary.
 */
import { workerData } from 'node:worker_threads';
import { DuckDBInstance, JsonDuckDBValueConverter } from '@duckdb/node-api';

const { grantedFile } = workerData as { grantedFile: string };
const ready = (async () => {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB' });
  const setup = await instance.connect();
  await setup.run(`ATTACH '${grantedFile}' AS granted (READ_ONLY)`);
  setup.closeSync();
  return instance;
})();

export default async function run(input: { sql: string } | { close: true }): Promise<{ rows: unknown[][] }> {
  const instance = await ready;
  if ('close' in input) {
    // Closed here, on its own thread: a DuckDB instance finalized during thread teardown aborts the process.
    instance.closeSync();
    return { rows: [] };
  }
  const { sql } = input;
  const connection = await instance.connect();
  try {
    await connection.run("SET search_path = 'granted.main'");
    const reader = await connection.runAndReadUntil(sql, 1000);
    return { rows: reader.convertRows(JsonDuckDBValueConverter).slice(0, 1000) };
  } finally {
    connection.closeSync();
  }
}
