import { DomainError } from '../../core/errors.js';
import { nearestNames } from './edit-distance.js';

/**
 * Errors that help: what the gate and the binder say about a query written wrong, as opposed to a
 * query the sandbox refuses (`ast-walk.ts`, `plan-check.ts`). Pure: no I/O.
 *
 * What a message may echo, in both environments: the operator's own SQL text (identifiers and the
 * token a parse stopped at, each checked to occur in that text), names of the context's own tables
 * and columns (its schema, which discovery shows anyway), and allow-listed function and type names.
 * Never a value read from a table: every message here is rebuilt from those parts, never passed
 * through from the engine.
 */

/** A table the context may read, with its columns: the only source of table and column suggestions. */
export interface VisibleTable {
  name: string;
  columns: string[];
}

export type UnknownKind = 'column' | 'table' | 'function' | 'table function' | 'type';

const MAX_ECHO_CHARS = 60;

/**
 * SBX_ERR_SQL_SYNTAX from a failed `json_serialize_sql`: the line and column (1-based, in characters)
 * where DuckDB's parser stopped, and the token there.
 */
export function syntaxError(sql: string, parse: { error_message?: string; position?: string | number }): DomainError {
  const text = parse.error_message ?? '';
  const position = Number(parse.position);
  const where = Number.isInteger(position) && position >= 0 ? lineAndColumn(sql, position) : undefined;
  const at = where ? ` at line ${where.line}, column ${where.column}` : '';
  const quoted = /at or near "([\s\S]*)"$/.exec(text)?.[1];
  // SECURITY: only a token that is part of the operator's own text is echoed.
  const near = quoted !== undefined && sql.includes(quoted) ? shorten(quoted) : undefined;
  const details = { ...(where ?? {}), ...(near !== undefined ? { near } : {}) };
  if (/^unterminated quoted/.test(text)) return new DomainError('SBX_ERR_SQL_SYNTAX', `unterminated quoted string${at}: close the quote`, details);
  if (/at end of input$/.test(text)) return new DomainError('SBX_ERR_SQL_SYNTAX', `the query ends too early${at}: something is missing, such as a closing parenthesis or an expression`, details);
  if (near !== undefined) return new DomainError('SBX_ERR_SQL_SYNTAX', `syntax error${at} near "${near}"`, details);
  return new DomainError('SBX_ERR_SQL_SYNTAX', `the query does not parse${at}: check the syntax near keywords and quotes`, details);
}

/**
 * SBX_ERR_SQL_UNKNOWN_NAME: a name that exists nowhere the query can see, with the nearest allowed
 * names. `candidates` must only hold names the context may use (allow-listed functions, its own
 * tables and columns): the caller decides what is visible.
 */
export function unknownName(kind: UnknownKind, name: string, candidates: Iterable<string>, sql: string): DomainError {
  const suggestions = nearestNames(name, candidates);
  const shown = kind === 'function' || kind === 'table function' ? (n: string) => `${n}()` : (n: string) => n;
  // SECURITY: the name is echoed only if the operator wrote it (it comes from an engine message).
  const echoed = occursIn(name, sql) ? shorten(name) : undefined;
  const what = echoed === undefined ? `a ${kind} in the query` : `${kind} ${shown(echoed)}`;
  const hint = suggestions.length > 0 ? `: did you mean ${suggestions.map(shown).join(' or ')}?` : kind === 'column' || kind === 'table' ? ': check the names of the tables in this environment' : '';
  const where = echoed === undefined ? undefined : locate(sql, name);
  return new DomainError('SBX_ERR_SQL_UNKNOWN_NAME', `${what} does not exist${kind === 'column' ? ' in the tables the query reads' : kind === 'table' ? ' in this environment' : ''}${hint}`, {
    kind, ...(echoed !== undefined ? { name: echoed } : {}), suggestions, ...(where ?? {}),
  });
}

/** Why a function that exists in DuckDB is not available in the sandbox, in words an operator can act on. */
export function forbiddenFunctionReason(name: string): string {
  if (/^(read_|parquet_|sniff_|glob$|.*_scan$|.*_attach$|sqlite_|postgres_|mysql_|iceberg_|delta_|http)/.test(name)) return 'it reads files or other databases; query the tables of your environment';
  if (/^(query|query_table|json_execute_serialized_sql|json_serialize_plan|json_serialize_sql|json_deserialize_sql)$/.test(name)) return 'it runs or plans SQL given as a string, outside the gate\'s checks';
  if (/^(aggregate|array_aggr|array_aggregate|list_aggr|list_aggregate|make_type)$/.test(name)) return 'it calls a function or type named in a string, outside the gate\'s checks';
  if (/^(finalize|combine|cast_to_type|can_cast_implicitly|remap_struct|replace_type|variant_bytes_to_variant)$/.test(name)) return 'it rebuilds engine-internal structures from raw values';
  if (/^(duckdb_|pragma_|current_|which_secret|getvariable|get_block_size|stats|txid_current|session_user|user|in_search_path|currval|nextval|enable_|disable_|checkpoint|force_checkpoint|test_)/.test(name)) return 'it reveals or changes the engine\'s settings, catalog or state';
  if (/^(sleep_ms|write_log|error|parse_duckdb_log_message)$/.test(name)) return 'it sleeps, logs or raises engine errors';
  if (name === 'repeat') return 'it builds values large enough to exhaust the engine\'s memory; use lpad or rpad';
  return 'it is not on the sandbox\'s list of allowed functions (docs/sandbox.md)';
}

/** Names DuckDB's own functions and catalogs use for things that reach outside the engine, loaded or not. */
export function looksOutward(name: string): boolean {
  return /^(read_|parquet_|sniff_|.*_scan$|.*_attach$|sqlite_|postgres_|mysql_|iceberg_|delta_|http|duckdb_|pragma_)/.test(name) || name === 'glob' || name === 'query' || name === 'query_table';
}

/** Common DuckDB type names, the candidates for a misspelt type in a cast. */
const TYPE_NAMES = [
  'BIGINT', 'BLOB', 'BOOLEAN', 'DATE', 'DECIMAL', 'DOUBLE', 'FLOAT', 'HUGEINT', 'INTEGER', 'INTERVAL', 'JSON', 'REAL',
  'SMALLINT', 'TIME', 'TIMESTAMP', 'TIMESTAMPTZ', 'TINYINT', 'UBIGINT', 'UINTEGER', 'UUID', 'VARCHAR', 'TEXT', 'STRING',
  'NUMERIC', 'INT', 'BOOL',
];

export interface BindScope {
  /** The operator's SQL as submitted. */
  sql: string;
  /** Table names as written in the query (catalog.schema.table parts), from the AST. */
  tableRefs: string[][];
  /** Every table the context may read. */
  visible: VisibleTable[];
  /** Functions the sandbox allows (for a function the binder does not know). */
  functions: Iterable<string>;
  /** Window-only functions: written without OVER, the binder does not find them. */
  windowFunctions: ReadonlySet<string>;
}

/**
 * Rebuilds a binder or catalog error of a query written wrong (unknown column, table, function or
 * type; a function given the wrong types; a column missing from GROUP BY) from the parts above.
 * Returns undefined for any other engine error: the caller treats those as before.
 */
export function explainBindError(message: string, scope: BindScope): DomainError | undefined {
  const { sql } = scope;
  const inScope = () => {
    const referenced = new Set(scope.tableRefs.map((parts) => parts[parts.length - 1]!.toLowerCase()));
    return scope.visible.filter((t) => referenced.has(t.name.toLowerCase())).flatMap((t) => t.columns);
  };
  let match: RegExpExecArray | null;
  if ((match = /^Binder Error: Referenced column "([^"\n]+)" not found in FROM clause!/.exec(message))) {
    return unknownName('column', match[1]!, inScope(), sql);
  }
  if ((match = /^Binder Error: (?:Table|Values list) "([^"\n]+)" does not have a column named "([^"\n]+)"/.exec(message))) {
    return unknownName('column', match[2]!, inScope(), sql);
  }
  if ((match = /^Binder Error: Referenced table "([^"\n]+)" not found!/.exec(message))) {
    // The candidates are the query's own aliases and table names, as DuckDB lists them, kept only
    // where the operator wrote them.
    const listed = [...(/\nCandidate tables: (.*)/.exec(message)?.[1] ?? '').matchAll(/"([^"]+)"/g)].map((m) => m[1]!).filter((n) => occursIn(n, sql));
    return unknownName('table', match[1]!, listed, sql);
  }
  if ((match = /^Catalog Error: Table with name ([^\n!]+) does not exist!/.exec(message))) {
    // SECURITY: suggestions come from this context's tables only, never from DuckDB's "Did you
    // mean", which searches every attached catalog (the other environment's included).
    return unknownName('table', match[1]!, scope.visible.map((t) => t.name), sql);
  }
  if ((match = /^Catalog Error: (?:Scalar |Aggregate |Table |Pragma )?(Function|Macro Function) with name ([^\n!]+) does not exist!/i.exec(message))) {
    const name = match[2]!.toLowerCase();
    if (scope.windowFunctions.has(name) && occursIn(name, sql)) {
      return new DomainError('SBX_ERR_SQL_UNKNOWN_NAME', `${name}() is a window function: add an OVER clause, e.g. ${name}() OVER (ORDER BY ...)`, { kind: 'function', name, suggestions: [] });
    }
    return unknownName('function', match[2]!, scope.functions, sql);
  }
  if ((match = /^Catalog Error: Type with name ([^\n!]+) does not exist!/.exec(message))) {
    return unknownName('type', match[1]!, TYPE_NAMES, sql);
  }
  if ((match = /^Binder Error: No function matches the given name and argument types '([a-z_][a-z0-9_]*)\(([A-Z0-9_, []*)\)'/.exec(message))) {
    // The types are DuckDB's type names (upper case, no field names): nothing from the data.
    const [, name, types] = match;
    return new DomainError('SBX_ERR_QUERY_FAILED', `function ${name}() does not take arguments of type (${types}): cast them to the types it takes`);
  }
  if ((match = /^Binder Error: column "([^"\n]+)" must appear in the GROUP BY clause/.exec(message)) && occursIn(match[1]!, sql)) {
    const column = shorten(match[1]!);
    return new DomainError('SBX_ERR_QUERY_FAILED', `column ${column} must appear in GROUP BY or inside an aggregate, e.g. any_value(${column})`);
  }
  return undefined;
}

/** 1-based line and column (in characters) of a character offset into `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  const before = Array.from(text).slice(0, offset);
  let line = 1;
  let column = 1;
  for (const char of before) {
    if (char === '\n') {
      line += 1;
      column = 1;
    } else {
      column += 1;
    }
  }
  return { line, column };
}

/** Where `name` first occurs in `sql` as a whole word (case-insensitive), if it does. */
function locate(sql: string, name: string): { line: number; column: number } | undefined {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`(?<![\\p{L}\\p{N}_])${escaped}(?![\\p{L}\\p{N}_])`, 'iu').exec(sql);
  if (!match) return undefined;
  return lineAndColumn(sql, Array.from(sql.slice(0, match.index)).length);
}

function occursIn(name: string, sql: string): boolean {
  return name.length > 0 && sql.toLowerCase().includes(name.toLowerCase());
}

function shorten(text: string): string {
  const chars = Array.from(text);
  return chars.length > MAX_ECHO_CHARS ? `${chars.slice(0, MAX_ECHO_CHARS).join('')}…` : text;
}
