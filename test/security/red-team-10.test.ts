/**
 * Red-team attacks, tenth pass (issue #11 item 3, invariant 8 "usable but invisible"), from outside
 * (HTTP only, as operators of org `p10`, and `p10h` for the differencing history): learn whether one
 * known person matches a condition, or one person's value, from prod answers, with no
 * `query.differencing` entry and no refusal counted towards the probing budget. This pass aims at
 * the rules of the ninth: the pinning rule (a sum, mean or spread whose column also chooses the
 * rows), rows of nobody, secondary suppression by output order, and the persisted history. Each
 * attack asks the same question twice (person 7 paid above 145: yes, 4 payments 146..149; above
 * 149: no), and the SAFE expectation is that the two look the same (or that the pair is on record).
 * `was a hole` failed until the fix it names (the comment says what each world showed);
 * `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区) and pays 100 + (i % 50) for rows i = 20p..20p+19, in
 * that order in the table; person 7 (四区) pays 140..149 (rows 140..149) then 100..109. In 四区, 40
 * payments are exactly 100, one each of 40 people (person 7's among them).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownAs, knownPerson, licensePayGrantee, paidAbove as paidAboveOf, startPayApp } from '../helpers/pay-fixture.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { operatorSight } from '../helpers/two-worlds.js';
import { waitUntil } from '../helpers/wait-until.js';

let t: TestApp;
const { seen } = operatorSight(() => t, 'p10');

beforeAll(async () => {
  t = await startPayApp('p10');
  // A second tenant over the same data, whose differencing history no other test here touches.
  await licensePayGrantee(t, 'p10h');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);
const person7 = (table = '') => knownAs(7, table);

/** Asks `sql(x)` in both worlds (each as a fresh operator); returns both sights. */
const bothWorlds = async (sql: (x: number) => Promise<string>) => ({ yes: await seen(await sql(145)), no: await seen(await sql(149)) });

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('holes found by the tenth pass', () => {
  it('was a hole (every column named in the FROM, table function arguments included, chooses rows): the pinning rule read column names only: a lateral table function renames the column (`unnest([p.amount]) AS u(v)`), and a WHERE on u.v pins the payments of exactly 100 while avg(p.amount) shows person 7\'s payments above x', async () => {
    // The rule compares the names of the aggregate's argument (`amount`) with the names in WHERE,
    // join conditions, GROUP BY and plain select items. `unnest([p.amount]) AS u(v)` gives each row
    // its own amount under another name; its argument is neither a join condition nor WHERE, so
    // nothing named `amount` chooses the rows, yet `u.v = 100` pins everyone else's value exactly as
    // `amount = 100` did in the ninth pass. The join repeats no row (one element per list).
    // Seen: n 44, a 104.318... (yes: 44 x 104.318 - 40 x 100 = 590 = 146 + 147 + 148 + 149, person
    // 7's payments above 145) against n 40, a 100 (no). One answer, no earlier one: no pair.
    const sql = async (x: number) => `SELECT count(*) AS n, avg(p.amount) AS a FROM pay AS p CROSS JOIN unnest([p.amount]) AS u(v) WHERE p.district = '四区' AND (u.v = 100 OR (${await person7('p.')} AND u.v > ${x}))`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): the pinning rule did not read table function arguments: `CROSS JOIN range(CASE WHEN p.amount = 100 OR <person 7 paid above x> THEN 1 ELSE 0 END)` is a WHERE clause in disguise (one row or none per payment), and avg or stddev_pop(p.amount) gives the answer', async () => {
    // The whole selection sits in a lateral table function's argument: range(1) keeps a payment,
    // range(0) drops it. `selecting` collects WHERE, join conditions (ON), GROUP BY and plain select
    // items, not the arguments of FROM items; the join repeats no row, so DSC_ERR_REPEATED_ROWS
    // does not fire either. The same holds for unnest(list_filter([p.amount], v -> v = 100 OR ...)).
    // Seen: avg: n 44, a 104.318... (yes) against n 40, a 100 (no); stddev_pop: 13.659... (yes)
    // against 0 (no).
    const keep = async (x: number) => `CASE WHEN p.amount = 100 OR (${await paidAbove(x, 'p.')}) THEN 1 ELSE 0 END`;
    const mean = await bothWorlds(async (x) => `SELECT count(*) AS n, avg(p.amount) AS a FROM pay AS p CROSS JOIN range(${await keep(x)}) AS r WHERE p.district = '四区'`);
    const spread = await bothWorlds(async (x) => `SELECT stddev_pop(p.amount) AS s FROM pay AS p CROSS JOIN range(${await keep(x)}) AS r WHERE p.district = '四区'`);
    // SAFE: the two look the same.
    expect(mean.yes).toEqual(mean.no);
    expect(spread.yes).toEqual(spread.no);
  });

  it('was a hole (unordered prod answers are shown in the order of their keys): an unordered grouped answer listed its groups in the order DuckDB first met them, so the ORDER of two large groups says whether person 7\'s early rows (146..149) passed the WHERE', async () => {
    // No ORDER BY, so the hash aggregate's output order is the answer's: groups come out in the
    // order their first row was read (both keys fall in one partition here). The WHERE keeps 一区
    // and 四区 without persons 3 and 4 (the first of each district after person 0..2), and person 7
    // only for their payments above x. Person 7's rows (140..159) come before person 8's (160..,
    // the first kept 一区 row), so 四区 comes first exactly when person 7 matched. Each group holds
    // about 99 people, every check passes, nothing is withheld; no aggregate value is even shown
    // (a count beside it changes nothing: 1,964 against 1,960 in 四区 needs a baseline, the order
    // does not). The group sizes differ by one person between the worlds, but within one answer
    // no earlier answer is near: no pair.
    // Seen: rows [['四区'], ['一区']] (yes) against [['一区'], ['四区']] (no).
    const [three, four] = [await knownPerson(3), await knownPerson(4)];
    const sql = async (x: number) => `SELECT district FROM pay WHERE district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${await person7()}) OR amount > ${x}) GROUP BY district`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same (the rows in an order that does not depend on hidden rows).
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): the same order oracle in a row-level answer: SELECT DISTINCT district (k-anonymous rows, shown DISTINCT) lists 四区 first exactly when person 7 paid above x', async () => {
    // Row-level answers are read whole and shown DISTINCT, in the order DuckDB produced the rows:
    // both rows are shared by about 99 people (k = 5), so both are shown in both worlds, and the
    // reason text is the same on every row-level answer. Only the order differs.
    // Seen: rows [['四区'], ['一区']] (yes) against [['一区'], ['四区']] (no).
    const [three, four] = [await knownPerson(3), await knownPerson(4)];
    const sql = async (x: number) => `SELECT DISTINCT district FROM pay WHERE district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${await person7()}) OR amount > ${x})`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (ties of an ORDER BY are broken by the keys): the same order oracle through an ORDER BY that ties every group (length(district))', async () => {
    // Found while closing the two above: an ORDER BY kept DuckDB's first-met order among equal values.
    const [three, four] = [await knownPerson(3), await knownPerson(4)];
    const where = async (x: number) => `district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${await person7()}) OR amount > ${x})`;
    const grouped = await bothWorlds(async (x) => `SELECT district, length(district) AS l FROM pay WHERE ${await where(x)} GROUP BY district ORDER BY l`);
    expect(grouped.yes).toEqual(grouped.no);
    const rows = await bothWorlds(async (x) => `SELECT DISTINCT district, length(district) AS l FROM pay WHERE ${await where(x)} ORDER BY l`);
    // SAFE: the two look the same.
    expect(rows.yes).toEqual(rows.no);
  });

  it('was a hole (workspace changes wait for the history reads of answers given): N against N-1 went unrecorded when the operator creates a dev workspace table right after N-1 is answered: the history read of N-1 sees the workspace generation change and drops the answer', async () => {
    // `rememberAnswer` (sandbox/engine/tenant-engine.ts) reads the entity sets of an answer's cells
    // after the answer is given, and drops them when `this.generation` changed meanwhile (a workspace
    // DDL). Any DDL bumps the generation when it starts, so POST /v1/tables in dev (`SELECT 1 AS x`,
    // no personal data, not a refusal, not counted as probing), sent as soon as N-1's answer
    // arrives, lands while the read runs (tens of ms): N-1 is neither compared nor remembered.
    // Seen (four tries of eight when written, alternating): every N-1 followed by a DDL had no
    // `query.differencing` entry; every one without had one. The answers themselves give the
    // person's total: 三区's sum minus the sum without their mobile (249,000 - 246,410 = 2,590, person 6's).
    const operator = { role: 'operator', org: 'p10h', sub: 'racer' } as const;
    const ask = async (sql: string) => expectStatus(await t.call(operator, 'POST', '/v1/query', { sql, env: 'prod' }), 200).json();
    const pairs = async (): Promise<{ details: { sqlSha256: string } }[]> => expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.differencing&limit=1000'), 200).json().entries;
    const everyone = "SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE district = '三区'";
    expect((await ask(everyone)).rows[0][1]).not.toBeNull();
    const withouts: string[] = [];
    for (const [i, p] of [6, 14, 22].entries()) {
      const without = `SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE district = '三区' AND mobile <> '${(await knownPerson(p)).mobile}'`;
      withouts.push(without);
      // Each N-1 passes its own checks (99 people) and shows its total.
      expect((await ask(without)).rows[0][1]).not.toBeNull();
      expectStatus(await t.call(operator, 'POST', '/v1/tables', { name: `scratch_${i}`, env: 'dev', sql: 'SELECT 1 AS x' }), 201);
    }
    // A sentinel pair, asked last with no DDL after it: the history compares answers in the order
    // given, so once its entry is there, every earlier answer has been compared (or dropped).
    const sentinel = `SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE district = '三区' AND mobile <> '${(await knownPerson(30)).mobile}' AND 1 = 1`;
    await ask(sentinel);
    await waitUntil('the sentinel pair', async () => (await pairs()).some((e) => e.details.sqlSha256 === sha256(sentinel)), { deadlineMs: 60_000, intervalMs: 200 });
    const recorded = new Set((await pairs()).map((e) => e.details.sqlSha256));
    // SAFE: each N-1 is on record as a pair with N.
    expect(withouts.map((sql) => recorded.has(sha256(sql)))).toEqual([true, true, true]);
  });
});

describe('stopped by the tenth pass', () => {
  it('STOPPED: other spellings of the pinned column in the WHERE (quoted "Amount", a struct field {\'v\': amount}.v, a join ON a cast of a range against it) are caught by the names rule', async () => {
    const who = await person7();
    const whoP = await person7('p.');
    for (const sql of [
      async (x: number) => `SELECT count(*) AS n, avg(amount) AS a FROM pay WHERE district = '四区' AND ("Amount" = 100 OR (${who} AND "AMOUNT" > ${x}))`,
      async (x: number) => `SELECT count(*) AS n, avg(amount) AS a FROM pay WHERE district = '四区' AND ({'v': amount}.v = 100 OR (${who} AND struct_pack(v := amount).v > ${x}))`,
      async (x: number) => `SELECT count(*) AS n, avg(p.amount) AS a FROM pay AS p JOIN range(100, 101) AS r ON r.range::DOUBLE = CASE WHEN ${whoP} AND p.amount > ${x} THEN 100 ELSE p.amount END WHERE p.district = '四区'`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: rows of nobody through an inner join (`range(1, 3) r JOIN pay p ON r.range = CASE WHEN <person 7> THEN 2 ELSE 1 END`) and lateral subqueries (`LATERAL (SELECT p.amount AS v)`, refused as unrenderable) look the same', async () => {
    // An inner join gives every row a person: each payment meets exactly one r (2,000 both ways).
    // A LATERAL subquery, or generate_series in FROM, cannot be rendered back by the companions and
    // is refused (DSC_ERR_UNCHECKABLE, the same in both worlds), so only table functions slip by.
    for (const sql of [
      async (x: number) => `SELECT count(*) AS n FROM range(1, 3) AS r JOIN pay AS p ON r.range = CASE WHEN ${await paidAbove(x, 'p.')} THEN 2 ELSE 1 END WHERE p.district = '四区'`,
      async (x: number) => `SELECT count(*) AS n, avg(p.amount) AS a FROM pay AS p CROSS JOIN LATERAL (SELECT p.amount AS v) AS s WHERE p.district = '四区' AND (s.v = 100 OR (${await person7('p.')} AND s.v > ${x}))`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes).toEqual(no);
    }
  });
});
