/**
 * Red-team attacks, fifth pass (issue #11 item 3, invariant 8 "usable but invisible"), against the
 * rules that decide which cells of one row are shown together (`row-combinations.ts`) and the check
 * of joins that repeat personal rows. From outside: learn whether one known person matches a
 * condition, from one prod answer or export, with no `query.differencing` entry. A rule that shows
 * at "0 people apart" and withholds at "1 apart" is itself the answer, so each attack asks the same
 * question twice (the person matches, the person does not) and the two must look the same.
 * `was a hole` failed until the fix it names (the last one was a `LIMIT:` of this pass, closed
 * after the sixth by atoms of rows).
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区); person 7 (四区) pays 100..109 and 140..149.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { paidAbove as paidAboveOf, startPayApp } from '../helpers/pay-fixture.js';
import type { TestApp } from '../helpers/test-app.js';
import { operatorSight } from '../helpers/two-worlds.js';

let t: TestApp;

const { seen, exportSeen } = operatorSight(() => t, 'p5');

beforeAll(async () => {
  t = await startPayApp('p5');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

describe('holes found by the fifth pass', () => {
  it('was a hole (two cells counting the same people for everyone are not both shown): count(*) beside a count that drops person 7\'s rows through its argument', async () => {
    // No FILTER between the two cells, so agreeing they were shown, and one person apart withheld.
    const sql = async (x: number) => `SELECT count(*) AS n, count(CASE WHEN ${await paidAbove(x)} THEN NULL ELSE 1 END) AS m FROM pay WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    expect(yes.status).toBe(200);
    // SAFE: the two look the same.
    expect(yes).toEqual(await seen(await sql(149)));
    expect(yes.body.rows).toEqual([['2000', null]]);
  });

  it('was a hole (as above): the count that drops person 7\'s row comes from an outer join (count(k.range))', async () => {
    const sql = async (x: number) => `SELECT count(*) AS n, count(k.range) AS m FROM pay LEFT JOIN range(1) AS k ON NOT (${await paidAbove(x, 'pay.')}) WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    expect(yes).toEqual(await seen(await sql(149)));
    expect(yes.body.rows?.[0]?.[1] ?? null).toBeNull();
  });

  it('was a hole (cells dependent on cells before them are withheld, also at 0 apart): a total beside its parts, one part leaving person 7 out', async () => {
    // A = 一区 + 四区, B = 一区, C = 四区 without person 7 if they paid above x: A - B - C was 0
    // (shown) or one person (withheld).
    const sql = async (x: number) => `SELECT count(*) AS a, count(*) FILTER (WHERE district = '一区') AS b, count(*) FILTER (WHERE district = '四区' AND NOT (${await paidAbove(x)})) AS c FROM pay WHERE district IN ('一区', '四区')`;
    const yes = await seen(await sql(145));
    expect(yes).toEqual(await seen(await sql(149)));
    // The dependent cell (the last of the three) is the one withheld.
    expect(yes.body.rows).toEqual([['3980', '1980', null]]);
    // The same in exports: the operator reads the same checks either way.
    expect(await exportSeen(await sql(145))).toEqual(await exportSeen(await sql(149)));
  });

  it('was a hole (any combination of the row\'s cells, not only a disjoint union): A - B1 - B2 + 2C with overlapping cells gives person 7\'s rows above x', async () => {
    // A = 一区 + 四区, B1 = 一区 + 三区, B2 = 四区 without person 7's rows above x + 三区, C = 三区:
    // A - B1 - B2 + 2C is person 7's payments above x. B1 and B2 overlap (三区), so no disjoint
    // union of cells was a few people from A.
    const sql = async (x: number) => `SELECT count(*) FILTER (WHERE district IN ('一区', '四区')) AS a, count(*) FILTER (WHERE district IN ('一区', '三区')) AS b1, count(*) FILTER (WHERE district = '三区' OR (district = '四区' AND NOT (${await paidAbove(x)}))) AS b2, count(*) FILTER (WHERE district = '三区') AS c FROM pay WHERE district IN ('一区', '三区', '四区')`;
    const yes = await seen(await sql(145));
    const row = (yes.body.rows?.[0] ?? []) as (string | null)[];
    const leaked = row.length === 4 && row.every((v) => v !== null) ? Number(row[0]) - Number(row[1]) - Number(row[2]) + 2 * Number(row[3]) : null;
    expect(leaked, `A - B1 - B2 + 2C = ${leaked}: person 7's payments above 145`).toBeNull();
    // SAFE: the same cells withheld either way (B2 itself differs by person 7's rows: a cell of
    // 199 people, which only an earlier answer of 三区 + 四区 would pair with, on record).
    const no = await seen(await sql(149));
    const withheld = (rows: (string | null)[][]) => rows.map((r) => r.map((v) => v === null));
    expect(withheld(yes.body.rows)).toEqual(withheld(no.body.rows));
    expect(yes.body.disclosure).toEqual(no.body.disclosure);
  });

  it('was a hole (a join where every personal table\'s rows repeat is refused, DSC_ERR_REPEATED_ROWS): a personal table as the multiplier puts one district twice, once without person 7', async () => {
    // Every (p, q) combination is distinct, so no combination repeats: each 一区 payment joins
    // every 三区 payment (group 三区) and every 四区 payment but those of person 7 above x (group
    // 四区, 99 or 100 people of q). Row 三区 / 2000 - row 四区 / 2000 would be person 7's rows above x.
    const sql = async (x: number) => `SELECT q.district AS g, count(*) AS n FROM pay AS p JOIN pay AS q ON q.district = '三区' OR (q.district = '四区' AND NOT (${await paidAbove(x, 'q.')})) WHERE p.district = '一区' GROUP BY q.district ORDER BY g`;
    const yes = await seen(await sql(145));
    expect(yes.status).toBe(422);
    expect(yes.body.code).toBe('DSC_ERR_REPEATED_ROWS');
    expect(yes).toEqual(await seen(await sql(149)));
  });

  it('STOPPED: a join along a personal table (each payment with one row of another table, or its own row of a second copy) still answers', async () => {
    // The multiplier rule refuses joins where every personal table repeats; a join that repeats
    // only the other side (many payments, one row each) answers as before.
    const lookup = await seen("SELECT p.district, count(*) AS n FROM pay AS p JOIN range(1) AS r ON r.range = 0 WHERE p.district = '四区' GROUP BY p.district");
    expect(lookup.status, JSON.stringify(lookup.body)).toBe(200);
    // Each payment with its own row of a second copy of the table (a person's amounts are distinct in 四区).
    const self = await seen("SELECT p.district, count(*) AS n FROM pay AS p JOIN pay AS q ON q.id_card = p.id_card AND q.amount = p.amount WHERE p.district = '四区' GROUP BY p.district");
    expect(self.status, JSON.stringify(self.body)).toBe(200);
    expect(self.body.rows).toEqual([['四区', '2000']]);
    expect(lookup.body.rows).toEqual([['四区', '2000']]);
  });
});

describe('holes found by the fifth pass, closed after the sixth', () => {
  it('was a hole (atoms are of rows, not people): cells that count the same people weighing their rows differently: a - b - c gave person 7\'s payments above x', async () => {
    // a = all payments, b = payments under 125, c = payments of 125 or more, except person 7's above
    // x. Every person is in a (and most in b and c), so no atom of people is small; the pairs differ
    // for many people. Atoms of rows are: person 7's payments above x count in a alone.
    const sql = async (x: number) => `SELECT count(*) AS a, count(*) FILTER (WHERE amount < 125) AS b, count(*) FILTER (WHERE amount >= 125 AND NOT (${await paidAbove(x)})) AS c FROM pay WHERE district = '四区'`;
    const yes = await seen(await sql(145));
    const row = (yes.body.rows?.[0] ?? []) as (string | null)[];
    const leaked = row.length === 3 && row.every((v) => v !== null) ? Number(row[0]) - Number(row[1]) - Number(row[2]) : null;
    expect(leaked, `a - b - c = ${leaked}: person 7's payments above 145`).toBeNull();
    const no = await seen(await sql(149));
    const withheld = (rows: (string | null)[][]) => rows.map((r) => r.map((v) => v === null));
    expect(withheld(yes.body.rows)).toEqual(withheld(no.body.rows));
    expect(yes.body.disclosure).toEqual(no.body.disclosure);
  });
});
