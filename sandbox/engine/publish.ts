import { createHash, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { ENTITY_COLUMN, quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { assertNotRetired, datasetDirectory, stagingDirectory, tenantDirectory } from '../data-paths.js';
import type { BuildResult, BuildTask, PublishResult, SourceRef, TableBuild, TableDefinition, TablePrivacy } from './protocol.js';
import { readTenantCatalog, versionFile, type TenantCatalog } from './tenant-files.js';

const INSTANCE_OPTIONS = { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' } as const;
/**
 * A carried-over file whose free blocks (dropped tables) exceed this share of its blocks, and this
 * many bytes, is not reused: the build starts from an empty file instead, so files do not grow
 * version after version.
 */
const MAX_FREE = { share: 0.5, bytes: 32 * 1024 * 1024 } as const;

/**
 * The key of a table definition: everything its rows depend on, i.e. its SQL (the column policies
 * compiled with the tenant's token key and today's date), its source (dataset, version, access
 * fingerprint), the raw files it reads and, for a table with entity keys, the domain's key corrections
 * (their SQL and the raw files it reads). Two builds with one key produce the same table, so a table
 * is carried over only when its key is unchanged. Stricter than the source triple alone: a rule that
 * depends on today (age bands) is rebuilt when the day changes, and a new version of any dataset
 * that can show a shared key (compileDoubtfulKeys) rebuilds every table with entity keys.
 */
export function definitionKey(table: TableDefinition, task: Pick<BuildTask, 'attach' | 'keyCorrections'>): string {
  const corrections = table.privacy?.entity ? task.keyCorrections ?? null : null;
  const reads = table.sql + (corrections ?? '');
  const files = Object.entries(task.attach)
    .filter(([alias]) => reads.includes(alias))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([alias, file]) => [alias, file.dataset, file.file]);
  const canonical = JSON.stringify([table.name, table.sql, table.source.dataset, table.source.version, table.source.policy, files, corrections]);
  return createHash('sha256').update(canonical).digest('hex');
}

/**
 * Builds a tenant's next granted or dev file from trusted table definitions, in the staging area
 * outside the tenant's directory (`builds/<tenant>/`), in the trusted process: raw domain files are
 * attached here and never in a tenant's process. Trusted code only: the definitions' SQL runs with
 * file access, so it must never carry tenant input.
 *
 * Incremental (`task.incremental`, the default): when some definitions have the same key as in the
 * tenant's current file, that file (immutable once published) is copied, every table not owned by
 * such a definition is dropped (changed, withdrawn, or unknown: nothing is kept by accident), and
 * only the other definitions are built from the domain. A file copy costs ~0.1 s where building a
 * 620k-row domain costs tens of seconds (docs/performance.md #10).
 */
export async function buildStagedFile(dataDir: string, task: BuildTask): Promise<BuildResult> {
  assertNotRetired(dataDir, task.tenantId);
  const dir = stagingDirectory(dataDir, task.tenantId);
  fs.mkdirSync(dir, { recursive: true });
  const staged = `${task.target}-${randomUUID()}.duckdb`;
  const building = path.join(dir, `${staged}.building`);
  const keys = new Map(task.tables.map((t) => [t.name, definitionKey(t, task)]));
  const base = task.incremental ? carryable(dataDir, task, keys) : undefined;
  // The current file already is exactly what the task defines (checked, not assumed): nothing to build or publish.
  if (base && base.carry.size === task.tables.length && base.definitions === task.tables.length && await holdsExactly(base.file, base.carry)) {
    return { staged: null, builds: Object.fromEntries(base.carry), rebuilt: [], carried: [...base.carry.keys()] };
  }
  let outcome: Omit<BuildResult, 'staged'> | undefined;
  if (base) {
    fs.copyFileSync(base.file, building, fs.constants.COPYFILE_EXCL);
    outcome = await inBuildFile(building, (connection) => buildOnto(connection, dataDir, task, keys, base.carry));
    // Not reusable after all (unexpected objects, too much free space): start from an empty file.
    if (!outcome) removeBuilding(building);
  }
  outcome ??= (await inBuildFile(building, (connection) => buildOnto(connection, dataDir, task, keys, new Map())))!;
  fs.renameSync(building, path.join(dir, staged));
  return { staged, ...outcome };
}

/** The current file of the target and the builds in it that the task may carry, when there are any. */
function carryable(dataDir: string, task: BuildTask, keys: Map<string, string>): { file: string; carry: Map<string, TableBuild>; definitions: number } | undefined {
  const tenantDir = tenantDirectory(dataDir, task.tenantId);
  let published: TenantCatalog['granted'];
  try {
    published = readTenantCatalog(tenantDir)[task.target];
  } catch {
    return undefined;
  }
  if (!published) return undefined;
  const file = path.join(tenantDir, published.file);
  // A published file is checkpointed and only ever opened read-only: a WAL beside it means it is not what was published.
  if (!fs.existsSync(file) || fs.existsSync(`${file}.wal`)) return undefined;
  const carry = new Map<string, TableBuild>();
  for (const [name, key] of keys) {
    const built = published.builds[name];
    // SECURITY: carried only when the whole definition (SQL, source triple, raw files) is unchanged.
    if (built && built.key === key && built.tables.includes(name)) carry.set(name, built);
  }
  return carry.size > 0 ? { file, carry, definitions: Object.keys(published.builds).length } : undefined;
}

/**
 * On a fresh file (carry empty) or a copy of the current one: keeps exactly the carried builds'
 * tables, builds every other definition. Returns undefined when the copy cannot be reused.
 */
async function buildOnto(connection: DuckDBConnection, dataDir: string, task: BuildTask, keys: Map<string, string>, carry: Map<string, TableBuild>): Promise<Omit<BuildResult, 'staged'> | undefined> {
  if (carry.size > 0) {
    const present = await onlyMainTables(connection);
    const keep = new Set([...carry.values()].flatMap((b) => b.tables));
    if (!present || [...keep].some((name) => !present.has(name))) return undefined;
    // SECURITY: every table not owned by an unchanged definition goes (changed, withdrawn or unknown),
    // internal `__` tables included: nothing is carried that its definition's key does not vouch for.
    const dropped = [...present].filter((name) => !keep.has(name));
    for (const name of dropped) await connection.run(`DROP TABLE main.${quoteIdentifier(name)}`);
    if (dropped.length > 0) {
      // The drops' blocks are free only after a checkpoint; a file mostly free is not worth keeping.
      await connection.run('CHECKPOINT');
      const size = await connection.runAndReadAll('SELECT free_blocks, total_blocks, block_size FROM pragma_database_size() WHERE database_name = current_database()');
      const [free, total, blockSize] = (size.getRows()[0] ?? [0, 0, 0]).map(Number) as [number, number, number];
      if (total > 0 && free / total > MAX_FREE.share && free * blockSize > MAX_FREE.bytes) return undefined;
    }
  }
  const toBuild = task.tables.filter((t) => !carry.has(t.name));
  const corrections = toBuild.some((t) => t.privacy?.entity) ? task.keyCorrections : undefined;
  const reads = [...toBuild.map((t) => t.sql), corrections ?? ''].join('\n');
  for (const [alias, source] of Object.entries(task.attach)) {
    if (reads.includes(alias)) await connection.run(`ATTACH ${sqlString(path.join(datasetDirectory(dataDir, source.dataset), source.file))} AS ${alias} (READ_ONLY)`);
  }
  // The domain's key corrections, once per build (in memory: a temporary table is never in the file).
  await connection.run(`CREATE TEMP TABLE ${CORRECTIONS} AS ${corrections ?? 'SELECT NULL::VARCHAR AS entity, NULL::VARCHAR AS person WHERE false'}`);
  const builds: Record<string, TableBuild> = Object.fromEntries(carry);
  for (const table of toBuild) builds[table.name] = { key: keys.get(table.name)!, tables: await buildTable(connection, table) };
  await connection.run('CHECKPOINT');
  return { builds, rebuilt: toBuild.map((t) => t.name), carried: [...carry.keys()] };
}

/**
 * Builds one definition and returns every table that doing so created (the table itself first, then
 * any internal side table built with it), so that the next build carries or drops them together.
 */
async function buildTable(connection: DuckDBConnection, table: TableDefinition): Promise<string[]> {
  const before = await mainTables(connection);
  await connection.run(`CREATE TABLE main.${quoteIdentifier(table.name)} AS ${table.sql}`);
  // Inside the definition's build, so that the side table is carried or dropped with its table.
  if (table.privacy?.entity) await splitEntityKeys(connection, table.name);
  const created = [...await mainTables(connection)].filter((name) => !before.has(name) && name !== table.name).sort();
  return [table.name, ...created];
}

/**
 * The tables of a file when it holds nothing but tables in `main` (what builds make), else
 * undefined: a view, macro, sequence, index or other schema means the file is not one of ours.
 */
async function onlyMainTables(connection: DuckDBConnection): Promise<Set<string> | undefined> {
  const others = await scalar(connection, `SELECT (SELECT count(*) FROM duckdb_views() WHERE NOT internal AND database_name = current_database())
    + (SELECT count(*) FROM duckdb_sequences() WHERE database_name = current_database())
    + (SELECT count(*) FROM duckdb_indexes() WHERE database_name = current_database())
    + (SELECT count(*) FROM duckdb_functions() WHERE NOT internal AND database_name = current_database())
    + (SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND schema_name <> 'main')
    + (SELECT count(*) FROM duckdb_schemas() WHERE NOT internal AND database_name = current_database() AND schema_name <> 'main')`);
  return others === 0 ? mainTables(connection) : undefined;
}

/** Whether a published file holds exactly the carried builds' tables and nothing else (opened read-only). */
async function holdsExactly(file: string, carry: Map<string, TableBuild>): Promise<boolean> {
  const instance = await DuckDBInstance.create(file, { ...INSTANCE_OPTIONS, access_mode: 'READ_ONLY' });
  try {
    const connection = await instance.connect();
    try {
      const present = await onlyMainTables(connection);
      const keep = new Set([...carry.values()].flatMap((b) => b.tables));
      return present !== undefined && present.size === keep.size && [...keep].every((name) => present.has(name));
    } finally {
      connection.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

async function mainTables(connection: DuckDBConnection): Promise<Set<string>> {
  const reader = await connection.runAndReadAll("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = 'main'");
  return new Set(reader.getRows().map((row) => String(row[0])));
}

async function scalar(connection: DuckDBConnection, sql: string): Promise<number> {
  const reader = await connection.runAndReadAll(sql);
  return Number(reader.getRows()[0]?.[0] ?? 0);
}

/** Opens the file being built, runs `work`, closes it; on failure the file is removed. */
async function inBuildFile<T>(building: string, work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
  let failed = true;
  try {
    const instance = await DuckDBInstance.create(building, INSTANCE_OPTIONS);
    try {
      const connection = await instance.connect();
      try {
        const result = await work(connection);
        failed = false;
        return result;
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } finally {
    if (failed) removeBuilding(building);
  }
}

function removeBuilding(building: string): void {
  fs.rmSync(building, { force: true });
  fs.rmSync(`${building}.wal`, { force: true });
}

/** The build's temporary table of the domain's corrections of entity keys (BuildTask `keyCorrections`). */
const CORRECTIONS = 'temp.__key_corrections';

/**
 * Moves a table's entity keys (its `__entity` column) into `__entities_<table>(row, entity)`, keyed
 * by the table's rowid, and drops the column: the tenant's SQL never sees them (the gate refuses `__`
 * tables), while the disclosure checks join them back by rowid. The file is immutable once
 * published, so rowids stay aligned.
 */
async function splitEntityKeys(connection: DuckDBConnection, table: string): Promise<void> {
  const name = quoteIdentifier(table);
  const entity = quoteIdentifier(ENTITY_COLUMN);
  const side = `main.${quoteIdentifier(entityTableName(table))}`;
  await connection.run(`CREATE TABLE ${side} AS SELECT rowid AS row, ${entity} AS entity FROM main.${name} ORDER BY rowid`);
  // SECURITY: a key found shared by several people in any dataset of the domain (compileDoubtfulKeys)
  // is no one person's here either: its rows are keyless, never counted as a person (docs/sandbox.md,
  // "Rows without a key"; red-team passes 28a, 30a, 31a). One person's other identifiers count as
  // the resident ID or passport beside them (compileMergedKeys; passes 35a, 36a), unless the
  // identifier is doubtful (first statement) or the document is (last).
  const doubtful = `(SELECT entity FROM ${CORRECTIONS} WHERE person IS NULL)`;
  await connection.run(`UPDATE ${side} SET entity = NULL WHERE entity IN ${doubtful}`);
  await connection.run(`UPDATE ${side} SET entity = c.person FROM ${CORRECTIONS} AS c WHERE c.person IS NOT NULL AND ${side}.entity = c.entity`);
  await connection.run(`UPDATE ${side} SET entity = NULL WHERE entity IN ${doubtful}`);
  await connection.run(`ALTER TABLE main.${name} DROP COLUMN ${entity}`);
}

/** The side table of a granted table's entity keys. */
export function entityTableName(table: string): string {
  return `__entities_${table}`;
}

/**
 * Moves a staged build into the tenant's directory as the next version and returns the catalog that
 * names it (the caller writes it once the tenant's engine is closed). In the tenant's process.
 */
export function adoptStagedFile(dataDir: string, task: { tenantId: string; target: 'granted' | 'dev'; staged: string; sources: Record<string, SourceRef>; builds: Record<string, TableBuild>; privacy?: Record<string, TablePrivacy> }): { catalog: TenantCatalog; result: PublishResult } {
  // SECURITY: invariant 6: a revoked tenant's directory is never re-created.
  assertNotRetired(dataDir, task.tenantId);
  const dir = tenantDirectory(dataDir, task.tenantId);
  fs.mkdirSync(dir, { recursive: true });
  const current = readTenantCatalog(dir);
  const version = (current[task.target]?.version ?? 0) + 1;
  const file = versionFile(task.target, version);
  fs.renameSync(path.join(stagingDirectory(dataDir, task.tenantId), task.staged), path.join(dir, file));
  const tables = Object.keys(task.sources);
  return { catalog: { ...current, [task.target]: { version, file, sources: task.sources, tables, builds: task.builds, privacy: task.privacy ?? {} } }, result: { target: task.target, version, tables, rebuilt: [], carried: [], unchanged: false } };
}
