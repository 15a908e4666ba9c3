/**
 * Red-team attacks, ninth pass b (issue #11 item 3, invariant 8 "usable but invisible"), from
 * outside (HTTP only, as an operator of org `p9b`): learn whether one known person matches a
 * condition, or one person's value, from ONE prod aggregate answer, with no `query.differencing`
 * entry and no refusal counted towards the probing budget. Each attack asks the same question twice
 * (person 7 paid above 145: yes, 4 payments 146..149 totalling 590; above 149: no), and the SAFE
 * expectation is that the two look the same. `was a hole` failed until the fix it names (the
 * comment says what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区) and pays 100 + (i % 50) for i = 20p..20p+19, so each
 * amount is paid at most once by a person, by about 40 people of a district; person 7 (四区) pays
 * 100..109 and 140..149, person 14 (三区) 130..149.
 */
import { describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownPerson, paidAbove as paidAboveOf } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, operator, bothWorlds } = payRedTeam('p9b');

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

const ask = async (sql: string) => expectStatus(await app().call(operator(), 'POST', '/v1/query', { sql, env: 'prod' }), 200).json();

describe('holes found by the ninth pass b', () => {
  it('was a hole (a mean of a column that also chooses the rows is refused): values pinned by the WHERE clause: avg(amount) over "paid 100, or person 7 above x" is exactly 100 unless person 7 matched', async () => {
    // No join, no FILTER, one measure. The WHERE keeps the payments of exactly 100 (40 people of
    // 四区, one payment each) and person 7's payments above x. The cell describes 40 or 41 people, no
    // one dominates (590 of 4,590), and there is no second cell to compare: shown. But the query
    // itself fixes everyone else's value, so avg - 100 (times the count) is person 7's: no outside
    // knowledge and no earlier answer are needed, so the history has nothing to pair it with.
    // Seen: n 44, avg 104.318... (yes: 44 x 104.318 - 40 x 100 = 590, their 4 payments above 145)
    // against n 40, avg 100 (no). stddev_pop(amount) shows it too: 13.66 against 0.
    const sql = async (x: number) => `SELECT count(*) AS n, avg(amount) AS a FROM pay WHERE district = '四区' AND (amount = 100 OR (${await paidAbove(x)}))`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above, the FILTER chooses rows by the column averaged): values pinned by a FILTER that names no identifier: avg(amount) FILTER (WHERE amount = 100 OR <born in person 7\'s year and paid above x>) beside count(*)', async () => {
    // The same pinning inside one cell: a FILTER on an identifier is refused for a mean ("over an
    // identifier column"), but person 7 is the only one of 四区 born in their year (as in
    // red-team-5b). The FILTER leaves out about 60 people, not 1 to 9, and the two cells are
    // different quantities (rows against sums) for every person: neither the values nor the
    // definition rule withholds. Seen: [2000, 104.318...] (yes) against [2000, 100] (no).
    const year = (await knownPerson(7)).year;
    const sql = async (x: number) => `SELECT count(*) AS n, avg(amount) FILTER (WHERE amount = 100 OR (id_card_birth_year = ${year} AND amount > ${x})) AS a FROM pay WHERE district = '四区'`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above: any column of that name, whatever its table): a personal table\'s column chosen row by row through a self-join: avg(q.amount) where q is each payment\'s own row, but for person 7\'s payments above x the same person\'s row 40 lower', async () => {
    // The seventh pass made sums and means take a personal table's column (a joined range's values
    // could be chosen row by row); a second copy of the personal table is a personal table, and the
    // join picks which of its rows each payment reads. Every p row joins exactly one q row, so p is
    // not repeated and the repeated-rows rule passes (q's row 106 is read twice, which is a join
    // "along" p). Both companions count the same 40 people (WHERE p.amount = 146: one payment each)
    // in both worlds, and one cell has nothing to be compared with. Seen: 145 (yes: person 7's 146
    // read as 106) against 146 (no). Without the pin (all of 四区): 124.42 against 124.5.
    const sql = async (x: number) => `SELECT count(*) AS n, avg(q.amount) AS a FROM pay AS p JOIN pay AS q ON q.id_card = p.id_card AND q.amount = CASE WHEN ${await paidAbove(x, 'p.')} THEN p.amount - 40 ELSE p.amount END WHERE p.district = '四区' AND p.amount = 146`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (a personal table on the side of a join that can be missing is refused): a row owned by nobody: count(*) over range(1, 3) LEFT JOIN pay counts the null-extended row that exists only when person 7 did not pay above x', async () => {
    // range 1 joins every payment of 四区 but person 7's above x, range 2 those; when person 7 paid
    // nothing above x, range 2 matches nothing and LEFT JOIN keeps it as one row of NULLs. count(*)
    // counts it; the companions see rows per person only (its entity is NULL), and the cell's people
    // and their rows are the same in both worlds (every person of 四区, 20 rows each). No personal
    // row repeats. Seen: 2000 (yes) against 2001 (no).
    const sql = async (x: number) => `SELECT count(*) AS n FROM range(1, 3) AS r LEFT JOIN pay AS p ON p.district = '四区' AND r.range = CASE WHEN ${await paidAbove(x, 'p.')} THEN 2 ELSE 1 END`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above: the second answer is refused, so there is nothing to pair): the null-extended row against the plain count of the district: two answers one row apart, and no pair on record', async () => {
    // Person 14 (三区) pays 130..149; here the no world (nothing above 149). The plain count of
    // 三区 is 2000; the same count with the null-extended row is 2001 exactly when person 14 paid
    // nothing above x. Both cells count the same 100 people with the same 20 rows each, so the
    // history (entities and each one's rows and sum) finds them 0 apart. Seen: 2000 then 2001, and
    // no `query.differencing` entry naming either.
    const person = await knownPerson(14);
    const plain = "SELECT count(*) AS payments FROM pay WHERE district = '三区'";
    const withRow = `SELECT count(*) AS payments FROM range(1, 3) AS r LEFT JOIN pay AS p ON p.district = '三区' AND r.range = CASE WHEN p.mobile = '${person.mobile}' AND p.id_card_birth_year = ${person.year} AND p.amount > 149 THEN 2 ELSE 1 END`;
    expect((await ask(plain)).rows).toEqual([['2000']]);
    // SAFE: the second is refused for its shape (pay on the side of a LEFT JOIN that can be missing),
    // whoever paid what: there is no second answer to pair.
    const refused = await app().call(operator(), 'POST', '/v1/query', { sql: withRow, env: 'prod' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().code).toBe('DSC_ERR_UNCHECKABLE');
  });
});

describe('attacks stopped in the ninth pass b', () => {
  it('STOPPED: pinning through a FILTER that names the mobile (an identifier) is refused for a mean, whoever matches', async () => {
    const sql = async (x: number) => `SELECT count(*) AS n, avg(amount) FILTER (WHERE amount = 100 OR (${await paidAbove(x)})) AS a FROM pay WHERE district = '四区'`;
    const { yes, no } = await bothWorlds(sql);
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });
});
