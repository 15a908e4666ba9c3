/**
 * The one module that talks to `@duckdb/node-api` directly.
 *
 * `openDatabase` opens a DuckDB file for trusted platform code (the control store, later the
 * refinery). It is not the tenant query engine: tenant engines are opened locked down inside worker
 * threads. Values cross as plain JS (`getRowObjectsJS`), with BIGINT narrowed to number where safe.
 *
 * Runs on the calling thread; DuckDB work itself runs on libuv's threadpool. The caller closes the
 * database with `close()` exactly once.
 */
import { DuckDBInstance, type DuckDBConnection, type DuckDBPreparedStatement, type DuckDBValue } from '@duckdb/node-api';

export type SqlValue = string | number | boolean | null | bigint;
export type Row = Record<string, unknown>;

export interface SqlSession {
  /** Runs one statement (from a cached prepared statement), returning the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs one query and returns every row as a plain object. */
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
}

export interface Connection extends SqlSession {
  /**
   * Appends rows to a table through DuckDB's appender, in the connection's open transaction if any.
   * Several times cheaper per row than a multi-row INSERT with parameters (about 15 against 90 µs).
   */
  append(table: string, rows: readonly (readonly SqlValue[])[]): Promise<void>;
  close(): void;
}

export interface Database {
  readonly path: string;
  /** A new connection: each has its own transaction state. Close it before the database. */
  connect(): Promise<Connection>;
  close(): void;
}

export interface OpenDatabaseOptions {
  readOnly?: boolean;
  /** DuckDB threads for this instance; small for control-plane work. */
  threads?: number;
  memoryLimitMb?: number;
}

export async function openDatabase(path: string, options: OpenDatabaseOptions = {}): Promise<Database> {
  const instance = await DuckDBInstance.create(path, {
    access_mode: options.readOnly ? 'READ_ONLY' : 'READ_WRITE',
    threads: String(options.threads ?? 1),
    memory_limit: `${options.memoryLimitMb ?? 256}MB`,
    // Trusted code reads no extensions either: nothing can be downloaded here anyway.
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
  });
  let closed = false;
  return {
    path,
    async connect() {
      const connection = await instance.connect();
      const prepared = new StatementCache(connection);
      return {
        run: async (sql, params) => {
          // DDL changes what cached statements were bound against: run it directly and start afresh.
          if (/^\s*(CREATE|DROP|ALTER)\b/i.test(sql)) {
            prepared.clear();
            return Number((await connection.run(sql, params ? ([...params] as DuckDBValue[]) : undefined)).rowsChanged);
          }
          return Number((await (await prepared.bound(sql, params)).run()).rowsChanged);
        },
        // Reads are never served from a cached prepared statement: re-executing one can return
        // garbage in DuckDB 1.5.6 (see docs/decisions.md, "prepared statement reuse").
        all: async <T extends Row>(sql: string, params?: readonly SqlValue[]) => {
          const reader = await connection.runAndReadAll(sql, params ? [...params] as DuckDBValue[] : undefined);
          return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
        },
        append: async (table, rows) => {
          const appender = await connection.createAppender(table);
          try {
            const types = rows[0]?.map((_, i) => appender.columnType(i)) ?? [];
            for (const row of rows) {
              row.forEach((value, i) => appender.appendValue(value, types[i]));
              appender.endRow();
            }
            appender.flushSync();
          } catch (error) {
            appender.clear(); // closing would otherwise flush the rows appended so far
            throw error;
          } finally {
            appender.closeSync();
          }
        },
        close: () => {
          prepared.clear();
          connection.closeSync();
        },
      };
    },
    close() {
      if (closed) return;
      closed = true;
      instance.closeSync();
    },
  };
}

/**
 * Prepared statements per connection, keyed by SQL text, for writes only. Parsing and planning cost
 * more than a small insert itself (35% more audited mutations per second with the cache). Reads do
 * not use it: a re-executed prepared Top-N query returned garbage (docs/decisions.md). The stored
 * values are covered by the audit chain's hashes, which every chain test recomputes.
 */
class StatementCache {
  private static readonly MAX_STATEMENTS = 128;
  private readonly statements = new Map<string, DuckDBPreparedStatement>();

  constructor(private readonly connection: DuckDBConnection) {}

  async bound(sql: string, params: readonly SqlValue[] = []): Promise<DuckDBPreparedStatement> {
    let statement = this.statements.get(sql);
    if (!statement) {
      if (this.statements.size >= StatementCache.MAX_STATEMENTS) this.clear();
      statement = await this.connection.prepare(sql);
      this.statements.set(sql, statement);
    }
    statement.clearBindings();
    if (params.length > 0) statement.bind(params as DuckDBValue[]);
    return statement;
  }

  clear(): void {
    for (const statement of this.statements.values()) statement.destroySync();
    this.statements.clear();
  }
}

/** BIGINT comes back as bigint; the control plane's integers all fit in a double. */
function normalizeRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  }
  return out;
}
