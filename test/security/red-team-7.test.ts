/**
 * Red-team attacks, seventh pass (issue #11 item 3, invariant 8 "usable but invisible"), from
 * outside (HTTP only, as an operator of org `p7`): learn whether one known person matches a
 * condition, or one person's value, from ONE prod answer or ONE export, with no
 * `query.differencing` entry and no refusal counted towards the probing budget. Each attack asks
 * the same question twice (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and
 * the SAFE expectation is that the two look the same. `was a hole` failed until the fix it names;
 * `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区); person 7 (四区) pays 100..109 and 140..149.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownPerson, paidAbove as paidAboveOf, startPayApp } from '../helpers/pay-fixture.js';
import type { TestApp } from '../helpers/test-app.js';
import { operatorSight } from '../helpers/two-worlds.js';

let t: TestApp;
const { operator, seen, exportSeen } = operatorSight(() => t, 'p7');

beforeAll(async () => {
  t = await startPayApp('p7');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

/** Every payment joined to exactly one weight: 2 for person 7's payments above x, 1 for the others' (no repeated rows). */
const weighted = async (x: number) => `pay AS p JOIN range(1, 3) AS r ON r.range = CASE WHEN ${await paidAbove(x, 'p.')} THEN 2 ELSE 1 END`;

describe('holes found by the seventh pass', () => {
  it('was a hole (sums, means and spreads aggregate a personal table\'s column only): one cell, avg of a weight a join steered: avg(r.range) is 1 exactly when person 7 did not pay above x', async () => {
    // avg(x) and sum(x) measure the same per person (rows, contribution), so an answer with one avg
    // has one measure: no pair for the values rule, no atoms. But an average is a ratio of two
    // per-person quantities (sum over rows), and the join steers them apart for person 7 alone.
    // Dominance does not fire (each of the 100 people of 四区 adds 20 or 24). Seen: 1.002 (yes,
    // 2004 / 2000) against 1 (no): (avg - 1) x rows is person 7's payments above x.
    const sql = async (x: number) => `SELECT p.district, avg(r.range) AS a FROM ${await weighted(x)} WHERE p.district = '四区' GROUP BY p.district`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above): one cell, one person\'s own value: avg(r.range) over weights 1000 + amount for person 7, 1000 for everyone else, gives person 7\'s total', async () => {
    // Person 7's 20 payments total 2490 (100..109 and 140..149). Each payment joins exactly one
    // weight; person 7 adds up to 22490 to the sum, everyone else 20000 (no dominance). With the
    // weight "1000 + amount" on all of person 7's payments, avg = 1000 + 2490 / 2000: their total,
    // to the unit. Here only above x: seen 1000.295 (yes: 590 = 146 + 147 + 148 + 149) against 1000.
    const person = await knownPerson(7);
    const sql = (x: number) => `SELECT avg(r.range) AS a FROM pay AS p JOIN range(1000, 1200) AS r ON r.range = CASE WHEN p.mobile = '${person.mobile}' AND p.id_card_birth_year = ${person.year} AND p.amount > ${x} THEN 1000 + p.amount ELSE 1000 END WHERE p.district = '四区'`;
    const yes = await seen(sql(145));
    const no = await seen(sql(149));
    // SAFE: the two look the same (no value from which 590 can be computed).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above): one cell, a spread of a steered weight: stddev_pop(r.range) is 0 exactly when person 7 did not pay above x', async () => {
    // A spread is one measure (compared with others on rows only); alone in the answer nothing
    // compares it. Seen: 0.0446 (yes) against 0 (no).
    const sql = async (x: number) => `SELECT stddev_pop(r.range) AS s FROM ${await weighted(x)} WHERE p.district = '四区'`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above): one cell, var_samp(r.range) (variance x (n - 1) = 4 - 16/2000 rows of weight 2): 0 exactly when person 7 did not', async () => {
    const sql = async (x: number) => `SELECT p.district, var_samp(r.range) AS v FROM ${await weighted(x)} WHERE p.district IN ('一区', '四区') GROUP BY p.district ORDER BY p.district`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above, and a person in neither cell of a pair no longer counts as differing): the values rule counted "no rows in the FILTER" as differing (a count\'s 0 IS DISTINCT FROM a sum\'s NULL): the sixth pass\'s count(*) beside sum(r.range), both FILTERed to payments of 125 or more', async () => {
    // The pair statistic is `__r0 IS DISTINCT FROM __c1`: for a person with no payment of 125 or
    // more the count adds 0 and the sum NULL, so they "differ". In 四区, the 20 people whose payments
    // are 100..119 (p = 15, 35, ...) differ so, which lifts the pair to >= 10 and both cells show.
    // Seen: n 1000, s 1004 (yes) against 1000, 1000 (no): s - n is person 7's payments above x.
    const sql = async (x: number) => `SELECT count(*) FILTER (WHERE p.amount >= 125) AS n, sum(r.range) FILTER (WHERE p.amount >= 125) AS s FROM ${await weighted(x)} WHERE p.district = '四区'`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });
});

describe('attacks stopped in the seventh pass', () => {
  it('STOPPED: sum(r.range) beside count(*) in other classes (FILTERs over disjoint payments) and the presence of a total', async () => {
    const attempts: ((x: number) => Promise<string>)[] = [
      // A total beside two parts, one of them a steered sum: the presence rule withholds the part.
      async (x) => `SELECT count(*) AS n, count(*) FILTER (WHERE p.amount < 125) AS lo, sum(r.range) FILTER (WHERE p.amount >= 125) AS hi FROM ${await weighted(x)} WHERE p.district = '四区'`,
    ];
    for (const sql of attempts) {
      const yes = await seen(await sql(145));
      const no = await seen(await sql(149));
      expect(yes, await sql(145)).toEqual(no);
    }
  });

  it('STOPPED (operator side): the avg(r.range) attack through an export shows the same outcome and checks', async () => {
    const sql = async (x: number) => `SELECT avg(r.range) AS a FROM ${await weighted(x)} WHERE p.district = '四区'`;
    const yes = await exportSeen(await sql(145));
    const no = await exportSeen(await sql(149));
    expect(yes).toEqual(no);
  });
});

describe('holes found by reading the code after the seventh pass', () => {
  it('was a hole (cells are compared by the aggregates shown): a count sharing its measure with an earlier max escaped every row rule', async () => {
    // max(amount) and count(amount) measure the same per person; the measure was dropped as "one
    // person's value", and the count beside count(CASE WHEN <person 7> ...) was never compared.
    const sql = async (x: number) => `SELECT max(amount) AS mx, count(amount) AS a, count(CASE WHEN ${await paidAbove(x)} THEN NULL ELSE 1 END) AS b FROM pay WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    expect(yes).toEqual(await seen(await sql(149)));
    expect(yes.body.rows).toEqual([[null, '2000', null]]);
  });

  it('was a hole (a DISTINCT count must count a personal table\'s identifier column): count(DISTINCT v.id_card) of a joined range named like it', async () => {
    const sql = async (x: number) => `SELECT count(DISTINCT v.id_card) AS n FROM pay AS p JOIN range(2) AS v(id_card) ON v.id_card = CASE WHEN ${await paidAbove(x, 'p.')} THEN 1 ELSE 0 END WHERE p.district = '四区'`;
    const yes = await seen(await sql(145));
    expect(yes).toEqual(await seen(await sql(149)));
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (a qualifier is personal only as the name the table binds under): avg(pay.range) of a range aliased like the personal table', async () => {
    const sql = async (x: number) => `SELECT avg(pay.range) AS a FROM pay AS p JOIN range(1, 3) AS pay ON pay.range = CASE WHEN ${await paidAbove(x, 'p.')} THEN 2 ELSE 1 END WHERE p.district = '四区'`;
    const yes = await seen(await sql(145));
    expect(yes).toEqual(await seen(await sql(149)));
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('STOPPED, now refused outright (positional references are uncheckable): #n would count the companions\' added columns too (no leak was shown with #4 to #8 before the rule; the reviewer\'s reading)', async () => {
    // Past pay's own columns, #n is r.range in the answer and the entity key in the companions
    // (whichever n that is: each is tried).
    for (let n = 4; n <= 8; n++) {
      const sql = async (x: number) => `SELECT count(*) AS n FROM pay AS p, range(1) AS r WHERE #${n}::VARCHAR <> '0' OR (${await paidAbove(x, 'p.')})`;
      const yes = await seen(await sql(145));
      expect(yes, `#${n}`).toEqual(await seen(await sql(149)));
      expect(yes.body.code, `#${n}`).toBe('DSC_ERR_UNCHECKABLE');
    }
  });

  it('was a bug (the atoms query keeps the query\'s SELECT aliases; it failed closed before): a query grouped by a SELECT alias answers, its dependent cell withheld', async () => {
    const body = expectStatus(await t.call(operator(), 'POST', '/v1/query', { sql: "SELECT district AS d, count(*) AS n, count(*) FILTER (WHERE amount < 125) AS lo, count(*) FILTER (WHERE amount >= 125) AS hi FROM pay WHERE district IN ('三区', '四区') GROUP BY d ORDER BY d", env: 'prod' }), 200).json();
    // n = lo + hi over the large atoms: the last, dependent cell is withheld; the rest shown.
    expect(body.rows).toEqual([['三区', '2000', '1000', null], ['四区', '2000', '1000', null]]);
  });
});
