/**
 * Invariants 1 and 2 under attack through POST /v1/query, against the real engine host: host files,
 * ATTACH, extensions, settings and PRAGMAs, logging and profiling, metadata (discovery statements
 * answer from the env's own tables only), dynamic SQL, stacked
 * statements and comment tricks, unicode and quoting tricks, another tenant's tables, the raw domain,
 * and planner exhaustion. Every attack must be refused with its code, nothing secret may appear in
 * any answer, and the service must still answer /health and a normal query afterwards.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, tenantDirectory } from '../../sandbox/index.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const ACME = { role: 'operator', org: 'acme', sub: 'mallory' } as const;
const MARKERS = ['RIVALSECRET', 'HOSTSECRET', 'DOMAINRAW'];

type Attack = [label: string, sql: string, codes: string[]];

const GATE = ['SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'SBX_ERR_SQL_NOT_SELECT', 'SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS'];
/** A name that exists nowhere this query can see: the same answer whether it exists elsewhere or not. */
const GATE_OR_UNKNOWN = [...GATE, 'SBX_ERR_SQL_UNKNOWN_NAME'];

describe('SQL gate attacks', () => {
  let t: TestApp;
  let hostFile: string;
  let rivalWorkspace: string;
  let domainFile: string;
  let domainDb: string;

  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000', INDOMAIN_QUERY_TIMEOUT_MS: '2000' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
    await licenseTenantWithData(t, 'rival', [residents('RIVALSECRET', 50, 'rival_residents'), { name: 'rival_only', sql: "SELECT 'RIVALSECRET' AS s" }]);
    hostFile = path.join(t.dataDir, 'host-secret.csv');
    fs.writeFileSync(hostFile, 'secret\nHOSTSECRET\n');
    rivalWorkspace = path.join(tenantDirectory(t.dataDir, 'rival'), 'workspace.duckdb');
    // The raw domain: a CSV and a DuckDB file of raw data, as ingest will leave them.
    fs.mkdirSync(path.join(t.dataDir, 'domain', 'people'), { recursive: true });
    domainFile = path.join(t.dataDir, 'domain', 'people', 'raw.csv');
    fs.writeFileSync(domainFile, 'id,name\n110101199003077777,DOMAINRAW\n');
    domainDb = path.join(t.dataDir, 'domain', 'people', 'raw.duckdb');
    const db = await openDatabase(domainDb);
    const c = await db.connect();
    await c.run("CREATE TABLE people AS SELECT 'DOMAINRAW' AS name");
    c.close();
    db.close();
  });
  afterAll(() => t.close({ remove: true }));

  /** The attacks for one env; `other` is the catalog of the other env. */
  const attacks = (other: string): Attack[] => [
    // Host files, read and write.
    ['read_csv of a host file', `SELECT * FROM read_csv('${hostFile}')`, GATE],
    ['read_text of a host file', `SELECT content FROM read_text('${hostFile}')`, GATE],
    ['read_blob of its own workspace file', `SELECT content FROM read_blob('${path.join(tenantDirectory(t.dataDir, 'acme'), 'workspace.duckdb')}')`, GATE],
    ['replacement scan of a file path', `SELECT * FROM '${hostFile}'`, GATE],
    ['glob of the data dir', `SELECT * FROM glob('${t.dataDir}/**')`, GATE],
    ['COPY to a file', `COPY (SELECT 1) TO '${path.join(t.dataDir, 'out.csv')}'`, GATE],
    ['COPY inside a CTE', `WITH x AS (SELECT 1) COPY x TO '/tmp/x.csv'`, GATE],
    ['/etc/passwd through read_csv_auto', "SELECT * FROM read_csv_auto('/etc/passwd')", GATE],
    ['parquet_scan', "SELECT * FROM parquet_scan('/tmp/x.parquet')", GATE],
    // ATTACH and extensions.
    ['ATTACH another tenant', `ATTACH '${rivalWorkspace}' AS rival`, GATE],
    ['ATTACH the raw domain', `ATTACH '${domainDb}' AS raw (READ_ONLY)`, GATE],
    ['INSTALL', 'INSTALL httpfs', GATE],
    ['LOAD', 'LOAD httpfs', GATE],
    ['remote read', "SELECT * FROM read_parquet('https://example.com/x.parquet')", GATE],
    // Settings and PRAGMAs.
    ['SET', "SET enable_external_access = true", GATE],
    ['RESET', 'RESET lock_configuration', GATE],
    ['PRAGMA', 'PRAGMA database_list', GATE],
    ['current_setting', "SELECT current_setting('temp_directory')", GATE],
    ['duckdb_settings()', 'SELECT * FROM duckdb_settings()', GATE],
    ['SET VARIABLE', "SET VARIABLE x = 'y'", GATE],
    ['getvariable', "SELECT getvariable('x')", GATE],
    // Logging and profiling.
    ['enable_logging', "CALL enable_logging(storage := 'file', storage_path := '/tmp/log')", GATE],
    ['enable_logging as a table function', "SELECT * FROM enable_logging()", GATE],
    ['enable_profiling pragma', "PRAGMA enable_profiling = 'json'", GATE],
    ['duckdb_logs', 'SELECT * FROM duckdb_logs()', GATE],
    ['write_log', "SELECT write_log('x')", GATE],
    // Metadata.
    ['duckdb_databases() (paths)', 'SELECT path FROM duckdb_databases()', GATE],
    ['duckdb_tables view', 'SELECT * FROM duckdb_tables', GATE],
    // information_schema.tables / columns are answered from the env's listing (below); the other views are refused.
    ['information_schema.schemata', 'SELECT * FROM information_schema.schemata', GATE],
    ['information_schema of the system catalog', 'SELECT * FROM system.information_schema.key_column_usage', GATE],
    ['information_schema of another catalog', 'SELECT * FROM memory.information_schema.tables', GATE],
    ['pg_catalog', 'SELECT * FROM pg_catalog.pg_tables', GATE],
    ['sqlite_master', 'SELECT * FROM sqlite_master', GATE],
    ['duckdb_functions() (macro bodies)', 'SELECT * FROM duckdb_functions()', GATE],
    ['current_database', 'SELECT current_database()', GATE],
    ['pragma_table_info', "SELECT * FROM pragma_table_info('residents')", GATE],
    // Dynamic SQL.
    ['query()', "SELECT * FROM query('SELECT * FROM rival_only')", GATE],
    ['query_table()', "SELECT * FROM query_table('residents')", GATE],
    ['json_execute_serialized_sql', "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))", GATE],
    ['PREPARE', 'PREPARE p AS SELECT 1', GATE],
    ['EXECUTE', 'EXECUTE p', GATE],
    ['CREATE MACRO', 'CREATE MACRO m() AS TABLE SELECT 1', GATE],
    ['CREATE TEMP TABLE', 'CREATE TEMP TABLE x AS SELECT 1', GATE],
    ['a parameter', 'SELECT $1', GATE],
    // Stacked statements and comment tricks.
    ['two statements', 'SELECT 1; SELECT 2', GATE],
    ['a DROP behind a SELECT', 'SELECT 1; DROP TABLE residents', GATE],
    ['a statement behind a block comment', 'SELECT 1 /* ; */ ; ATTACH \'/tmp/x\'', GATE],
    ['a statement behind a line comment', "SELECT 1 -- harmless\n; SELECT * FROM read_csv('/etc/passwd')", GATE],
    ['a statement behind a half-nested comment', "/* /* */ SELECT 1 */; ATTACH '/tmp/x.duckdb' AS x", GATE],
    ['DML', 'DELETE FROM residents', GATE],
    ['UPDATE', "UPDATE residents SET name = 'x'", GATE],
    ['CREATE TABLE in the granted file', 'CREATE TABLE granted.main.x AS SELECT 1', GATE],
    ['EXPLAIN ANALYZE', 'EXPLAIN ANALYZE SELECT 1', GATE],
    // Discovery statements are answered from the env's listing (below), only in their bare forms.
    ['SUMMARIZE inside a query', 'SELECT * FROM (SUMMARIZE residents) WHERE min IS NOT NULL', GATE],
    ['DESCRIBE of a metadata function', 'DESCRIBE SELECT * FROM duckdb_databases()', GATE],
    ['SHOW DATABASES', 'SHOW DATABASES', GATE],
    ['DESCRIBE of the other env', `DESCRIBE ${other}.main.residents`, GATE],
    ["DESCRIBE of a rival's table", 'DESCRIBE rival_only', GATE],
    // Unicode and quoting tricks.
    ['a quoted cross-env name', `SELECT * FROM "${other}"."residents"`, GATE],
    ['a three-part cross-env name', `SELECT * FROM "${other}"."main"."residents"`, GATE],
    ['a count over the other env from statistics', `SELECT count(*) FROM ${other}.residents`, GATE],
    ['a cross-env name inside a subquery', `SELECT (SELECT max(name) FROM ${other}.main.residents)`, GATE],
    ['upper-case cross-env name', `SELECT * FROM ${other.toUpperCase()}.RESIDENTS`, GATE],
    ['a cross-env name in a CTE', `WITH x AS (SELECT * FROM ${other}.residents) SELECT * FROM x`, GATE],
    // Refused for its text before any parse (docs/errors.md, SBX_ERR_SQL_HIDDEN_TEXT).
    ['a zero-width space in a function name', "SELECT * FROM read\u200b_csv('/etc/passwd')", ['SBX_ERR_SQL_HIDDEN_TEXT']],
    ['full-width semicolon', 'SELECT 1\uff1b SELECT 2', GATE],
    ['a quoted function name', `SELECT * FROM "read_csv"('${hostFile}')`, GATE],
    ['a schema-qualified function', "SELECT main.current_setting('threads')", GATE],
    ['a system-qualified table function', 'SELECT * FROM system.main.duckdb_tables()', GATE],
    ['a lambda calling a forbidden function', "SELECT list_transform([1], x -> current_setting('threads'))", GATE],
    ['a forbidden function in a window', "SELECT current_setting('threads') OVER ()", GATE],
    // Another tenant's data, guessing names.
    ["a rival's table name", 'SELECT * FROM rival_only', GATE_OR_UNKNOWN],
    ["a rival's catalog", 'SELECT * FROM rival.main.residents', GATE],
    ["a rival's workspace via a path", `SELECT * FROM '${rivalWorkspace}'`, GATE],
    ['the temp catalog', 'SELECT * FROM temp.main.residents', GATE],
    ['the system catalog', 'SELECT * FROM system.main.residents', GATE],
    // The raw domain.
    ['raw domain CSV', `SELECT * FROM read_csv('${domainFile}')`, GATE],
    ['raw domain by replacement scan', `SELECT * FROM '${domainFile}'`, GATE],
    ['raw domain DuckDB file', `SELECT * FROM read_duckdb('${domainDb}')`, GATE],
    // Planner exhaustion and oversized shapes.
    ['a 100-way join', `SELECT 1 FROM ${Array.from({ length: 100 }, (_, i) => `residents r${i}`).join(' JOIN ')} ON true`, ['SBX_ERR_SQL_TOO_COMPLEX', 'SBX_ERR_SQL_SYNTAX']],
    ['a 100-way comma join', `SELECT 1 FROM ${Array.from({ length: 100 }, (_, i) => `residents r${i}`).join(', ')}`, ['SBX_ERR_SQL_TOO_COMPLEX']],
    ['a 50,000-term AND chain', `SELECT 1 WHERE ${Array.from({ length: 50_000 }, () => '1=1').join(' AND ')}`, ['SBX_ERR_SQL_TOO_LONG']],
    ['a 2,400-term AND chain under the size cap', `SELECT 1 WHERE ${Array.from({ length: 2_400 }, () => '1=1').join(' AND ')}`, ['SBX_ERR_SQL_TOO_COMPLEX']],
    ['deeply nested calls', `SELECT ${'abs('.repeat(200)}1${')'.repeat(200)}`, ['SBX_ERR_SQL_TOO_COMPLEX', 'SBX_ERR_SQL_SYNTAX']],
    ['nested calls past the gate depth', `SELECT ${'abs('.repeat(40)}1${')'.repeat(40)}`, ['SBX_ERR_SQL_TOO_COMPLEX']],
    ['deeply nested subqueries', `SELECT * FROM ${'(SELECT * FROM '.repeat(60)}residents${') s'.repeat(60)}`, ['SBX_ERR_SQL_TOO_COMPLEX']],
    ['a huge IN list', `SELECT 1 WHERE 1 IN (${Array.from({ length: 2_000 }, (_, i) => i).join(',')})`, ['SBX_ERR_SQL_TOO_COMPLEX']],
    ['an empty query', '   ', ['SBX_ERR_SQL_EMPTY']],
    ['only a comment', '-- nothing', ['SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS', 'SBX_ERR_SQL_EMPTY']],
  ];

  it('refuses every attack with its code and leaks nothing', async () => {
    const seen: string[] = [];
    for (const env of ['prod', 'dev'] as const) {
      for (const [label, sql, codes] of attacks(env === 'prod' ? 'dev' : 'granted')) {
        const res = await t.call(ACME, 'POST', '/v1/query', { sql, env });
        const where = `${env}: ${label}`;
        expect(res.statusCode, where).toBeGreaterThanOrEqual(400);
        expect(res.statusCode, where).toBeLessThan(500);
        expect(codes, `${where} → ${res.json().code}: ${res.json().message}`).toContain(res.json().code);
        for (const marker of [...MARKERS, t.dataDir]) expect(res.body, where).not.toContain(marker);
        seen.push(res.json().code);
      }
    }
    expect(new Set(seen).size).toBeGreaterThan(4);
  });

  it('answers discovery statements from the env\'s own tables, leaking nothing', async () => {
    for (const env of ['prod', 'dev'] as const) {
      for (const sql of ['SUMMARIZE residents', 'DESCRIBE residents', 'SHOW ALL TABLES', 'SELECT * FROM information_schema.tables', 'SELECT * FROM information_schema.columns']) {
        const res = await t.call(ACME, 'POST', '/v1/query', { sql, env });
        expect(res.statusCode, `${env}: ${sql}`).toBe(200);
        for (const marker of [...MARKERS, t.dataDir, env === 'prod' ? '"dev"' : '"granted"', 'rival']) expect(res.body, `${env}: ${sql}`).not.toContain(marker);
      }
    }
  });

  it('leaves no file behind and nothing changed in the tenant files', async () => {
    expect(fs.existsSync(path.join(t.dataDir, 'out.csv'))).toBe(false);
    expect(fs.existsSync('/tmp/log')).toBe(false);
    const res = await t.call(ACME, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM residents', env: 'prod' });
    expect(res.json().rows).toEqual([['50']]);
  });

  it('still serves after every attack', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    const res = await t.call(ACME, 'POST', '/v1/query', { sql: "SELECT name FROM residents WHERE id = 1", env: 'prod' });
    expect(res.json().rows).toEqual([['ACME-1']]);
  });
});

describe('probing', () => {
  it('slows an operator whose queries the gate keeps refusing, and never counts names written wrong', async () => {
    // R = 6 a minute: this operator may burst 4 refusals, then one every 30 s.
    const t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '6' } });
    try {
      await licenseTenantWithData(t, 'acme', [residents('ACME')]);
      // Guessing table names teaches nothing (the answer is the same whether they exist elsewhere): not counted.
      for (let i = 0; i < 10; i++) {
        expect((await t.call(ACME, 'POST', '/v1/query', { sql: `SELECT * FROM guess_${i}`, env: 'prod' })).json().code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
      }
      for (let i = 0; i < 4; i++) {
        expect((await t.call(ACME, 'POST', '/v1/query', { sql: `SELECT * FROM read_csv('/etc/passwd_${i}')`, env: 'prod' })).json().code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
      }
      const limited = await t.call(ACME, 'POST', '/v1/query', { sql: 'SELECT 1', env: 'prod' });
      expect(limited.statusCode).toBe(429);
      expect(limited.json().code).toBe('SBX_ERR_REJECTIONS_RATE_LIMITED');
      expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    } finally {
      await t.close({ remove: true });
    }
  });
});
