import type { DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { DISPLAY_CONTROLS } from '../../core/text.js';
import { SUGGESTED_FUNCTIONS, WINDOW_FUNCTIONS, walkSelectAst, type Json } from './ast-walk.js';
import { GATE_LIMITS } from './limits.js';
import { checkPlan, hasDependentJoin, type PlanNode, type ScannedTable } from './plan-check.js';
import { explainBindError, syntaxError, type VisibleTable } from './sql-errors.js';
import { reject } from './sql-rejection.js';

/**
 * The gate: one unit, parameterized by what a context may read (a tenant's dev or prod env today,
 * the product context on raw data later), used by queries, workspace tables and exports alike.
 * Fail closed, on DuckDB's own machinery, in this order:
 *
 * 1. text: not empty, at most `GATE_LIMITS.maxSqlBytes`;
 * 2. parse: `json_serialize_sql` must succeed (only SELECT does) and yield exactly one statement;
 * 3. AST walk (`ast-walk.ts`): allow-listed node kinds, functions and table functions; size caps;
 * 4. qualified names stay in the context's catalogs;
 * 5. canonical SQL: DuckDB's rendering of the checked AST is what is planned and run;
 * 6. bound plan (`plan-check.ts`): every read of the unoptimized plan is in the context's catalogs
 *    or a value generator. The reads are the query's lineage.
 *
 * The connection must belong to an instance opened with `explain_output = 'all'` (see
 * `tenant-engine.ts`); the gate refuses to decide without the bound plan.
 */
export interface GateContext {
  /** Attached catalogs the query may read, e.g. `granted` and `workspace` in prod. */
  readonly catalogs: ReadonlySet<string>;
  /**
   * The tables this context may read, with their columns: called only when a query names something
   * that does not exist, to suggest the nearest names (`sql-errors.ts`). Must list nothing the
   * context may not read (no other environment's tables).
   */
  readonly visibleTables?: () => Promise<VisibleTable[]>;
}

export interface CheckedQuery {
  /**
   * The statement to run: DuckDB's own rendering of the AST the gate checked. Running this rather
   * than the submitted text means comments, stacked statements and other text tricks cannot make
   * what runs differ from what was checked.
   */
  canonicalSql: string;
  /** Every table the bound plan reads, whatever the literals: complete by construction. */
  reads: ScannedTable[];
  /** Whether the bound plan runs a correlated subquery (`hasDependentJoin`). */
  correlated: boolean;
  /** DuckDB's parse of the checked statement (what `canonicalSql` renders), for the disclosure checks. */
  ast: Json;
}

export async function checkQuery(connection: DuckDBConnection, sql: string, context: GateContext, onEngineError: (error: unknown) => DomainError): Promise<CheckedQuery> {
  checkText(sql);
  const { ast, canonicalSql } = await parseSelect(connection, sql);
  const functions = await engineFunctions(connection);
  const { tableRefs } = walkSelectAst(ast, GATE_LIMITS, { isEngineFunction: (name) => functions.has(name), sql });
  checkQualifiedNames(tableRefs, context.catalogs);
  let plan: PlanNode[];
  try {
    plan = await boundPlan(connection, canonicalSql);
  } catch (error) {
    const message = String((error as Error).message ?? '');
    // A name written wrong (column, table, function, type) is answered from the query's own text and
    // this context's schema; anything else is the caller's to map.
    const explained = /^(Binder|Catalog) Error/.test(message)
      ? explainBindError(message, { sql, tableRefs, visible: (await context.visibleTables?.().catch(() => [])) ?? [], functions: SUGGESTED_FUNCTIONS, windowFunctions: WINDOW_FUNCTIONS })
      : undefined;
    throw explained ?? onEngineError(error);
  }
  return { canonicalSql, reads: checkPlan(plan, context.catalogs), correlated: hasDependentJoin(plan), ast };
}

let engineFunctionNames: Promise<ReadonlySet<string>> | undefined;

/**
 * Names of DuckDB's built-in functions (every kind), read once per thread: the walk uses them only to
 * tell a typo from a refusal. The same for every tenant (the `system` catalog), so sharing is sound.
 */
async function engineFunctions(connection: DuckDBConnection): Promise<ReadonlySet<string>> {
  engineFunctionNames ??= connection
    .runAndReadAll("SELECT DISTINCT lower(function_name) FROM duckdb_functions() WHERE database_name = 'system'")
    .then((reader) => new Set(reader.getRowsJS().map((row) => String(row[0]))));
  try {
    return await engineFunctionNames;
  } catch (error) {
    engineFunctionNames = undefined;
    throw error;
  }
}

/** The logical plan as bound, before the optimizer removes anything. */
async function boundPlan(connection: DuckDBConnection, sql: string): Promise<PlanNode[]> {
  const reader = await connection.runAndReadAll(`EXPLAIN (FORMAT JSON) ${sql}`);
  const row = reader.getRowsJS().find((r) => r[0] === 'logical_plan');
  // SECURITY: without the bound plan nothing is decided (the optimized one hides reads).
  if (!row) throw new Error('the engine did not return the bound plan: explain_output must be all');
  return JSON.parse(String(row[1])) as PlanNode[];
}

function checkText(sql: string): void {
  if (sql.trim() === '') reject('SBX_ERR_SQL_EMPTY', 'send a SELECT statement');
  const bytes = Buffer.byteLength(sql, 'utf8');
  if (bytes > GATE_LIMITS.maxSqlBytes) reject('SBX_ERR_SQL_TOO_LONG', `the query is ${bytes} bytes; at most ${GATE_LIMITS.maxSqlBytes} are accepted`);
  // SECURITY: the SQL supervisors read (audit, export review) is the SQL that runs: no text that shows otherwise ("Trojan Source", red-team pass 17b).
  if (DISPLAY_CONTROLS.test(sql)) {
    reject('SBX_ERR_SQL_HIDDEN_TEXT', 'the query holds characters that change how text is shown (control characters other than tab and line ends, bidirectional marks, zero-width characters): remove them, or write a value that needs one as chr(n)');
  }
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
  const result = JSON.parse(String(serialized)) as { error: boolean; error_message?: string; position?: string; statements?: { node: unknown }[] };
  if (result.error) {
    if (/Only SELECT/i.test(result.error_message ?? '')) reject('SBX_ERR_SQL_NOT_SELECT', 'only SELECT queries run in the sandbox; save results with POST /v1/tables');
    throw syntaxError(sql, result);
  }
  // SECURITY: exactly one statement, as DuckDB's own parser splits them: no stacking behind a comment.
  if (result.statements?.length !== 1 || rendered === null) reject('SBX_ERR_SQL_MULTIPLE_STATEMENTS', `send exactly one statement (found ${result.statements?.length ?? 0})`);
  return { ast: result.statements[0]!.node as Json, canonicalSql: rendered };
}

/**
 * Names qualified with a catalog must name one of the context's catalogs (`main.x` is the search
 * path's own schema). The bound plan would refuse them too; refusing before planning is cheaper
 * and says why.
 */
function checkQualifiedNames(tableRefs: string[][], catalogs: ReadonlySet<string>): void {
  for (const parts of tableRefs) {
    if (parts.length === 1) continue;
    const [first, second] = parts.map((part) => part.toLowerCase());
    const ok = parts.length === 2 ? first === 'main' || catalogs.has(first!) : catalogs.has(first!) && second === 'main';
    // SECURITY: invariant 1 (env separation): no reaching into another catalog by qualifying a name.
    // The message repeats only what the query wrote, and the same whether that catalog exists or not.
    if (!ok) reject('SBX_ERR_SQL_FORBIDDEN_TABLE', `${parts.join('.')} is not available in this environment: name tables without a catalog (the query's environment is searched), or as workspace.<table>`, { table: parts.join('.') });
  }
}
