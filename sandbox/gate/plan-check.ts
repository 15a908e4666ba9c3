import { reject } from './sql-rejection.js';

/**
 * The plan check of the gate: reads DuckDB's physical plan (`EXPLAIN (FORMAT JSON)`) and requires
 * every table it scans to be one this tenant may read in the chosen environment, and every
 * function-backed scan to be a value generator. The binder has resolved the search path, CTEs
 * and qualified names by then, so this is what will really be read.
 */

export interface PlanNode {
  name: string;
  children?: PlanNode[];
  extra_info?: Record<string, unknown>;
}

/** Function-backed scans (operator names) that only generate values. */
const GENERATOR_SCANS = new Set(['RANGE', 'GENERATE_SERIES', 'UNNEST', 'JSON_EACH', 'JSON_TREE']);

/** A scanned table as the plan names it: `"granted".main.residents` → catalog, schema, table. */
export interface ScannedTable {
  catalog: string;
  schema: string;
  table: string;
}

/**
 * Returns the tables the plan scans. `allowedCatalogs` are the attached databases this
 * environment may read (e.g. `granted` and `workspace` for prod); every scanned table must be in
 * one of them, in schema `main`.
 */
export function checkPlan(plan: PlanNode[], allowedCatalogs: ReadonlySet<string>): ScannedTable[] {
  const scanned: ScannedTable[] = [];
  const visit = (node: PlanNode) => {
    const info = node.extra_info ?? {};
    if ('Table' in info) {
      const table = parseTableName(String(info.Table));
      // SECURITY: invariant 1: a scan outside this tenant's allowed catalogs for this env is refused.
      if (!table || !allowedCatalogs.has(table.catalog) || table.schema !== 'main') {
        reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'the query reads a table that is not available in this environment');
      }
      scanned.push(table);
    } else if ('Function' in info || (node.name.includes('SCAN') && !NON_TABLE_SCANS.has(node.name))) {
      // SECURITY: a file-reading or catalog scan (READ_CSV, TABLE_SCAN of a function…) is refused.
      if (!GENERATOR_SCANS.has(node.name)) reject('SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'the query reads from a source that is not available in the sandbox');
    }
    for (const child of node.children ?? []) visit(child);
  };
  for (const node of plan) visit(node);
  return scanned;
}

/** Scans over data the query itself produced: constants, CTEs, joins' own intermediates. */
const NON_TABLE_SCANS = new Set(['DUMMY_SCAN', 'COLUMN_DATA_SCAN', 'CTE_SCAN', 'REC_CTE_SCAN', 'DELIM_SCAN', 'CHUNK_SCAN', 'POSITIONAL_SCAN', 'EMPTY_RESULT']);

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
