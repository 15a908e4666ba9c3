import { describe, expect, it } from 'vitest';
import { keepFirstLast, mobileSql } from '../../desensitize/index.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { knownAs, knownPerson, PAYMENTS_SQL } from '../helpers/pay-fixture.js';
import { SUPERVISOR } from '../helpers/test-app.js';
import { payRedTeam } from '../helpers/two-worlds.js';

/**
 * Red-team pass 38b: side channels an operator reads beside an answer's cells (HTTP only, as
 * operators of `rt38b`): discovery of a prod workspace table built over one person's rows (DESCRIBE,
 * SHOW ALL TABLES, information_schema, SUMMARIZE, GET /v1/schema, GET /v1/tables), statements and
 * table functions that show sizes or plans (EXPLAIN [ANALYZE], pragma_storage_info, duckdb_tables(),
 * pragma_table_info), engine errors that echo a value (a cast, `error()`, a regex, JSON, overflow),
 * an export's checks (reasons, `rows`, `cells`), its `withheld` counts and versions, and whether a
 * prod workspace table survives the rebuild that a supervisor's policy change triggers.
 * Each question is asked in two worlds of one person (person 7 of `pay` paid above X or not, or
 * paid above X 4 times or 8 times); SAFE means the two worlds look the same to the operator, or each
 * try counts towards the probing budget AND tells no more than one bit.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and a fix); `STOPPED:` tests hold and fail
 * if the defence breaks.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts, default policies: id_card tokenized with
 * derived birth year, gender and region; mobile masked `138****1234`): 400 people with 20 payments
 * each; person 7 (四区) pays 140..149 then 100..109. The operator knows person 7 as an outsider does
 * (masked mobile, birth year: `knownAs`). The truth is computed from the generator in an in-memory
 * DuckDB. The policy change of the last test is a supervisor's, over HTTP.
 */

const ORG = 'rt38b';
const { app, operator, exportSeen } = payRedTeam(ORG);

describe('red team 38b: side channels beside the cells', () => {
  const memory = useMemoryConnection();

  /** Person 7's raw mobile (the outsider knows it) and how many of their payments are above `x`, from the generator. */
  async function truth(x: number): Promise<{ mobile: string; above: number }> {
    const [row] = await memory.connection.all(`SELECT ${mobileSql('7', 11)} AS mobile`);
    const mobile = String(row!.mobile);
    const [count] = await memory.connection.all(`SELECT count(*) FILTER (WHERE amount > ${x}) AS n FROM (${PAYMENTS_SQL}) WHERE mobile = '${mobile}'`);
    return { mobile, above: Number(count!.n) };
  }

  const prod = async (who: ReturnType<typeof operator>, sql: string) => {
    const res = await app().call(who, 'POST', '/v1/query', { sql, env: 'prod', maxRows: 10_000 });
    return { status: res.statusCode, body: res.json() as Record<string, unknown> & { code?: string; rows?: unknown[][]; columns?: unknown } };
  };

  it('control: the method sees what it should: person 7 has 4 payments above 145 and 8 above 141; the same rows reach a supervisor\'s view of an export (rowCount differs by exactly that), and a plain prod table over pay is built in both worlds', async () => {
    expect([(await truth(145)).above, (await truth(141)).above, (await truth(149)).above]).toEqual([4, 8, 0]);
    const who = operator();
    const sql = async (x: number) => `SELECT district FROM pay WHERE district = '四区' AND (NOT (${await knownAs(7)}) OR amount > ${x})`;
    const counts: number[] = [];
    for (const x of [145, 149]) {
      const created = expectStatus(await app().call(who, 'POST', '/v1/exports', { source: { sql: await sql(x) }, recipient: 'city-lab', purpose: 'red team 38b control', format: 'csv' }), 201).json() as { id: string };
      counts.push((expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${created.id}`), 200).json() as { rowCount: number }).rowCount);
    }
    // The supervisor sees the truth: 四区 without person 7 has 99 people × 20 payments.
    expect(counts).toEqual([1980 + 4, 1980]);
    for (const x of [145, 149]) {
      expectStatus(await app().call(who, 'POST', '/v1/tables', { name: `control_${x}`, env: 'prod', sql: await sql(x) }), 201);
    }
  }, 300_000);

  it('STOPPED: a prod table of person 7\'s payments above x (4 rows, or none) reads the same in both worlds through every discovery route: DESCRIBE, SHOW ALL TABLES, information_schema.tables/columns, SUMMARIZE, GET /v1/schema, GET /v1/tables', async () => {
    const who = operator();
    const seenOf = async (name: string) => {
      const strip = (v: unknown) => JSON.parse(JSON.stringify(v).replaceAll(name, 'T').replace(/"ms":\d+/g, '"ms":0').replace(/"createdAt":"[^"]*"/g, '"createdAt":""').replace(/"requestId":"[^"]*"/g, ''));
      const answers: Record<string, unknown> = {};
      for (const sql of [`DESCRIBE ${name}`, 'SHOW ALL TABLES', `SELECT * FROM information_schema.tables WHERE table_name = '${name}'`,
        `SELECT * FROM information_schema.columns WHERE table_name = '${name}'`, `SUMMARIZE ${name}`, `DESCRIBE SELECT * FROM ${name}`]) {
        const res = await prod(who, sql);
        answers[sql.replaceAll(name, 'T')] = strip({ status: res.status, rows: sql === 'SHOW ALL TABLES' ? res.body.rows?.filter((r) => JSON.stringify(r).includes(name)) : res.body.rows, columns: res.body.columns, code: res.body.code });
      }
      const schema = (expectStatus(await app().call(who, 'GET', '/v1/schema?env=prod'), 200).json() as { tables: { name: string }[] }).tables.find((t) => t.name === name);
      const listed = (expectStatus(await app().call(who, 'GET', '/v1/tables'), 200).json() as { tables: { name: string }[] }).tables.find((t) => t.name === name);
      // Every route answered about the table (a refusal would read alike in both worlds and prove nothing).
      for (const [sql, seen] of Object.entries(answers)) expect((seen as { rows?: unknown[] }).rows?.length ?? 0, sql).toBeGreaterThan(0);
      return { ...answers, schema: strip(schema), listed: strip({ ...listed, sql: undefined }) };
    };
    const worlds: unknown[] = [];
    for (const x of [145, 149]) {
      const name = `seven_${x}`;
      expectStatus(await app().call(who, 'POST', '/v1/tables', { name, env: 'prod', sql: `SELECT amount, district FROM pay WHERE ${await knownAs(7)} AND amount > ${x}` }), 201);
      worlds.push(await seenOf(name));
    }
    expect(worlds[0]).toEqual(worlds[1]);
  }, 300_000);

  it('STOPPED: what shows sizes, statistics or plans is refused in prod (EXPLAIN, EXPLAIN ANALYZE, pragma_storage_info, duckdb_tables(), pragma_table_info, PRAGMA, stats()), and gives no count', async () => {
    const who = operator();
    const probes = [
      'EXPLAIN SELECT count(*) FROM pay', 'EXPLAIN ANALYZE SELECT count(*) FROM pay', "SELECT * FROM pragma_storage_info('pay')",
      'SELECT estimated_size FROM duckdb_tables()', "SELECT * FROM pragma_table_info('pay')", 'PRAGMA database_size', 'SELECT stats(amount) FROM pay',
      "SELECT * FROM duckdb_columns() WHERE table_name = 'pay'", 'SELECT * FROM information_schema.schemata', 'SUMMARIZE SELECT * FROM pay WHERE amount > 145',
    ];
    for (const sql of probes) {
      const res = await prod(who, sql);
      const text = JSON.stringify(res.body);
      // SUMMARIZE of a query runs it in dev (the twin), its extremes withheld: allowed; everything else is refused.
      if (sql.startsWith('SUMMARIZE')) {
        expect(res.status, sql).toBe(200);
        for (const row of res.body.rows ?? []) expect((row as unknown[]).slice(2, 4), sql).toEqual([null, null]);
        continue;
      }
      expect(res.status, `${sql}: ${text}`).toBeGreaterThanOrEqual(400);
      expect(text, sql).not.toMatch(/\b8000\b|\b2000\b|estimated|row_group/);
    }
  }, 300_000);

  it('STOPPED: engine errors that would echo person 7\'s amount (a cast, error(), a regex, JSON, overflow, a date) say only that the query failed (DSC_ERR_RUNTIME_ERROR; error() is refused by the gate), the same in both worlds', async () => {
    const failing = (x: number) => [
      `SELECT district, count(*) AS n FROM pay WHERE amount > ${x} OR CAST(CAST(amount AS VARCHAR) || 'x' AS INTEGER) > 0 GROUP BY district`,
      `SELECT district, count(*) AS n FROM pay WHERE error('v=' || CAST(amount AS VARCHAR)) IS NULL GROUP BY district`,
      `SELECT district, count(*) AS n FROM pay WHERE regexp_matches('x', CAST(amount AS VARCHAR) || '(') GROUP BY district`,
      `SELECT district, count(*) AS n FROM pay WHERE json_extract('{' || CAST(amount AS VARCHAR), '$.a') IS NULL GROUP BY district`,
      `SELECT district, count(*) AS n FROM pay WHERE CAST(amount * 1e300 AS BIGINT) > 0 GROUP BY district`,
      `SELECT district, count(*) AS n FROM pay WHERE CAST('2020-13-' || CAST(CAST(amount AS INTEGER) AS VARCHAR) AS DATE) IS NULL GROUP BY district`,
    ];
    const strip = (body: Record<string, unknown>) => ({ ...body, requestId: undefined });
    for (const [i, sql] of failing(145).entries()) {
      const res = await prod(operator(), sql);
      // error() is refused by the gate outright; every other failure is the one fixed, counted refusal.
      expect([[422, 'DSC_ERR_RUNTIME_ERROR'], [400, 'SBX_ERR_SQL_FORBIDDEN_FUNCTION']], `${sql}: ${JSON.stringify(res.body)}`).toContainEqual([res.status, res.body.code]);
      // (Without the request id, whose random digits matched the amounts' pattern now and then.)
      expect(JSON.stringify(strip(res.body)), sql).not.toMatch(/1[0-4]\d(\.0)?\b|Conversion|Invalid Input|Out of Range/);
      const other = await prod(operator(), failing(149)[i]!);
      expect(strip(other.body)).toEqual(strip(res.body));
    }
  }, 300_000);

  it('was a hole (fix: operators read a row-level output\'s checks and mitigation without row counts; reviewers and the audit keep them): a row-level export\'s k-anonymity check tells the operator HOW MANY of person 7\'s payments are above x (its reason and `rows`: 4 above 145, 8 above 141), the count the export detail hides as `rowCount`; `withheld` after suppression tells it again', async () => {
    const sql = async (x: number) => `SELECT id_card_birth_year AS y, id_card_gender AS g, id_card_region AS r, district FROM pay
      WHERE district = '四区' AND (NOT (${await knownAs(7)}) OR amount > ${x})`;
    const seen = async (x: number) => {
      const e = await exportSeen(await sql(x));
      const k = (e.checks as { name: string; status: string; reason: string; rows?: number }[]).find((c) => c.name === 'k-anonymity')!;
      return { outcome: e.outcome, k, rowCount: e.rowCount };
    };
    const base = await seen(200);
    const four = await seen(145);
    const eight = await seen(141);
    // Truth: 4 and 8 payments above 145 and 141 (generator); the export hides its row count from the operator (null).
    expect([(await truth(145)).above, (await truth(141)).above]).toEqual([4, 8]);
    expect([base.rowCount, four.rowCount, eight.rowCount]).toEqual([null, null, null]);
    // Both worlds fail (counted as probing); the question is what the failure tells.
    expect([four.k.status, eight.k.status]).toEqual(['fail', 'fail']);
    const offending = (s: { k: { rows?: number } }) => s.k.rows ?? 0;
    // Seen (when written): base (x = 200, none of person 7's rows) "1980 rows describe fewer than 5
    // people on (y, g, r, district)", rows 1980; x = 145: 1984; x = 141: 1988. The difference from the
    // baseline is exactly how many of person 7's payments are above x (their combination of birth year,
    // gender, region and district is shared by fewer than 5 people, so each of their rows offends).
    // After the suppress mitigation, `withheld.rows` of GET /v1/exports/:id reads 1984 and 1988 again.
    // One counted export gives a count (up to 20 here; any number for a person with many rows:
    // visits, payments, trips), not one bit; and it is the very count `rowCount: null` withholds from
    // operators ("四区 without this person's payments above X had 1,996 rows or 2,000", docs/exports.md
    // `row-cap`): here, where every row offends, offending rows ARE the row count.
    // Where: sandbox/disclosure/output-findings.ts:66 (the reason `${findings.offending.length} rows
    // describe ...`), tenants/exports/export-checks.ts:146 (`rows: check.rows.length` in every check
    // the operator reads), export-checks.ts:116-126 (`suppressionCheck`: rows withheld) and the
    // `withheld` of the detail (tenants/exports/export-service.ts:678).
    // SAFE: the operator reads that rows fail k-anonymity, not how many: the two worlds read alike.
    // Fix: for operators, drop `rows` and the number from row-level checks' reasons and from
    // `withheld`/`suppression` (keep them for supervisors and the audit, as `rowCount`), or count
    // offending combinations (distinct quasi-identifier tuples: 1 for person 7 in both worlds).
    const told = { above145: offending(four) - offending(base), above141: offending(eight) - offending(base) };
    // The suppress mitigation, as the operator reads its new version's `withheld`.
    const withheldRows = async (x: number) => {
      const who = operator();
      const e = expectStatus(await app().call(who, 'POST', '/v1/exports', { source: { sql: await sql(x) }, recipient: 'city-lab', purpose: 'red team 38b', format: 'csv' }), 201).json() as { id: string };
      expectStatus(await app().call(who, 'POST', `/v1/exports/${e.id}/versions`, { mitigation: 'suppress' }), 201);
      return (expectStatus(await app().call(who, 'GET', `/v1/exports/${e.id}`), 200).json() as { withheld: { rows: number } | null }).withheld?.rows ?? null;
    };
    const withheld = { above145: await withheldRows(145), above141: await withheldRows(141) };
    expect({ told, same: JSON.stringify(four.k) === JSON.stringify(eight.k), withheldSame: withheld.above145 === withheld.above141 }, JSON.stringify({ base, four, eight, withheld }))
      .toEqual({ told: { above145: 0, above141: 0 }, same: true, withheldSame: true });
  }, 300_000);

  it('was a hole (fix: a prod table over personal data whose source changed is withdrawn, never rebuilt: a rebuild is an uncounted run): a prod workspace table armed on the NEXT values of a column (person 7\'s mobile as a stricter mask would print it) answers, uncounted, at the rebuild a supervisor\'s tightening triggers: withdrawn exactly when person 7 paid above x', async () => {
    const who = operator();
    const { mobile } = await truth(145);
    const { year } = await knownPerson(7);
    const stricter = keepFirstLast(3, 2).apply(mobile)!;
    // Under today's mask no mobile reads `138******34` (it is `138****1234`): the build runs the
    // cast on no row and succeeds in both worlds, nothing counted. No clock, random value or sequence:
    // the rule of pass 19a lets it through.
    const armed = (x: number) => `SELECT district, CASE WHEN mobile = '${stricter}' AND id_card_birth_year = ${year} AND amount > ${x}
      THEN CAST(district AS INTEGER) ELSE 0 END AS v FROM pay`;
    for (const x of [145, 149]) expectStatus(await app().call(who, 'POST', '/v1/tables', { name: `armed_${x}`, env: 'prod', sql: armed(x) }), 201);
    // The supervisor tightens the mobile's mask (keep 3 and 2 digits instead of 3 and 4): routine.
    expectStatus(await app().call(SUPERVISOR, 'PUT', '/v1/datasets/pay/policy', { columns: { mobile: { kind: 'mask', rule: 'keep:3:2' } } }), 200);
    await app().app.controlPlane.refinery.refresh(ORG);
    const names = (expectStatus(await app().call(who, 'GET', '/v1/tables'), 200).json() as { tables: { name: string }[] }).tables.map((t) => t.name);
    const fate = { yes: names.includes('armed_145'), no: names.includes('armed_149') };
    // The control tables (no arming) fare as the armed ones do: when written they survived the same
    // rebuild; since the fix every prod table over personal data is withdrawn when a source changes.
    expect([names.includes('control_145'), names.includes('control_149')]).toEqual([fate.no, fate.no]);
    // Seen (when written): {yes: false, no: true}: armed_145 withdrawn (audit `table.withdraw`, "it
    // could not be rebuilt under the new policy (DSC_ERR_RUNTIME_ERROR)"), armed_149 rebuilt. The
    // operator learns whether person 7 paid above 145 from its own table listing, spending no
    // probing budget, and one policy change answers as many such questions as it has tables (one per
    // threshold: a binary search of the amount in one go). Pass 19a closed the clock as the arming;
    // the policy change itself arms it: "a rebuild computes the same SQL over the same rows under the
    // new policy" (docs/sandbox.md, pass 19a) holds for the rows, not for the values the new policy
    // gives them, and SQL can tell old values from new (a mask's shape, a token's length, a bucket).
    // Where: tenants/table-service.ts:128-134 (`reconcile` rebuilds as SYSTEM_ACTOR outside any
    // probe admission; a failure withdraws the table where the operator sees it).
    // SAFE: both tables fare alike (both rebuilt, or both withdrawn), or the failure counts towards
    // the creator's probing budget and many such tables cannot be resolved at once. Fix: after a
    // policy change, withdraw every prod table over personal data whose rebuild would run tenant SQL
    // over changed values (ask the operator to re-create it: a counted build), or keep a failed
    // rebuild listed exactly as a rebuilt one (the failure shown only to supervisors) and charge it
    // to the creator's probing budget when they next read it.
    expect(fate, JSON.stringify(names)).toEqual({ yes: fate.no, no: fate.no });
  }, 300_000);
});
