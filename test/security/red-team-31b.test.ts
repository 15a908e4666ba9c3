/**
 * Red-team attacks, pass 31b: the query gate and the checks at query time, with fresh eyes (HTTP
 * only, as an operator of org `rt31b-org`, and the application entity `rt31b-lab` as the recipient
 * of an export):
 * - prod answers over personal data whose checks look at cells, not at how many rows a group
 *   makes: a set-returning function in the SELECT list of an aggregate (`unnest`, `unlist`, and the
 *   macros DuckDB expands to it, `regexp_split_to_table` and `generate_subscripts`) turns an
 *   aggregate into a number of rows, which `withheldRows`, the rows of a shown group and an
 *   export's check reasons then count;
 * - the aggregates and grouping forms that return individual values or a cell beside its total
 *   (list, string_agg, histogram, arg_max, first, approx_quantile, mode, bit_or, a window over an
 *   aggregate, GROUPING SETS with a total, ROLLUP, CUBE);
 * - engine errors in prod (a CAST, strptime, a lambda, a list comprehension) that could echo a row;
 * - DuckDB spellings that reach files, settings, the other env, the entity keys or state.
 * `was a hole` tests failed when written: they assert the SAFE outcome, and the comment says what was seen, which
 * file:line lets it through, what SAFE means and a suggested fix. `STOPPED:` tests held.
 *
 * Setup (test/helpers/crafted-domain.ts: a dataset ingested through the trusted pipeline, its
 * personal column set plain with a reason as the supervisor's choice, granted to rt31b-org):
 * - `rt31b_pay`: 150 payers keyed by their own mobile (one payment each, 100–149) in 一区/二区/三区,
 *   and the victim V (a mobile of its own, in 一区) with one payment of 777.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { prodAsker, type ProdAnswer } from '../helpers/prod-answer.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { type TestApp } from '../helpers/test-app.js';

const ORG = 'rt31b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'rt31b-lab', name: 'RT31b Lab' };
/** The victim's mobile (no placeholder's shape) and their one payment. */
const V = '13957024861';
const V_AMOUNT = 777;

const PAY_SQL = `SELECT mobile, ref_no, district, amount FROM (
    SELECT ${mobileSql('p', 3131)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))
    UNION ALL SELECT '${V}', 'V000001', '一区', CAST(${V_AMOUNT} AS DECIMAL(10,2)))`;


describe('red team 31b: the gate and the checks at query time', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 31b');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt31b_pay', PAY_SQL);
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { real } = twinProbes(() => t, memory, OPERATOR);
  const exports = exportProbes(() => t, OPERATOR, LAB.id, 'red team 31b');
  const ask = prodAsker(() => t, OPERATOR);
  /** What an answer says, for comparing two answers: its status and code, or its rows per group and its disclosure. */
  const said = (a: ProdAnswer) => (a.status === 200 ? JSON.stringify({ rows: a.rows.map((r) => r[0]), disclosure: a.disclosure }) : `${a.status} ${a.code}`);

  it('the setup: V is one person in 一区 with one payment of 777, beside 50 payers there', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) FILTER (WHERE district = '一区') AS payers, max(amount) FILTER (WHERE mobile = '${V}') AS v_amount,
        count(*) FILTER (WHERE mobile = '${V}') AS v_rows FROM (${PAY_SQL})`);
    expect([Number(truth!.payers), Number(truth!.v_amount), Number(truth!.v_rows)]).toEqual([51, V_AMOUNT, 1]);
    expect((await domain.profileOf('rt31b_pay')).entity).toBe('mobile');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. A set-returning function in the SELECT list of an aggregate: the cell becomes rows.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: unnest in the SELECT list over personal data is uncheckable; an aggregate answer with two rows of one group is refused): one person\'s exact payment as `withheldRows`: `unnest(range(CAST(sum(amount) AS BIGINT)))` grouped by "V or their district" makes V\'s group 777 rows, all withheld and counted', async () => {
    const sql = `SELECT CASE WHEN mobile = '${V}' THEN 'v' ELSE district END AS g, unnest(range(CAST(sum(amount) AS BIGINT))) AS r
      FROM rt31b_pay WHERE district = '一区' GROUP BY g`;
    const [truth] = await real(`SELECT sum(amount) AS s FROM (${PAY_SQL}) WHERE mobile = '${V}'`);
    expect(Number(truth!.s)).toBe(V_AMOUNT);
    const answer = await ask(sql);
    // Seen (when written): 200, 6,224 rows of 一区 (its 50 other payers' total, one row per unit),
    // disclosure {withheldRows: 778, reasons: ["777 rows were withheld: their groups describe fewer
    // than 10 people", "1 more row ... (secondary suppression)"]}: V's payment, exactly, in one
    // uncounted query. Why: answer-shape.ts:183-216 reads the SELECT item as one aggregate column
    // (sum of a column of the personal table, not pinned: the WHERE and the group name `mobile` and
    // `district`) and never looks at the `unnest` around it (allowed by ast-walk.ts:32,
    // OPERATOR_FUNCTIONS); check-answer.ts:120 then measures every answer ROW against its group's
    // companion, and check-answer.ts:181 reports `withheldRows` as answer.rows.length minus the rows
    // shown: rows, not groups, so a withheld group's row count (here its sum) is told. SAFE: a
    // set-returning function in the SELECT list of a prod answer over personal data (unnest, unlist,
    // and every macro that expands to it: regexp_split_to_table, generate_subscripts) is uncheckable
    // for its shape (DSC_ERR_UNCHECKABLE), before it runs. Fix: in answerShape, refuse a SELECT list
    // calling unnest/unlist or a macro whose definition calls unnest (derived from
    // duckdb_functions().macro_definition, as `isUnstable` is), and, fail closed, in checkedAnswer
    // refuse an aggregate answer two of whose rows carry the same group key.
    const seen = { status: answer.status, withheldRows: answer.disclosure?.withheldRows, reasons: answer.disclosure?.reasons, learned: (answer.disclosure?.withheldRows ?? 0) - 1 };
    expect({ status: answer.status, code: answer.code }, JSON.stringify(seen)).toEqual({ status: 422, code: 'DSC_ERR_UNCHECKABLE' });
  }, 600_000);

  it('was a hole (fix: macros built on unnest (regexp_split_to_table, generate_subscripts) are uncheckable too): whether V paid above X from ONE answer, no `unnest` written: the number of rows of 一区 under `regexp_split_to_table(CASE WHEN <count of V\'s payments above X> > 0 THEN \'a,b\' ELSE \'a\' END, \',\')` (or `generate_subscripts(range(<that count>), 1)`), every cell withheld', async () => {
    const [truth] = await real(`SELECT count(*) FILTER (WHERE mobile = '${V}' AND amount > 500) AS above500, count(*) FILTER (WHERE mobile = '${V}' AND amount > 900) AS above900 FROM (${PAY_SQL})`);
    // Truth: V paid above 500, not above 900.
    expect([Number(truth!.above500), Number(truth!.above900)]).toEqual([1, 0]);
    const split = (x: number) => `SELECT district, regexp_split_to_table(CASE WHEN count(*) FILTER (WHERE mobile = '${V}' AND amount > ${x}) > 0 THEN 'a,b' ELSE 'a' END, ',') AS r
      FROM rt31b_pay GROUP BY district`;
    const subscripts = (x: number) => `SELECT district, generate_subscripts(range(count(*) FILTER (WHERE mobile = '${V}' AND amount > ${x})), 1) AS r FROM rt31b_pay GROUP BY district`;
    const answers = { split500: await ask(split(500)), split900: await ask(split(900)), subscripts500: await ask(subscripts(500)), subscripts900: await ask(subscripts(900)) };
    const seen = Object.fromEntries(Object.entries(answers).map(([k, a]) => [k, said(a)]));
    // Seen (when written): split500 lists 一区 twice (4 rows), split900 once (3 rows), every cell
    // null (the count describes one person or none); subscripts500 shows one row of 一区, subscripts900
    // no row at all. Each answer is a 200, so nothing counts towards the probing budget, and each
    // gives one bit about V. Why: as above (answer-shape.ts:183-216 never looks at the set-returning
    // function; a withheld cell is nulled, check-answer.ts:163, but the rows its value made stay, and
    // rows its value removed never reach the checks); a name check on `unnest` would not see
    // these two macros (DuckDB expands `regexp_split_to_table` and `generate_subscripts` to unnest).
    // SAFE: the answers do not depend on V: refused for their shape (DSC_ERR_UNCHECKABLE) or the
    // same with X = 500 and X = 900. Fix: as above, decided on the bound plan or on the macros'
    // definitions, not on the name written.
    expect({ split: seen.split500 === seen.split900, subscripts: seen.subscripts500 === seen.subscripts900 }, JSON.stringify(seen)).toEqual({ split: true, subscripts: true });
  }, 600_000);

  it('was a hole (fix: the same rule for exports, and an export with two rows of one group is uncheckable): the same 777 in an export\'s checks: the operator creating an export of the `withheldRows` query reads "777 rows describe fewer than 10 people" (and `rows: 777`) in its minimum-entities check', async () => {
    const sql = `SELECT CASE WHEN mobile = '${V}' THEN 'v' ELSE district END AS g, unnest(range(CAST(sum(amount) AS BIGINT))) AS r
      FROM rt31b_pay WHERE district = '一区' GROUP BY g`;
    const created = await exports.create(sql);
    const checks = JSON.stringify(created.checks);
    // Seen (when written): outcome fail; minimum-entities {status: fail, reason: "777 rows describe
    // fewer than 10 people or enterprises", rows: 777}: V's payment, in the answer to the export's
    // creation (an export whose checks fail counts as probing, at the slow rate, but tells the
    // value, not one bit). Why: the export's checks (sandbox/disclosure/review-output.ts, the same
    // shape from answer-shape.ts:183-216) count output rows per failing group, and the unnest made
    // the group's rows its sum. SAFE: the export is uncheckable for its shape (the person-level check
    // asks for review and names the construct) and no check carries 777. Fix: as above; the same
    // answerShape refusal covers exports.
    expect({ tellsTheAmount: checks.includes(String(V_AMOUNT)) }, checks).toEqual({ tellsTheAmount: false });
  }, 600_000);

  it('STOPPED: the same multiplication in the FROM (`CROSS JOIN unnest(range(2))`, `JOIN range(2) r ON r.range = 0 OR <V paid above X>`) is refused as repeated rows, and a lateral `unnest([amount])` as a correlated subquery', async () => {
    const plain = await ask('SELECT district, count(*) AS n FROM rt31b_pay CROSS JOIN unnest(range(2)) GROUP BY district');
    const steered = await Promise.all([500, 900].map((x) => ask(`SELECT district, count(*) AS n FROM rt31b_pay p JOIN range(2) r ON r.range = 0 OR (p.mobile = '${V}' AND p.amount > ${x}) GROUP BY district`)));
    const lateral = await ask('SELECT u, count(*) AS n FROM rt31b_pay p, unnest([p.amount]) AS t(u) GROUP BY u');
    expect({ plain: said(plain), lateral: said(lateral) }).toEqual({ plain: '422 DSC_ERR_REPEATED_ROWS', lateral: '422 DSC_ERR_UNCHECKABLE' });
    // Above 500 the join repeats V's row (refused, counted); above 900 it does not and 一区 is shown:
    // that is the SLOWED oracle of pass 5b, one bit per counted refusal, not a new one.
    expect(said(steered[0]!)).toBe('422 DSC_ERR_REPEATED_ROWS');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. Aggregates that return individual values, a cell beside its total.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: aggregates of individual values and totals beside their cells are refused in prod (list, string_agg, histogram, arg_max, first, approx_quantile, mode, bit_or, a window over an aggregate, GROUPING SETS with the total, ROLLUP, CUBE, a FILTER naming the summed column)', async () => {
    const [truth] = await real(`SELECT list(amount ORDER BY amount DESC)[1] AS top FROM (${PAY_SQL}) WHERE district = '一区'`);
    // Truth: the largest payment of 一区 is V's.
    expect(Number(truth!.top)).toBe(V_AMOUNT);
    const spellings = [
      "SELECT district, list(amount) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, string_agg(CAST(amount AS VARCHAR), ',') AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, histogram(amount) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, arg_max(ref_no, amount) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, first(amount) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, approx_quantile(amount, 0.999) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, mode(amount) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, bit_or(CAST(amount AS INTEGER)) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, max(sum(amount)) OVER () AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, sum(amount) AS v FROM rt31b_pay GROUP BY GROUPING SETS ((district), ())",
      "SELECT district, sum(amount) AS v FROM rt31b_pay GROUP BY ROLLUP (district)",
      "SELECT district, sum(amount) AS v FROM rt31b_pay GROUP BY CUBE (district)",
      "SELECT district, sum(amount) FILTER (WHERE amount < 700) AS v FROM rt31b_pay GROUP BY district",
      "SELECT district, sum(amount) AS v FROM rt31b_pay GROUP BY district QUALIFY rank() OVER (ORDER BY sum(amount) DESC) = 1",
    ];
    const seen: string[] = [];
    for (const sql of spellings) seen.push(said(await ask(sql)));
    // No answer carries V's 777 either way; each is refused for its shape.
    expect(seen, JSON.stringify(seen)).toEqual(spellings.map(() => '422 DSC_ERR_UNCHECKABLE'));
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Engine errors in prod, and the gate's walls.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: engine errors that would echo V\'s row (a CAST of their mobile, strptime of it, a lambda, a list comprehension, a DECIMAL overflow inside CASE) are one fixed refusal in prod (DSC_ERR_RUNTIME_ERROR, or DSC_ERR_UNCHECKABLE where the checks cannot be rendered), with neither the mobile nor the amount', async () => {
    const failing = [
      `SELECT district, count(*) AS n FROM rt31b_pay WHERE CASE WHEN mobile = '${V}' THEN CAST(mobile || 'x' || CAST(amount AS VARCHAR) AS INTEGER) ELSE 1 END = 1 GROUP BY district`,
      `SELECT district, count(*) AS n FROM rt31b_pay WHERE CASE WHEN mobile = '${V}' THEN strptime(mobile || CAST(amount AS VARCHAR), '%d') IS NULL ELSE false END GROUP BY district`,
      `SELECT district, count(*) AS n FROM rt31b_pay WHERE list_transform([mobile || CAST(amount AS VARCHAR)], x -> CASE WHEN x LIKE '${V}%' THEN CAST(x AS TINYINT) ELSE 0 END)[1] = 0 GROUP BY district`,
      `SELECT district, count(*) AS n FROM rt31b_pay WHERE [CAST(x AS UTINYINT) FOR x IN [mobile || CAST(amount AS VARCHAR)] IF x LIKE '${V}%'] = [] GROUP BY district`,
      `SELECT district, count(*) AS n FROM rt31b_pay WHERE CASE WHEN mobile = '${V}' THEN CAST(CAST(amount AS DECIMAL(2,0)) AS VARCHAR) ELSE 'ok' END = 'ok' GROUP BY district`,
    ];
    for (const sql of failing) {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' });
      // The value is in the engine's message (dev shows its first line): it must not reach prod. The
      // answer's failure is DSC_ERR_RUNTIME_ERROR; where the companion cannot be rendered (lambdas,
      // list comprehensions: check-answer.ts:701) it is DSC_ERR_UNCHECKABLE, one fixed message too.
      // The request id is random hex and may hold 777 itself: everything else is read.
      const shown = JSON.stringify({ ...res.json(), requestId: undefined });
      expect({ status: res.statusCode, code: res.json().code, echoes: shown.includes(V) || shown.includes('777') }, res.body)
        .toEqual({ status: 422, code: expect.stringMatching(/^DSC_ERR_(RUNTIME_ERROR|UNCHECKABLE)$/), echoes: false });
    }
  }, 600_000);

  it('STOPPED: DuckDB spellings that reach files, settings, the other env, the entity keys or state are refused by the gate with its codes, and read nothing', async () => {
    const refused: [string, RegExp][] = [
      ["SELECT * FROM '/etc/hostname'", /SBX_ERR_SQL_FORBIDDEN_TABLE/],
      ["SELECT * FROM read_text('/etc/hostname')", /SBX_ERR_SQL_FORBIDDEN_FUNCTION/],
      ['SELECT * FROM "__entities_rt31b_pay"', /SBX_ERR_SQL_FORBIDDEN_TABLE/],
      ['SELECT * FROM granted.main."__entities_rt31b_pay"', /SBX_ERR_SQL_FORBIDDEN_TABLE/],
      ['SELECT count(*) FROM dev.main.rt31b_pay', /SBX_ERR_SQL_FORBIDDEN_TABLE/],
      ["SELECT current_setting('memory_limit') AS s", /SBX_ERR_SQL_FORBIDDEN_FUNCTION/],
      ['SELECT * FROM duckdb_settings()', /SBX_ERR_SQL_FORBIDDEN_FUNCTION/],
      ['SELECT * FROM duckdb_databases', /SBX_ERR_SQL_FORBIDDEN_(FUNCTION|TABLE)/],
      ["SELECT * FROM query('SELECT 1')", /SBX_ERR_SQL_FORBIDDEN_FUNCTION/],
      ["SELECT * FROM query_table('rt31b_pay')", /SBX_ERR_SQL_FORBIDDEN_FUNCTION/],
      ['SELECT * FROM (PIVOT rt31b_pay ON mobile USING count(*))', /SBX_ERR_SQL_NOT_SELECT/],
      ['PRAGMA version', /SBX_ERR_SQL_NOT_SELECT/],
      ["ATTACH '/tmp/x.duckdb' AS x", /SBX_ERR_SQL_NOT_SELECT/],
      ["COPY rt31b_pay TO '/tmp/x.csv'", /SBX_ERR_SQL_NOT_SELECT/],
      ["SET enable_external_access = true", /SBX_ERR_SQL_NOT_SELECT/],
      ['PREPARE p AS SELECT 1', /SBX_ERR_SQL_NOT_SELECT/],
      ['CREATE MACRO m(x) AS x', /SBX_ERR_SQL_NOT_SELECT/],
      ['SELECT $1', /SBX_ERR_SQL_FORBIDDEN_CONSTRUCT/],
      ['SELECT district, count(*) AS n FROM rt31b_pay GROUP BY district; SELECT 1', /SBX_ERR_SQL_MULTIPLE_STATEMENTS/],
    ];
    for (const [sql, code] of refused) {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' });
      expect(`${res.statusCode} ${res.json().code}`, `${sql}: ${res.body}`).toMatch(new RegExp(`^4\\d\\d ${code.source}$`));
      expect(res.body.includes(V), sql).toBe(false);
    }
  }, 600_000);
});
