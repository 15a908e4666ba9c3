import type { TablePrivacy } from '../../desensitize/index.js';
import type { Json } from '../gate/ast-walk.js';

/**
 * What a prod answer over personal data is, read from DuckDB's own parse of the checked query
 * (`json_serialize_sql`), so that its disclosure can be checked person by person. Only shapes whose
 * companion (the per-entity statistics behind each output row) can be derived exactly are
 * `aggregate` or `rows`; everything else is `uncheckable` with the reason, which refuses the answer
 * in prod (fail closed): develop it in dev, or save a workspace table and export it.
 */

/** A personal table read in the query's top-level FROM, with what the checks know of it. */
export interface PersonalRef {
  /** The name the query's expressions use for it (its alias, else its table name). */
  alias: string;
  table: string;
  privacy: TablePrivacy;
  /** Column of the augmented FROM that carries this table's entity keys. */
  entityColumn: string;
  /** Its BASE_TABLE node in the query's AST, which the companion replaces by the table joined to its entity keys. */
  ref: Json;
}

export type AnswerShape =
  | { kind: 'aggregate'; node: Json; from: Json; keys: Json[]; aggregates: AggregateRef[]; personal: PersonalRef[]; cellOrder?: CellOrder | 'unorderable' | undefined }
  | { kind: 'rows'; node: Json; from: Json; identifiers: string[]; quasi: { label: string; expr: Json }[]; personal: PersonalRef[] }
  | { kind: 'uncheckable'; reason: string };

/**
 * An aggregate answer ordered by one of its aggregate columns: read in the order of its keys, and
 * ordered by `checkedAnswer` after the checks, by the values shown; the rows whose cell there is null
 * (withheld by the checks, or null in the data) go last (or first with NULLS FIRST), by their keys,
 * never by the value a withheld cell hides.
 */
export interface CellOrder {
  column: number;
  descending: boolean;
  nullsFirst: boolean;
}

/**
 * Why a prod answer ordered by an aggregate column in another way (`cellOrder: 'unorderable'`) is
 * refused. An export of it is not: an export's file is ordered by its keys, never by its ORDER BY.
 */
export const UNORDERABLE = 'ORDER BY an aggregate column over personal data must be the only ORDER BY item and name the column itself (by name or position): a withheld cell cannot keep the place its value gives it (`ORDER BY n > 100` or a second item would order by it)';

/** An aggregate call inside an output column. */
export interface AggregateRef {
  /** Output column index (0-based) it belongs to. */
  column: number;
  node: Json;
  /** Its per-entity contribution can be summed (sum, avg): dominance and p-ratio apply. */
  summable: boolean;
}

/** Aggregates whose cell is a statistic over many entities, never one entity's own value list. */
const COUNTING = new Set(['count_star', 'count', 'approx_count_distinct']);
const SUMMING = new Set(['sum', 'avg', 'mean', 'fsum', 'sumkahan', 'kahan_sum', 'sum_no_overflow']);
const SPREAD = new Set(['min', 'max', 'median', 'stddev', 'stddev_pop', 'stddev_samp', 'variance', 'var_pop', 'var_samp', 'quantile_cont', 'quantile_disc', 'quantile', 'mad']);

/** What the engine tells the analysis about the tables a query may name. */
export interface TableLookup {
  /** The personal granted table an unqualified or qualified name resolves to, if any. */
  personal(catalog: string, name: string): { table: string; privacy: TablePrivacy } | undefined;
  /** Whether a name resolves to a workspace table derived from personal data (not checkable yet). */
  derivedFromPersonal(catalog: string, name: string): boolean;
  /** Aggregate function names, as DuckDB lists them. */
  isAggregate(functionName: string): boolean;
  /** Functions (and macros using them) whose value is not the same in every run: the clock, random, sequences. */
  isUnstable(functionName: string): boolean;
  /** Functions that make rows out of a value in a SELECT list (unnest, and macros using it). */
  makesRows(functionName: string): boolean;
}

/**
 * Names that bind to the clock when no column has them (`current_timestamp` is a column reference
 * in the parse tree, bound to get_current_timestamp()).
 */
const CLOCK_NAMES = new Set(['current_timestamp', 'current_date', 'current_time', 'localtimestamp', 'localtime', 'transaction_timestamp']);

type Obj = Record<string, Json>;
const asObj = (value: Json | undefined): Obj | undefined => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Obj) : undefined);
const uncheckable = (reason: string): AnswerShape => ({ kind: 'uncheckable', reason });

/**
 * Reads the shape of a checked SELECT. Returns undefined when the query reads no personal table
 * (it then answers freely).
 */
export function answerShape(ast: Json, tables: TableLookup): AnswerShape | undefined {
  const node = asObj(ast)!;
  const personal: PersonalRef[] = [];
  let derived = false;
  let nested = false;
  const topLevel = new Set<Obj>();
  collectFrom(asObj(node.from_table), (ref) => {
    topLevel.add(ref);
    const catalog = catalogOf(ref);
    const name = String(ref.table_name ?? '');
    const found = tables.personal(catalog, name);
    if (found) personal.push({ alias: String(ref.alias || name), table: found.table, privacy: found.privacy, entityColumn: `__e${personal.length}`, ref });
    if (tables.derivedFromPersonal(catalog, name)) derived = true;
  });
  // Personal tables anywhere else (subqueries, CTEs) cannot be counted per entity.
  walk(node, (child) => {
    if (child.type === 'BASE_TABLE' && !topLevel.has(child)) {
      const catalog = catalogOf(child);
      if (tables.personal(catalog, String(child.table_name)) || tables.derivedFromPersonal(catalog, String(child.table_name))) nested = true;
    }
  });
  if (personal.length === 0 && !derived && !nested) return undefined;
  if (derived) return uncheckable('it reads a workspace table derived from personal data, whose answers cannot yet be counted per person in prod: query the granted tables directly, use dev, or export the table');
  if (nested) return uncheckable('a table with personal data is read inside a subquery, CTE or set operation: read it in the top-level FROM');
  // SECURITY: invariant 8: the companions bind names the query cannot see (`__e0`, `__row0`, `__key0`,
  // `__t`...): a name of the query spelled so binds to them there and to something else in the answer
  // (`SELECT district AS __row0 ... WHERE <one person> OR try_cast(__row0 AS BIGINT) IS NOT NULL` read
  // one person's rows in the answer and a whole district in the checks).
  if (usesReservedNames(node)) return uncheckable('names starting with __ are reserved for the person-level checks: rename the column, alias or table');
  // SECURITY: invariant 8: and what binds by position or by matching names rather than by the names
  // written: `#n` counts the companions' added columns too, and NATURAL or USING joins would match a
  // column named like them (a workspace table's or an upload's).
  if (containsClass(node, 'POSITIONAL_REFERENCE')) return uncheckable('positional references (#n) over personal data cannot be checked: name the columns');
  // SECURITY: invariant 8: a group or DISTINCT row prints its first row's value; under a collation
  // ('X' and 'x' under NOCASE, 'é' composed and decomposed under NFC) equal values print apart and
  // would show which row came first (eleventh red-team pass). Anywhere in the query, not only in the
  // SELECT list or GROUP BY: a FROM subquery's collated column carries its collation out.
  if (containsClass(node, 'COLLATE')) return uncheckable('a collation (COLLATE) over personal data cannot be checked: values it holds equal print differently; compare and group by lower(...) or another normal form instead');
  // SECURITY: invariant 8: an aggregate's own ORDER BY decides the order its values are combined in,
  // and floating-point arithmetic rounds by that order: `var_pop(amount ORDER BY <one person's rows
  // first>, amount)` beside `var_pop(amount ORDER BY amount)` differed in the last digits exactly when
  // that person matched, the same rows in both cells (red-team pass 14a).
  if (ordersAggregates(node)) return uncheckable('ORDER BY inside an aggregate over personal data cannot be checked: the order its values are combined in can change the last digits of the result; leave it out');
  // SECURITY: invariant 8: `rowid` says where a row lies in its table, not what it holds: it follows
  // the order the rows were loaded in, so it can pin others' values without naming their column
  // (`rowid % 50 = 0` for "paid exactly 100"), and the companions, which read each personal table
  // through a subquery, would not bind it to the same rows.
  if (refersToRowid(node)) return uncheckable('rowid over personal data cannot be checked: it numbers rows by their place in the table; use the table\'s own columns');
  if (joinsByNames(asObj(node.from_table))) return uncheckable('NATURAL and USING joins over personal data cannot be checked: join ON the columns by name');
  // SECURITY: invariant 8: every row the answer counts must carry a person. A personal table on the
  // side of a join that can be missing makes rows of nobody: `count(*)` over `range(1, 3) r LEFT JOIN
  // pay p ON r.range = CASE WHEN <one person> THEN 2 ELSE 1 END` counted the null-extended row that
  // exists only when that person did not match, and the checks, which count people, saw nothing.
  const missing = new Set(optionalLeaves(asObj(node.from_table)));
  if (personal.some((p) => missing.has(asObj(p.ref)!))) return uncheckable('a table with personal data on the side of an outer, semi, anti or positional join that can be missing cannot be checked (rows of nobody would count): use an inner join with it');
  // SECURITY: invariant 8: the companions read a personal table through a subquery that adds its entity
  // columns, under the table's own column names: renamed columns (`pay AS p(district)`) would bind
  // to other columns there than in the answer.
  if (personal.some((p) => ((asObj(p.ref)?.column_name_alias as Json[] | undefined)?.length ?? 0) > 0)) return uncheckable('renaming the columns of a table with personal data (AS p(a, b, ...)) cannot be checked: alias the columns in the SELECT list instead');
  const unsupportedRef = personal.find((p) => !p.privacy.entity);
  if (unsupportedRef) return uncheckable(`${unsupportedRef.table} has no identifier to count people by, so its answers in prod cannot be checked`);
  for (const [kind, what] of [['cte_map', 'a WITH clause'], ['qualify', 'QUALIFY']] as const) {
    const value = node[kind];
    if (kind === 'cte_map' ? ((asObj(value)?.map as Json[] | undefined)?.length ?? 0) > 0 : value !== null && value !== undefined) return uncheckable(`${what} over personal data cannot be checked`);
  }
  // SECURITY: invariant 8: the answer and its companion are two runs: with the clock or random in the
  // query they read different rows (`mobile = '…' OR epoch_ms(now()) // 3 % 2 = 0` showed one person's
  // total in the answer while the companion, a moment later, counted the whole district).
  if (usesUnstable(node, tables.isUnstable)) return uncheckable('the clock, random values or sequences over personal data cannot be checked: the checks run the query again and must read the same rows; use a constant instead');
  // SECURITY: invariant 8: a sample in FROM (`pay TABLESAMPLE reservoir(1 ROWS)`) makes the answer read
  // a few rows while its companion, which joins the table itself to its entity keys, counts them all;
  // anywhere else (`WHERE mobile = … OR EXISTS (SELECT 1 FROM range(1) USING SAMPLE 50.5 PERCENT)`)
  // it is drawn again in each run, so the answer read one person's row while the companion counted
  // the district (red-team pass 36b).
  if (anyNode(node, (child) => child.sample !== null && child.sample !== undefined)) return uncheckable('a sample (TABLESAMPLE, USING SAMPLE) over personal data cannot be checked: the answer would describe fewer people than the checks count');
  if (node.type !== 'SELECT_NODE') return uncheckable('set operations over personal data cannot be checked');
  if (containsClass(node, 'WINDOW')) return uncheckable('window functions over personal data cannot be checked: each row would carry other people\'s values');
  const selectList = (node.select_list as Json[]).map((item) => asObj(item)!);
  if (selectList.some((item) => containsClass(item, 'SUBQUERY'))) return uncheckable('subqueries in the SELECT list over personal data cannot be checked');
  // SECURITY: invariant 8: an ORDER BY names an output column by its alias, and DuckDB binds a
  // repeated alias to its last item: `district AS c, count(*) FILTER (…) AS c … ORDER BY c` was
  // ordered by the withheld count while the checks took `c` for the key (red-team pass 16).
  const aliases = selectList.map((item) => String(item.alias ?? '').toLowerCase()).filter((alias) => alias !== '');
  if (new Set(aliases).size !== aliases.length) return uncheckable('two output columns with the same name over personal data cannot be checked: give each its own name');
  // SECURITY: invariant 8: HAVING filters groups on values nobody sees (an oracle: a row shown or not).
  if (node.having !== null && node.having !== undefined) return uncheckable('HAVING over personal data cannot be checked: it decides which rows exist on values the answer does not show; filter in WHERE or read the groups');
  // SECURITY: invariant 8: `*`/COLUMNS(...) inside an expression hides which columns it shows.
  if (selectList.some((item) => item.class !== 'STAR' && containsClass(item, 'STAR'))) return uncheckable('* or COLUMNS(...) inside an expression over personal data cannot be checked: name the columns');
  const modifiers = ((node.modifiers as Json[] | undefined) ?? []).map((m) => asObj(m)!);
  const orders = modifiers.filter((m) => m.type === 'ORDER_MODIFIER').flatMap((m) => (m.orders as Json[]).map((o) => asObj(o)!.expression));
  const limited = modifiers.some((m) => m.type === 'LIMIT_MODIFIER' || m.type === 'LIMIT_PERCENT_MODIFIER');
  const distinctOn = modifiers.some((m) => m.type === 'DISTINCT_MODIFIER' && ((m.distinct_on_targets as Json[] | undefined)?.length ?? 0) > 0);
  if (distinctOn) return uncheckable('DISTINCT ON over personal data picks one row per group by values the answer does not show');
  // SECURITY: invariant 8: unnest in the SELECT list makes rows out of a value: the checks judge the
  // cells of a group, not how many rows its value made (`unnest(range(sum(amount)))` in a group of one
  // person's payment made 777 rows, withheld and counted as 777; `regexp_split_to_table(CASE … END,
  // ',')`, a macro over unnest, made one row or two on one person's value; red-team pass 31b).
  if ([...selectList, ...(node.group_expressions as Json[]), ...orders].some((expr) => callsAny(expr ?? null, tables.makesRows))) {
    return uncheckable('unnest and the functions built on it (regexp_split_to_table, generate_subscripts) over personal data cannot be checked: they make rows out of values the checks do not see; unnest in FROM instead');
  }
  const groupSets = (node.group_sets as Json[] | undefined) ?? [];
  if (groupSets.length > 1) return uncheckable('ROLLUP, CUBE and GROUPING SETS over personal data cannot be checked yet: one GROUP BY per query');
  const aggregates = selectList.map((item, column) => aggregatesIn(item, tables).map((node) => ({ column, node })));
  const isAggregate = (node.group_expressions as Json[]).length > 0 || node.aggregate_handling === 'FORCE_AGGREGATES' || aggregates.some((list) => list.length > 0);
  const identifiers = new Set(personal.flatMap((p) => p.privacy.identifiers.map((c) => c.toLowerCase())));
  // A relation's name used as a column (`SELECT p FROM pay p`, `to_json(pay)`) is its whole row.
  const relations = new Map(personal.flatMap((p) => [[p.alias.toLowerCase(), p], [p.table.toLowerCase(), p]] as const));
  const wholeRows = (expr: Json) => wholeRowRefs(expr, relations);
  // A column reference is a personal table's when qualified by the name it binds under (its alias,
  // else its table name) and no other relation of the FROM binds under that name, or, unqualified,
  // when the FROM reads personal tables only (the binder, not the parse tree, knows the rest).
  const leaves = fromLeaves(asObj(node.from_table));
  const onlyPersonal = leaves.every((leaf) => personal.some((p) => p.ref === leaf));
  const bindsAs = (leaf: Obj) => String(leaf.alias || leaf.table_name || '').toLowerCase();
  const ofPersonalTable = (ref: Obj) => {
    const names = (ref.column_names as Json[] | undefined) ?? [];
    if (names.length === 1) return onlyPersonal;
    const qualifier = String(names[0]).toLowerCase();
    const bound = leaves.filter((leaf) => bindsAs(leaf) === qualifier);
    return names.length === 2 && bound.length === 1 && personal.some((p) => p.ref === bound[0]);
  };
  // SECURITY: invariant 8: the companions read each personal table with its entity key and row
  // number beside its columns (`__e0`, `__row0`): a whole row or `*` read anywhere but as a SELECT
  // item of its own (`WHERE pay::VARCHAR LIKE '%__row0%'`, `COLUMNS(...)` in WHERE or in a FILTER)
  // sees them there and not in the answer, so the two would not select the same rows.
  const clauses = [node.where_clause ?? null, ...(node.group_expressions as Json[]), ...joinConditions(asObj(node.from_table)), ...orders.map((o) => o ?? null), ...(isAggregate ? selectList : [])];
  if (clauses.some((clause) => wholeRows(clause).length > 0 || containsClass(clause, 'STAR'))) {
    return uncheckable('a whole row, * or COLUMNS(...) inside an expression over personal data cannot be checked: name the columns');
  }
  if (isAggregate) {
    if (selectList.some((item) => item.class === 'STAR')) return uncheckable('SELECT * in an aggregate over personal data cannot be checked: name the columns');
    // SECURITY: invariant 8: ordering by an aggregate the answer does not show ranks groups on hidden values.
    if (orders.some((order) => aggregatesIn(asObj(order)!, tables).length > 0)) return uncheckable('ORDER BY an aggregate over personal data cannot be checked: order by an output column (by name or position)');
    const cellOrder = orderedByCell(modifiers, selectList, new Set(aggregates.flatMap((list, i) => (list.length > 0 ? [i] : []))));
    // SECURITY: invariant 8: two aggregates in one cell can subtract one person out of a group (sum - sum FILTER).
    if (aggregates.some((list) => list.length > 1)) return uncheckable('one output column combines several aggregates, which can subtract one person out of a group: give each aggregate its own column');
    const refs: AggregateRef[] = [];
    // What chooses the rows and groups of every cell: WHERE, the whole FROM (join conditions, and the
    // arguments of table functions, which can filter or rename a column row by row: `CROSS JOIN
    // range(CASE WHEN amount = 100 … THEN 1 ELSE 0 END)`, `unnest([p.amount]) AS u(v)`), GROUP BY and
    // the select items that are not aggregates (GROUP BY ALL and aliases bind to them).
    const selecting = new Set(columnNames([node.where_clause ?? null, node.from_table ?? null, ...(node.group_expressions as Json[]), ...selectList.filter((_, i) => aggregates[i]!.length === 0)]));
    for (const { column, node: call } of aggregates.flat()) {
      const name = String(call.function_name).toLowerCase();
      const counting = COUNTING.has(name);
      if (!counting && !SUMMING.has(name) && !SPREAD.has(name)) return uncheckable(`the aggregate ${name} can return individual values; use count, sum, avg, min, max, median or stddev`);
      // SECURITY: invariant 8: a min, max or mean of identifiers is one person's identifier.
      if (!counting && columnNames(call).some((c) => identifiers.has(c))) return uncheckable(`${name} over an identifier column returns a single person's identifier`);
      // SECURITY: invariant 8: a min or max of whole rows is one person's row.
      if (!counting && wholeRows(call).length > 0) return uncheckable(`${name} over a whole row returns a single person's row`);
      // SECURITY: invariant 8: the contributions judged must be the values summed: a CASE or an offset
      // (sum(x + 1000000)) would hide one person's dominance behind constants.
      const args = ((call.children as Json[]) ?? []).map((arg) => asObj(arg)!);
      if (!counting && args.some((arg) => arg.class !== 'COLUMN_REF')) return uncheckable(`${name} of an expression over personal data cannot be checked: aggregate a column (compute expressions in a workspace table first, or in dev)`);
      // SECURITY: invariant 8: nor a column of another relation of the FROM: a join can give each row
      // a value of its choosing (`JOIN range(1, 3) r ON r.range = CASE WHEN <one person> THEN 2 ELSE 1
      // END`: avg(r.range) over thousands of people was 1 or 1.002, one person's payments).
      if (!counting && args.some((arg) => !ofPersonalTable(arg))) return uncheckable(`${name} over personal data must aggregate a column of a table with personal data, named with its table when the query reads other relations (p.amount): a joined relation's values can be chosen row by row`);
      // SECURITY: invariant 8: nor rows chosen by the values summed: a selection on them pins everyone
      // else's value, and the cell then gives the rest away alone (`avg(amount)` over "paid exactly
      // 100, or <one person> paid above x" is 100 unless that person did; a self-join on `q.amount`
      // picked that person's row of another amount). Any column of that name counts, whatever table
      // or struct it is qualified with (ninth red-team pass).
      const pinned = columnNames(args).find((c) => selecting.has(c) || columnNames(call.filter ?? null).includes(c));
      if (!counting && pinned !== undefined) return uncheckable(`${name}(${pinned}) over personal data cannot be checked when ${pinned} also chooses the rows or groups (WHERE, FILTER, a join condition or a grouping): the selection would fix everyone else's value; select and group by other columns, or develop the query in dev`);
      // SECURITY: invariant 8: a DISTINCT aggregate's cell is not the sum of what each person adds: one
      // person's own value counts once more (`count(DISTINCT CASE WHEN <one person> THEN 'yes' ELSE
      // 'no' END)` is 2 or 1 over thousands of people). Only a person's own identifiers are counted so.
      if ((call.distinct === true || name === 'approx_count_distinct') && !(args.length === 1 && args[0]!.class === 'COLUMN_REF' && ofPersonalTable(args[0]!) && identifiers.has(columnNames(args[0]).at(-1) ?? ''))) {
        return uncheckable(`${name}(DISTINCT …) over personal data counts each distinct value once, so one person's own value can show: only the people's own identifiers can be counted so; GROUP BY the values instead (each group is checked)`);
      }
      refs.push({ column, node: call, summable: SUMMING.has(name) });
    }
    const keys = groupKeys(node, selectList, aggregates);
    if (typeof keys === 'string') return uncheckable(keys);
    return { kind: 'aggregate', node, from: node.from_table!, keys, aggregates: refs, personal, cellOrder };
  }
  // Row-level: which output columns are identifiers and which quasi-identifiers.
  const shown = new Set<string>();
  const quasi: { label: string; expr: Json }[] = [];
  const quasiNames = new Map(personal.flatMap((p) => p.privacy.quasi.map((c) => [c.toLowerCase(), p] as const)));
  const sensitive = new Set<string>();
  for (const item of selectList) {
    const whole = item.class === 'STAR' ? undefined : wholeRows(item);
    if (item.class === 'STAR' || whole!.length > 0) {
      if (item.columns || item.expr) return uncheckable('COLUMNS(...) over personal data cannot be checked: name the columns');
      // SECURITY: invariant 8: a REPLACE puts any expression under a column of another table
      // (`r.* REPLACE (p.amount AS range)` showed every amount: pass 36b).
      if (((item.replace_list as Json[] | undefined)?.length ?? 0) > 0) return uncheckable('* REPLACE (...) over personal data cannot be checked: name the columns');
      const relation = String(item.relation_name ?? '').toLowerCase();
      // SECURITY: invariant 8: `*` and whole-row references show every column of their tables, a
      // table without personal data's too: a column joined on a person's value is that value
      // (`JOIN range(1000) r ON r.range = CASE WHEN <one person> THEN amount … END`, `r.*`: pass 36b).
      const inScope = whole ?? personal.filter((p) => relation === '' || p.alias.toLowerCase() === relation);
      sensitive.add(item.class === 'STAR' ? `${relation ? `${relation}.` : ''}*` : 'a whole row');
      for (const p of inScope) {
        for (const c of p.privacy.identifiers) shown.add(c);
        for (const c of p.privacy.quasi) quasi.push({ label: c, expr: { class: 'COLUMN_REF', type: 'COLUMN_REF', column_names: [p.alias, c] } });
      }
      continue;
    }
    const names = columnNames(item);
    for (const name of names) if (identifiers.has(name)) shown.add(name);
    if (names.some((name) => quasiNames.has(name))) quasi.push({ label: String(item.alias || names.join('_')), expr: stripAlias(item) });
    // SECURITY: invariant 8: a row-level answer shows only generalized attributes of groups of k people:
    // any other value of a person's row (an amount) is that person's, k-anonymity or not.
    else if (names.length > 0) sensitive.add(String(item.alias || names.join('_')));
  }
  // SECURITY: invariant 8: ORDER BY with LIMIT picks people by values nobody sees (the top earner's district).
  const outputNames = new Set(selectList.flatMap((item) => [String(item.alias ?? '').toLowerCase(), ...columnNames(item)]));
  const byOutput = (order: Json | undefined) => {
    const o = asObj(order);
    return o?.class === 'CONSTANT' || (o?.class === 'COLUMN_REF' && outputNames.has(String((o.column_names as Json[]).at(-1)).toLowerCase()));
  };
  if (shown.size === 0 && (limited || !orders.every(byOutput))) return uncheckable('LIMIT, and ORDER BY anything but the output columns, in row-level answers over personal data pick rows by values the answer does not show: aggregate instead');
  if (sensitive.size > 0 && shown.size === 0) {
    return uncheckable(`row-level answers in prod show only quasi-identifiers (${[...quasiNames.keys()].join(', ') || 'none here'}); ${[...sensitive].join(', ')} would show individual values: aggregate them (count, sum, avg by group)`);
  }
  return { kind: 'rows', node, from: node.from_table!, identifiers: [...shown], quasi, personal };
}

/** The catalog a table reference names: `granted.main.t`, or `granted.t` (which DuckDB parses as a schema). */
function catalogOf(ref: Obj): string {
  const catalog = String(ref.catalog_name ?? '');
  const schema = String(ref.schema_name ?? '');
  return catalog || (schema.toLowerCase() === 'main' ? '' : schema);
}

/** The top-level FROM's base tables (through joins); other FROM items are left to the walk. */
function collectFrom(from: Obj | undefined, visit: (ref: Obj) => void): void {
  if (!from) return;
  if (from.type === 'BASE_TABLE') visit(from);
  else if (from.type === 'JOIN') {
    collectFrom(asObj(from.left), visit);
    collectFrom(asObj(from.right), visit);
  }
}

/** Whether a FROM has a NATURAL join or a join USING columns. */
function joinsByNames(from: Obj | undefined): boolean {
  if (!from || from.type !== 'JOIN') return false;
  return from.ref_type === 'NATURAL' || ((from.using_columns as Json[] | undefined)?.length ?? 0) > 0 || joinsByNames(asObj(from.left)) || joinsByNames(asObj(from.right));
}

/**
 * The relations of a FROM whose rows can be missing from a row of the join: the right side of a
 * LEFT (also ASOF) join, the left of a RIGHT join, both sides of a FULL or POSITIONAL join (padded
 * with NULLs), and the right side of a SEMI or ANTI join (never in the result at all).
 */
function optionalLeaves(from: Obj | undefined): Obj[] {
  if (!from || from.type !== 'JOIN') return [];
  const left = asObj(from.left);
  const right = asObj(from.right);
  const type = String(from.join_type ?? '').toUpperCase();
  const both = type === 'FULL' || type === 'OUTER' || from.ref_type === 'POSITIONAL';
  return [
    ...(both || type === 'RIGHT' ? fromLeaves(left) : optionalLeaves(left)),
    ...(both || type === 'LEFT' || type === 'SEMI' || type === 'ANTI' || type === 'MARK' || type === 'SINGLE' ? fromLeaves(right) : optionalLeaves(right)),
  ];
}

/** The relations a FROM joins (tables, table functions, subqueries, VALUES), in order. */
function fromLeaves(from: Obj | undefined): Obj[] {
  if (!from) return [];
  return from.type === 'JOIN' ? [...fromLeaves(asObj(from.left)), ...fromLeaves(asObj(from.right))] : [from];
}

/** Visits every object node of the AST. */
function walk(value: Json | undefined, visit: (node: Obj) => void): void {
  if (Array.isArray(value)) {
    for (const item of value) walk(item, visit);
    return;
  }
  const obj = asObj(value);
  if (!obj) return;
  visit(obj);
  for (const child of Object.values(obj)) walk(child, visit);
}

/** Whether any node under `value` (a part of DuckDB's parse) passes `test`. */
function anyNode(value: Json | undefined, test: (node: Obj) => boolean): boolean {
  let found = false;
  walk(value, (node) => {
    if (!found && test(node)) found = true;
  });
  return found;
}

/** Whether any expression under `value` (a part of DuckDB's parse) is of class `nodeClass` (STAR, SUBQUERY, WINDOW…). */
export function containsClass(value: Json | undefined, nodeClass: string): boolean {
  return anyNode(value, (node) => node.class === nodeClass);
}

/**
 * How an aggregate answer is ordered by an aggregate column (an alias, a position, or an expression
 * naming an aggregate column's alias): undefined when it is not, `unorderable` unless that is its
 * only ORDER BY item and names the column itself (`UNORDERABLE`).
 * SECURITY: invariant 8: a cell the checks withhold is shown as null, but its row kept the place its
 * value gave it: `ORDER BY c DESC` over a withheld `count(*) FILTER (WHERE <one person>)` listed that
 * person's amounts first, and `ORDER BY s > T` bisected a dominated sum (red-team pass 15a).
 */
function orderedByCell(modifiers: Obj[], selectList: Obj[], aggregateColumns: ReadonlySet<number>): CellOrder | 'unorderable' | undefined {
  const items = modifiers.filter((m) => m.type === 'ORDER_MODIFIER').flatMap((m) => (m.orders as Json[]).map((o) => asObj(o)!));
  // Each alias names one item (`answerShape` refuses repeated ones, which DuckDB binds to the last).
  const aliases = new Map<string, number>();
  selectList.forEach((item, i) => {
    const alias = String(item.alias ?? '').toLowerCase();
    if (alias) aliases.set(alias, i);
  });
  /** The output column an ORDER BY expression names itself (by position or alias), if any. */
  const columnOf = (expr: Obj | undefined): number | undefined => {
    const value = (expr?.value as Obj | undefined)?.value;
    if (expr?.class === 'CONSTANT' && typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= selectList.length) return value - 1;
    const names = expr?.class === 'COLUMN_REF' ? (expr.column_names as Json[]) : [];
    return names.length === 1 ? aliases.get(String(names[0]).toLowerCase()) : undefined;
  };
  const namesCell = (expr: Obj | undefined): boolean => {
    const own = columnOf(expr);
    if (own !== undefined) return aggregateColumns.has(own);
    return anyNode(expr, (child) => {
      const names = child.class === 'COLUMN_REF' ? (child.column_names as Json[]) : [];
      const column = names.length === 1 ? aliases.get(String(names[0]).toLowerCase()) : undefined;
      return column !== undefined && aggregateColumns.has(column);
    });
  };
  if (!items.some((item) => namesCell(asObj(item.expression)))) return undefined;
  const column = items.length === 1 ? columnOf(asObj(items[0]!.expression)) : undefined;
  return column === undefined ? 'unorderable' : { column, descending: items[0]!.type === 'DESCENDING', nullsFirst: items[0]!.null_order === 'NULLS FIRST' };
}

/** Whether a LIMIT or OFFSET appears anywhere in a query (its top node, a subquery or a CTE). */
export function limitsRows(ast: Json): boolean {
  return anyNode(ast, (child) => child.type === 'LIMIT_MODIFIER' || child.type === 'LIMIT_PERCENT_MODIFIER');
}

/** Whether any function call of the query has an ORDER BY of its own (`agg(x ORDER BY y)`, WITHIN GROUP). */
function ordersAggregates(node: Obj): boolean {
  return anyNode(node, (child) => child.class === 'FUNCTION' && ((asObj(child.order_bys)?.orders as Json[] | undefined)?.length ?? 0) > 0);
}

/** Whether any column reference of the query is named `rowid` (DuckDB's row number pseudo-column, in any case). */
function refersToRowid(node: Obj): boolean {
  return anyNode(node, (child) => {
    const names = child.class === 'COLUMN_REF' ? (child.column_names as Json[] | undefined) ?? [] : [];
    return names.length > 0 && String(names[names.length - 1]).toLowerCase() === 'rowid';
  });
}

/** Whether any name the query binds or declares (a column reference, an alias, a column alias) starts with `__`. */
function usesReservedNames(node: Obj): boolean {
  const reserved = (name: Json | undefined) => typeof name === 'string' && name.startsWith('__');
  return anyNode(node, (child) => reserved(child.alias) || ((child.column_names as Json[] | undefined) ?? []).some(reserved) || ((child.column_name_alias as Json[] | undefined) ?? []).some(reserved));
}

/** The ON conditions of the joins of a FROM (its subqueries read their own FROM, not the personal tables). */
function joinConditions(from: Obj | undefined): Json[] {
  if (!from || from.type !== 'JOIN') return [];
  return [from.condition ?? null, ...joinConditions(asObj(from.left)), ...joinConditions(asObj(from.right))];
}

/** Aggregate calls in an expression (not inside subqueries, which are refused before). */
function aggregatesIn(expr: Obj, tables: TableLookup): Obj[] {
  const found: Obj[] = [];
  walk(expr, (node) => {
    if (node.class === 'FUNCTION' && tables.isAggregate(String(node.function_name).toLowerCase())) found.push(node);
  });
  return found;
}

/** Personal tables whose whole row an expression refers to, by a one-part reference to their name or alias. */
function wholeRowRefs(expr: Json, relations: Map<string, PersonalRef>): PersonalRef[] {
  const found: PersonalRef[] = [];
  walk(expr, (node) => {
    const names = node.class === 'COLUMN_REF' ? (node.column_names as Json[]) : [];
    const relation = names.length === 1 ? relations.get(String(names[0]).toLowerCase()) : undefined;
    if (relation) found.push(relation);
  });
  return found;
}

/** Lowercased column names an expression refers to (the last part of each reference). */
export function columnNames(expr: Json | undefined): string[] {
  const names: string[] = [];
  walk(expr, (node) => {
    if (node.class === 'COLUMN_REF') names.push(String((node.column_names as Json[]).at(-1)).toLowerCase());
  });
  return names;
}

function stripAlias(expr: Obj): Obj {
  return { ...expr, alias: '' };
}

/**
 * The grouping expressions, as the companion must repeat them: positional references (`GROUP BY 1`)
 * and GROUP BY ALL are resolved to the select items they stand for.
 */
function groupKeys(node: Obj, selectList: Obj[], aggregates: unknown[][]): Json[] | string {
  if (node.aggregate_handling === 'FORCE_AGGREGATES') return selectList.filter((_, i) => aggregates[i]!.length === 0).map(stripAlias);
  const keys: Json[] = [];
  for (const expr of node.group_expressions as Json[]) {
    const obj = asObj(expr)!;
    const value = asObj(obj.value);
    if (obj.class === 'CONSTANT' && value && typeof value.value === 'number') {
      const item = selectList[value.value - 1];
      if (!item) return 'a GROUP BY position does not name a SELECT item';
      keys.push(stripAlias(item));
    } else keys.push(expr);
  }
  return keys;
}

/** Whether `node` calls a function that `matches` anywhere. */
function callsAny(node: Json, matches: (functionName: string) => boolean): boolean {
  let found = false;
  walk(node, (child) => {
    if (child.class === 'FUNCTION' && matches(String(child.function_name).toLowerCase())) found = true;
  });
  return found;
}

/**
 * Whether `node` calls the clock, random values or sequences anywhere (functions DuckDB marks as not
 * the same in every run, and macros using them; `current_timestamp` and its kin, which parse as
 * column references): two runs of it may compute different rows.
 */
export function usesUnstable(node: Json, isUnstable: (functionName: string) => boolean): boolean {
  let clock = false;
  walk(node, (child) => {
    const names = child.class === 'COLUMN_REF' ? (child.column_names as Json[] | undefined) ?? [] : [];
    if (names.length === 1 && CLOCK_NAMES.has(String(names[0]).toLowerCase())) clock = true;
  });
  return clock || callsAny(node, isUnstable);
}
