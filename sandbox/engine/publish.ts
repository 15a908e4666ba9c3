import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import type { PublishResult, PublishTask } from './protocol.js';
import { versionFile, type TenantCatalog } from './tenant-files.js';

/**
 * Builds the next version of a tenant's granted or dev file from trusted table definitions, in a
 * fresh file next to the current one, and returns the catalog that names it. The caller swaps the
 * catalog in once queries on the old version have drained. Trusted code only: the definitions'
 * SQL runs with file access, so it must never carry tenant input.
 */
export async function buildPublishedFile(task: PublishTask, current: TenantCatalog): Promise<{ catalog: TenantCatalog; result: PublishResult }> {
  const version = (current[task.target]?.version ?? 0) + 1;
  const file = versionFile(task.target, version);
  const building = path.join(task.tenantDir, `${file}.building`);
  fs.mkdirSync(task.tenantDir, { recursive: true });
  fs.rmSync(building, { force: true });
  fs.rmSync(`${building}.wal`, { force: true });
  const instance = await DuckDBInstance.create(building, { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  try {
    const connection = await instance.connect();
    try {
      for (const [alias, source] of Object.entries(task.attach)) await connection.run(`ATTACH ${sqlString(source)} AS ${alias} (READ_ONLY)`);
      for (const table of task.tables) await connection.run(`CREATE TABLE main.${quoteIdentifier(table.name)} AS ${table.sql}`);
      await connection.run('CHECKPOINT');
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
  fs.renameSync(building, path.join(task.tenantDir, file));
  const tables = task.tables.map((t) => t.name);
  return { catalog: { ...current, [task.target]: { version, file, tables } }, result: { target: task.target, version, tables } };
}
