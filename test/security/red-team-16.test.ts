/**
 * Red-team attacks, sixteenth pass (invariant 8 "usable but invisible"), from outside (HTTP only,
 * as operators of org `p16`): learn whether one known person matches a condition, or one person's
 * values, from ONE prod answer. This pass aims at pass 15a's fix: an answer ordered by an aggregate
 * column (by alias or position) is read in the order of its keys, checked, and then ordered by the
 * values shown (`placedByShownCells`, sandbox/disclosure/shown-order.ts); such an ORDER BY must be
 * its only item and name the column itself (`orderedByCell`, answer-shape.ts); and exports and prod
 * workspace tables over personal data refuse LIMIT and OFFSET (`limitsRows`). Each attack asks the
 * same question twice (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and the
 * SAFE expectation is that the two look the same. `HOLE:` fails (the comment says what each world
 * showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts), as in red-team-15a.test.ts: person 7
 * (四区) pays 140..149 then 100..109; 三区 and 四区 hold 100 people (2,000 payments) each.
 */
import { describe, expect, it } from 'vitest';
import { knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, seen, operator, bothWorlds } = payRedTeam('p16');

const person7 = (table = '') => knownAs(7, table);

/** The first column of each row of a 200 answer (its keys, in the order shown). */
const firstColumn = (answer: Awaited<ReturnType<typeof seen>>) => (answer.body.rows as unknown[][] | undefined)?.map((row) => row[0]);

describe('holes: an alias that names two output columns', () => {
  it('was a hole (two output columns of one name over personal data are uncheckable): a duplicate alias: `district AS c, count(*) FILTER (WHERE <person 7 paid above x>) AS c ... ORDER BY c DESC` is ordered by the withheld count: 四区 comes before 三区 exactly when person 7 paid above x', async () => {
    // `orderedByCell` (answer-shape.ts) maps each alias to its FIRST select item (`if (alias &&
    // !aliases.has(alias))`): `c` is the key `district` to it, no aggregate column, so the answer
    // gets no `cellOrder` and its ORDER BY stays in the SQL (`buildCompanionPlan` keeps it, the keys
    // after it). DuckDB's binder resolves `ORDER BY c` to the LAST select item aliased `c` (checked
    // outside: `district AS c, <count> AS c ORDER BY c` is ordered by the count; with a third item
    // `district AS c` after it, by the district), here the count the checks withhold. Both cells
    // are null (one person, or none), nothing is withheld as a row, nothing refused.
    // Seen: yes rows [['四区', null], ['三区', null]]; no rows [['三区', null], ['四区', null]] (a tie,
    // 0 and 0, broken by the keys); disclosure alike (2 cells, threshold).
    const sql = async (x: number) => `SELECT district AS c, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY c DESC`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES in one answer: 四区 grouped by amount, `amount AS c, count(*) AS n, count(*) FILTER (WHERE <person 7>) AS c ... ORDER BY c DESC` lists person 7\'s 20 amounts first, every `c` cell null', async () => {
    // Pass 15a's second attack, its ORDER BY spelled with the alias the key holds first. The rows
    // before the amounts start again from 100 are the amounts person 7 paid.
    // Seen: with no `amount > x`: first [100..109, 140..149] (all of person 7's payments); yes (x =
    // 145) first [146, 147, 148, 149]; no (x = 149) first [] (the 50 amounts in order).
    const paid = async (x: number | null) => {
      const answer = await seen(`SELECT amount AS c, count(*) AS n, count(*) FILTER (WHERE ${await person7()}${x === null ? '' : ` AND amount > ${x}`}) AS c FROM pay WHERE district = '四区' GROUP BY amount ORDER BY c DESC`);
      const amounts = (firstColumn(answer) ?? []).map(Number);
      const restart = amounts.findIndex((a, i) => i > 0 && a < amounts[i - 1]!);
      return { status: answer.status, disclosure: answer.body.disclosure, cells: (answer.body.rows as unknown[][] | undefined)?.map((row) => row[2]), first: restart < 0 ? [] : amounts.slice(0, restart) };
    };
    const all = await paid(null);
    expect(all.status).toBe(422);
    const yes = await paid(145);
    const no = await paid(149);
    // SAFE: every answer looks the same (all lists no amount first, and yes as no).
    expect({ all: all.first, yes }).toEqual({ all: [], yes: no });
  });

  it('was a hole (as above, names compared in any case): spelled in another case and cut by LIMIT 1: `district AS c, <count> AS "C" ... ORDER BY c DESC LIMIT 1` shows the one district whose hidden count is highest', async () => {
    // Aliases match case-insensitively in DuckDB and in `orderedByCell` (lowercased), so "C" is the
    // same duplicate; the LIMIT applies after the checks to the rows in DuckDB's order, which is the
    // hidden count's. One row, one bit: which district it is.
    // Seen: yes rows [['四区', null]]; no rows [['三区', null]]; disclosure alike (2 cells, threshold).
    const { yes, no } = await bothWorlds(async (x) => `SELECT district AS c, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS "C" FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY c DESC LIMIT 1`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('stopped by pass 15a\'s fix (sixteenth pass)', () => {
  it('STOPPED: ORDER BY ALL with the withheld count first is refused for its shape (ORDER BY ALL parses as a STAR, refused in ORDER BY), the same in both worlds', async () => {
    const { yes, no } = await bothWorlds(async (x) => `SELECT count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c, district FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY ALL DESC`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });

  it('STOPPED: a lateral alias (`<count> AS c, c AS d`, a select item naming an aggregate column\'s alias, no aggregate to the shape), shown or ordered by (`ORDER BY d DESC`), is refused while it runs; an expression of the alias in ORDER BY (`c > 0`) for its shape; the same in both worlds', async () => {
    for (const tail of ['', ' ORDER BY d DESC']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT district, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c, c AS d FROM pay WHERE district IN ('三区', '四区') GROUP BY district${tail}`);
      expect(yes.body.code, tail).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes, tail).toEqual(no);
    }
    const { yes, no } = await bothWorlds(async (x) => `SELECT district, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c, district || '' AS d FROM pay WHERE district IN ('三区', '四区') GROUP BY district ORDER BY c > 0 DESC`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });

  it('STOPPED: ORDER BY 3 DESC NULLS FIRST with LIMIT 2 OFFSET 1 over a withheld count beside shown ones: the null cells are placed by their keys, the window taken after, the same in both worlds', async () => {
    // Seen in both: [['二区', '2000', null], ['四区', '2000', null]].
    const { yes, no } = await bothWorlds(async (x) => `SELECT district, count(*) AS n, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS c FROM pay WHERE district IN ('二区', '三区', '四区') GROUP BY district ORDER BY 3 DESC NULLS FIRST LIMIT 2 OFFSET 1`);
    expect(yes.status).toBe(200);
    expect(yes).toEqual(no);
  });

  it('STOPPED: an export whose LIMIT hides in a subquery of its WHERE is refused (`limitsRows` walks the whole query), the same in both worlds', async () => {
    const exported = async (x: number) => {
      const sql = `SELECT district, count(*) AS n FROM pay WHERE district IN ('三区', '四区') AND NOT (${await person7()} AND amount > ${x}) AND amount > (SELECT 0 FROM range(3) LIMIT 1) GROUP BY district`;
      const response = await app().call(operator(), 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team p16', format: 'csv' });
      return { status: response.statusCode, body: { ...response.json(), requestId: undefined } };
    };
    const yes = await exported(145);
    const no = await exported(149);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(no);
  });
});
