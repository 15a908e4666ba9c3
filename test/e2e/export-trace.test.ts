/**
 * Fingerprinted delivery and tracing (issue 11, item 6), end to end: one row-level output is
 * exported to two recipients (CSV to one, Parquet to the other) and an aggregate to one of them;
 * each is approved and downloaded over HTTP. Then leaks: 10% of a file's rows, reordered, columns
 * shuffled and renamed, re-encoded (CSV → XLSX, Parquet → CSV), with and without the token column.
 * `trace` names the right export and recipient for each, names the aggregate by its released cells,
 * and says "no fingerprint found" for a foreign file of the same shape. The two recipients' token
 * columns do not join. The CLI refuses to run while the server holds the control store, and once it
 * is stopped, answers and appends the trace to an audit chain that still verifies.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import writeXlsxFile from 'write-excel-file/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { traceLeak, type TraceReport } from '../../tenants/index.js';
import { loadOrCreateTokenMaster } from '../../tenants/token-keys.js';
import { expectStatus } from '../helpers/expect-status.js';
import { downloadedVia } from '../helpers/export-probes.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const exec = promisify(execFile);
const OPERATOR = { role: 'operator', org: 'ops', sub: 'olga' } as const;
const CITY_LAB = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const OTHER_LAB = { role: 'applicant', org: 'other-lab', sub: 'oscar' } as const;
const SECOND_SUPERVISOR = { ...SUPERVISOR, sub: 'sam' };
/** 1,000 visits: a token-shaped visitor column (400 visitors), a district code, DECIMAL amounts, DOUBLE minutes. */
const VISITS = {
  name: 'visits',
  sql: `SELECT md5('visitor-' || (range % 400)) AS visitor, range % 7 AS district,
    CAST(((range * 7919) % 1000000) / 100 AS DECIMAL(12, 2)) AS amount, CAST(((range * 104729) % 100000) / 1000 AS DOUBLE) AS minutes FROM range(1000)`,
};
const ROWS_SQL = 'SELECT visitor, district, amount, minutes FROM visits';
const AGGREGATE_SQL = 'SELECT district, count(*) AS n FROM visits GROUP BY district';

type Table = { columns: string[]; rows: unknown[][] };

describe('tracing leaked exports', () => {
  let t: TestApp;
  let master: Buffer;
  let leaks: string;
  // Made here, not by startTestApp: the test restarts the app over the same dir, and removes it at the end.
  const dataDir = makeTempDir();
  const leakDir = makeTempDir('indomain-leaks-');
  const ids: Record<'csvCity' | 'parquetOther' | 'aggregateCity', string> = { csvCity: '', parquetOther: '', aggregateCity: '' };
  const files: Record<string, string> = {};

  async function deliver(sql: string, recipient: typeof CITY_LAB | typeof OTHER_LAB, format: 'csv' | 'parquet' | 'xlsx') {
    const created = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql }, recipient: recipient.org, purpose: 'trace test', format }), 201).json();
    expect(created.outcome, JSON.stringify(created.checks)).not.toBe('fail');
    // The visitor column looks personal to the catalog, so the checks ask for review: justified, then two supervisors approve.
    const justifications = Object.fromEntries(created.checks.filter((c: { status: string }) => c.status === 'review').map((c: { name: string }) => [c.name, 'synthetic test data']));
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, { justifications }), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200);
    if (created.outcome === 'review') expectStatus(await t.call(SECOND_SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200);
    const manifest = expectStatus(await t.call(recipient, 'GET', `/v1/exports/${created.id}/manifest`), 200).json();
    const download = expectStatus(await t.call(recipient, 'GET', `/v1/exports/${created.id}/download`), 200);
    const file = path.join(leaks, `${created.id}.${format}`);
    fs.writeFileSync(file, download.rawPayload);
    return { id: created.id as string, manifest, file };
  }

  async function query(sql: string): Promise<Table> {
    const db = await openDatabase(':memory:');
    const connection = await db.connect();
    try {
      const rows = await connection.all(sql);
      const columns = rows.length > 0 ? Object.keys(rows[0]!) : [];
      return { columns, rows: rows.map((row) => columns.map((c) => row[c])) };
    } finally {
      connection.close();
      db.close();
    }
  }

  /** 10% of the rows in a new random order, the columns shuffled and renamed, without `drop`. */
  async function leakSubset(file: string, reader: 'read_csv' | 'read_parquet', drop: string[] = []): Promise<Table> {
    const table = await query(`SELECT * FROM ${reader}('${file}') WHERE hash(district, amount, minutes) % 10 = 3 ORDER BY hash(minutes, 7)`);
    const kept = table.columns.map((name, i) => ({ name, i })).filter((c) => !drop.includes(c.name)).reverse();
    return { columns: kept.map((c, k) => `col_${k}`), rows: table.rows.map((row) => kept.map((c) => row[c.i])) };
  }

  async function writeXlsx(table: Table, file: string): Promise<string> {
    const cell = (value: unknown) => (value === null || value === undefined ? null : typeof value === 'number' ? value : typeof value === 'bigint' ? Number(value) : String(value));
    await writeXlsxFile([table.columns.map((value) => ({ value })), ...table.rows.map((row) => row.map((value) => ({ value: cell(value) })))] as never).toFile(file);
    return file;
  }

  function writeCsv(table: Table, file: string): string {
    fs.writeFileSync(file, [table.columns.join(','), ...table.rows.map((row) => row.map((v) => String(v ?? '')).join(','))].join('\n'));
    return file;
  }

  const trace = (file: string) => traceLeak({ dataDir: t.dataDir, file, tokenMaster: master, downloaded: downloadedVia(() => t) });

  beforeAll(async () => {
    t = await startTestApp({ dataDir: dataDir.dir });
    leaks = leakDir.dir;
    await licenseTenantWithData(t, 'ops', [VISITS]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'other-lab', name: 'Other Lab' }), 201);
    const csvCity = await deliver(ROWS_SQL, CITY_LAB, 'csv');
    const parquetOther = await deliver(ROWS_SQL, OTHER_LAB, 'parquet');
    const aggregateCity = await deliver(AGGREGATE_SQL, CITY_LAB, 'parquet');
    Object.assign(ids, { csvCity: csvCity.id, parquetOther: parquetOther.id, aggregateCity: aggregateCity.id });
    Object.assign(files, { csvCity: csvCity.file, parquetOther: parquetOther.file, aggregateCity: aggregateCity.file });
    files.manifest = JSON.stringify(csvCity.manifest);
    master = loadOrCreateTokenMaster(path.join(t.dataDir, 'secrets'));
  }, 240_000);
  afterAll(async () => {
    await t.close();
    dataDir.remove();
    leakDir.remove();
  });

  it('states the fingerprint in the manifest and the audit, never the key', async () => {
    const { entries } = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${ids.csvCity}&action=export.package`), 200).json();
    expect(entries).toHaveLength(1);
    expect(entries[0].details.fingerprint).toEqual({ tokenColumns: ['visitor'], markedColumns: ['amount', 'minutes'] });
    const manifest = JSON.parse(files.manifest!);
    expect(manifest.fingerprint).toMatchObject({
      scheme: 'indomain.fingerprint.v1',
      tokenColumns: ['visitor'],
      markedColumns: [{ column: 'amount', unit: '0.01', decimals: 2, rounded: false }, { column: 'minutes', unit: '0.001', decimals: 3, rounded: false }],
    });
    expect(manifest.fingerprint.tolerance).toMatch(/at most one unit of its last kept decimal/);
    expect(files.manifest).not.toMatch(/key/i);
  });

  it('gives the two recipients token columns that do not join, each consistent within its file', async () => {
    const joined = await query(`SELECT count(*) AS n FROM read_csv('${files.csvCity}') a JOIN read_parquet('${files.parquetOther}') b ON a.visitor = b.visitor`);
    expect(Number(joined.rows[0]![0])).toBe(0);
    const distinct = await query(`SELECT count(DISTINCT visitor) AS a, (SELECT count(DISTINCT visitor) FROM read_parquet('${files.parquetOther}')) AS b FROM read_csv('${files.csvCity}')`);
    expect(distinct.rows[0]!.map(Number)).toEqual([400, 400]);
    // Neither carries the tokens as the tenant saw them.
    const original = await query(`SELECT count(*) FROM read_csv('${files.csvCity}') WHERE visitor IN (SELECT md5('visitor-' || range) FROM range(400))`);
    expect(Number(original.rows[0]![0])).toBe(0);
  });

  it('keeps marked values within the stated tolerance and leaves integer columns exact', async () => {
    const pairs = await query(`SELECT a.amount AS a1, b.amount AS b1, a.minutes AS a2, b.minutes AS b2, a.district AS d1, b.district AS d2
      FROM (SELECT *, row_number() OVER () AS r FROM read_csv('${files.csvCity}')) a JOIN (SELECT *, row_number() OVER () AS r FROM read_parquet('${files.parquetOther}')) b USING (r)`);
    expect(pairs.rows).toHaveLength(1000);
    let differ = 0;
    for (const [a1, b1, a2, b2, d1, d2] of pairs.rows.map((row) => row.map(Number))) {
      expect(Math.abs(a1! - b1!)).toBeLessThanOrEqual(0.02 + 1e-9);
      expect(Math.abs(a2! - b2!)).toBeLessThanOrEqual(0.002 + 1e-9);
      expect(d1).toBe(d2);
      if (a1 !== b1) differ += 1;
    }
    // Two recipients' copies differ in about half of the marked values.
    expect(differ).toBeGreaterThan(200);
  });

  it('names the CSV\'s recipient from 10% of its rows as XLSX, without the token column, columns shuffled and renamed', async () => {
    const subset = await leakSubset(files.csvCity!, 'read_csv', ['visitor']);
    expect(subset.rows.length).toBeGreaterThan(50);
    expect(subset.rows.length).toBeLessThan(160);
    const report = await trace(await writeXlsx(subset, path.join(leaks, 'leak-1.xlsx')));
    expect(report).toMatchObject({ found: true, export: ids.csvCity, version: 1, recipient: 'city-lab', method: 'marks' });
    expect((report as { confidence: number }).confidence).toBeGreaterThan(0.999999);
    // The other recipient's copy of the same output is not named.
    expect((report as { matches: { export: string }[] }).matches.map((m) => m.export)).toEqual([ids.csvCity]);
  });

  it('names the Parquet\'s recipient from 10% of its rows as CSV, by the tokens', async () => {
    const subset = await leakSubset(files.parquetOther!, 'read_parquet');
    const report = await trace(writeCsv(subset, path.join(leaks, 'leak-2.csv')));
    expect(report).toMatchObject({ found: true, export: ids.parquetOther, recipient: 'other-lab', method: 'tokens' });
    // Without tokens, the marks alone name it too.
    const marksOnly = await trace(writeCsv(await leakSubset(files.parquetOther!, 'read_parquet', ['visitor']), path.join(leaks, 'leak-3.csv')));
    expect(marksOnly).toMatchObject({ found: true, export: ids.parquetOther, recipient: 'other-lab', method: 'marks' });
  });

  it('matches a leaked aggregate against the released cells', async () => {
    const leaked = await query(`SELECT n AS how_many, district AS area FROM read_parquet('${files.aggregateCity}') ORDER BY n DESC`);
    const report = await trace(await writeXlsx(leaked, path.join(leaks, 'leak-4.xlsx')));
    expect(report).toMatchObject({ found: true, export: ids.aggregateCity, recipient: 'city-lab', method: 'released-cells', confidence: 1 });
  });

  it('says "no fingerprint found" for a foreign file of the same shape', async () => {
    const foreign = await query(`SELECT CAST(((range * 31) % 1000000) / 100 AS DECIMAL(12, 2)) AS a, range % 7 AS b, CAST(((range * 7) % 100000) / 1000 AS DOUBLE) AS c,
      md5('someone-' || range) AS d FROM range(100)`);
    const asXlsx = await trace(await writeXlsx(foreign, path.join(leaks, 'foreign.xlsx')));
    expect(asXlsx).toMatchObject({ found: false, message: 'no fingerprint found', packagesSearched: 3 });
    const aggregate = await trace(writeCsv({ columns: ['district', 'n'], rows: [[0, 150], [1, 139], [2, 141], [3, 140], [4, 143], [5, 144], [6, 143]] }, path.join(leaks, 'foreign-aggregate.csv')));
    expect(aggregate.found).toBe(false);
  });

  it('the CLI: refused while the server holds the store; afterwards answers, and the trace is in a chain that verifies', async () => {
    const cli = async (file: string, args: string[] = []) => {
      try {
        const { stdout, stderr } = await exec(process.execPath, [path.resolve(file), ...args], { env: { PATH: process.env.PATH ?? '' } });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const e = error as { code: number; stdout: string; stderr: string };
        return { code: e.code, stdout: e.stdout, stderr: e.stderr };
      }
    };
    const leak = await writeXlsx(await leakSubset(files.csvCity!, 'read_csv', ['visitor']), path.join(leaks, 'leak-cli.xlsx'));
    const busy = await cli('dist/server/cli/trace.js', [leak, '--data-dir', t.dataDir]);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/^trace: cannot open .* to audit the trace \(is the server running\? stop it first\)/);
    expect(busy.stdout).toBe('');

    await t.close();
    const found = await cli('dist/server/cli/trace.js', [leak, '--data-dir', t.dataDir]);
    expect(found.code, found.stderr).toBe(0);
    expect(JSON.parse(found.stdout) as TraceReport).toMatchObject({ found: true, export: ids.csvCity, recipient: 'city-lab', method: 'marks' });
    const foreign = await cli('dist/server/cli/trace.js', [path.join(leaks, 'foreign.xlsx'), '--data-dir', t.dataDir]);
    expect(foreign.code).toBe(1);
    expect(JSON.parse(foreign.stdout)).toMatchObject({ found: false, message: 'no fingerprint found' });

    const verified = await cli('dist/server/cli/audit-verify.js', ['--data-dir', t.dataDir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const db = await openDatabase(path.join(t.dataDir, 'control.duckdb'), { readOnly: true });
    try {
      const connection = await db.connect();
      const rows = await connection.all(`SELECT target, details FROM audit_log WHERE action = 'export.trace' ORDER BY seq`);
      connection.close();
      expect(rows.map((r) => r.target)).toEqual([`export:${ids.csvCity}`, 'exports']);
      expect(JSON.parse(String(rows[0]!.details))).toMatchObject({ outcome: 'found', file: { name: 'leak-cli.xlsx' }, matches: [{ export: ids.csvCity, recipient: 'city-lab', method: 'marks' }] });
    } finally {
      db.close();
    }
    // Restarted, the server finds its store as it left it.
    t = await startTestApp({ dataDir: t.dataDir });
  });
});
