/**
 * The pure part of discovery: which parses are discovery statements, the information_schema rewrite,
 * and reading DuckDB's parse JSON without losing 64-bit integers. On DuckDB's real parse
 * (`json_serialize_sql` in an in-memory engine), never on hand-written JSON.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { discoveryStatement, readParseJson, rewriteInformationSchema, type SerializedSql } from '../../../sandbox/gate/discovery-statement.js';
import { isDomainError } from '../../../core/errors.js';

describe('discovery statements', () => {
  let instance: DuckDBInstance;
  let connection: DuckDBConnection;
  beforeAll(async () => {
    instance = await DuckDBInstance.create(':memory:');
    connection = await instance.connect();
  });
  afterAll(() => {
    connection.closeSync();
    instance.closeSync();
  });

  const parse = async (sql: string) => {
    const reader = await connection.runAndReadAll('SELECT json_serialize_sql($1::VARCHAR)', [sql]);
    return readParseJson(String(reader.getRowsJS()[0]![0]));
  };
  const classify = async (sql: string) => discoveryStatement((await parse(sql)).value as unknown as SerializedSql);
  const codeOf = async (work: () => Promise<unknown>) => work().then(() => 'none', (error: unknown) => (isDomainError(error) ? error.code : String(error)));

  it('recognizes the bare forms only', async () => {
    expect(await classify('SHOW TABLES')).toEqual({ kind: 'show_tables', all: false });
    expect(await classify('show all tables;')).toEqual({ kind: 'show_tables', all: true });
    expect(await classify('DESCRIBE granted.main.people')).toEqual({ kind: 'describe_table', name: { catalog: 'granted', schema: 'main', table: 'people' } });
    expect(await classify('SUMMARIZE "We""ird"')).toEqual({ kind: 'summarize_table', name: { catalog: '', schema: '', table: 'We"ird' } });
    expect((await classify('DESCRIBE SELECT 1 AS a'))?.kind).toBe('describe_query');
    expect((await classify('SUMMARIZE SELECT * FROM people WHERE id > 3'))?.kind).toBe('summarize_query');
    for (const sql of ['SELECT * FROM (DESCRIBE people)', 'FROM (SUMMARIZE people) WHERE min > 1', 'DESCRIBE people; SELECT 1', 'SELECT 1', 'PRAGMA show_tables']) {
      expect(await classify(sql), sql).toBeUndefined();
    }
    for (const sql of ['SHOW DATABASES', 'SHOW TABLES FROM dev']) expect(await codeOf(() => classify(sql)), sql).toBe('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT');
  });

  it('points information_schema.tables / columns at the listing and refuses the other views', async () => {
    const { value } = await parse('SELECT * FROM information_schema.tables t JOIN INFORMATION_SCHEMA.COLUMNS USING (table_name) WHERE table_name IN (SELECT 1 FROM system.information_schema.tables)');
    const statement = (value as unknown as SerializedSql).statements![0]!.node;
    const { node, views } = rewriteInformationSchema(statement);
    expect([...views].sort()).toEqual(['columns', 'tables']);
    const text = JSON.stringify(node);
    expect(text).not.toMatch(/"schema_name":"information_schema"/i);
    expect(text.match(/"catalog_name":"temp"/g)).toHaveLength(3);
    for (const sql of ['SELECT * FROM information_schema.schemata', 'SELECT * FROM memory.information_schema.tables', 'SELECT * FROM information_schema.key_column_usage']) {
      const parsed = (await parse(sql)).value as unknown as SerializedSql;
      expect(await codeOf(async () => rewriteInformationSchema(parsed.statements![0]!.node)), sql).toBe('SBX_ERR_SQL_FORBIDDEN_TABLE');
    }
    const untouched = (await parse("SELECT 'information_schema.tables' AS s")).value as unknown as SerializedSql;
    expect(rewriteInformationSchema(untouched.statements![0]!.node).views.size).toBe(0);
  });

  it('reads and writes the parse without losing 64-bit integers or touching strings', async () => {
    const { value, write } = readParseJson('{"a":18446744073709551615,"b":[-9007199254740993,1.5e3,12],"s":"x:12345678901234567,\\"q\\"","n":null}');
    expect((value as { s: string }).s).toBe('x:12345678901234567,"q"');
    expect(write(value)).toBe('{"a":18446744073709551615,"b":[-9007199254740993,1500,12],"s":"x:12345678901234567,\\"q\\"","n":null}');
    // Round trip through DuckDB: what is rendered back is the statement that was parsed.
    const parsed = await parse("SELECT 9007199254740993 AS big, 'a\"b' AS s");
    const reader = await connection.runAndReadAll('SELECT json_deserialize_sql($1::JSON)', [parsed.write(parsed.value)]);
    expect(reader.getRowsJS()[0]![0]).toBe('SELECT 9007199254740993 AS big, \'a"b\' AS s');
  });
});
