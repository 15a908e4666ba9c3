/**
 * Red-team attacks, fourteenth pass (a) (invariant 8 "usable but invisible"), from outside (HTTP
 * only, as operators of org `p14a`): learn whether one known person matches a condition, or one
 * person's values, from ONE prod answer, with no refusal counted towards the probing budget. This
 * pass aims at what the earlier passes did not look at: aggregates whose value depends on the ORDER
 * in which they read their rows (an aggregate's own ORDER BY), spreads beside the contribution
 * rules, LIMIT and OFFSET of an answer without ORDER BY, and a few key types. Each attack asks the
 * same question twice (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and the
 * SAFE expectation is that the two look the same. `HOLE:` fails (the comment says what each world
 * showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts), as in red-team-11.test.ts: person 7 (四区)
 * pays 140..149 (rows 140..149) then 100..109; person 1 (二区) pays 10,000,000 twenty times; `amount`
 * is DECIMAL(21,1). `mobile` (masked) is an identifier: an aggregate naming it anywhere, its own
 * ORDER BY included, is refused, so person 7 is marked by a join instead (`flag`: each row of `pay`
 * meets exactly one row of range(2), 1 for person 7's rows, 0 for everyone else's).
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { seen, bothWorlds } = payRedTeam('p14a');

const person7 = (table = '') => knownAs(7, table);

/** `pay AS p` with `f.range` = 1 on person 7's rows and 0 on everyone else's: a join along `pay`, no row repeated. */
const flagged = async () => `pay AS p JOIN range(2) AS f ON f.range = CASE WHEN ${await person7('p.')} THEN 1 ELSE 0 END`;

describe('holes: an aggregate\'s own ORDER BY decides how a floating-point spread rounds', () => {
  it('was a hole (an ORDER BY inside an aggregate over personal data is uncheckable): var_pop(amount ORDER BY amount) beside var_pop(amount ORDER BY <person 7 paid above x> first, then amount): the same rows in both cells and both worlds, equal to the last bit unless person 7 paid above x', async () => {
    // DuckDB honours an aggregate's ORDER BY for var_pop/stddev (Welford's algorithm in DOUBLE:
    // the rounding depends on the order the values come in). Both cells read every row of 四区 in
    // both worlds (about 100 people, nothing withheld); the second moves person 7's payments above
    // x to the front. When there are none, both orders give the same sequence of values, so the
    // same bits; when there are, the bits differ. The condition on `amount` sits in the aggregate's
    // ORDER BY, which the pinning rule (WHERE, FROM, GROUP BY, FILTER) does not read; the companion
    // strips the ORDER BY, so both cells are one measure to the row-combination rules. One answer,
    // no pair, nothing counted.
    // Seen: yes: a 208.24999999999815, b 208.25000000000145; no: a = b = 208.24999999999815.
    const sql = async (x: number) => `SELECT p.district, var_pop(p.amount ORDER BY p.amount) AS a, var_pop(p.amount ORDER BY CASE WHEN f.range = 1 AND p.amount > ${x} THEN 0 ELSE 1 END, p.amount) AS b FROM ${await flagged()} WHERE p.district = '四区' GROUP BY p.district`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES: 100 cells var_pop(amount ORDER BY <person 7 paid v> first (or last), then amount), one pair per amount v, list every amount person 7 paid in one answer', async () => {
    // As above, one question per cell: a cell differs from the plain ordered one exactly when
    // person 7 has a payment of v (moved to the front, or to the back: moving the smallest value to
    // the front, or the largest to the back, changes nothing, and one order can round alike by
    // chance). All 101 cells are one measure to the checks (same argument, no FILTER), so none is
    // withheld. Without `amount > x` the answer lists person 7's 20 payments exactly: 100..109 and
    // 140..149 (checked when written); with it, the payments above x.
    // Seen: amounts whose cells differ: yes [146, 147, 148, 149]; no [].
    const amounts = Array.from({ length: 50 }, (_, i) => 100 + i);
    const paid = async (x: number) => {
      const cells = amounts.flatMap((v) => [0, 1].map((last) => `var_pop(p.amount ORDER BY CASE WHEN f.range = 1 AND p.amount > ${x} AND p.amount = ${v} THEN ${last} ELSE ${1 - last} END, p.amount) AS v${v}_${last}`));
      const answer = await seen(`SELECT var_pop(p.amount ORDER BY p.amount) AS base, ${cells.join(', ')} FROM ${await flagged()} WHERE p.district = '四区'`);
      if (answer.status !== 200) return answer;
      const [base, ...row] = answer.body.rows[0] as unknown[];
      return { disclosure: answer.body.disclosure, amounts: amounts.filter((_, i) => row[2 * i] !== base || row[2 * i + 1] !== base) };
    };
    const yes = await paid(145);
    const no = await paid(149);
    expect(yes).toMatchObject({ status: 422, body: { code: 'DSC_ERR_UNCHECKABLE' } });
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('holes: other rules', () => {
  it('was a hole (spreads are withheld in prod, as one person\'s deviation can make them up): a spread is never judged for dominance: beside sum(amount), withheld in 二区 because person 1 makes up 99% of it, var_samp(amount) shows about 1e12, which only a payment near 10,000,000 gives', async () => {
    // judgeCell applies dominance and p-ratio to summable cells only (sum, avg); a spread has no
    // contributions, so only the threshold applies. Over 二区 (about 100 people, person 1 paying
    // 10,000,000 twenty times) var_pop is (k/n)(1 - k/n)(X - mean)^2 plus the rest's spread: one
    // answer says that one payer of 二区 pays about sqrt(var / 0.0099), ~10,000,000, the value the
    // dominance rule withholds from the sum and the mean. (With count(*) beside it the spread is
    // withheld by the row rules; alone, or beside the sum, it is shown.)
    // Seen: rows [['三区', null, 208.354...], ['二区', null, 990470594658.32]] (sums withheld: dominance,
    // and 三区's by secondary suppression); stddev_pop alone over 二区: 994975.05.
    const answer = await seen(`SELECT district, sum(amount) AS total, var_samp(amount) AS spread FROM pay WHERE district IN ('二区', '三区') GROUP BY district`);
    expect(answer.status).toBe(200);
    const two = (answer.body.rows as unknown[][]).find((row) => row[0] === '二区')!;
    expect(two[1]).toBeNull();
    // SAFE: a spread dominated by one or two people is withheld like their sum.
    expect(two[2]).toBeNull();
  });

  it('was a hole (every prod answer is read whole and limited after the checks): an answer without ORDER BY takes its LIMIT and OFFSET before the checks: `GROUP BY CASE WHEN <person 7 paid above x> THEN \'0\' ELSE district END LIMIT 1 OFFSET 1` skips person 7\'s withheld group, so another district is shown, and nothing is said withheld', async () => {
    // The tenth pass made ordered answers take LIMIT and OFFSET after the checks (a withheld row
    // never takes a place); an unordered one is now shown in the order of its keys too, but its
    // LIMIT stays in the SQL (`buildCompanionPlan`: limits are lifted only when the query has its own
    // ORDER BY; `window` is undefined). The one-person group '0' sorts first, takes the place OFFSET
    // skips, and is never seen by the checks: withheldRows is 0 in both worlds, and the differencing
    // history never hears of a withheld group. (With ORDER BY d the same query shows 二区 against
    // 三区, saying 2 rows withheld: the documented "something was withheld" limit.)
    // Seen: yes rows [['一区', '1980']], no rows [['三区', '2000']], both withheldRows 0, no reasons.
    const sql = async (x: number) => `SELECT CASE WHEN ${await person7()} AND amount > ${x} THEN '0' ELSE district END AS d, count(*) AS n FROM pay WHERE district <> '孤岛区' GROUP BY 1 LIMIT 1 OFFSET 1`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes.status).toBe(200);
    // SAFE: person 7's group is no longer hidden by the OFFSET: that it was withheld is said (2 rows:
    // it, and 一区 by secondary suppression, so OFFSET 1 then shows 二区 against 三区), and the history
    // hears of it. What differs is the one bit of the documented limit of a group that one person's
    // value defines (docs/sandbox.md, known limits), not a hidden one.
    expect([yes.body.disclosure.withheldRows, no.body.disclosure.withheldRows]).toEqual([2, 0]);
  });
});

describe('stopped by the fourteenth pass (a)', () => {
  it('STOPPED: the same aggregate ORDER BY over exact aggregates (sum and avg of a DECIMAL, fsum of whole amounts) changed nothing (their arithmetic does not round), and is uncheckable since', async () => {
    const { yes, no } = await bothWorlds(async (x) => {
      const first = `ORDER BY CASE WHEN f.range = 1 AND p.amount > ${x} THEN 0 ELSE 1 END, p.amount`;
      return `SELECT p.district, sum(p.amount ${first}) AS s, avg(p.amount ${first}) AS a, fsum(p.amount ${first}) AS f FROM ${await flagged()} WHERE p.district = '四区' GROUP BY p.district`;
    });
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });

  it('STOPPED: rowid (quoted "ROWID", p.rowid) and COLLATE inside an aggregate\'s ORDER BY are uncheckable by their rules, the same in both worlds', async () => {
    for (const order of ['"ROWID"', 'p.rowid', 'p.district COLLATE NOCASE']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT p.district, var_pop(p.amount ORDER BY CASE WHEN f.range = 1 AND p.amount > ${x} THEN 0 ELSE 1 END, ${order}) AS v FROM ${await flagged()} WHERE p.district = '四区' GROUP BY p.district`);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: approximate and order-dependent aggregates (approx_quantile, reservoir_quantile, kurtosis, skewness, product, bool_and, bit_xor, histogram, mode, any_value, string_agg) are refused for their shape, the same in both worlds', async () => {
    for (const call of ['approx_quantile(amount, 0.5)', 'reservoir_quantile(amount, 0.5)', 'kurtosis(amount)', 'skewness(amount)', 'product(amount)', 'bool_and(amount > 145)', 'bit_xor(CAST(amount AS INTEGER))', 'histogram(amount)', 'mode(amount)', 'any_value(amount)', 'string_agg(CAST(amount AS VARCHAR), \',\')']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT district, ${call} AS v FROM pay WHERE ${await fourWithSeven(x)} GROUP BY district`);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: keys of allowed types spelled apart but stored alike (a UUID in upper and lower case, one instant as TIMESTAMP_S and TIMESTAMP_NS, DATE infinity) print alike whichever row DuckDB met first', async () => {
    for (const [mine, theirs] of [
      [`'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::UUID`, `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::UUID`],
      [`'2024-01-01 00:00:00'::TIMESTAMP_S`, `'2024-01-01 00:00:00'::TIMESTAMP_NS`],
      [`'infinity'::DATE`, `CAST('infinity' AS DATE)`],
    ]) {
      const { yes, no } = await bothWorlds(async (x) => {
        const k = `CASE WHEN ${await person7()} THEN ${mine} ELSE ${theirs} END`;
        return `SELECT CAST(${k} AS VARCHAR) AS s FROM pay WHERE ${await fourWithSeven(x)} GROUP BY ${k}`;
      });
      expect(yes.status).toBe(200);
      expect(yes).toEqual(no);
    }
  });
});
