/**
 * Red-team attacks, fifth pass b (issue #11 item 3, invariant 8 "usable but invisible"), against the
 * rules that decide which cells of one row are shown together (`row-combinations.ts`) and the check
 * of joins that repeat personal rows (`repeatsPersonalRows`), from outside: learn whether one known
 * person matches a condition from ONE prod answer or export, with no `query.differencing` entry.
 * Each attack asks the same question twice (person 7 paid above 145: yes; above 149: no), and the
 * SAFE expectation is that the two look the same. `was a hole` failed until the fix it names;
 * `STOPPED:` held from the start; `SLOWED, not closed:` asserts a known limit documented in
 * docs/sandbox.md (it fails once the limit is gone).
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

const { seen, exportSeen } = operatorSight(() => t, 'p5b');

beforeAll(async () => {
  t = await startPayApp('p5b');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

describe('holes found by the fifth pass b', () => {
  it('was a hole (spreads are compared within a row, on the rows each person adds): stddev_pop beside the same stddev_pop FILTERed to leave out person 7\'s payments above x', async () => {
    // Spreads (stddev, variance) are judged on their own, never compared person by person with the
    // row's other cells. Both cells describe the 100 people of 四区 and pass; they are equal exactly
    // when person 7 paid nothing above x. (A FILTER naming the mobile is refused for a spread, "over
    // an identifier column"; the birth year is not an identifier, and person 7 is the only one of
    // 四区 born that year.) Seen: 14.4309 and 14.4084 (yes) against 14.4309 twice (no).
    const year = (await knownPerson(7)).year;
    const sql = (x: number) => `SELECT stddev_pop(amount) AS a, stddev_pop(amount) FILTER (WHERE NOT (id_card_birth_year = ${year} AND amount > ${x})) AS b FROM pay WHERE district = '四区'`;
    const yes = await seen(sql(145));
    const no = await seen(sql(149));
    // Since the ninth pass a spread FILTERed by its own column is refused outright (the selection
    // would pin the values), before the within-row comparison that first closed it.
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same (leaks: a != b in the yes world, a == b in the no world).
    expect(yes).toEqual(no);
  });

  it('was a hole (a whole row, * or COLUMNS(...) outside a SELECT item of its own is uncheckable): a whole row seen as text showed the checks\' own columns: WHERE <person 7 paid above x> OR pay::VARCHAR LIKE \'%__row0%\' gives their count and total', async () => {
    // The companions replace `pay` by a subquery that adds `__e0` and `__row0` to each row, so a
    // whole-row reference (`pay::VARCHAR`, `to_json(pay)`) reads differently there: the condition is
    // true for every row in the checks (100 people of 四区: shown) and only for person 7's rows
    // above x in the answer. Seen: [['4', '590.0']] (yes) against [['0', null]] (no): their exact
    // number of payments above 145 and their total, from one answer.
    const sql = async (x: number) => `SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE district = '四区' AND ((${await paidAbove(x)}) OR pay::VARCHAR LIKE '%__row0%')`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same (refused, whoever matches).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // The same with json_exists(to_json(pay), '$.__row0'), grouped (the 四区 row showed 4 alone), in a
    // FILTER, a join condition or with COLUMNS(...).
    for (const where of [`(${await paidAbove(145)}) OR json_exists(to_json(pay), '$.__row0')`, `(${await paidAbove(145)}) OR greatest(COLUMNS('^(amount|__row0)$')) > -1`]) {
      const grouped = await seen(`SELECT district, count(*) AS n FROM pay WHERE ${where} GROUP BY district ORDER BY district`);
      expect(grouped.body.code, where).toBe('DSC_ERR_UNCHECKABLE');
    }
    const filtered = await seen(`SELECT count(*) FILTER (WHERE pay::VARCHAR LIKE '%__row0%') AS n FROM pay WHERE district = '四区'`);
    expect(filtered.body.code).toBe('DSC_ERR_UNCHECKABLE');
    const joined = await seen(`SELECT count(*) AS n FROM pay JOIN range(1) AS r ON pay::VARCHAR LIKE '%__row0%' WHERE district = '四区'`);
    expect(joined.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (DISTINCT aggregates count only the people\'s own identifiers): a DISTINCT count is not the sum of what each person adds:: count(DISTINCT CASE WHEN <person 7 paid above x> ...) is 2 or 1', async () => {
    // The companion measures each person's distinct values (1 for everyone, 2 for person 7 when
    // they match): 100 people in the cell either way, so the cell is shown. Its value is 2 when
    // person 7 paid above x, else 1 (no outside knowledge needed).
    const sql = async (x: number) => `SELECT count(DISTINCT CASE WHEN ${await paidAbove(x)} THEN 'yes' ELSE 'no' END) AS n FROM pay WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same (leaked: rows [['2']] against [['1']]; now refused either way).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above): approx_count_distinct(CASE WHEN <person 7 paid above x> ...) is 2 or 1', async () => {
    const sql = async (x: number) => `SELECT approx_count_distinct(CASE WHEN ${await paidAbove(x)} THEN 'yes' ELSE 'no' END) AS n FROM pay WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same (refused either way).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole (as above, for sums): sum(DISTINCT amount) over "paid 100, or person 7 above x" is 100 or 690', async () => {
    // The companion sums each person's amounts (not distinct across people): about 40 people of
    // 四区 paid 100 and person 7's 146..149 are 590 of them, no dominance. The cell is 100 (the one
    // distinct amount) when person 7 paid nothing above x, else 100 + 146 + 147 + 148 + 149.
    const sql = async (x: number) => `SELECT sum(DISTINCT amount) AS s FROM pay WHERE district = '四区' AND (amount = 100 OR (${await paidAbove(x)}))`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same (refused either way).
    expect(yes).toEqual(no);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('STOPPED: NATURAL JOIN (or USING) with a column named like the checks\' row number, to repeat person 7\'s rows in the answer only, is uncheckable either way', async () => {
    // The companions add `__e0` and `__row0` to `pay`; a NATURAL JOIN with a relation that has a
    // `__row0` column would join on it in the checks only. Every NATURAL or USING join over `pay`
    // fails to check (422 DSC_ERR_UNCHECKABLE, the same message), whoever matches.
    const person = await knownPerson(7);
    const sql = (x: number) => `SELECT count(*) AS n FROM pay NATURAL LEFT JOIN (SELECT '${person.mobile}' AS mobile, ${person.year} AS id_card_birth_year, a AS amount, -1 - c AS __row0 FROM range(${x + 1}, 160) AS s(a), range(1000) AS u(c)) AS v WHERE district = '四区'`;
    const yes = await seen(sql(145));
    expect(yes.status).toBe(422);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(yes).toEqual(await seen(sql(149)));
  });

  it('was a hole (an export\'s row count is for reviewers only, and the row cap\'s reason names no count): a row-level export of 四区 without person 7\'s payments above x has 1,996 or 2,000 rows', async () => {
    // A prod row-level answer runs DISTINCT for this reason; an export keeps its rows, and the
    // operator reads the row count in the row-cap check's reason and in GET /v1/exports/:id.
    const sql = async (x: number) => `SELECT district FROM pay WHERE district = '四区' AND NOT (${await paidAbove(x)})`;
    const yes = await exportSeen(await sql(145));
    const no = await exportSeen(await sql(149));
    // SAFE: the two look the same (leaked: rowCount 1996 against 2000, and the row-cap reason).
    expect(yes).toEqual(no);
    expect(yes.rowCount).toBeNull();
  });

  it('SLOWED, not closed: whether a join repeats personal rows can depend on one person (in answers and exports), and counts as probing', async () => {
    // `JOIN range(2) ON r.range = 0 OR <person 7 paid above x>` repeats person 7's rows above x:
    // refused (DSC_ERR_REPEATED_ROWS) when they did, answered when they did not; the multiplier rule
    // (every personal table repeated) the same; an export asks for review then. The refusal is the
    // answer, one bit per query; its own code counts towards the probing budget (like a runtime
    // error over personal data), so past the burst the oracle gets one try per refill, audited.
    const MIA = { role: 'operator', org: 'p5b', sub: 'mia' } as const;
    const ask = (sql: string) => t.call(MIA, 'POST', '/v1/query', { sql, env: 'prod' });
    const range = async (x: number) => `SELECT count(*) AS n FROM pay AS p JOIN range(2) AS r ON r.range = 0 OR (${await paidAbove(x, 'p.')}) WHERE p.district = '四区'`;
    const multiplier = async (x: number) => `SELECT count(*) AS n FROM pay AS p JOIN pay AS q ON (q.id_card = p.id_card AND q.amount = p.amount) OR (p.district = '一区' AND ${await paidAbove(x, 'q.')}) WHERE p.district IN ('一区', '四区')`;
    for (const sql of [range, multiplier]) {
      expect((await ask(await sql(145))).json().code).toBe('DSC_ERR_REPEATED_ROWS');
      expect((await ask(await sql(149))).statusCode).toBe(200);
    }
    const exported = async (x: number) => expectStatus(await t.call(MIA, 'POST', '/v1/exports', { source: { sql: (await range(x)).replace('count(*) AS n', 'p.district, count(*) AS n') + ' GROUP BY p.district' }, recipient: 'city-lab', purpose: 'red team 5b', format: 'csv' }), 201).json();
    expect((await exported(145)).checks.find((c: { name: string }) => c.name === 'person-level')).toMatchObject({ status: 'review', reason: expect.stringContaining('a join repeats rows') });
    expect((await exported(149)).outcome).not.toBe('review');
    const codes: string[] = [];
    for (let i = 0; i < 40 && !codes.includes('SBX_ERR_REJECTIONS_RATE_LIMITED'); i++) codes.push((await ask(await range(140 - i))).json().code);
    expect(codes).toContain('SBX_ERR_REJECTIONS_RATE_LIMITED');
  });
});
