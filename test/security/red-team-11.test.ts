/**
 * Red-team attacks, eleventh pass (issue #11 item 3, invariant 8 "usable but invisible"), from
 * outside (HTTP only, as operators of org `p11`): learn whether one known person matches a
 * condition, or one person's value, from prod answers or exports, with no `query.differencing`
 * entry and no refusal counted towards the probing budget. This pass aims at the tenth's fixes:
 * prod answers shown in the order of their keys (what a key shows when equal keys print
 * differently), the pinning rule through a column that follows the summed one (`rowid`), and the
 * row order of export snapshots. Each attack asks the same question twice (person 7 paid above
 * 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is that the two look the
 * same. `was a hole` failed until the fix it names (the comment says what each world
 * showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区) and pays 100 + (i % 50) for rows i = 20p..20p+19, in
 * that order in the table; person 7 (四区) pays 140..149 (rows 140..149) then 100..109. In 四区,
 * person 3 (rows 60..79) comes before person 7, and person 11 (rows 220..239, paying 120..139 then
 * 100..119) after.
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs, knownPerson, paidAbove as paidAboveOf } from '../helpers/pay-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { SUPERVISOR } from '../helpers/test-app.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, operator, exportSeen, bothWorlds } = payRedTeam('p11');

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);
const person7 = (table = '') => knownAs(7, table);

describe('holes found by the eleventh pass', () => {
  it('was a hole (grouping keys of types whose equal values print apart are uncheckable): a grouping key whose values compare equal but print differently (INTERVAL \'30 days\' = INTERVAL \'1 month\') shows the spelling of the first row DuckDB meets: the group of 四区 says whether person 7\'s early rows passed the WHERE', async () => {
    // DuckDB compares (and groups) intervals normalized: '30 days' and '1 month' are one group, and
    // the group's key is the value of its first row. The key is person 7's spelling exactly when one
    // of person 7's rows (146..149, before person 11's) passed. One group of about 98 people, every
    // check passes, nothing withheld, no count shown; one answer, no earlier one: no pair. Ordering
    // by the keys (tenth pass) changes nothing: there is one group, and its printed key is the oracle.
    // The same with [INTERVAL '24 hours'] against [INTERVAL '1 day'] (a list key): micros 86,400,000,000 against days 1.
    // Seen: rows [[{months 0, days 30, micros '0'}]] (yes) against [[{months 1, days 0, micros '0'}]] (no).
    const sql = async (x: number) => `SELECT CASE WHEN ${await person7()} THEN INTERVAL '30 days' ELSE INTERVAL '1 month' END AS k FROM pay WHERE ${await fourWithSeven(x)} GROUP BY 1`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): the same representative in a row-level answer: SELECT DISTINCT of an interval-valued quasi-identifier expression prints the first row met', async () => {
    // Row-level answers are shown DISTINCT; the DISTINCT row is the first met of the rows equal to
    // it. The item names district (a quasi-identifier), so it counts as one (amount beside it
    // notwithstanding) and is a k-anonymous combination of about 98 people: shown in both worlds,
    // with the same reason text. Its CASE spells person 7's row 146 (born in their year, above 140)
    // '30 days' and person 11's first row (120) '1 month'; either way one value, one row.
    // Seen: rows [[{months 0, days 30, micros '0'}]] (yes) against [[{months 1, days 0, micros '0'}]] (no).
    const sql = async (x: number) => `SELECT DISTINCT CASE WHEN district = '四区' AND id_card_birth_year = ${(await knownPerson(7)).year} AND amount > 140 THEN INTERVAL '30 days' ELSE INTERVAL '1 month' END AS k FROM pay WHERE ${await fourWithSeven(x)}`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUE through the representative: an interval of `amount` days plus (1000 - amount) days in microseconds is 1000 days for every row (one group), and prints the amount of the first row met', async () => {
    // Every row's key normalizes to 1000 days, so the whole selection is one group of about 98
    // people; its printed key carries the days of the first row met: person 7's payment (146) when
    // they paid above x, else person 11's first (120). Any value of the first row, not only a
    // yes/no: with `mobile <> person 3` alone the key prints person 7's first payment, 140. No
    // aggregate of `amount`, so the pinning rule has nothing to say; no count, no pair.
    // Seen: days 146, micros 73,785,600,000,000 (yes) against days 120, micros 76,032,000,000,000 (no).
    const sql = async (x: number) => `SELECT to_days(CAST(amount AS INTEGER)) + to_microseconds((1000 - CAST(amount AS BIGINT)) * 86400000000) AS k FROM pay WHERE ${await fourWithSeven(x)} GROUP BY 1`;
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('stopped by the eleventh pass', () => {
  it('SLOWED, not closed: an answer found uncheckable while it ran counts as probing (such a refusal can depend on the rows: keys that print alike, an answer too large to check whole)', async () => {
    // Refusals decided while an answer ran were not counted, unlike those of the gate, runtime
    // errors and repeated rows; any of them the rows can decide is an oracle of one bit per query.
    // None was found to depend on one person here (NaN and NULL keys print apart), so the counting
    // is shown with the interval keys above, found uncheckable while the answer ran.
    const sql = `SELECT CASE WHEN ${await person7()} THEN INTERVAL '30 days' ELSE INTERVAL '1 month' END AS k FROM pay WHERE ${await fourWithSeven(145)} GROUP BY 1`;
    const who = operator();
    const codes: string[] = [];
    // Up to 60 tries: the budget (burst 20) refills while they run, more so on a loaded machine.
    for (let i = 0; i < 60 && !codes.includes('SBX_ERR_REJECTIONS_RATE_LIMITED'); i++) codes.push((await app().call(who, 'POST', '/v1/query', { sql, env: 'prod' })).json().code);
    expect(codes[0]).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: each try counts towards the probing budget.
    expect(codes).toContain('SBX_ERR_REJECTIONS_RATE_LIMITED');
  });

  it('STOPPED: pinning the others\' values through `rowid` (row i pays 100 + i % 50: `rowid % 50 = 0` is "paid exactly 100" without naming amount) is uncheckable by its own rule, the same in both worlds', async () => {
    // When written, this was refused only because the companions, which read each personal table
    // through a subquery, failed to render `rowid`; since then `rowid` over personal data is
    // uncheckable by a rule of its own, before anything runs. The class itself (a column that
    // follows the summed one) is a documented limit (docs/sandbox.md, known limits).
    for (const sql of [
      async (x: number) => `SELECT count(*) AS n, avg(amount) AS a FROM pay WHERE district = '四区' AND (rowid % 50 = 0 OR (${await paidAbove(x)}))`,
      async (x: number) => `SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE rowid % 50 = 0 OR (${await person7()} AND rowid % 50 > ${x - 100})`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes.body.message).toMatch(/rowid over personal data/);
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: other keys equal but spelled apart: strings under COLLATE NOCASE (\'X\' and \'x\') are uncheckable, and -0.0 and 0.0 are one group printed 0, the same in both worlds', async () => {
    const collated = await bothWorlds(async (x) => `SELECT CASE WHEN ${await person7()} THEN 'X' ELSE 'x' END COLLATE NOCASE AS k FROM pay WHERE ${await fourWithSeven(x)} GROUP BY 1`);
    expect(collated.yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(collated.yes).toEqual(collated.no);
    const zeros = await bothWorlds(async (x) => `SELECT CASE WHEN ${await person7()} THEN -0.0::DOUBLE ELSE 0.0::DOUBLE END AS k FROM pay WHERE ${await fourWithSeven(x)} GROUP BY 1`);
    // DOUBLE keys are refused since the twelfth pass (-0.0 = 0.0, yet functions of the key tell them apart).
    expect(zeros.yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    expect(zeros.yes).toEqual(zeros.no);
  });

  it('was a hole (an export file is ordered by what it holds, see below): an unordered export snapshot kept DuckDB\'s first-met order, which its reviewers and recipient (the operator\'s accomplice, say) read: the tenth pass\'s order oracle, exported', async () => {
    // The operator sees no digest and no row count of a snapshot; the supervisor's preview (and the
    // recipient's file) showed the rows in the order DuckDB met them.
    // Seen: preview [['四区'], ['一区']] (yes: person 7's early rows passed) against [['一区'], ['四区']] (no).
    const [three, four] = [await knownPerson(3), await knownPerson(4)];
    const reviewed = async (sql: string) => {
      const id = expectStatus(await app().call(operator(), 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team p11', format: 'csv' }), 201).json().id;
      const detail = expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
      return { preview: detail.preview, snapshotSha256: detail.snapshotSha256 };
    };
    for (const sql of [
      async (x: number) => `SELECT district FROM pay WHERE district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${await person7()}) OR amount > ${x}) GROUP BY district`,
      async (x: number) => `SELECT DISTINCT district FROM pay WHERE district IN ('一区', '四区') AND mobile NOT IN ('${three.mobile}', '${four.mobile}') AND (NOT (${await person7()}) OR amount > ${x})`,
    ]) {
      const yesSeen = await exportSeen(await sql(145));
      expect(yesSeen.snapshotSha256).toBeNull();
      expect(yesSeen).toEqual(await exportSeen(await sql(149)));
      const yes = await reviewed(await sql(145));
      expect(yes.preview.rows[0]).toEqual(['一区']);
      // SAFE: the reviewers' preview and the file are the same in both worlds.
      expect(yes).toEqual(await reviewed(await sql(149)));
    }
  });

  it('an export file is ordered by what it holds: an aggregate by its keys (its ORDER BY is left out, LIMIT refused), a row-level file by its columns, whatever order the rows were loaded in', async () => {
    // A file in the query's order would keep a cell that suppression later withholds at the place
    // its value gave it (二区's dominated sum, last in ORDER BY s); one in load order (person by
    // person) would place each row where its person lies in the source.
    const preview = async (sql: string) => {
      const id = expectStatus(await app().call(operator(), 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team p11', format: 'csv' }), 201).json().id;
      return expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json().preview.rows as unknown[][];
    };
    const sorted = (values: unknown[]) => [...values].sort((a, b) => (String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0));
    const bySum = await preview(`SELECT district, sum(amount) AS s FROM pay GROUP BY district ORDER BY s DESC`);
    expect(bySum.map((r) => r[0])).toEqual(sorted(bySum.map((r) => r[0])));
    // A LIMIT or OFFSET would choose rows by others the checks never see (pass 14a's `OFFSET 1` past a one-person group): refused.
    const top = await app().call(operator(), 'POST', '/v1/exports', { source: { sql: `SELECT district, count(*) AS n FROM pay GROUP BY district ORDER BY district DESC LIMIT 2` }, recipient: 'city-lab', purpose: 'red team p11', format: 'csv' });
    expect(top.statusCode).toBe(422);
    expect(top.json().code).toBe('DSC_ERR_UNCHECKABLE');
    // Nor through a prod workspace table, which an export delivers whole.
    const table = await app().call(operator(), 'POST', '/v1/tables', { name: 'top_two', env: 'prod', sql: `SELECT district, count(*) AS n FROM pay GROUP BY district LIMIT 1 OFFSET 1` });
    expect(table.statusCode).toBe(422);
    expect(table.json().code).toBe('DSC_ERR_UNCHECKABLE');
    // Checkable (quasi-identifiers only) and not (amount beside them): both by their columns.
    const years = (await preview(`SELECT id_card_birth_year AS y FROM pay WHERE district = '三区'`)).map((r) => Number(r[0]));
    expect(years.length).toBeGreaterThan(1);
    expect(years).toEqual([...years].sort((a, b) => a - b));
    const amounts = (await preview(`SELECT district, amount FROM pay WHERE district = '三区' AND amount < 103`)).map((r) => Number(r[1]));
    expect(amounts.length).toBeGreaterThan(1);
    expect(amounts).toEqual([...amounts].sort((a, b) => a - b));
  });
});
