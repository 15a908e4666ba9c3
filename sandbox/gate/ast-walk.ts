import type { DomainError } from '../../core/errors.js';
import { ALLOWED_FUNCTIONS } from './allowed-functions.js';
import type { GateLimits } from './limits.js';
import { forbiddenFunctionReason, looksOutward, unknownName } from './sql-errors.js';
import { reject } from './sql-rejection.js';

/**
 * The AST walk of the gate: a fail-closed reading of DuckDB's own parse (`json_serialize_sql`) of a
 * single SELECT. Every expression class, query node, table reference and function must be on an
 * allow-list; anything unrecognised is refused. Pure: no I/O.
 *
 * It does not decide which tables may be read: the binder does that better (views, CTE names,
 * search path), so `plan-check.ts` reads the scans from EXPLAIN. The walk refuses what must never
 * reach the binder: dynamic SQL, file and metadata functions, parameters, and oversized shapes.
 */

/** Expression classes as DuckDB 1.5 serializes them. */
const EXPRESSION_CLASSES = new Set([
  'BETWEEN', 'CASE', 'CAST', 'COLLATE', 'COLUMN_REF', 'COMPARISON', 'CONJUNCTION', 'CONSTANT',
  'DEFAULT', 'FUNCTION', 'LAMBDA', 'LAMBDA_REF', 'OPERATOR', 'POSITIONAL_REFERENCE', 'STAR',
  'SUBQUERY', 'WINDOW',
]);

const QUERY_NODE_TYPES = new Set(['SELECT_NODE', 'SET_OPERATION_NODE', 'RECURSIVE_CTE_NODE', 'CTE_NODE']);

const TABLE_REF_TYPES = new Set(['BASE_TABLE', 'JOIN', 'SUBQUERY', 'TABLE_FUNCTION', 'EXPRESSION_LIST', 'EMPTY', 'PIVOT']);

/** Table functions that only generate values: nothing here touches files, catalogs or SQL. */
export const ALLOWED_TABLE_FUNCTIONS = new Set(['range', 'generate_series', 'unnest', 'json_each', 'json_tree']);

/** Functions DuckDB parses as calls but implements as operators, absent from duckdb_functions(). */
const OPERATOR_FUNCTIONS = new Set(['unnest', 'unlist']);

/** Window-only functions (aggregates used as window functions are in ALLOWED_FUNCTIONS). */
export const WINDOW_FUNCTIONS: ReadonlySet<string> = new Set([
  'row_number', 'rank', 'dense_rank', 'rank_dense', 'percent_rank', 'cume_dist', 'ntile', 'lag', 'lead',
  'first_value', 'last_value', 'nth_value', 'fill',
]);

export interface AstSummary {
  /** Table names as written (catalog.schema.table parts), before binding. */
  tableRefs: string[][];
  nodes: number;
  joins: number;
}

interface WalkState extends AstSummary {
  /** Function nodes in table-function position, already checked against ALLOWED_TABLE_FUNCTIONS. */
  tableFunctionCalls: WeakSet<object>;
  isEngineFunction: (name: string) => boolean;
  sql: string;
  /** The first name that does not exist: thrown only once the whole walk found nothing to refuse. */
  unknown?: DomainError;
}

/** Names a misspelt scalar, aggregate or window function may be suggested from: allow-listed ones only. */
export const SUGGESTED_FUNCTIONS = [...ALLOWED_FUNCTIONS, ...WINDOW_FUNCTIONS].filter((name) => /^[a-z_][a-z0-9_]*$/.test(name) && !name.startsWith('icu_collate_'));

/**
 * How the walk tells a function the sandbox refuses from one that does not exist at all (a typo):
 * `isEngineFunction` says whether DuckDB has a function of that name, and `sql` is the text the AST
 * came from (names are echoed only from it). Without it every unknown name is a refusal.
 */
export interface WalkNames {
  isEngineFunction: (name: string) => boolean;
  sql: string;
}

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** Walks the `statements[0].node` of a json_serialize_sql result. Throws a DomainError to refuse. */
export function walkSelectAst(node: Json, limits: GateLimits, names: WalkNames = { isEngineFunction: () => true, sql: '' }): AstSummary {
  const state: WalkState = { tableRefs: [], nodes: 0, joins: 0, tableFunctionCalls: new WeakSet(), ...names };
  visit(node, 0, state, limits);
  // A refusal anywhere in the query wins over a typo: a probe cannot hide behind a misspelt name.
  if (state.unknown) throw state.unknown;
  return { tableRefs: state.tableRefs, nodes: state.nodes, joins: state.joins };
}

function visit(value: Json, depth: number, summary: WalkState, limits: GateLimits): void {
  if (value === null || typeof value !== 'object') return;
  if (depth > limits.maxAstDepth) reject('SBX_ERR_SQL_TOO_COMPLEX', `the query nests deeper than ${limits.maxAstDepth} levels: flatten it, e.g. with CTEs`);
  if (Array.isArray(value)) {
    if (value.length > limits.maxListItems) reject('SBX_ERR_SQL_TOO_COMPLEX', `a list has ${value.length} items (at most ${limits.maxListItems}): join against a table instead`);
    for (const item of value) visit(item, depth + 1, summary, limits);
    return;
  }
  summary.nodes += 1;
  if (summary.nodes > limits.maxAstNodes) reject('SBX_ERR_SQL_TOO_COMPLEX', `the query has more than ${limits.maxAstNodes} syntax nodes: split it into workspace tables`);
  checkNode(value, summary, limits);
  for (const child of Object.values(value)) visit(child, depth + 1, summary, limits);
}

function checkNode(node: { [key: string]: Json }, summary: WalkState, limits: GateLimits): void {
  const type = typeof node.type === 'string' ? node.type : undefined;
  if (typeof node.class === 'string') {
    if (!summary.tableFunctionCalls.has(node)) checkExpression(node, summary);
    return;
  }
  if (type && type.endsWith('_NODE') && 'modifiers' in node) {
    // SECURITY: only query nodes we know; anything else (a new statement kind) is refused.
    if (!QUERY_NODE_TYPES.has(type)) reject('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', `${type} is not allowed in a query`);
    return;
  }
  if (type && 'alias' in node && 'sample' in node) checkTableRef(type, node, summary, limits);
}

function checkExpression(node: { [key: string]: Json }, summary: WalkState): void {
  const cls = node.class as string;
  // SECURITY: expression classes are allow-listed; PARAMETER and anything new are refused.
  if (!EXPRESSION_CLASSES.has(cls)) reject('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', `${cls.toLowerCase()} expressions are not allowed`);
  if (cls === 'FUNCTION' || cls === 'WINDOW') {
    // SECURITY: an exported aggregate state is raw engine memory (pointers, uninitialized padding).
    if (node.export_state === true) reject('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'EXPORT_STATE is not available in the sandbox');
    const name = String(node.function_name ?? '').toLowerCase();
    const qualified = Boolean(node.catalog) || (Boolean(node.schema) && node.schema !== 'main');
    const allowed = ALLOWED_FUNCTIONS.has(name) || OPERATOR_FUNCTIONS.has(name) || (cls === 'WINDOW' && WINDOW_FUNCTIONS.has(name));
    if (allowed && !qualified) return;
    // A name DuckDB does not know at all is a typo, not a refusal (it could never run either way);
    // names that say they reach outside (read_*, *_scan, ...) are refusals whether loaded or not.
    if (!qualified && !summary.isEngineFunction(name) && !looksOutward(name)) {
      summary.unknown ??= unknownName('function', name, SUGGESTED_FUNCTIONS, summary.sql);
      return;
    }
    // SECURITY: functions are allow-listed by name; qualified names could reach other catalogs' macros.
    reject('SBX_ERR_SQL_FORBIDDEN_FUNCTION', `function ${name}() is not available in the sandbox: ${qualified ? 'functions cannot be qualified with a catalog or schema' : forbiddenFunctionReason(name)}`, { function: name });
  }
}

function checkTableRef(type: string, node: { [key: string]: Json }, summary: WalkState, limits: GateLimits): void {
  // SECURITY: table references are allow-listed by kind.
  if (!TABLE_REF_TYPES.has(type)) reject('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', `${type.toLowerCase().replaceAll('_', ' ')} is not allowed in FROM`);
  switch (type) {
    case 'BASE_TABLE':
      // SECURITY: a quoted path is a replacement scan (DuckDB reads the file): file paths are not tables.
      if (/[/\\.:*?~]/.test(String(node.table_name ?? ''))) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'file paths cannot be read in the sandbox: query tables by name');
      summary.tableRefs.push([node.catalog_name, node.schema_name, node.table_name].map((part) => String(part ?? '')).filter(Boolean));
      return;
    case 'JOIN':
      summary.joins += 1;
      if (summary.joins > limits.maxJoins) reject('SBX_ERR_SQL_TOO_COMPLEX', `the query joins more than ${limits.maxJoins} times: build intermediate workspace tables`);
      return;
    case 'TABLE_FUNCTION': {
      const fn = node.function as { [key: string]: Json } | null;
      const name = String(fn?.function_name ?? '').toLowerCase();
      const qualified = Boolean(fn?.catalog) || Boolean(fn?.schema && fn.schema !== 'main');
      if (!ALLOWED_TABLE_FUNCTIONS.has(name) || qualified) {
        if (!qualified && !summary.isEngineFunction(name) && !looksOutward(name)) {
          summary.unknown ??= unknownName('table function', name, ALLOWED_TABLE_FUNCTIONS, summary.sql);
        } else {
          // SECURITY: table functions read files, catalogs and run SQL (read_csv, query, duckdb_*): only generators pass.
          reject('SBX_ERR_SQL_FORBIDDEN_FUNCTION', `table function ${name}() is not available in the sandbox: ${qualified ? 'functions cannot be qualified with a catalog or schema' : `${forbiddenFunctionReason(name)}; only ${[...ALLOWED_TABLE_FUNCTIONS].join(', ')} are`}`, { function: name });
        }
      }
      summary.tableFunctionCalls.add(fn!);
      return;
    }
    default:
      return;
  }
}
