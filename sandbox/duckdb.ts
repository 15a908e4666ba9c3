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
import { DuckDBInstance, type DuckDBConnection, type DuckDBValue } from '@duckdb/node-api';

export type SqlValue = string | number | boolean | null | bigint;
export type Row = Record<string, unknown>;

export interface SqlSession {
  /** Runs one statement, returning the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  /** Runs one query and returns every row as a plain object. */
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
}

export interface Connection extends SqlSession {
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
      return {
        run: (sql, params) => runStatement(connection, sql, params),
        all: (sql, params) => readRows(connection, sql, params),
        close: () => connection.closeSync(),
      };
    },
    close() {
      if (closed) return;
      closed = true;
      instance.closeSync();
    },
  };
}

async function runStatement(connection: DuckDBConnection, sql: string, params?: readonly SqlValue[]): Promise<number> {
  const result = await connection.run(sql, toDuckValues(params));
  return Number(result.rowsChanged);
}

async function readRows<T extends Row>(connection: DuckDBConnection, sql: string, params?: readonly SqlValue[]): Promise<T[]> {
  const reader = await connection.runAndReadAll(sql, toDuckValues(params));
  return reader.getRowObjectsJS().map((row) => normalizeRow(row) as T);
}

function toDuckValues(params: readonly SqlValue[] | undefined): DuckDBValue[] | undefined {
  return params === undefined ? undefined : [...params];
}

/** BIGINT comes back as bigint; the control plane's integers all fit in a double. */
function normalizeRow(row: Record<string, unknown>): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(row)) {
    out[key] = typeof value === 'bigint' && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(value) : value;
  }
  return out;
}
