import { twoStepSelect, type SqlRule } from '../../desensitize/index.js';
import { openDatabase, type Connection, type Database } from '../../sandbox/index.js';

/**
 * Evaluates a SQL expression over a column of given values in an in-memory DuckDB, returning the
 * results in the order given: how the desensitization tests compare SQL rules with their
 * TypeScript references. Close it when done.
 */
export interface SqlColumnEvaluator {
  evaluate(expression: (column: string) => string, values: (string | null)[]): Promise<unknown[]>;
  /** A rule compiled as the refinery compiles it (twoStepSelect). */
  evaluateRule(rule: SqlRule, values: (string | null)[]): Promise<unknown[]>;
  close(): void;
}

export async function openSqlColumnEvaluator(): Promise<SqlColumnEvaluator> {
  const db: Database = await openDatabase(':memory:');
  const connection: Connection = await db.connect();
  let tables = 0;
  async function load(values: (string | null)[]): Promise<string> {
    // A fresh table per call: DDL on a reused name would invalidate cached prepared inserts.
    const table = `v${tables++}`;
    await connection.run(`CREATE TEMP TABLE ${table} (i INTEGER, x VARCHAR)`);
    for (let i = 0; i < values.length; i++) await connection.run(`INSERT INTO ${table} VALUES ($1, $2)`, [i, values[i] ?? null]);
    return table;
  }
  return {
    async evaluate(expression, values) {
      const table = await load(values);
      return (await connection.all<{ m: unknown }>(`SELECT ${expression('x')} AS m FROM ${table} ORDER BY i`)).map((r) => r.m);
    },
    async evaluateRule(rule, values) {
      const table = await load(values);
      // The row number rides along as a plain output, so the order survives the two projections.
      const select = twoStepSelect([{ name: 'i', column: 'i', rule: { prepare: (c) => c, finish: (p) => p } }, { name: 'm', column: 'x', rule }], table);
      return (await connection.all<{ m: unknown }>(`${select} ORDER BY i`)).map((r) => r.m);
    },
    close() {
      connection.close();
      db.close();
    },
  };
}
