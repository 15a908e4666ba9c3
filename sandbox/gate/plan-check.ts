import { reject } from './sql-rejection.js';

/**
 * The plan check of the gate: reads the *bound* plan, DuckDB's logical plan before any optimization
 * (the `logical_plan` row of `EXPLAIN (FORMAT JSON)` under `explain_output = 'all'`), and requires
 * every table it reads to be one this context may read, and every function-backed read to be a value
 * generator. The binder has resolved the search path, CTEs and qualified names by then.
 *
 * Why the bound plan and not the optimized one: the optimizer removes scans under constant-false
 * filters (`WHERE 1=0`, `LIMIT 0`) and answers `count(*)` from statistics without a scan, so the
 * scans that survive optimization depend on literal values. What is bound does not: it is the
 * complete set of reads, whatever the literals, and the optimized plan that runs only ever reads a
 * subset of it. Lineage is taken from here for the same reason.
 */

export interface PlanNode {
  name: string;
  children?: PlanNode[];
  extra_info?: Record<string, unknown>;
}

/** Function-backed reads (logical GET names) that only generate values. */
const GENERATORS = new Set(['RANGE', 'GENERATE_SERIES', 'UNNEST', 'JSON_EACH', 'JSON_TREE']);

/**
 * Logical operators that only transform what their children produce (DuckDB 1.5's
 * LogicalOperatorToString names, as EXPLAIN prints them). A GET prints its function's name instead
 * (`SEQ_SCAN` for a table), so any name not listed here or in GENERATORS is an unknown source:
 * refused (fail closed).
 */
const OPERATORS = new Set([
  'PROJECTION', 'FILTER', 'AGGREGATE', 'AGGREGATE_AND_GROUP_BY', 'WINDOW', 'UNNEST', 'LIMIT', 'LIMIT_PERCENT', 'ORDER_BY',
  'TOP_N', 'DISTINCT', 'SAMPLE', 'PIVOT', 'CROSS_PRODUCT', 'COMPARISON_JOIN', 'ANY_JOIN', 'DELIM_JOIN', 'ASOF_JOIN',
  'POSITIONAL_JOIN', 'DEPENDENT_JOIN', 'JOIN', 'UNION', 'EXCEPT', 'INTERSECT', 'CTE', 'MATERIALIZED_CTE', 'REC_CTE', 'CTE_SCAN',
  'DUMMY_SCAN', 'EXPRESSION_GET', 'EMPTY_RESULT', 'DELIM_GET', 'CHUNK_GET',
]);

/** A read table as the plan names it: `"granted".main.residents` → catalog, schema, table. */
export interface ScannedTable {
  catalog: string;
  schema: string;
  table: string;
}

/**
 * Returns the tables the bound plan reads. `allowedCatalogs` are the attached databases this
 * context may read (e.g. `granted` and `workspace` for prod); every read table must be in one of
 * them, in schema `main`.
 */
export function checkPlan(plan: PlanNode[], allowedCatalogs: ReadonlySet<string>): ScannedTable[] {
  const scanned: ScannedTable[] = [];
  const visit = (node: PlanNode) => {
    const info = node.extra_info ?? {};
    if (node.name === 'SEQ_SCAN' && 'Table' in info) {
      const table = parseTableName(String(info.Table));
      // SECURITY: invariant 1: a read outside this context's catalogs is refused.
      // SECURITY: tables named `__…` are the platform's (entity keys for the disclosure checks), never the tenant's to read.
      if (!table || !allowedCatalogs.has(table.catalog) || table.schema !== 'main' || table.table.startsWith('__')) {
        reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'the query reads a table that is not available in this environment');
      }
      // SECURITY: tables named `__…` are the platform's internal side tables (e.g. the entities
      // behind disclosure checks), in whatever catalog: never readable by tenant SQL.
      if (isInternalTable(table.table)) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'the query reads a table that is not available in this environment');
      scanned.push(table);
    } else if (!OPERATORS.has(node.name) && !GENERATORS.has(node.name)) {
      // SECURITY: any other source (a file, a catalog function, an unknown operator) is refused.
      reject('SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'the query reads from a source that is not available in the sandbox');
    }
    for (const child of node.children ?? []) visit(child);
  };
  for (const node of plan) visit(node);
  return scanned;
}

/**
 * Operators by which DuckDB plans a subquery that names columns of the outer query (a correlated
 * subquery, or LATERAL): it runs once per distinct value of those columns, and equal values that print
 * apart (-0.0 and 0.0, INTERVAL '30 days' and '1 month') all get the first row's (red-team pass 17c).
 */
const DEPENDENT_OPERATORS: ReadonlySet<string> = new Set(['DEPENDENT_JOIN', 'DELIM_JOIN', 'DELIM_GET']);

/** Whether the bound plan runs a correlated subquery. */
export function hasDependentJoin(plan: readonly PlanNode[]): boolean {
  const visit = (node: PlanNode): boolean => DEPENDENT_OPERATORS.has(node.name) || (node.children ?? []).some(visit);
  return plan.some(visit);
}

/** Internal side tables of the platform (`__` prefix): never listed, described or read by tenant SQL. */
export function isInternalTable(name: string): boolean {
  return name.startsWith('__');
}

/** Parses `"granted".main.residents` (each part optionally double-quoted, quotes doubled inside). */
export function parseTableName(text: string): ScannedTable | undefined {
  const parts: string[] = [];
  const pattern = /"((?:[^"]|"")*)"|([^."]+)/gy;
  let index = 0;
  while (index < text.length) {
    pattern.lastIndex = index;
    const match = pattern.exec(text);
    if (!match) return undefined;
    parts.push(match[1] !== undefined ? match[1].replaceAll('""', '"') : match[2]!);
    index = pattern.lastIndex;
    if (index < text.length) {
      if (text[index] !== '.') return undefined;
      index += 1;
    }
  }
  if (parts.length !== 3) return undefined;
  const [catalog, schema, table] = parts as [string, string, string];
  return { catalog, schema, table };
}
