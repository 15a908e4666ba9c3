/**
 * Red-team attacks, eighth pass (issue #11 item 3, invariant 8 "usable but invisible"), from
 * outside (HTTP only, as an operator of org `p8`): learn whether one known person matches a
 * condition, or one person's value, from ONE prod answer, with no `query.differencing` entry and no
 * refusal counted towards the probing budget. Each attack asks the same question twice (person 7
 * paid above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is that the
 * two look the same. `was a hole` failed until the fix it names; `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区); person 7 (四区) pays 100..109 and 140..149.
 */
import { describe, expect, it } from 'vitest';
import { paidAbove as paidAboveOf } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { seen, bothWorlds } = payRedTeam('p8');

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

describe('holes found by the eighth pass', () => {
  it('was a hole (a macro calling an aggregate, also through another macro, is an aggregate): aggregate macros were not aggregates to the shape: json_group_object over person 7\'s rows, per district, lists their payments above x themselves', async () => {
    // DuckDB's built-in macros `json_group_object`, `json_group_array`, `geomean`/`geometric_mean`,
    // `weighted_avg`/`wavg` expand to aggregates (string_agg, avg, sum), but duckdb_functions()
    // lists them as `macro`, so `isAggregate` (answer-shape.ts, via tenant-engine.ts
    // aggregateFunctions) does not see them: in a grouped answer (or beside a real count) the
    // column is a plain item like a key, no cell rule judges it, and it is shown as DuckDB computed
    // it; the companions run it too (per entity), so nothing fails. All are in ALLOWED_FUNCTIONS.
    // Seen: {"-":1, ..., "146.0":1, "147.0":1, "148.0":1, "149.0":1} (yes) against {"-":1, ...} (no).
    const sql = async (x: number) => `SELECT district, count(*) AS n, CAST(json_group_object(CASE WHEN ${await paidAbove(x)} THEN CAST(amount AS VARCHAR) ELSE '-' END, 1) AS VARCHAR) AS v FROM pay WHERE district = '四区' GROUP BY district`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same (refused: an aggregate that is not count, sum, avg or a spread).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above): geomean of a steered factor, exp(avg(ln(x))): e^(k / 2000) gives person 7\'s payments above x', async () => {
    // Seen: 1.002 (yes, k = 4) against 1 (no). No join, no repeated rows, one GROUP BY.
    const sql = async (x: number) => `SELECT district, geomean(CASE WHEN ${await paidAbove(x)} THEN exp(1) ELSE 1 END) AS g FROM pay WHERE district = '四区' GROUP BY district`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): weighted_avg / wavg of a steered value beside a real count (an ungrouped aggregate answer)', async () => {
    // count(*) makes the answer an aggregate with no keys; the macro's column is shown unchecked.
    // Seen: 2.5 x 4 / 2000 (yes) against 0 (no).
    const sql = async (x: number) => `SELECT count(*) AS n, wavg(CASE WHEN ${await paidAbove(x)} THEN 2.5 ELSE 0 END, 1) AS w FROM pay WHERE district = '四区'`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): ORDER BY a macro aggregate ranks groups on a hidden value (ORDER BY an aggregate is refused only when it is seen as one)', async () => {
    // 三区 and 四区 tie at 1 unless person 7 paid above x; the second key breaks the tie by name.
    const sql = async (x: number) => `SELECT district, count(*) AS n FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY geomean(CASE WHEN ${await paidAbove(x)} THEN 3 ELSE 1 END) DESC, district`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same (order included).
    expect(yes).toEqual(no);
  });
});

describe('attacks stopped in the eighth pass', () => {
  it('STOPPED: names bound differently in the answer and the companions, and json_group_array, look the same whoever matches', async () => {
    const attempts: ((x: number) => Promise<string>)[] = [
      // A SELECT alias of an aggregate used by a later item (lateral alias): the companions drop the aggregate items, so the alias does not bind there (uncheckable).
      async (x) => `SELECT count(*) AS a, count(CASE WHEN ${await paidAbove(x)} THEN NULL ELSE 1 END) AS b, a - b AS d FROM pay WHERE district = '四区'`,
      // The table's rowid: the companions' subquery has no rowid (uncheckable either way).
      async (x) => `SELECT count(*) AS n FROM pay AS p WHERE p.rowid >= 0 OR (${await paidAbove(x, 'p.')})`,
      // The checks' entity column in upper case: an unknown name in the answer.
      async (x) => `SELECT count(*) AS n FROM pay WHERE "__E0" IS NOT NULL OR (${await paidAbove(x)})`,
      // json_group_array of a steered value: the companion does not run it (uncheckable either way).
      async (x) => `SELECT district, count(*) AS n, CAST(json_group_array(CASE WHEN ${await paidAbove(x)} THEN amount END) AS VARCHAR) AS v FROM pay WHERE district = '四区' GROUP BY district`,
      // GROUP BY ALL takes the macro's column for a key: the companion cannot group by it (uncheckable).
      async (x) => `SELECT district, count(*) AS n, geomean(CASE WHEN ${await paidAbove(x)} THEN exp(1) ELSE 1 END) AS g FROM pay WHERE district = '四区' GROUP BY ALL`,
    ];
    for (const sql of attempts) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes, await sql(145)).toEqual(no);
    }
  });
});
