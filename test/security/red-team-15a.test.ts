/**
 * Red-team attacks, fifteenth pass (a) (invariant 8 "usable but invisible"), from outside (HTTP
 * only, as operators of org `p15a`): learn whether one known person matches a condition, or one
 * person's values, from ONE prod answer, with no refusal counted towards the probing budget. This
 * pass aims at the fourteenth's fixes: every prod answer read whole and limited after its checks
 * (the order the rows are shown in, caps, `truncated`), aggregates' own ORDER BY refused (other
 * ways to steer the order values are combined in), spreads and extremes withheld (other aggregates
 * that behave like them), and a refusal the rows decide. Each attack asks the same question twice
 * (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is
 * that the two look the same. `HOLE:` fails (the comment says what each world showed); `STOPPED:`
 * held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts), as in red-team-14a.test.ts: person 7
 * (四区) pays 140..149 then 100..109; person 1 (二区) pays 10,000,000 twenty times; `amount` is
 * DECIMAL(21,1); 三区 and 四区 hold 100 people (2,000 payments) each.
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, seen, operator, bothWorlds } = payRedTeam('p15a');

const person7 = (table = '') => knownAs(7, table);

/** The first column of each row of a 200 answer (its keys, in the order shown). */
const firstColumn = (answer: Awaited<ReturnType<typeof seen>>) => (answer.body.rows as unknown[][] | undefined)?.map((row) => row[0]);

describe('holes: an answer ordered by a cell the checks withhold', () => {
  it('was a hole (an answer ordered by an aggregate column is read in the order of its keys and ordered after the checks, null cells last by their keys): ORDER BY a withheld cell: `count(*) FILTER (WHERE <person 7 paid above x>) AS c` is withheld in both rows (one person, or none), yet `ORDER BY c DESC` puts 四区 before 三区 exactly when person 7 paid above x', async () => {
    // The shape refuses ORDER BY an aggregate (`aggregatesIn(order)` in answer-shape.ts), but an
    // output column's alias (or position) is no aggregate to it, and the answer is ordered by it
    // (`buildCompanionPlan`: its own ORDER BY, then the keys) before the checks. A cell the checks
    // withhold is set to null in its row (`checkedAnswer`), and the row keeps the place the hidden
    // value gave it: only withheld ROWS give up their place. Both rows are shown (100 people each),
    // both cells null (threshold), nothing refused, no pair (withheld cells only). Counts may filter
    // on any column, so the question names `amount` freely.
    // Seen: yes rows [['四区', null], ['三区', null]]; no rows [['三区', null], ['四区', null]] (a tie,
    // 0 and 0, broken by the keys); disclosure alike (2 cells, threshold).
    const sql = async (x: number) => `SELECT district, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY c DESC`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes.status).toBe(200);
    expect((yes.body.rows as unknown[][]).every((row) => row[1] === null)).toBe(true);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES in one answer: 四区 grouped by amount (about 40 people each), `count(*) FILTER (WHERE <person 7>)` withheld in every row (one person), `ORDER BY c DESC`: the rows of person 7\'s amounts come first', async () => {
    // As above, a count's cell this time: counts may filter on any column (no pinning rule), and
    // GROUP BY amount is allowed beside counts only. The answer lists every amount of 四区, each row
    // shown with `n` and a null `c`; the order says which amounts person 7 paid: the rows before the
    // amounts start again from 100. With the FILTER on person 7 alone (no `amount > x`) the answer
    // lists all 20 of their payments, 100..109 and 140..149 (checked when written, and below).
    // Seen: amounts first: yes [146, 147, 148, 149]; no [] (the 50 amounts in order).
    const paid = async (x: number | null) => {
      const answer = await seen(`SELECT amount, count(*) AS n, count(*) FILTER (WHERE ${await person7()}${x === null ? '' : ` AND amount > ${x}`}) AS c FROM pay WHERE district = '四区' GROUP BY amount ORDER BY c DESC`);
      const amounts = (firstColumn(answer) ?? []).map(Number);
      const restart = amounts.findIndex((a, i) => i > 0 && a < amounts[i - 1]!);
      return { status: answer.status, disclosure: answer.body.disclosure, cells: (answer.body.rows as unknown[][]).map((row) => row[2]), first: restart < 0 ? [] : amounts.slice(0, restart) };
    };
    // Seen before the fix with no `amount > x`: first [100..109, 140..149], person 7's 20 payments.
    const all = await paid(null);
    expect(all.cells.every((c) => c === null)).toBe(true);
    expect(all.first).toEqual([]);
    const yes = await paid(145);
    const no = await paid(149);
    expect(yes.status).toBe(200);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): any withheld cell, whatever the rule: `count(*)` beside `count(*) FILTER (WHERE NOT <person 7 paid above x>)` (withheld by the row-combination rules in both rows and both worlds), ordered by the second', async () => {
    // row-combinations.ts withholds the second cell whether 0 or 1 person separates it from the
    // first ("0 included"), so that the rule says nothing; the ORDER BY says it instead: 四区's
    // hidden count is 1,996 against 三区's 2,000 when person 7 paid above x, else 2,000 and a tie.
    // Seen: yes rows [['四区', '2000', null], ['三区', '2000', null]]; no [['三区', ...], ['四区', ...]].
    const sql = async (x: number) => `SELECT district, count(*) AS a, count(*) FILTER (WHERE NOT (${await person7()} AND amount > ${x})) AS b FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY b`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes.status).toBe(200);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (ORDER BY an expression of an aggregate column is uncheckable: only the column itself, alone): a sum withheld for dominance is compared with any constant: 二区\'s total (person 1 pays 99% of it) is null, yet `ORDER BY s > T DESC` says whether it passes T, one bit per answer towards person 1\'s payments', async () => {
    // Dominance withholds 二区's sum and secondary suppression 三区's (about 249,000). An expression
    // of the alias is no aggregate to the shape either (`coalesce(s, 0) > T` happened to be refused,
    // "could not be checked", and counted; `s > T` and `-s` are not). Asked at 199,000,000 (yes) and
    // 201,000,000 (no): 二区 holds 200,000,000 of person 1's plus about 246,000.
    // Seen: yes rows [['二区', null], ['三区', null]]; no rows [['三区', null], ['二区', null]].
    const sql = (threshold: number) => `SELECT district, sum(amount) AS s FROM pay WHERE district IN ('二区', '三区') GROUP BY district ORDER BY s > ${threshold} DESC`;
    const yes = await seen(sql(199_000_000));
    const no = await seen(sql(201_000_000));
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('stopped by the fifteenth pass (a)', () => {
  it('STOPPED: aggregates that behave like a spread or an extreme, or combine values in an order (regr_*, covar, corr, entropy, sem, favg, arg_max, bit_or, bool_or, count_if, product) are refused for their shape, the same in both worlds', async () => {
    for (const call of ['regr_sxx(amount, amount)', 'regr_avgx(amount, amount)', 'covar_pop(amount, amount)', 'corr(amount, amount)', 'entropy(amount)', 'sem(amount)', 'favg(amount)', 'arg_max(district, amount)', 'bit_or(CAST(amount AS INTEGER))', 'bool_or(amount > 145)', 'count_if(amount > 145)', 'product(amount)']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT district, ${call} AS v FROM pay WHERE ${await fourWithSeven(x)} GROUP BY district`);
      expect(yes.body.code, call).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes, call).toEqual(no);
    }
  });

  it('STOPPED: the order a float sum combines values in, steered by a join on one person\'s amounts (fsum, sumkahan, avg), is refused by the pinning rule (amount chooses the join\'s rows), the same in both worlds', async () => {
    const { yes, no } = await bothWorlds(async (x) => `SELECT p.district, fsum(p.amount) AS f, sumkahan(p.amount) AS k, avg(p.amount) AS a FROM range(2) AS f JOIN pay AS p ON f.range = CASE WHEN ${await person7('p.')} AND p.amount > ${x} THEN 0 ELSE 1 END WHERE p.district = '四区' GROUP BY p.district`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });

  it('STOPPED: caps after the checks: a row-level answer whose one-person row sorts first, capped at one row (`maxRows: 1`), shows 三区 and `truncated` in both worlds; LIMIT ... PERCENT is refused for its shape', async () => {
    const capped = async (x: number) => {
      // Person 7 marked by a join (`f.range` = 1 on their rows): naming `mobile` would make the
      // row-level answer show an identifier.
      const sql = `SELECT DISTINCT CASE WHEN f.range = 1 AND p.amount > ${x} THEN '0' ELSE p.district END AS district FROM pay AS p JOIN range(2) AS f ON f.range = CASE WHEN ${await person7('p.')} THEN 1 ELSE 0 END WHERE p.district IN ('三区', '四区')`;
      const response = await app().call(operator(), 'POST', '/v1/query', { sql, env: 'prod', maxRows: 1 });
      return { status: response.statusCode, body: { ...response.json(), ms: 0, requestId: undefined } };
    };
    const yes = await capped(145);
    const no = await capped(149);
    expect(yes.status).toBe(200);
    expect(yes.body.truncated).toBe(true);
    expect(yes).toEqual(no);
    const percent = await bothWorlds(async (x) => `SELECT district, count(*) AS n FROM pay WHERE ${await fourWithSeven(x)} OR district = '三区' GROUP BY district ORDER BY district LIMIT 50 PERCENT`);
    expect(percent.yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(percent.yes).toEqual(percent.no);
  });
});

describe('holes: a refusal the rows decide that is not counted', () => {
  // Last in the file: the "yes" world stops the tenant's engine process.
  it('SLOWED, not closed (a memory kill in prod counts towards the probing budget, as a timeout does: PROD_MEMORY, test/unit/tenants/probe-limiter.test.ts): a memory blow-up on one person\'s rows: `len(range(CASE WHEN <person 7 paid above x> THEN 400000000 ELSE 1 END)) > 0` in WHERE stops the engine (SBX_ERR_ENGINE_MEMORY) exactly when they did, and that refusal is not counted as probing', async () => {
    // A timeout in prod counts (PROD_TIMEOUT) because its time can depend on one person's rows; a
    // memory kill can too, yet SBX_ERR_ENGINE_MEMORY is not in PROBING_CODES
    // (tenants/probe-limiter.ts) and `query-service.ts` settles the admission with the code as is.
    // A 3.2 GB list on person 7's rows above x passes the process's 2 GiB bound (DuckDB's
    // memory_limit does not cover it; `repeat` is refused, `lpad` to 2.1e9 ran past the time limit
    // instead, which counts); otherwise the answer is 四区's count. What slows it: the
    // engine's restart backoff after the second failure in five minutes (up to 30 s per kill), and
    // each kill is an `engine.stopped` audit entry; the "no" answers cost nothing.
    // Seen: yes 422 SBX_ERR_ENGINE_MEMORY; no 200 [['四区', '2000']].
    const sql = async (x: number) => `SELECT district, count(*) AS n FROM pay WHERE district = '四区' AND len(range(CASE WHEN ${await person7()} AND amount > ${x} THEN 400000000 ELSE 1 END)) > 0 GROUP BY district`;
    const no = await seen(await sql(149));
    const yes = await seen(await sql(145));
    expect(no.status).toBe(200);
    // The two still differ, one bit per engine kill: each counts towards the probing budget (a
    // burst of 20, then 10 a minute), slowed further by the engine's restart backoff, and audited.
    // Under heavy load the yes run may time out instead, which counts the same way.
    expect(['SBX_ERR_ENGINE_MEMORY', 'SBX_ERR_QUERY_TIMEOUT']).toContain(yes.body.code);
  }, 120_000);
});
