import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, JsonDuckDBValueConverter, type DuckDBConnection, type DuckDBDataChunk } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { astShapeKey } from '../gate/ast-shape.js';
import { walkSelectAst, type Json } from '../gate/ast-walk.js';
import { GATE_LIMITS } from '../gate/limits.js';
import { checkPlan, type PlanNode } from '../gate/plan-check.js';
import { reject } from '../gate/sql-rejection.js';
import type { Env, QueryResult } from './protocol.js';
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
  /**
   * The statement to run: DuckDB's own rendering of the AST the gate checked. Running this rather
   * than the submitted text means comments, stacked statements and other text tricks cannot make
   * what runs differ from what was checked.
   */
  canonicalSql: string;
  tables: string[];
}

/** Raised by a query that reached an engine just closed by a swap; the worker retries it. */
export class EngineClosedError extends Error {}

export class TenantEngine {
  private inFlight = 0;
  private closed = false;
  private readonly decisions = new Map<string, Decision>();
  /** The plan check's verdict (tables scanned) per (env, catalog version, AST shape). */
  private readonly plans = new Map<string, string[]>();
  /** Plan checks run (EXPLAINs), for tests of the shape cache. */
  planChecks = 0;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly catalog: TenantCatalog,
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
        // SECURITY: invariants 1 and 2: after this no file outside the attached ones can be read or
        // written (temp dir order matters, see reference), and no setting can change again.
        await setup.run('SET enable_external_access = false');
        await setup.run('SET lock_configuration = true');
      } finally {
        setup.closeSync();
      }
    } catch (error) {
      instance.closeSync();
      throw error;
    }
    return new TenantEngine(instance, catalog);
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
      const decision = await this.decide(connection, sql, env);
      const result = await withDeadline(connection, env, options, () => readCapped(connection, decision.canonicalSql, options));
      return { ...result, tables: decision.tables, ms: Math.round(performance.now() - started) };
    });
  }

  /**
   * Saves a gated SELECT as a workspace table. The server writes the DDL around DuckDB's rendering
   * of the checked statement; the name never collides with a published table of either env.
   */
  async createTable(name: string, sql: string, env: Env, options: Pick<RunOptions, 'timeoutMs' | 'cancelled'>): Promise<WorkspaceTable & { tables: string[] }> {
    return this.withConnection(env, async (connection) => {
      await this.assertNameFree(connection, name);
      const decision = await this.decide(connection, sql, env);
      await withDeadline(connection, env, options, () => connection.run(`CREATE TABLE workspace.main.${quoteIdentifier(name)} AS ${decision.canonicalSql}`));
      const [created] = await workspaceTables(connection, name);
      return { ...created!, tables: decision.tables };
    });
  }

  /**
   * Creates a workspace table from rows read by trusted code (an upload), appending data chunks
   * through DuckDB's appender: the tenant engine's file lockdown is never lifted. All or nothing:
   * a failure part-way drops the table.
   */
  async importTable(name: string, columns: { name: string; type: string }[], chunks: AsyncIterable<DuckDBDataChunk>): Promise<WorkspaceTable> {
    return this.withConnection('dev', async (connection) => {
      await this.assertNameFree(connection, name);
      const definition = columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ');
      await connection.run(`CREATE TABLE workspace.main.${quoteIdentifier(name)} (${definition})`);
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
        throw error;
      }
      return (await workspaceTables(connection, name))[0]!;
    });
  }

  async dropTable(name: string): Promise<void> {
    await this.withConnection('dev', async (connection) => {
      if ((await workspaceTables(connection, name)).length === 0) throw new DomainError('TBL_ERR_NOT_FOUND', `no workspace table ${name}`);
      await connection.run(`DROP TABLE workspace.main.${quoteIdentifier(name)}`);
    });
  }

  async listTables(): Promise<WorkspaceTable[]> {
    return this.withConnection('dev', (connection) => workspaceTables(connection));
  }

  /** A new workspace table's name must be free: no published table of either env, no workspace table. */
  private async assertNameFree(connection: DuckDBConnection, name: string): Promise<void> {
    if (this.publishedNames().has(name)) throw new DomainError('TBL_ERR_NAME_TAKEN', `${name} is the name of a granted table: choose another`);
    if ((await workspaceTables(connection, name)).length > 0) throw new DomainError('TBL_ERR_EXISTS', `workspace table ${name} already exists: delete it first`);
  }

  /** Names the tenant's published files use, in either env. */
  private publishedNames(): Set<string> {
    return new Set([...(this.catalog.granted?.tables ?? []), ...(this.catalog.dev?.tables ?? [])]);
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
   * The gate. Decisions are cached per (env, catalog version, SQL text); a new text is parsed and
   * walked every time, and its plan checked once per shape (`ast-shape.ts`): a query that differs
   * from a checked one only in literals scans the same tables.
   */
  private async decide(connection: DuckDBConnection, sql: string, env: Env): Promise<Decision> {
    const key = `${env}\u0000${this.version}\u0000${sql}`;
    const cached = this.decisions.get(key);
    if (cached) return cached;
    checkText(sql);
    const { ast, canonicalSql } = await parseSelect(connection, sql);
    const { tableRefs } = walkSelectAst(ast, GATE_LIMITS);
    checkQualifiedNames(tableRefs, env);
    const shape = `${env}\u0000${this.version}\u0000${astShapeKey(ast)}`;
    let scanned = this.plans.get(shape);
    if (!scanned) {
      scanned = await this.scannedTables(connection, canonicalSql, env);
      remember(this.plans, shape, scanned);
    }
    const decision = { canonicalSql, tables: [...new Set([...scanned, ...this.publishedTablesNamed(tableRefs, env)])].sort() };
    remember(this.decisions, key, decision);
    return decision;
  }

  /**
   * The env's published tables the query names. DuckDB answers some aggregates over read-only files
   * from statistics, without a scan in the plan (`count(*)`), so lineage also takes names from the
   * AST: an unqualified or env-qualified name that is one of the env's published tables.
   */
  private publishedTablesNamed(tableRefs: string[][], env: Env): string[] {
    const own = env === 'prod' ? 'granted' : 'dev';
    const published = new Set(this.catalog[own]?.tables ?? []);
    return tableRefs
      .filter((parts) => parts.length === 1 || parts[0]!.toLowerCase() === own)
      .map((parts) => parts[parts.length - 1]!)
      .filter((table) => published.has(table))
      .map((table) => `${own}.${table}`);
  }

  private async scannedTables(connection: DuckDBConnection, sql: string, env: Env): Promise<string[]> {
    this.planChecks += 1;
    let plan: PlanNode[];
    try {
      const reader = await connection.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
      plan = JSON.parse(String(reader.getRowsJS()[0]?.[1] ?? '[]')) as PlanNode[];
    } catch (error) {
      throw bindError(error, env);
    }
    return checkPlan(plan, ENV_CATALOGS[env]).map((t) => `${t.catalog}.${t.table}`);
  }
}

/** Adds to a bounded cache, evicting the oldest entry when full. */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= DECISION_CACHE_SIZE) cache.delete(cache.keys().next().value!);
  cache.set(key, value);
}

/**
 * Qualified names must stay in the env's catalogs. The plan check alone is not enough: DuckDB
 * answers `count(*)` over a read-only file from statistics, with no scan in the plan.
 */
function checkQualifiedNames(tableRefs: string[][], env: Env): void {
  for (const parts of tableRefs) {
    if (parts.length === 1) continue;
    const [first, second] = parts.map((part) => part.toLowerCase());
    const ok = parts.length === 2 ? first === 'main' || ENV_CATALOGS[env].has(first!) : ENV_CATALOGS[env].has(first!) && second === 'main';
    // SECURITY: invariant 1 (env separation): no reaching into another catalog by qualifying a name.
    if (!ok) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'the query reads a table that is not available in this environment');
  }
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

function checkText(sql: string): void {
  if (sql.trim() === '') reject('SBX_ERR_SQL_EMPTY', 'send a SELECT statement');
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (bytes > GATE_LIMITS.maxSqlBytes) reject('SBX_ERR_SQL_TOO_LONG', `the query is ${bytes} bytes; at most ${GATE_LIMITS.maxSqlBytes} are accepted`);
}

/**
 * DuckDB's own parse of the query (only SELECT statements serialize) and its rendering of that parse
 * back to SQL, which is what the plan check and the execution then use.
 */
async function parseSelect(connection: DuckDBConnection, sql: string): Promise<{ ast: Json; canonicalSql: string }> {
  // One round trip: the parse, and (when it is one statement) its rendering back to SQL.
  const reader = await connection.runAndReadAll(
    `SELECT serialized, CASE WHEN NOT (serialized::JSON->>'error')::BOOLEAN AND json_array_length(serialized::JSON, '$.statements') = 1
       THEN json_deserialize_sql(serialized::JSON) END
     FROM (SELECT json_serialize_sql($1::VARCHAR) AS serialized)`,
    [sql],
  );
  const [serialized, rendered] = (reader.getRowsJS()[0] ?? []) as [string, string | null];
  const result = JSON.parse(String(serialized)) as { error: boolean; error_message?: string; statements?: { node: unknown }[] };
  if (result.error) {
    if (/Only SELECT/i.test(result.error_message ?? '')) reject('SBX_ERR_SQL_NOT_SELECT', 'only SELECT queries run in the sandbox; save results with POST /v1/tables');
    reject('SBX_ERR_SQL_SYNTAX', 'the query does not parse: check the syntax near keywords and quotes');
  }
  // SECURITY: exactly one statement, as DuckDB's own parser splits them: no stacking behind a comment.
  if (result.statements?.length !== 1 || rendered === null) reject('SBX_ERR_SQL_MULTIPLE_STATEMENTS', `send exactly one statement (found ${result.statements?.length ?? 0})`);
  return { ast: result.statements[0]!.node as Json, canonicalSql: rendered };
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
  return text.split('\n')[0]!.slice(0, 300);
}

/**
 * Reads the result with a row and byte cap: one streaming read of at most maxRows + 1 rows (so a cut
 * is visible), then the byte cap over what came back.
 */
async function readCapped(connection: DuckDBConnection, sql: string, options: RunOptions): Promise<Omit<QueryResult, 'tables' | 'ms'>> {
  const reader = await connection.streamAndReadUntil(sql, options.maxRows + 1);
  const columns = reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() }));
  const all = reader.convertRows(JsonDuckDBValueConverter);
  const rows: unknown[][] = [];
  let bytes = 0;
  for (const row of all) {
    bytes += JSON.stringify(row).length;
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
