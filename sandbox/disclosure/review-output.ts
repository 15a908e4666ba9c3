import { DuckDBTypeId, type DuckDBConnection, type DuckDBDecimalType, type DuckDBType } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { failedRules, quoteIdentifier, type CellRule, type DisclosureRules } from '../../desensitize/index.js';
import type { AnswerShape } from './answer-shape.js';
import { cellStats, companionPlan, companionStatsWidth, comparedMeasures, differingColumns, EXACT_KEY_TYPE, exportAnswerSql, keysOf, MAX_COMPANION_GROUPS, onePersonAggregates, REPEATED_ROWS, repeatsPersonalRows } from './check-answer.js';
import { outputChecks, type OutputCheck, type OutputFindings } from './output-findings.js';

/**
 * The person-level checks of an export (issue #11 item 2), measured on the very rows the snapshot
 * holds. The answer runs ONCE, with its group keys appended, into a temp table of the tenant's
 * connection (trusted code, never named by tenant SQL: an unguessable name in the connection's own
 * temp catalog, which the gate does not let tenant SQL read), in the file's order (by its keys, or
 * a row-level file's columns: never DuckDB's first-met order nor the query's ORDER BY), which its
 * insertion order keeps (`rowid`). Each companion's statistics are joined to those rows on the keys
 * inside DuckDB, and only numbers come back (read column by column): each row's entities and, for
 * aggregates, its cells' statistics, judged by the same rules as prod answers
 * (`desensitize/disclosure.ts`). The snapshot is then read from the same table in the same order,
 * so the checks name the snapshot's own rows: no second run of the query, nothing to compare.
 */

/** The output of an export, checked and held in a temp table until `drop`. */
export interface CheckedOutput {
  /** Output rows (the row cap holds). */
  rowCount: number;
  checks: OutputCheck[];
  findings: OutputFindings;
  /** Reads the checked rows in their order, output columns only, under the output's own names: the snapshot. */
  snapshotSql: string;
  /** The temp table (`temp.main.<name>`) holding the rows, their group keys as `__key<i>`. */
  table: string;
  drop(): Promise<void>;
}


/** An output whose checks could not be derived, and why; `byData`: for a reason the data decided (counted as probing). */
export interface Uncheckable {
  uncheckable: string;
  byData?: boolean;
}

/**
 * Materializes the output of a checkable shape in `temp.main.<name>` and measures it. Throws
 * EXP_ERR_TOO_MANY_ROWS over `maxRows`, DSC_ERR_UNCHECKABLE where the rows cannot be matched to
 * their groups; an error of the query itself is left to the caller (as any run's). Returns
 * `{ uncheckable }` (nothing kept) for an output whose rows are not one per group, which the
 * caller snapshots from the query itself, unchecked. Nothing is left behind on failure.
 */
export async function checkOutput(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, rules: DisclosureRules, name: string, maxRows: number): Promise<CheckedOutput | Uncheckable> {
  const plan = await companionPlan(connection, shape);
  const keyCount = keysOf(shape).length;
  const table = `temp.main.${quoteIdentifier(name)}`;
  const statsTables = plan.companions.map((_, j) => `temp.main.${quoteIdentifier(`${name}_s${j}`)}`);
  const drop = async () => {
    for (const t of [table, ...statsTables]) await connection.run(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
  };
  try {
    // The output's own names and types, before anything runs (positional aliases below: two
    // columns of one name stay two columns; the snapshot writer refuses them by name).
    const prepared = await connection.prepare(plan.answerSql);
    let names: string[];
    let types: DuckDBType[];
    let keyTypes: string[];
    try {
      const width = prepared.columnCount - keyCount;
      names = Array.from({ length: width }, (_, i) => prepared.columnName(i));
      types = Array.from({ length: width }, (_, i) => prepared.columnType(i));
      keyTypes = Array.from({ length: keyCount }, (_, i) => prepared.columnType(width + i).toString());
    } finally {
      prepared.destroySync();
    }
    // SECURITY: invariant 8: as for prod answers, a group shows its first row's key: of a type whose
    // equal values print apart (-0.0 and 0.0), the file would say whose row came first. Decided on
    // the types, the same whatever the rows: not counted as probing.
    const loose = keyTypes.find((type) => !EXACT_KEY_TYPE.test(type));
    if (loose) {
      await drop();
      return { uncheckable: `grouping by a value of type ${loose} cannot be checked: values DuckDB holds equal can print differently (30 days and 1 month, -0.0 and 0.0), so a group would show one of its rows; group by numbers, text, dates or timestamps` };
    }
    const aliases = [...names.map((_, i) => `__o${i}`), ...Array.from({ length: keyCount }, (_, i) => `__key${i}`)];
    // SECURITY: invariant 8: the file's order is a function of what it holds, never DuckDB's first-met
    // order (which said whether one person's early rows passed the WHERE: the tenth pass's order
    // oracle; and, for rows, where each lies in the source), nor the query's ORDER BY (a cell that
    // suppression later withholds or rounding changes would keep the place its value gave it): an
    // aggregate by its keys, one per row (`mergedByDistinct`), a row-level output by its columns from
    // left to right (all of an exact type; rows equal in all are alike). Reviewers and the recipient
    // read it, and the recipient may be the operator's accomplice.
    const fileOrder = shape.kind === 'aggregate' ? aliases.slice(names.length) : aliases.slice(0, names.length);
    // One run: the rows in the file's order (DuckDB keeps insertion order), one past the cap to see it.
    // SECURITY: the checked rows live in the connection's own temp catalog under an unguessable
    // name until the snapshot is written: tenant SQL can neither name nor replace them.
    await connection.run(`CREATE TEMP TABLE ${table} AS SELECT * FROM (${await exportAnswerSql(connection, shape)}) AS __q(${aliases.join(', ')}) ${fileOrder.length > 0 ? `ORDER BY ${fileOrder.join(', ')}` : ''} LIMIT ${maxRows + 1}`);
    const rowCount = await count(connection, `SELECT count(*) FROM ${table}`);
    // SECURITY: an export cannot fill the disk: its rows are capped.
    if (rowCount > maxRows) throw new DomainError('EXP_ERR_TOO_MANY_ROWS', `the output has more than ${maxRows} rows, the most one export may hold`);
    const merged = await mergedByDistinct(connection, shape, table, names.length, rowCount);
    // Both reasons depend on the data (rows alike, rows repeated), so on one person too: `byData`.
    if (merged) {
      await drop();
      return { uncheckable: merged, byData: true };
    }
    // SECURITY: fail closed, as for answers: two rows of one group were made from a value the checks do not see (unnest).
    if (shape.kind === 'aggregate' && await groupsOf(connection, table, keyCount, rowCount) !== rowCount) {
      await drop();
      return { uncheckable: 'the output has two rows of one group, made from values the checks do not see: aggregate without unnest', byData: true };
    }
    // SECURITY: invariant 8: as for answers, a join that repeats personal rows weighs people the checks count once.
    if (await repeatsPersonalRows(connection, plan)) {
      await drop();
      return { uncheckable: REPEATED_ROWS, byData: true };
    }
    // A grouped aggregate's selection counts as one more group against the bound (as for answers).
    const counted = shape.kind === 'aggregate' && keyCount > 0 ? 1 : 0;
    for (const [j, companion] of plan.companions.entries()) {
      await companionTable(connection, statsTables[j]!, companion.statsSql);
      if (await count(connection, `SELECT count(*) FROM ${statsTables[j]}`) + counted > MAX_COMPANION_GROUPS) throw new DomainError('DSC_ERR_UNCHECKABLE', `the answer has more than ${MAX_COMPANION_GROUPS} groups to check: narrow it`);
    }
    const joined = joinedStats(shape, table, statsTables, keyCount, types);
    const columns = await readByPosition(connection, joined.sql, rowCount).catch((error: unknown) => {
      if (error instanceof DomainError) throw error;
      // SECURITY: fail closed: rows that cannot be joined to their groups are not checked.
      throw notCheckable();
    });
    const findings = shape.kind === 'rows' ? rowFindings(shape, rules, columns, plan.companions.length, rowCount) : aggregateFindings(shape, rules, columns, joined.zeroColumns, plan.companions.length, rowCount);
    for (const t of statsTables) await connection.run(`DROP TABLE IF EXISTS ${t}`);
    const snapshotSql = `SELECT ${names.map((n, i) => `__o${i} AS ${quoteIdentifier(n)}`).join(', ')} FROM ${table} ORDER BY rowid`;
    return { rowCount, checks: outputChecks(findings, rules), findings, snapshotSql, table, drop };
  } catch (error) {
    await drop();
    throw error;
  }
}

/**
 * The snapshot of an output over personal data whose checks could not be derived (its reviewers
 * judge it): the query's rows ordered by every column from left to right, and by the text of each
 * column of a type whose equal values print apart (-0.0 and 0.0), so that only rows that print
 * alike keep DuckDB's order among them. Why: `checkOutput`'s file order.
 */
export async function valueOrderedSql(connection: DuckDBConnection, sql: string): Promise<string> {
  const prepared = await connection.prepare(sql);
  let columns: { name: string; type: string }[];
  try {
    columns = Array.from({ length: prepared.columnCount }, (_, i) => ({ name: prepared.columnName(i), type: prepared.columnType(i).toString() }));
  } finally {
    prepared.destroySync();
  }
  // SECURITY: invariant 8: the file's order is a function of what it holds (`checkOutput`).
  const order = columns.flatMap((c, i) => (EXACT_KEY_TYPE.test(c.type) ? [`__o${i}`] : [`__o${i}`, `CAST(__o${i} AS VARCHAR)`]));
  // Positional aliases: two columns of one name stay two columns (the snapshot writer refuses them by name).
  return `SELECT ${columns.map((c, i) => `__o${i} AS ${quoteIdentifier(c.name)}`).join(', ')} FROM (${sql}) AS __q(${columns.map((_, i) => `__o${i}`).join(', ')}) ORDER BY ${order.join(', ')}`;
}

/** How many groups (distinct `__key<i>`) the rows of an aggregate's output table hold. */
async function groupsOf(connection: DuckDBConnection, table: string, keyCount: number, rowCount: number): Promise<number> {
  if (keyCount === 0) return Math.min(rowCount, 1);
  return count(connection, `SELECT count(*) FROM (SELECT 1 FROM ${table} GROUP BY ${Array.from({ length: keyCount }, (_, i) => `__key${i}`).join(', ')})`);
}

async function count(connection: DuckDBConnection, sql: string): Promise<number> {
  return Number((await connection.runAndReadAll(sql)).getRowsJS()[0]?.[0] ?? 0);
}

/**
 * `SELECT DISTINCT` of an aggregate whose group keys are not all shown: with the keys appended, one
 * row per group instead of one per distinct row. The rows are the query's only when no two of them
 * are alike (then DISTINCT removed nothing); otherwise why the output cannot be checked row by row.
 */
async function mergedByDistinct(connection: DuckDBConnection, shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, table: string, width: number, rowCount: number): Promise<string | undefined> {
  const modifiers = ((shape.node as Record<string, unknown>).modifiers as { type?: string }[] | undefined) ?? [];
  if (shape.kind !== 'aggregate' || !modifiers.some((m) => m.type === 'DISTINCT_MODIFIER') || rowCount < 2) return undefined;
  const outputs = Array.from({ length: width }, (_, i) => `__o${i}`);
  const groups = await count(connection, `SELECT count(*) FROM (SELECT 1 FROM ${table} GROUP BY ${outputs.join(', ')})`);
  // SECURITY: fail closed: rows of several groups merged by DISTINCT are no one group's row.
  return groups === rowCount ? undefined : 'SELECT DISTINCT merges rows of several groups, which cannot be checked group by group: show the grouping columns, or drop DISTINCT';
}

/** Runs one companion into its temp table; any failure of it refuses the checks (fail closed). */
async function companionTable(connection: DuckDBConnection, table: string, statsSql: string): Promise<void> {
  try {
    await connection.run(`CREATE TEMP TABLE ${table} AS ${statsSql}`);
  } catch {
    // SECURITY: fail closed: an output whose companion cannot run is not checked.
    throw notCheckable();
  }
}

/**
 * Each output row (its rowid, first) joined to each companion's group of the same keys (NULL
 * matches NULL, as GROUP BY puts them in one group): for row-level outputs the group's entities
 * (0 without a group); for aggregates whether a group matched, its statistics `__s*`, and per
 * aggregate column whether its value is zero as the JSON of the answer would give it.
 */
function joinedStats(shape: Exclude<AnswerShape, { kind: 'uncheckable' }>, table: string, statsTables: string[], keyCount: number, types: DuckDBType[]): { sql: string; zeroColumns: number[] } {
  const on = (j: number) => (keyCount === 0 ? 'true' : Array.from({ length: keyCount }, (_, k) => `__a.__key${k} IS NOT DISTINCT FROM __c${j}.__key${k}`).join(' AND '));
  const joins = statsTables.map((t, j) => `LEFT JOIN ${t} AS __c${j} ON ${on(j)}`).join(' ');
  if (shape.kind === 'rows') {
    const items = statsTables.map((_, j) => `CAST(coalesce(__c${j}.__n, 0) AS DOUBLE)`);
    return { sql: `SELECT __a.rowid, ${items.join(', ')} FROM ${table} AS __a ${joins}`, zeroColumns: [] };
  }
  const zeroColumns = [...new Set(shape.aggregates.map((a) => a.column))];
  const stats = companionStatsWidth(shape);
  const atoms = comparedMeasures(shape).atoms ? stats - 1 : -1;
  const items = [
    ...zeroColumns.map((c) => `coalesce(${zeroTest(`__a.__o${c}`, types[c]!)}, false)`),
    // The row's atoms (`row-combinations.ts`), the last statistic when there are any, stay text.
    ...statsTables.flatMap((_, j) => [`__c${j}.__s0 IS NOT NULL`, ...Array.from({ length: stats }, (__, s) => (s === atoms ? `__c${j}.__s${s}` : `CAST(__c${j}.__s${s} AS DOUBLE)`))]),
  ];
  return { sql: `SELECT __a.rowid, ${items.join(', ')} FROM ${table} AS __a ${joins}`, zeroColumns };
}

/**
 * Whether a cell reads as zero where the answer's JSON gives `0` or `'0'` (`reviewOutput` before,
 * and prod answers): numbers equal to 0 (-0 too), integers of any width, DECIMAL without a scale
 * (`0.00` prints with its scale, so it never did), and values printed as the text `0`. Nested
 * values, booleans and intervals print as objects or booleans: never.
 */
function zeroTest(column: string, type: DuckDBType): string {
  switch (type.typeId) {
    case DuckDBTypeId.TINYINT: case DuckDBTypeId.SMALLINT: case DuckDBTypeId.INTEGER: case DuckDBTypeId.BIGINT: case DuckDBTypeId.HUGEINT:
    case DuckDBTypeId.UTINYINT: case DuckDBTypeId.USMALLINT: case DuckDBTypeId.UINTEGER: case DuckDBTypeId.UBIGINT: case DuckDBTypeId.UHUGEINT:
    case DuckDBTypeId.FLOAT: case DuckDBTypeId.DOUBLE:
      return `${column} = 0`;
    case DuckDBTypeId.DECIMAL:
      return (type as DuckDBDecimalType).scale === 0 ? `${column} = 0` : 'false';
    case DuckDBTypeId.BOOLEAN: case DuckDBTypeId.INTERVAL: case DuckDBTypeId.LIST: case DuckDBTypeId.STRUCT: case DuckDBTypeId.MAP:
    case DuckDBTypeId.ARRAY: case DuckDBTypeId.UNION: case DuckDBTypeId.VARIANT: case DuckDBTypeId.SQLNULL:
      return 'false';
    default:
      return `CAST(${column} AS VARCHAR) = '0'`;
  }
}

/**
 * Reads a joined query column by column into arrays indexed by output row (its rowid). Each row
 * must come back exactly once: twice means two groups of a companion matched it.
 */
async function readByPosition(connection: DuckDBConnection, sql: string, rowCount: number): Promise<unknown[][]> {
  const columns: unknown[][] = [];
  const seen = new Uint8Array(rowCount);
  let rows = 0;
  const result = await connection.stream(sql);
  for (let chunk = await result.fetchChunk(); chunk && chunk.rowCount > 0; chunk = await result.fetchChunk()) {
    const positions = chunk.getColumnValues(0);
    for (let c = 1; c < chunk.columnCount; c++) {
      const values = chunk.getColumnValues(c);
      const column = columns[c - 1] ?? (columns[c - 1] = new Array<unknown>(rowCount));
      for (let r = 0; r < values.length; r++) column[Number(positions[r])] = values[r];
    }
    for (const position of positions) {
      const p = Number(position);
      // SECURITY: fail closed: a row two groups both match cannot be given one group's statistics.
      if (seen[p]) throw new DomainError('DSC_ERR_UNCHECKABLE', 'two groups of the answer cannot be told apart (keys that print alike): group by another expression');
      seen[p] = 1;
    }
    rows += chunk.rowCount;
  }
  // A LEFT JOIN gives every row at least once; anything else is not the output measured.
  if (rows !== rowCount) throw notCheckable();
  return columns;
}

function rowFindings(shape: Extract<AnswerShape, { kind: 'rows' }>, rules: DisclosureRules, columns: unknown[][], companions: number, rowCount: number): OutputFindings {
  const entities: number[] = new Array<number>(rowCount);
  const offending: number[] = [];
  for (let i = 0; i < rowCount; i++) {
    let n = Infinity;
    for (let j = 0; j < companions; j++) n = Math.min(n, columns[j]![i] as number);
    entities[i] = n;
    if (n < rules.k) offending.push(i);
  }
  return { kind: 'rows', entities, identifiers: shape.identifiers, quasi: shape.quasi.map((q) => q.label), offending };
}

/** The cell rules per row and companion, as `reviewOutput` applied them to the rows read as JSON. */
function aggregateFindings(shape: Extract<AnswerShape, { kind: 'aggregate' }>, rules: DisclosureRules, columns: unknown[][], zeroColumns: number[], companions: number, rowCount: number): OutputFindings {
  const stats = companionStatsWidth(shape);
  const statsFrom = zeroColumns.length;
  const isZero = new Map(zeroColumns.map((c, i) => [c, columns[i]!]));
  const small: number[] = [];
  const entities: number[] = [];
  const byRule = new Map<CellRule, [number, number][]>();
  const onePerson: [number, number][] = [];
  const zeros: [number, number][] = [];
  const single = onePersonAggregates(shape);
  const compared = comparedMeasures(shape);
  const rowStats: (number[] | undefined)[] = new Array<number[] | undefined>(companions);
  for (let i = 0; i < rowCount; i++) {
    // Plain loops: a row's statistics are read for every cell of every row (Array.from is 25x slower here).
    for (let j = 0; j < companions; j++) {
      const from = statsFrom + j * (1 + stats);
      if (columns[from]![i] !== true) {
        rowStats[j] = undefined;
        continue;
      }
      const row = new Array<number>(stats);
      for (let s = 0; s < stats; s++) row[s] = columns[from + 1 + s]![i] as number;
      rowStats[j] = row;
    }
    entities.push(Math.min(...rowStats.map((s) => Number(s?.[0] ?? 0))));
    const isSmall = rowStats.some((s) => s === undefined || Number(s[0]) < rules.minEntities);
    if (isSmall) small.push(i);
    shape.aggregates.forEach((aggregate, index) => {
      for (const s of rowStats) {
        if (!s) continue;
        for (const rule of failedRules(cellStats(s, index, aggregate.summable), rules, Number(s[0]))) {
          // A cell of a row that fails as a whole is named once, by the row.
          if (rule === 'threshold' && isSmall) continue;
          const cells = byRule.get(rule) ?? [];
          cells.push([i, aggregate.column]);
          byRule.set(rule, cells);
        }
      }
      if (single[index]) onePerson.push([i, aggregate.column]);
      if (isZero.get(aggregate.column)![i] === true) zeros.push([i, aggregate.column]);
    });
    // SECURITY: invariant 8: cells of a row that together single out a few people (as in prod
    // answers, `row-combinations.ts`) fail the threshold.
    if (!isSmall) {
      const cells = byRule.get('threshold') ?? [];
      for (const column of differingColumns(shape, compared, rowStats as number[][], rules.minEntities)) cells.push([i, column]);
      byRule.set('threshold', cells);
    }
  }
  const cellsOf = (rule: CellRule) => dedupe(byRule.get(rule) ?? []);
  return {
    kind: 'aggregate', entities, aggregateColumns: [...new Set(shape.aggregates.map((a) => a.column))], small,
    threshold: cellsOf('threshold'), dominance: cellsOf('dominance'), pRatio: cellsOf('p-ratio'), singleValues: onePerson, zeros,
  };
}

/** The refusal of an output whose checks could not run (the same words as for answers). */
function notCheckable(): DomainError {
  return new DomainError('DSC_ERR_UNCHECKABLE', 'the answer could not be checked person by person, so it is not shown in prod: simplify the query or develop it in dev');
}

function dedupe(cells: [number, number][]): [number, number][] {
  return [...new Map(cells.map((c) => [`${c[0]}:${c[1]}`, c])).values()];
}
