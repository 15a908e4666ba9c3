import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { cutUnits } from '../../core/text.js';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { checkQuery } from '../gate/gate.js';
import type { ScannedTable } from '../gate/plan-check.js';
import { reject } from '../gate/sql-rejection.js';
import { WorkspaceTagSchema, type Env, type QueryResult, type SourceRef, type WorkspaceTag } from './protocol.js';
import { catalogVersion, readTenantCatalog, WORKSPACE_FILE, type TenantCatalog } from './tenant-files.js';

/**
 * One tenant's query engine: a DuckDB instance over the tenant's workspace file with its current
 * granted and dev files attached read-only, locked down before any tenant SQL runs. Lives on one
 * worker thread (tenant affinity); only that thread opens these files. Close it with `close()`
 * once no query is in flight.
 */
export interface TenantEngineOptions {
  threads: number;
  memoryLimitMb: number;
  workspaceMaxBytes: number;
}

export interface RunOptions {
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
  /** Resolves when the caller gives up (client disconnect); the query is interrupted. */
  cancelled?: Promise<void>;
}

/** Catalogs each environment may read: its own attached file, and the tenant's workspace. */
const ENV_CATALOGS: Record<Env, ReadonlySet<string>> = {
  prod: new Set(['granted', 'workspace']),
  dev: new Set(['dev', 'workspace']),
};

const INTERRUPT_EVERY_MS = 25;
const DECISION_CACHE_SIZE = 1_000;

interface Decision {
  /** What runs: DuckDB's rendering of the checked statement (`gate.ts`). */
  canonicalSql: string;
  /** Tables the bound plan reads, as `catalog.table`. */
  tables: string[];
  /** The datasets behind them: from the published file's manifest and the workspace tables' tags. */
  sources: SourceRef[];
}

/** Raised by a query that reached an engine just closed by a swap; the worker retries it. */
export class EngineClosedError extends Error {}

export class TenantEngine {
  private inFlight = 0;
  private closed = false;
  private readonly decisions = new Map<string, Decision>();
  /**
   * Bumped when a workspace DDL starts and when it ends. Binding reads the workspace's catalog, so a
   * decision is only reused within one generation, and a query that overlapped a DDL is run again.
   */
  private generation = 0;

  private constructor(
    private readonly dir: string,
    private readonly workspaceMaxBytes: number,
    private readonly instance: DuckDBInstance,
    readonly catalog: TenantCatalog,
    /** Each workspace table's tag (its env and sources), kept in the table's comment; null when unreadable. */
    private readonly tags: Map<string, WorkspaceTag | null>,
  ) {}

  static async open(dir: string, options: TenantEngineOptions): Promise<TenantEngine> {
    const catalog = readTenantCatalog(dir);
    const tempDir = path.join(dir, 'tmp');
    fs.mkdirSync(tempDir, { recursive: true });
    const instance = await DuckDBInstance.create(path.join(dir, WORKSPACE_FILE), {
      threads: String(options.threads),
      memory_limit: `${options.memoryLimitMb}MB`,
      max_memory: `${options.memoryLimitMb}MB`,
      temp_directory: tempDir,
      max_temp_directory_size: '1GB',
      max_expression_depth: '200',
      // SECURITY: invariant 2: no extension can be installed or loaded, no secret persisted.
      autoinstall_known_extensions: 'false',
      autoload_known_extensions: 'false',
      allow_community_extensions: 'false',
      allow_unsigned_extensions: 'false',
      allow_persistent_secrets: 'false',
    });
    try {
      const setup = await instance.connect();
      try {
        for (const target of ['granted', 'dev'] as const) {
          const published = catalog[target];
          if (published) await setup.run(`ATTACH ${sqlString(path.join(dir, published.file))} AS ${target} (READ_ONLY)`);
        }
        // The gate decides on the bound plan, which EXPLAIN only returns with this (gate.ts).
        await setup.run("SET GLOBAL explain_output = 'all'");
        // SECURITY: invariants 1 and 2: after this no file outside the attached ones can be read or
        // written (temp dir order matters, see reference), and no setting can change again.
        await setup.run('SET enable_external_access = false');
        await setup.run('SET lock_configuration = true');
        return new TenantEngine(dir, options.workspaceMaxBytes, instance, catalog, await readTags(setup));
      } finally {
        setup.closeSync();
      }
    } catch (error) {
      instance.closeSync();
      throw error;
    }
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  get version(): string {
    return catalogVersion(this.catalog);
  }

  /** Gates and runs one tenant query. Throws a DomainError with a stable code on refusal. */
  async query(sql: string, env: Env, options: RunOptions): Promise<QueryResult> {
    const started = performance.now();
    return this.withConnection(env, async (connection) => {
      for (let attempt = 0; ; attempt += 1) {
        const generation = this.generation;
        const decision = await this.decide(connection, sql, env);
        const result = await withDeadline(connection, env, options, () => readCapped(connection, decision.canonicalSql, options));
        // SECURITY: the answer is delivered only if the workspace did not change between the check
        // and the run (a table dropped and re-created under the same name binds differently).
        if (this.generation === generation) return { ...result, tables: decision.tables, sources: decision.sources, ms: Math.round(performance.now() - started) };
        if (attempt >= 2) throw new DomainError('SBX_ERR_ENGINE_RESTARTED', 'the workspace changed while the query ran: retry it');
      }
    });
  }

  /**
   * Saves a gated SELECT as a workspace table, tagged in the same transaction with the env it ran in
   * and the sources it read (its lineage travels with it). The server writes the DDL around DuckDB's
   * rendering of the checked statement; the name never collides with a published table of either
   * env. `replace` rebuilds an existing table (under a new policy).
   */
  async createTable(name: string, sql: string, env: Env, options: Pick<RunOptions, 'timeoutMs' | 'cancelled'> & { replace?: boolean }): Promise<WorkspaceTable & { tables: string[]; sources: SourceRef[] }> {
    return this.withConnection(env, (connection) => this.changingWorkspace(async () => {
      await this.assertNameFree(connection, name, options.replace ?? false);
      const decision = await this.decide(connection, sql, env);
      const tag: WorkspaceTag = { env, sources: decision.sources };
      const table = `workspace.main.${quoteIdentifier(name)}`;
      await this.withinQuota(connection, name, async () => {
        await connection.run('BEGIN TRANSACTION');
        try {
          if (options.replace) await connection.run(`DROP TABLE IF EXISTS ${table}`);
          await withDeadline(connection, env, options, () => connection.run(`CREATE TABLE ${table} AS ${decision.canonicalSql}`));
          // SECURITY: invariant 9: the lineage commits with the data, or neither does.
          await connection.run(`COMMENT ON TABLE ${table} IS ${sqlString(JSON.stringify(tag))}`);
          await connection.run('COMMIT');
        } catch (error) {
          await connection.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
        this.tags.set(name, tag);
      });
      const [created] = await workspaceTables(connection, name);
      return { ...created!, tables: decision.tables, sources: decision.sources };
    }));
  }

  /**
   * Creates a workspace table from rows read by trusted code (an upload), appending data chunks
   * through DuckDB's appender: the tenant engine's file lockdown is never lifted. All or nothing:
   * a failure part-way drops the table.
   */
  async importTable(name: string, columns: { name: string; type: string }[], chunks: AsyncIterable<DuckDBDataChunk>): Promise<WorkspaceTable> {
    return this.withConnection('dev', (connection) => this.changingWorkspace(async () => {
      await this.assertNameFree(connection, name, false);
      const definition = columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ');
      const tag: WorkspaceTag = { env: 'upload', sources: [] };
      await this.withinQuota(connection, name, async () => {
        await connection.run(`CREATE TABLE workspace.main.${quoteIdentifier(name)} (${definition})`);
        await connection.run(`COMMENT ON TABLE workspace.main.${quoteIdentifier(name)} IS ${sqlString(JSON.stringify(tag))}`);
        this.tags.set(name, tag);
        try {
          const appender = await connection.createAppender(name, 'main', 'workspace');
          try {
            for await (const chunk of chunks) appender.appendDataChunk(chunk);
            appender.flushSync();
          } finally {
            appender.closeSync();
          }
        } catch (error) {
          await connection.run(`DROP TABLE IF EXISTS workspace.main.${quoteIdentifier(name)}`);
          this.tags.delete(name);
          throw error;
        }
      });
      return (await workspaceTables(connection, name))[0]!;
    }));
  }

  async dropTable(name: string): Promise<void> {
    await this.withConnection('dev', (connection) => this.changingWorkspace(async () => {
      if ((await workspaceTables(connection, name)).length === 0) throw new DomainError('TBL_ERR_NOT_FOUND', `no workspace table ${name}`);
      await connection.run(`DROP TABLE workspace.main.${quoteIdentifier(name)}`);
      this.tags.delete(name);
    }));
  }

  /** Runs a workspace DDL between two generation bumps, and forgets decisions bound before it. */
  private async changingWorkspace<T>(work: () => Promise<T>): Promise<T> {
    this.generation += 1;
    this.decisions.clear();
    try {
      return await work();
    } finally {
      this.generation += 1;
      this.decisions.clear();
    }
  }

  /**
   * Bytes the workspace's data takes: its used blocks (a file does not shrink when tables are
   * dropped, its freed blocks are reused) and its WAL.
   */
  private async workspaceBytes(connection: DuckDBConnection): Promise<number> {
    const reader = await connection.runAndReadAll("SELECT used_blocks * block_size FROM pragma_database_size() WHERE database_name = 'workspace'");
    const wal = path.join(this.dir, `${WORKSPACE_FILE}.wal`);
    return Number(reader.getRowsJS()[0]?.[0] ?? 0) + (fs.existsSync(wal) ? fs.statSync(wal).size : 0);
  }

  /**
   * Runs `create` (which adds table `name`) only while the workspace is under its quota, and drops
   * the table again when it took the workspace past it.
   */
  private async withinQuota<T>(connection: DuckDBConnection, name: string, create: () => Promise<T>): Promise<T> {
    const full = () => new DomainError('TBL_ERR_WORKSPACE_FULL', `the workspace holds more than its ${Math.round(this.workspaceMaxBytes / 1048576)} MiB: delete tables first`);
    // SECURITY: one tenant cannot fill the disk every tenant shares.
    if ((await this.workspaceBytes(connection)) >= this.workspaceMaxBytes) throw full();
    const value = await create();
    if ((await this.workspaceBytes(connection)) > this.workspaceMaxBytes) {
      await connection.run(`DROP TABLE IF EXISTS workspace.main.${quoteIdentifier(name)}`);
      this.tags.delete(name);
      // Frees the dropped table's blocks now, so the quota counts what is really kept.
      await connection.run('CHECKPOINT workspace').catch(() => undefined);
      throw full();
    }
    return value;
  }

  async listTables(): Promise<(WorkspaceTable & { tag: WorkspaceTag | null })[]> {
    const tables = await this.withConnection('dev', (connection) => workspaceTables(connection));
    return tables.map((t) => ({ ...t, tag: this.tags.get(t.name) ?? null }));
  }

  /** A new workspace table's name must be free: no published table of either env, no workspace table (unless replacing). */
  private async assertNameFree(connection: DuckDBConnection, name: string, replace: boolean): Promise<void> {
    if (this.publishedNames().has(name)) throw new DomainError('TBL_ERR_NAME_TAKEN', `${name} is the name of a granted table: choose another`);
    if (!replace && (await workspaceTables(connection, name)).length > 0) throw new DomainError('TBL_ERR_EXISTS', `workspace table ${name} already exists: delete it first`);
  }

  /** Names the tenant's published files use, in either env. */
  private publishedNames(): Set<string> {
    const names = (target: 'granted' | 'dev') => [...(this.catalog[target]?.tables ?? []), ...Object.keys(this.catalog[target]?.sources ?? {})];
    return new Set([...names('granted'), ...names('dev')]);
  }

  private async withConnection<T>(env: Env, use: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    if (this.closed) throw new EngineClosedError();
    this.inFlight += 1;
    const connection = await this.instance.connect();
    try {
      await connection.run(`SET search_path = '${searchPath(env, this.catalog)}'`);
      return await use(connection);
    } finally {
      connection.closeSync();
      this.inFlight -= 1;
    }
  }

  close(): void {
    this.closed = true;
    this.instance.closeSync();
  }

  /**
   * The gate (`gate.ts`). A decision is reused only for the same text in the same env, catalog version
   * and workspace generation: everything binding reads is then the same, so the full check would
   * give the same verdict. Nothing is shared between different texts.
   */
  private async decide(connection: DuckDBConnection, sql: string, env: Env): Promise<Decision> {
    const key = `${env}\u0000${this.version}\u0000${this.generation}\u0000${sql}`;
    const cached = this.decisions.get(key);
    if (cached) return cached;
    const { canonicalSql, reads } = await checkQuery(connection, sql, { catalogs: ENV_CATALOGS[env] }, (error) => bindError(error, env));
    const decision = { canonicalSql, tables: [...new Set(reads.map((t) => `${t.catalog}.${t.table}`))].sort(), sources: this.sourcesOf(reads, env) };
    remember(this.decisions, key, decision);
    return decision;
  }

  /**
   * The lineage of what a query reads, and the last word on whether it may read it: a published table
   * needs its manifest entry, a workspace table its tag, and the tag's env must be the query's (or an
   * upload). Fails closed: a read without a lineage record is refused.
   */
  private sourcesOf(reads: ScannedTable[], env: Env): SourceRef[] {
    const sources = new Map<string, SourceRef>();
    for (const { catalog, table } of reads) {
      let found: SourceRef[];
      if (catalog === 'workspace') {
        const tag = this.tags.get(table);
        // SECURITY: invariant 9: no lineage, no access.
        if (!tag) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', `workspace table ${table} has no lineage record: delete it and create it again`);
        // SECURITY: invariant 9: a table built from prod is invisible in dev (and one built from dev in prod).
        if (tag.env !== 'upload' && tag.env !== env) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', `workspace table ${table} was built in ${tag.env} and is not available in ${env}`);
        found = tag.sources;
      } else {
        const source = this.catalog[catalog === 'granted' ? 'granted' : 'dev']?.sources[table];
        // SECURITY: invariant 9: a published table without its manifest entry never answers.
        if (!source) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', `${table} has no lineage record in this tenant's files and cannot be read until they are rebuilt`);
        found = [source];
      }
      for (const source of found) sources.set(`${source.dataset}\u0000${source.version}\u0000${source.policy}`, source);
    }
    return [...sources.values()];
  }
}

/** Tags of the workspace's tables, from their comments (trusted code on the tenant's own file). */
async function readTags(connection: DuckDBConnection): Promise<Map<string, WorkspaceTag | null>> {
  const reader = await connection.runAndReadAll("SELECT table_name, comment FROM duckdb_tables() WHERE database_name = 'workspace' AND schema_name = 'main'");
  const tags = new Map<string, WorkspaceTag | null>();
  for (const [name, comment] of reader.getRowsJS() as [string, string | null][]) {
    let parsed: WorkspaceTag | null = null;
    try {
      const result = WorkspaceTagSchema.safeParse(JSON.parse(comment ?? 'null'));
      if (result.success) parsed = result.data;
    } catch {
      // Not JSON: a table from before tags were kept, unreadable until re-created.
    }
    tags.set(name, parsed);
  }
  return tags;
}

/** Adds to a bounded cache, evicting the oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= DECISION_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

export interface WorkspaceTable {
  name: string;
  rows: number;
  columns: { name: string; type: string }[];
}

/** The workspace's tables (or only the one named `only`) with exact row counts: trusted code on the tenant's own file. */
async function workspaceTables(connection: DuckDBConnection, only?: string): Promise<WorkspaceTable[]> {
  const reader = await connection.runAndReadAll(
    `SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = 'workspace' AND schema_name = 'main'
     ${only === undefined ? '' : 'AND table_name = $1'} ORDER BY table_name, column_index`,
    only === undefined ? undefined : [only],
  );
  const tables = new Map<string, WorkspaceTable>();
  for (const [table, column, type] of reader.getRowsJS() as [string, string, string][]) {
    const entry = tables.get(table) ?? { name: table, rows: 0, columns: [] };
    entry.columns.push({ name: column, type });
    tables.set(table, entry);
  }
  for (const entry of tables.values()) {
    const count = await connection.runAndReadAll(`SELECT count(*) FROM workspace.main.${quoteIdentifier(entry.name)}`);
    entry.rows = Number(count.getRowsJS()[0]?.[0] ?? 0);
  }
  return [...tables.values()];
}

function searchPath(env: Env, catalog: TenantCatalog): string {
  const own = env === 'prod' ? 'granted' : 'dev';
  return catalog[own] ? `${own}.main,workspace.main` : 'workspace.main';
}

/**
 * Binding errors name what the query wrote (tables, columns), never row values; still, in prod
 * every engine message is replaced by a generic one (DESIGN.md §5).
 */
function bindError(error: unknown, env: Env): DomainError {
  const message = (error as Error).message ?? '';
  // The engine's own lockdown (external access off) answers with a Permission Error.
  if (/^Permission Error/.test(message)) return new DomainError('SBX_ERR_SQL_FORBIDDEN_TABLE', 'the query reads a source that is not available in the sandbox');
  const kind = /^Catalog Error/.test(message) ? 'SBX_ERR_SQL_FORBIDDEN_TABLE' : 'SBX_ERR_QUERY_FAILED';
  if (env === 'dev') return new DomainError(kind, firstLine(message));
  return new DomainError(kind, kind === 'SBX_ERR_SQL_FORBIDDEN_TABLE'
    ? 'a table or column in the query is not available in this environment'
    : 'the query does not bind: check column names and types');
}

function firstLine(text: string): string {
  return cutUnits(text.split('\n')[0]!, 300);
}

/**
 * Reads the result with a row and byte cap: one streaming read of at most maxRows + 1 rows (so a cut
 * is visible), then the byte cap over what came back.
 */
async function readCapped(connection: DuckDBConnection, sql: string, options: RunOptions): Promise<Omit<QueryResult, 'tables' | 'sources' | 'ms'>> {
  const reader = await connection.streamAndReadUntil(sql, options.maxRows + 1);
  const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
  const all = reader.convertRows(JsonDuckDBValueConverter);
  const rows: unknown[][] = [];
  let bytes = 0;
  for (const row of all) {
    // Bytes, not UTF-16 units: a CJK character is one unit and three bytes.
    bytes += Buffer.byteLength(JSON.stringify(row), 'utf8');
    if (rows.length >= options.maxRows || bytes > options.maxBytes) return { columns, rows, truncated: true };
    rows.push(row);
  }
  return { columns, rows, truncated: false };
}

/**
 * Runs `work` on the connection under the deadline and the caller's cancellation: both interrupt
 * the connection, re-firing until the work settles (an interrupt sent before execution starts is
 * lost, reference §timeouts). Engine errors become stable codes; in prod their text is replaced.
 */
async function withDeadline<T>(connection: DuckDBConnection, env: Env, options: Pick<RunOptions, 'timeoutMs' | 'cancelled'>, work: () => Promise<T>): Promise<T> {
  let stopped: 'timeout' | 'cancelled' | undefined;
  let refire: NodeJS.Timeout | undefined;
  const stop = (why: 'timeout' | 'cancelled') => {
    if (stopped) return;
    stopped = why;
    connection.interrupt();
    refire = setInterval(() => connection.interrupt(), INTERRUPT_EVERY_MS);
  };
  const deadline = setTimeout(() => stop('timeout'), options.timeoutMs);
  void options.cancelled?.then(() => stop('cancelled'));
  try {
    const value = await work();
    if (stopped) throw stoppedError(stopped, options.timeoutMs);
    return value;
  } catch (error) {
    if (stopped) throw stoppedError(stopped, options.timeoutMs);
    if (error instanceof DomainError) throw error;
    // SECURITY: engine messages can echo row values and paths: generic in prod.
    throw new DomainError('SBX_ERR_QUERY_FAILED', env === 'dev' ? firstLine((error as Error).message ?? 'query failed') : 'the query failed while running; check types, casts and divisions');
  } finally {
    clearTimeout(deadline);
    if (refire) clearInterval(refire);
  }
}

function stoppedError(why: 'timeout' | 'cancelled', timeoutMs: number): DomainError {
  return why === 'timeout'
    ? new DomainError('SBX_ERR_QUERY_TIMEOUT', `the query ran longer than its ${timeoutMs} ms limit and was stopped`)
    : new DomainError('SBX_ERR_QUERY_CANCELLED', 'the query was cancelled');
}
