/**
 * The checks of an export measured on the rows its snapshot holds (`checkOutput`, issue #11): the
 * output runs once into a temp table, each row is joined to its companions' groups on its keys
 * inside DuckDB, and the snapshot is read back from that table in the same order. Real DuckDB over
 * a `granted` catalog built here (entity keys in the table's rowid order, as publish.ts writes them).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DISCLOSURE_RULES } from '../../../desensitize/index.js';
import type { AnswerShape } from '../../../sandbox/disclosure/answer-shape.js';
import { cellEntities, type CellEntity } from '../../../sandbox/disclosure/cell-entities.js';
import { checkOutput, type CheckedOutput } from '../../../sandbox/disclosure/review-output.js';
import { payShape } from '../../helpers/granted-shape.js';

const PRIVACY = { personal: true, entity: true, identifiers: [], quasi: ['district', 'grp', 'yr', 'tags', 'iv'] };
// 2,100 payments of 300 people (7 each). Person p: district p % 5 (the fifth NULL, 60 people each);
// grp NULL, NaN, -0.0 or 0.0 by p % 4 (-0.0 and 0.0 are one group); birth year 1980 + p % 23;
// tags [NULL] or ['x']; an interval of 1 month or 30 days (one group: equal intervals). Keys of the
// last three print apart while DuckDB holds them equal: such outputs are not checked.
const PAYMENTS = `SELECT range AS i, range // 7 AS p, ['a', 'b', 'c', 'd', NULL][1 + (range // 7) % 5] AS district,
  CASE (range // 7) % 4 WHEN 0 THEN NULL WHEN 1 THEN 'NaN'::DOUBLE WHEN 2 THEN -0.0::DOUBLE ELSE 0.0::DOUBLE END AS grp,
  1980 + (range // 7) % 23 AS yr, [CASE WHEN (range // 7) % 3 = 0 THEN NULL ELSE 'x' END] AS tags,
  CASE WHEN (range // 7) % 2 = 0 THEN INTERVAL 1 MONTH ELSE INTERVAL 30 DAY END AS iv,
  (range % 13) * 1.0 AS amount
  FROM range(2100)`;

describe('export checks on the snapshot\'s own rows', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:', { threads: '2' });
    connection = await instance.connect();
    await connection.run("ATTACH ':memory:' AS granted");
    await connection.run(`CREATE TABLE granted.main.pay AS ${PAYMENTS}`);
    await connection.run("CREATE TABLE granted.main.__entities_pay AS SELECT rowid AS row, 'person-' || p AS entity FROM granted.main.pay ORDER BY rowid");
    await connection.run('USE granted');
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  const shapeOf = (sql: string) => payShape(connection, sql, PRIVACY);

  let tables = 0;
  async function checked(sql: string, maxRows = 100_000): Promise<CheckedOutput> {
    tables += 1;
    const outcome = await checkOutput(connection, await shapeOf(sql), DEFAULT_DISCLOSURE_RULES, `export_review_${tables}`, maxRows);
    if ('uncheckable' in outcome) throw new Error(outcome.uncheckable);
    return outcome;
  }

  async function tempTables(): Promise<number> {
    return Number((await connection.runAndReadAll('SELECT count(*) FROM duckdb_tables() WHERE temporary')).getRowsJS()[0]![0]);
  }

  /** The snapshot's rows as JSON, and the distinct people of `groupSql` per group (as JSON of its keys), counted independently. */
  async function snapshotAndPeople(output: CheckedOutput, groupSql: string): Promise<{ rows: unknown[][]; people: Map<string, number> }> {
    const rows = (await connection.runAndReadAll(output.snapshotSql)).getRowsJson() as unknown[][];
    const counted = (await connection.runAndReadAll(groupSql)).getRowsJson() as unknown[][];
    return { rows, people: new Map(counted.map((row) => [JSON.stringify(row.slice(0, -1)), Number(row.at(-1))])) };
  }

  it('fails the later of two cells of a row that count a few people differently (part of one person\'s rows left out), as prod answers withhold it', async () => {
    // Person 5 (district a) has payments i = 35..41; the FILTER leaves out three of them (i % 7 of
    // 4 to 6; a FILTER on `amount` itself would make the sum uncheckable). "total" and "part" count
    // the same 60 people of district a; person 5's share differs.
    const output = await checked("SELECT district, sum(amount) AS total, sum(amount) FILTER (WHERE i % 7 <= 3 OR p <> 5) AS part, count(*) AS n FROM pay WHERE district = 'a' GROUP BY district");
    expect(output.findings).toMatchObject({ kind: 'aggregate', entities: [60], small: [], threshold: [[0, 2]] });
    // Without the FILTER, no cell differs from another by a few people: all pass.
    const plain = await checked("SELECT district, sum(amount) AS total, count(*) AS n FROM pay WHERE district = 'a' GROUP BY district");
    expect(plain.findings).toMatchObject({ kind: 'aggregate', threshold: [] });
  });

  it('names the rows of the snapshot itself, in its order, for a query without ORDER BY', async () => {
    const output = await checked('SELECT district, yr FROM pay');
    try {
      const { rows, people } = await snapshotAndPeople(output, 'SELECT district, yr, count(DISTINCT p) FROM pay GROUP BY ALL');
      expect(rows).toHaveLength(2100);
      expect(output.rowCount).toBe(2100);
      // Row i's entity count is the people sharing row i's own values (2 or 3 here: all fail k = 5).
      expect(output.findings.entities).toEqual(rows.map((row) => people.get(JSON.stringify(row))));
      expect(output.findings.kind === 'rows' && output.findings.offending).toHaveLength(2100);
    } finally {
      await output.drop();
    }
  });

  it('matches NULL keys to the NULL group', async () => {
    const output = await checked('SELECT yr, district, count(*) AS n, sum(amount) AS total FROM pay WHERE yr < 1983 GROUP BY yr, district');
    try {
      const { rows, people } = await snapshotAndPeople(output, 'SELECT yr, district, count(DISTINCT p) FROM pay WHERE yr < 1983 GROUP BY ALL');
      expect(rows).toHaveLength(15);
      expect(rows.some((row) => row[1] === null)).toBe(true);
      expect(output.findings.entities).toEqual(rows.map((row) => people.get(JSON.stringify(row.slice(0, 2)))));
    } finally {
      await output.drop();
    }
    // A NULL group of 4 people is small; nothing else is (NULL is not matched to another group).
    // The file is ordered by its keys, NULL last.
    const narrow = await checked('SELECT district, count(*) AS n FROM pay WHERE district IS NOT NULL OR p < 24 GROUP BY district ORDER BY district NULLS FIRST');
    try {
      expect(narrow.findings).toMatchObject({ kind: 'aggregate', entities: [60, 60, 60, 60, 4], small: [4] });
    } finally {
      await narrow.drop();
    }
  });

  it('does not check keys of a type whose equal values print apart (DOUBLE -0.0 and 0.0, lists, intervals): decided by the type, not the rows', async () => {
    const before = await tempTables();
    for (const sql of ['SELECT grp, count(*) AS n FROM pay GROUP BY grp', 'SELECT tags, count(*) AS n FROM pay GROUP BY tags', 'SELECT iv, count(*) AS n FROM pay GROUP BY iv']) {
      tables += 1;
      const outcome = await checkOutput(connection, await shapeOf(sql), DEFAULT_DISCLOSURE_RULES, `export_review_${tables}`, 100_000);
      expect(outcome).toEqual({ uncheckable: expect.stringMatching(/^grouping by a value of type (DOUBLE|VARCHAR\[\]|INTERVAL) cannot be checked/) });
    }
    expect(await tempTables()).toBe(before);
  });

  it('finds each cell\'s entities by the row of the same keys, NULL keys included', async () => {
    const shape = await shapeOf('SELECT district, count(*) AS n FROM pay GROUP BY district ORDER BY district NULLS FIRST');
    const output = await checkOutput(connection, shape, DEFAULT_DISCLOSURE_RULES, 'export_review_cells', 100);
    if ('uncheckable' in output) throw new Error(output.uncheckable);
    try {
      const members: CellEntity[] = [];
      for await (const chunk of cellEntities(connection, shape as Extract<AnswerShape, { kind: 'aggregate' }>, output.table, ['district', 'n'], ['pay'])) members.push(...(chunk.getRows() as CellEntity[]));
      expect(members).toHaveLength(300);
      // Row 4 is the NULL district (the file is ordered by its keys, NULL last): people 4, 9, 14, …
      expect(members.filter((m) => m[0] === 4).map((m) => m[3]).sort()).toEqual(Array.from({ length: 60 }, (_, i) => `person-${4 + 5 * i}`).sort());
    } finally {
      await output.drop();
    }
  });

  it('orders the file by its keys, not by the query\'s ORDER BY; a LIMIT is never applied to unchecked rows', async () => {
    const whole = await checked('SELECT yr, count(*) AS n FROM pay GROUP BY yr ORDER BY n DESC, yr DESC');
    try {
      const { rows, people } = await snapshotAndPeople(whole, 'SELECT yr, count(DISTINCT p) FROM pay GROUP BY ALL');
      expect(rows.map((row) => row[0])).toEqual(Array.from({ length: 23 }, (_, i) => String(1980 + i)));
      expect(whole.findings.entities).toEqual(rows.map((row) => people.get(JSON.stringify(row.slice(0, 1)))));
    } finally {
      await whole.drop();
    }
    const before = await tempTables();
    await expect(checked('SELECT yr, count(*) AS n FROM pay GROUP BY yr ORDER BY yr DESC LIMIT 3')).rejects.toMatchObject({ code: 'DSC_ERR_UNCHECKABLE' });
    expect(await tempTables()).toBe(before);
  });

  it('gives no cell sets to two output rows of the same keys (fail closed)', async () => {
    const shape = await shapeOf('SELECT district, count(*) AS n FROM pay GROUP BY district') as Extract<AnswerShape, { kind: 'aggregate' }>;
    await connection.run("CREATE TEMP TABLE export_review_twins AS SELECT * FROM (VALUES ('a', 60, 'a'), ('a', 60, 'a')) AS t(__o0, __o1, __key0)");
    try {
      const sets = cellEntities(connection, shape, 'temp.main.export_review_twins', ['district', 'n'], ['pay']);
      await expect((async () => { for await (const _ of sets) { /* drained */ } })()).rejects.toMatchObject({ code: 'DSC_ERR_UNCHECKABLE' });
    } finally {
      await connection.run('DROP TABLE temp.main.export_review_twins');
    }
  });

  it('keeps column names with quotes as they are, in the snapshot and in the cells\' sets', async () => {
    const shape = await shapeOf(`SELECT district AS "it's ""d""", count(*) AS "n'; DROP TABLE pay; --" FROM pay GROUP BY district`);
    const output = await checkOutput(connection, shape, DEFAULT_DISCLOSURE_RULES, 'export_review_quotes', 100);
    if ('uncheckable' in output) throw new Error(output.uncheckable);
    try {
      const names = (await connection.runAndReadAll(output.snapshotSql)).columnNames();
      expect(names).toEqual(['it\'s "d"', "n'; DROP TABLE pay; --"]);
      const columns = new Set<string>();
      for await (const chunk of cellEntities(connection, shape as Extract<AnswerShape, { kind: 'aggregate' }>, output.table, names, ["pay'"])) {
        for (const row of chunk.getRows()) columns.add(`${String(row[1])}|${String(row[2])}`);
      }
      expect([...columns]).toEqual(["n'; DROP TABLE pay; --|pay'"]);
    } finally {
      await output.drop();
    }
  });

  it('refuses an output over the row cap and leaves no table behind', async () => {
    const before = await tempTables();
    await expect(checked('SELECT district FROM pay', 2099)).rejects.toMatchObject({ code: 'EXP_ERR_TOO_MANY_ROWS' });
    expect(await tempTables()).toBe(before);
    const exact = await checked('SELECT district FROM pay', 2100);
    expect(await tempTables()).toBeGreaterThan(before);
    await exact.drop();
    expect(await tempTables()).toBe(before);
  });

  it('checks an output of no rows', async () => {
    const output = await checked('SELECT district, count(*) AS n FROM pay WHERE p < 0 GROUP BY district');
    try {
      expect(output.rowCount).toBe(0);
      expect(output.findings).toMatchObject({ entities: [], small: [] });
      expect((await connection.runAndReadAll(output.snapshotSql)).getRowsJson()).toEqual([]);
    } finally {
      await output.drop();
    }
  });

  it('does not check two columns of one name (DuckDB binds an ORDER BY to the last; the snapshot writer refuses them by name)', async () => {
    await expect(shapeOf('SELECT district, count(*) AS n, count(*) AS N FROM pay GROUP BY district')).rejects.toThrow(/two output columns with the same name/);
  });

  it('does not check a DISTINCT that merges rows of several groups (the snapshot is then the query\'s own)', async () => {
    const before = await tempTables();
    const outcome = await checkOutput(connection, await shapeOf('SELECT DISTINCT count(*) AS n FROM pay GROUP BY district'), DEFAULT_DISCLOSURE_RULES, 'export_review_distinct', 100);
    expect(outcome).toMatchObject({ uncheckable: expect.stringContaining('DISTINCT') });
    expect(await tempTables()).toBe(before);
    // Rows DISTINCT leaves alone are checked.
    const alone = await checked('SELECT DISTINCT district, count(*) AS n FROM pay GROUP BY district');
    expect(alone.rowCount).toBe(5);
    await alone.drop();
  });
});
