import type { DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { quoteIdentifier } from '../../desensitize/index.js';
import type { Json } from '../gate/ast-walk.js';
import { LISTING_TABLES, type DiscoveryStatement, type ListingView, type WrittenTableName } from '../gate/discovery-statement.js';
import { isInternalTable } from '../gate/plan-check.js';
import { reject } from '../gate/sql-rejection.js';
import type { Env, ListedTable, QueryResult, SourceRef, WorkspaceTag } from './protocol.js';
import type { TenantCatalog } from './tenant-files.js';

/**
 * Discovery answered by trusted code, from a listing of exactly the query's environment: the env's
 * published tables that have a lineage record (granted in prod, the twin in dev) and the workspace
 * tables readable in that env (built there, or uploaded). Nothing else is ever named: no other
 * catalog, env or tenant, no system table, no internal `__` table, no path or setting. The listing
 * is what the engine itself lets a query read (`TenantEngine.sourcesOf`), so what is listed can be
 * read and what cannot be read is not listed.
 *
 * In prod, SUMMARIZE never shows a value of the granted data (a column's min and max are one
 * person's values, and so are quantiles, averages and distinct counts of small tables): a granted
 * table is summarized on its synthetic twin (`basis: 'twin'`) without the twin's min, max and
 * quartiles (the twin is drawn from the real profile, so its extremes can be a real person's), a
 * query likewise by running it in dev, an upload as it is (the tenant's own data, the same in dev),
 * and a prod-built workspace table not at all (`basis: 'suppressed'`: names and types only).
 */

/** Catalogs each env lists, in search-path order. */
const OWN_CATALOG: Record<Env, 'granted' | 'dev'> = { prod: 'granted', dev: 'dev' };

export type DiscoveryAnswer = Omit<QueryResult, 'ms'>;

/**
 * The env's readable tables and their columns: trusted code on the tenant's own engine. Published
 * tables need their manifest entry, workspace tables a tag of this env or an upload (as reads do).
 */
export async function listEnvTables(connection: DuckDBConnection, env: Env, catalog: TenantCatalog, tags: ReadonlyMap<string, WorkspaceTag | null>): Promise<ListedTable[]> {
  const own = OWN_CATALOG[env];
  const reader = await connection.runAndReadAll(
    `SELECT c.database_name, c.table_name, c.column_name, c.data_type, c.is_nullable
     FROM duckdb_columns() c JOIN duckdb_tables() t ON t.database_name = c.database_name AND t.schema_name = c.schema_name AND t.table_name = c.table_name
     WHERE c.schema_name = 'main' AND c.database_name IN ($1, 'workspace') AND NOT t.temporary
     ORDER BY c.database_name = 'workspace', c.table_name, c.column_index`,
    [own],
  );
  const tables = new Map<string, ListedTable>();
  for (const [database, table, column, type, nullable] of reader.getRowsJS() as [string, string, string, string, boolean][]) {
    const key = `${database}.${table}`;
    let entry = tables.get(key);
    if (!entry) {
      const listed = listable(database as 'granted' | 'dev' | 'workspace', table, env, catalog, tags);
      if (!listed) continue;
      entry = { catalog: database as ListedTable['catalog'], name: table, columns: [], ...listed };
      tables.set(key, entry);
    }
    entry.columns.push({ name: column, type, nullable });
  }
  return [...tables.values()];
}

/** Whether a table is readable in `env`, with its lineage; undefined when it is not. */
function listable(database: 'granted' | 'dev' | 'workspace', table: string, env: Env, catalog: TenantCatalog, tags: ReadonlyMap<string, WorkspaceTag | null>): Pick<ListedTable, 'sources' | 'origin'> | undefined {
  // SECURITY: internal side tables are never listed (nor read: plan-check.ts).
  if (isInternalTable(table)) return undefined;
  if (database === 'workspace') {
    const tag = tags.get(table);
    // SECURITY: invariant 9: a table without lineage, or built in the other env, is not this env's.
    if (!tag || (tag.env !== 'upload' && tag.env !== env)) return undefined;
    return { sources: tag.sources, origin: tag.env };
  }
  const source = catalog[database]?.sources[table];
  // SECURITY: a published table without its manifest entry never answers, so it is not listed.
  if (database !== OWN_CATALOG[env] || !source) return undefined;
  return { sources: [source], origin: 'published' };
}

/** Resolves a written name the way the env's search path does (own catalog, then workspace). */
export function resolveListed(name: WrittenTableName, listing: readonly ListedTable[], env: Env): ListedTable {
  const [catalog, schema, table] = [name.catalog, name.schema, name.table].map((part) => part.toLowerCase()) as [string, string, string];
  const own = OWN_CATALOG[env];
  let catalogs: string[] = [];
  if (catalog === '' && (schema === '' || schema === 'main')) catalogs = [own, 'workspace'];
  else if (catalog === '' && (schema === own || schema === 'workspace')) catalogs = [schema];
  else if ((catalog === own || catalog === 'workspace') && schema === 'main') catalogs = [catalog];
  for (const candidate of catalogs) {
    const found = listing.find((t) => t.catalog === candidate && t.name.toLowerCase() === table);
    if (found) return found;
  }
  // SECURITY: the same answer whether the table exists elsewhere or nowhere: no oracle.
  reject('SBX_ERR_SQL_FORBIDDEN_TABLE', `there is no table ${[name.catalog, name.schema, name.table].filter(Boolean).join('.')} in ${env}: SHOW TABLES lists the tables you can read here`);
}

export interface DiscoveryContext {
  connection: DuckDBConnection;
  env: Env;
  listing: ListedTable[];
  maxRows: number;
  /** The whole gate for an inner query, on a connection of `env`: what runs and what it reads (refused unless admitted, `admit`). */
  decide(connection: DuckDBConnection, sql: string, env: Env): Promise<{ canonicalSql: string; tables: string[]; sources: SourceRef[] }>;
  /** Throws unless the control plane admits every source now (assertAdmissible): before anything reads a table. */
  admit(sources: readonly SourceRef[]): void;
  /** Reads a trusted statement's result on `connection` under the query's deadline and caps. */
  read(connection: DuckDBConnection, sql: string): Promise<Pick<QueryResult, 'columns' | 'rows' | 'truncated'>>;
  /** Writes a parse back as JSON without losing its 64-bit integers (`readParseJson`). */
  write(node: Json): string;
  /** Runs `work` on a connection of the tenant's dev env (SUMMARIZE of a query in prod). */
  inDev<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T>;
}

const DESCRIBE_COLUMNS = ['column_name', 'column_type', 'null', 'key', 'default', 'extra'].map((name) => ({ name, type: 'VARCHAR' }));
const SUMMARIZE_COLUMNS = [
  ['column_name', 'VARCHAR'], ['column_type', 'VARCHAR'], ['min', 'VARCHAR'], ['max', 'VARCHAR'], ['approx_unique', 'BIGINT'], ['avg', 'VARCHAR'],
  ['std', 'VARCHAR'], ['q25', 'VARCHAR'], ['q50', 'VARCHAR'], ['q75', 'VARCHAR'], ['count', 'BIGINT'], ['null_percentage', 'DECIMAL(9,2)'],
].map(([name, type]) => ({ name: name!, type: type! }));

/** Answers a discovery statement the way DuckDB shapes it, over the env's listing only. */
export async function answerDiscovery(statement: DiscoveryStatement, ctx: DiscoveryContext): Promise<DiscoveryAnswer> {
  switch (statement.kind) {
    case 'show_tables':
      return statement.all ? showAllTables(ctx) : capped(ctx, [{ name: 'name', type: 'VARCHAR' }], [...new Set(ctx.listing.map((t) => t.name))].sort().map((name) => [name]), ctx.listing);
    case 'describe_table': {
      const table = resolveListed(statement.name, ctx.listing, ctx.env);
      return capped(ctx, DESCRIBE_COLUMNS, table.columns.map((c) => [c.name, c.type, c.nullable ? 'YES' : 'NO', null, null, null]), [table]);
    }
    case 'describe_query':
      return describeQuery(await renderStatement(ctx.connection, statement.query, ctx.write), ctx);
    case 'summarize_table':
      return summarizeTable(resolveListed(statement.name, ctx.listing, ctx.env), ctx);
    case 'summarize_query':
      return summarizeQuery(await renderStatement(ctx.connection, statement.query, ctx.write), ctx);
  }
}

function showAllTables(ctx: DiscoveryContext): DiscoveryAnswer {
  const columns = [
    { name: 'database', type: 'VARCHAR' }, { name: 'schema', type: 'VARCHAR' }, { name: 'name', type: 'VARCHAR' },
    { name: 'column_names', type: 'VARCHAR[]' }, { name: 'column_types', type: 'VARCHAR[]' }, { name: 'temporary', type: 'BOOLEAN' },
  ];
  const rows = ctx.listing.map((t) => [t.catalog, 'main', t.name, t.columns.map((c) => c.name), t.columns.map((c) => c.type), false]);
  return capped(ctx, columns, rows, ctx.listing);
}

/**
 * DESCRIBE of a query: the query passes the whole gate (a refused query is refused with the gate's
 * code), then its result columns are read from the prepared statement (bound, never run).
 */
async function describeQuery(sql: string, ctx: DiscoveryContext): Promise<DiscoveryAnswer> {
  const decision = await ctx.decide(ctx.connection, sql, ctx.env);
  const prepared = await ctx.connection.prepare(decision.canonicalSql);
  try {
    const rows = Array.from({ length: prepared.columnCount }, (_, i) => [prepared.columnName(i), prepared.columnType(i).toString(), 'YES', null, null, null]);
    return { ...cap(ctx, rows), columns: DESCRIBE_COLUMNS, tables: decision.tables, sources: decision.sources };
  } finally {
    prepared.destroySync();
  }
}

async function summarizeTable(table: ListedTable, ctx: DiscoveryContext): Promise<DiscoveryAnswer> {
  // SECURITY: invariants 6 and 9: a table's statistics are computed only over what is admitted now
  // (a dev table over a withdrawn dataset was summarized, and an overflow printed its values: red-team pass 40a).
  ctx.admit(table.sources);
  const qualified = (catalog: string) => `${catalog}.main.${quoteIdentifier(table.name)}`;
  if (ctx.env === 'dev' || table.origin === 'upload') {
    // Dev holds only synthetic or dev-built data; an upload is the tenant's own and reads the same in dev.
    return { ...(await ctx.read(ctx.connection, `SUMMARIZE ${qualified(table.catalog)}`)), tables: [`${table.catalog}.${table.name}`], sources: table.sources, basis: 'table' };
  }
  if (table.origin === 'published') {
    // SECURITY: invariant 8: prod values are never summarized: the granted table's twin (same schema, synthetic rows) is.
    const twin = await ctx.inDev(async (connection) => {
      // The twin's own lineage (and whether it exists): the gate's decision on reading it in dev.
      // (A source the control plane no longer admits is refused as such: `refusedSources`, assertAdmissible.)
      const devListing = await ctx.decide(connection, `SELECT * FROM ${qualified('dev')}`, 'dev').catch((error: unknown) => {
        if (error instanceof DomainError && error.details?.refusedSources) throw error;
        return undefined;
      });
      if (!devListing) throw new DomainError('SBX_ERR_REBUILDING', `the synthetic twin of ${table.name} is not built yet: retry shortly`, { retryAfterSeconds: 5 });
      return { ...(await ctx.read(connection, `SUMMARIZE ${qualified('dev')}`)), tables: devListing.tables, sources: devListing.sources };
    });
    return { ...withholdSingleValues(twin), basis: 'twin', note: `statistics of the synthetic twin of ${table.name} (same schema, synthetic rows), without min, max and quartiles: in prod, SUMMARIZE never shows a single person's value; SUMMARIZE in dev shows the twin in full` };
  }
  // SECURITY: invariant 8: a table built from prod has no twin: its names and types only.
  const rows = table.columns.map((c) => [c.name, c.type, null, null, null, null, null, null, null, null, null, null]);
  return {
    ...cap(ctx, rows), columns: SUMMARIZE_COLUMNS, tables: [`${table.catalog}.${table.name}`], sources: table.sources, basis: 'suppressed',
    note: `${table.name} was built from prod data and has no synthetic twin: its statistics are withheld (they would show single people's values); build it in dev and SUMMARIZE it there`,
  };
}

/** SUMMARIZE of a query: in dev as it is, after the whole gate; in prod the same query on the twin (run in dev). */
async function summarizeQuery(sql: string, ctx: DiscoveryContext): Promise<DiscoveryAnswer> {
  if (ctx.env === 'dev') {
    const decision = await ctx.decide(ctx.connection, sql, 'dev');
    return { ...(await ctx.read(ctx.connection, `SUMMARIZE ${decision.canonicalSql}`)), tables: decision.tables, sources: decision.sources, basis: 'table' };
  }
  // SECURITY: invariant 8: in prod the query is summarized on the twin: it runs in dev, gated as a dev query.
  const answer = await ctx.inDev(async (connection) => {
    const decision = await ctx.decide(connection, sql, 'dev');
    return { ...(await ctx.read(connection, `SUMMARIZE ${decision.canonicalSql}`)), tables: decision.tables, sources: decision.sources };
  });
  return { ...withholdSingleValues(answer), basis: 'twin', note: 'statistics of the same query over the synthetic twin (it ran in dev), without min, max and quartiles: in prod, SUMMARIZE never shows a single person\'s value' };
}

/** Twins with fewer rows than this show no per-column statistic at all in prod (an average of three rows is nearly one). */
const MIN_TWIN_ROWS = 10;

/**
 * A twin's SUMMARIZE as prod shows it. The twin is drawn from a profile of the real column (its min
 * and max, deciles and frequent values), so its extremes and quartiles can sit on, or next to, one
 * real person's value: they are withheld whatever the twin. Distinct count, average and deviation
 * stay (aggregates over the whole synthetic column) unless the twin is tiny.
 */
function withholdSingleValues<T extends Pick<QueryResult, 'columns' | 'rows'>>(answer: T): T {
  const at = (name: string) => answer.columns.findIndex((c) => c.name === name);
  const always = ['min', 'max', 'q25', 'q50', 'q75'].map(at);
  const small = ['approx_unique', 'avg', 'std'].map(at);
  const count = at('count');
  const rows = answer.rows.map((row) => row.map((value, i) => {
    // SECURITY: invariant 8: values that can be one person's are not shown in prod.
    if (always.includes(i) || (small.includes(i) && Number(row[count] ?? 0) < MIN_TWIN_ROWS)) return null;
    return value;
  }));
  return { ...answer, rows };
}

/** DuckDB's rendering of a parsed statement (the inner query of DESCRIBE or SUMMARIZE, a rewritten SELECT). */
export async function renderStatement(connection: DuckDBConnection, node: Json, write: (value: Json) => string): Promise<string> {
  let rendered: unknown;
  try {
    const reader = await connection.runAndReadAll('SELECT json_deserialize_sql($1::JSON)', [write({ error: false, statements: [{ node, named_param_map: [] }] })]);
    rendered = reader.getRowsJS()[0]?.[0];
  } catch {
    // Fails closed: what DuckDB cannot render back is not run.
    rendered = undefined;
  }
  if (typeof rendered !== 'string') reject('SBX_ERR_SQL_SYNTAX', 'the query does not parse: check the syntax near keywords and quotes');
  return rendered;
}

/**
 * Fills the trusted listing tables of `information_schema` in the connection's temp catalog (private
 * to this connection, which serves this one query), from the env's listing only.
 */
export async function createListingTables(connection: DuckDBConnection, views: ReadonlySet<ListingView>, listing: readonly ListedTable[]): Promise<void> {
  if (views.has('tables')) {
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${LISTING_TABLES.tables} (table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, table_type VARCHAR, is_insertable_into VARCHAR)`);
    await insertRows(connection, LISTING_TABLES.tables, listing.map((t) => [t.catalog, 'main', t.name, 'BASE TABLE', 'NO']));
  }
  if (views.has('columns')) {
    await connection.run(`CREATE OR REPLACE TEMP TABLE ${LISTING_TABLES.columns} (table_catalog VARCHAR, table_schema VARCHAR, table_name VARCHAR, column_name VARCHAR, ordinal_position INTEGER, column_default VARCHAR, is_nullable VARCHAR, data_type VARCHAR)`);
    await insertRows(connection, LISTING_TABLES.columns, listing.flatMap((t) => t.columns.map((c, i) => [t.catalog, 'main', t.name, c.name, i + 1, null, c.nullable ? 'YES' : 'NO', c.type])));
  }
}

async function insertRows(connection: DuckDBConnection, table: string, rows: (string | number | null)[][]): Promise<void> {
  const width = rows[0]?.length ?? 0;
  for (let start = 0; start < rows.length; start += 200) {
    const chunk = rows.slice(start, start + 200);
    const values = chunk.map((_, r) => `(${Array.from({ length: width }, (_, c) => `$${r * width + c + 1}`).join(', ')})`).join(', ');
    await connection.run(`INSERT INTO temp.main.${table} VALUES ${values}`, chunk.flat());
  }
}

/** Sources of everything a listing names (an answer naming them stops when one of them must). */
export function sourcesOfListing(listing: readonly ListedTable[]): SourceRef[] {
  const sources = new Map<string, SourceRef>();
  for (const source of listing.flatMap((t) => t.sources)) sources.set(`${source.dataset}\u0000${source.version}\u0000${source.policy}`, source);
  return [...sources.values()];
}

function cap(ctx: DiscoveryContext, rows: unknown[][]): { rows: unknown[][]; truncated: boolean } {
  return { rows: rows.slice(0, ctx.maxRows), truncated: rows.length > ctx.maxRows };
}

function capped(ctx: DiscoveryContext, columns: { name: string; type: string }[], rows: unknown[][], named: readonly ListedTable[]): DiscoveryAnswer {
  return { columns, ...cap(ctx, rows), tables: named.map((t) => `${t.catalog}.${t.name}`), sources: sourcesOfListing(named) };
}
