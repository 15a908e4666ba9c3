import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ENTITY_COLUMN, quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { assertNotRetired, datasetDirectory, stagingDirectory, tenantDirectory } from '../data-paths.js';
import type { BuildResult, BuildTask, PublishResult, SourceRef, TablePrivacy } from './protocol.js';
import { readTenantCatalog, versionFile, type TenantCatalog } from './tenant-files.js';

/**
 * Builds a tenant's next granted or dev file from trusted table definitions, in the staging area
 * outside the tenant's directory (`builds/<tenant>/`), in the trusted process: raw domain files are
 * attached here and never in a tenant's process. Trusted code only: the definitions' SQL runs with
 * file access, so it must never carry tenant input.
 */
export async function buildStagedFile(dataDir: string, task: BuildTask): Promise<BuildResult> {
  assertNotRetired(dataDir, task.tenantId);
  const dir = stagingDirectory(dataDir, task.tenantId);
  fs.mkdirSync(dir, { recursive: true });
  const staged = `${task.target}-${randomUUID()}.duckdb`;
  const building = path.join(dir, `${staged}.building`);
  const instance = await DuckDBInstance.create(building, { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  try {
    const connection = await instance.connect();
    try {
      for (const [alias, source] of Object.entries(task.attach)) {
        await connection.run(`ATTACH ${sqlString(path.join(datasetDirectory(dataDir, source.dataset), source.file))} AS ${alias} (READ_ONLY)`);
      }
      for (const table of task.tables) {
        await connection.run(`CREATE TABLE main.${quoteIdentifier(table.name)} AS ${table.sql}`);
        if (table.privacy?.entity) await splitEntityKeys(connection, table.name);
      }
      await connection.run('CHECKPOINT');
    } finally {
      connection.closeSync();
    }
  } catch (error) {
    fs.rmSync(building, { force: true });
    fs.rmSync(`${building}.wal`, { force: true });
    throw error;
  } finally {
    instance.closeSync();
  }
  fs.renameSync(building, path.join(dir, staged));
  return { staged };
}

/**
 * Moves a table's entity keys (its `__entity` column) into `__entities_<table>(row, entity)`, keyed
 * by the table's rowid, and drops the column: the tenant's SQL never sees them (the gate refuses
 * `__` tables), while the disclosure checks join them back by rowid. The file is immutable once
 * published, so rowids stay aligned.
 */
async function splitEntityKeys(connection: DuckDBConnection, table: string): Promise<void> {
  const name = quoteIdentifier(table);
  await connection.run(`CREATE TABLE main.${quoteIdentifier(entityTableName(table))} AS SELECT rowid AS row, ${quoteIdentifier(ENTITY_COLUMN)} AS entity FROM main.${name} ORDER BY rowid`);
  await connection.run(`ALTER TABLE main.${name} DROP COLUMN ${quoteIdentifier(ENTITY_COLUMN)}`);
}

/** The side table of a granted table's entity keys. */
export function entityTableName(table: string): string {
  return `__entities_${table}`;
}

/**
 * Moves a staged build into the tenant's directory as the next version and returns the catalog that
 * names it (the caller writes it once the tenant's engine is closed). In the tenant's process.
 */
export function adoptStagedFile(dataDir: string, task: { tenantId: string; target: 'granted' | 'dev'; staged: string; sources: Record<string, SourceRef>; privacy: Record<string, TablePrivacy> }): { catalog: TenantCatalog; result: PublishResult } {
  // SECURITY: invariant 6: a revoked tenant's directory is never re-created.
  assertNotRetired(dataDir, task.tenantId);
  const dir = tenantDirectory(dataDir, task.tenantId);
  fs.mkdirSync(dir, { recursive: true });
  const current = readTenantCatalog(dir);
  const version = (current[task.target]?.version ?? 0) + 1;
  const file = versionFile(task.target, version);
  fs.renameSync(path.join(stagingDirectory(dataDir, task.tenantId), task.staged), path.join(dir, file));
  const tables = Object.keys(task.sources);
  return { catalog: { ...current, [task.target]: { version, file, sources: task.sources, tables, privacy: task.privacy } }, result: { target: task.target, version, tables } };
}

