/**
 * Red-team attacks, sixth pass (issue #11 item 3, invariant 8 "usable but invisible"), from outside
 * (HTTP only, as an operator of org `p6`): learn whether one known person matches a condition, or
 * one person's value, from ONE prod answer or ONE export, with no `query.differencing` entry and no
 * refusal counted towards the probing budget. Each attack asks the same question twice (person 7
 * paid above 145: yes, 4 payments 146..149 totalling 590; above 149: no), and the SAFE expectation
 * is that the two look the same. `was a hole` failed until the fix it names; `STOPPED:` held when
 * written; `SLOWED, not closed:` asserts a known limit documented in docs/sandbox.md.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区); person 7 (四区) pays 100..109 and 140..149.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../sandbox/index.js';
import { knownPerson, paidAbove as paidAboveOf, startPayApp } from '../helpers/pay-fixture.js';
import type { TestApp } from '../helpers/test-app.js';
import { operatorSight } from '../helpers/two-worlds.js';

let t: TestApp;
const { seen, exportSeen } = operatorSight(() => t, 'p6');

beforeAll(async () => {
  t = await startPayApp('p6');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

describe('holes found by the sixth pass', () => {
  it('was a hole (names starting with __ are uncheckable): a SELECT alias named like the checks\' row-number column (`district AS __row0`) binds to the alias in the answer and to `__row0` in the companions: person 7\'s count and total above x', async () => {
    // The companions read `pay` as a subquery that adds `__e0` and `__row0`. In the answer, WHERE
    // `__row0` is no column, so DuckDB binds it to the SELECT alias (the district, never a number);
    // in the companions (which keep the plain SELECT items and their aliases) the column wins: the
    // row number. So `try_cast(__row0 AS BIGINT) IS NOT NULL` is false in the answer and true in the
    // checks: the answer reads person 7's payments above x, the checks count all 100 people of 四区.
    // No whole row, no `*`: the fifth pass b rule does not see it.
    // Seen: [['四区', '4', '590.0']] (yes) against [] (no), withheldRows 0 both: their number of
    // payments above 145 and their total, from one answer (no pair: the first question asked).
    const sql = async (x: number) => `SELECT district AS __row0, count(*) AS n, sum(amount) AS s FROM pay WHERE district = '四区' AND ((${await paidAbove(x)}) OR try_cast(__row0 AS BIGINT) IS NOT NULL) GROUP BY district`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above, row-level answer): SELECT district AS __row0 ... WHERE <person 7 paid above x> OR try_cast(__row0 AS BIGINT) IS NOT NULL shows 四区 or nothing', async () => {
    // The row-level companion counts the 100 people of 四区 behind the combination (k passes); the
    // answer's row exists only when person 7 matched. Seen: [['四区']] (yes) against [] (no).
    const sql = async (x: number) => `SELECT district AS __row0 FROM pay WHERE district = '四区' AND ((${await paidAbove(x)}) OR try_cast(__row0 AS BIGINT) IS NOT NULL)`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above, and an export whose checks cannot be derived says nothing of whether it has rows): the same aggregate exported passed every check with person 7\'s count and total as the 四区 row, or asked for review for an empty output', async () => {
    // The export's person-level checks use the same companions: 100 people, every check passes, and
    // the snapshot holds person 7's 4 payments and 590 (sent to the recipient once approved by one
    // reviewer, as any passing export). No world: empty-output review. Seen: outcome pass (yes)
    // against review (no), approvalsNeeded 1 against 2, and a different snapshot hash.
    const sql = async (x: number) => `SELECT district AS __row0, count(*) AS n, sum(amount) AS s FROM pay WHERE district = '四区' AND ((${await paidAbove(x)}) OR try_cast(__row0 AS BIGINT) IS NOT NULL) GROUP BY district`;
    const yes = await exportSeen(await sql(145));
    const no = await exportSeen(await sql(149));
    // SAFE: the two look the same.
    expect({ ...yes, snapshotSha256: undefined }).toEqual({ ...no, snapshotSha256: undefined });
  });

  it('was a hole (renaming a personal table\'s columns is uncheckable): column aliases on a personal table (`pay AS p(district)`) are dropped by the companions: `district` is the first column (id_card) in the answer and the district in the checks', async () => {
    // `augmentFrom` replaces the table reference by the entity subquery with `column_name_alias: []`,
    // so `pay AS p(district)` renames id_card to `district` in the answer only. WHERE district = '四区'
    // is never true in the answer (a token is no district) and true for the 100 people of 四区 in the
    // checks: the answer reads person 7's payments above x alone, the checks count 100 people.
    // Seen: [['4', '590.0']] (yes) against [['0', null]] (no), nothing withheld either way.
    const sql = async (x: number) => `SELECT count(*) AS n, sum(amount) AS s FROM pay AS p(district) WHERE district = '四区' OR (${await paidAbove(x, 'p.')})`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('SLOWED, not closed: a prod query that is slow only on person 7\'s rows times out (408 SBX_ERR_QUERY_TIMEOUT) or answers; a prod timeout counts as probing', async () => {
    // `range(10^10) JOIN pay ON <person 7 paid above x>`: the filter goes down to `pay`, so the cross
    // product is 4 x 10^10 rows when they did, and empty when they did not (the empty build side
    // ends the join at once). The answer runs before the repeated-rows check and the companions, so
    // the deadline decides. Timeouts are not in PROBING_CODES: one bit per 10 s, unslowed, no
    // differencing entry (refused answers are not remembered). Seen: 408 (yes) against 200 with the
    // row withheld (no).
    const sql = async (x: number) => `SELECT count(*) AS n FROM range(10000000000) AS r JOIN pay AS p ON ${await paidAbove(x, 'p.')} WHERE p.district = '四区'`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // Timing is not hidden (docs/sandbox.md): the two differ...
    expect(yes.status).toBe(408);
    expect(no.status).toBe(200);
    // ...but each prod timeout spends the probing budget (probe-throttling.test.ts): one bit per
    // timeout, at the probing rate past the burst.
  }, 60_000);

  it('was a hole (snapshotSha256 is for supervisors only): an export\'s snapshotSha256 was shown to the operator for outputs nobody may see: a hash of person 7\'s total, recomputed offline', async () => {
    // A shape the person-level checks cannot derive (a CTE; or `list(amount)`, a subquery in SELECT)
    // asks for review, not counted as probing (the data did not decide it), and its snapshot is
    // written before any reviewer reads it. Its SHA-256 is in GET /v1/exports/:id for the operator.
    // The snapshot is DuckDB's Parquet of the output (`COPY t TO f (FORMAT parquet)`), deterministic:
    // the operator writes the same one-column table (name and type shown in `columns`) offline for
    // each candidate value and compares hashes. Seen: yes and no alike in outcome and checks; the
    // hashes differ, and equal the offline hashes of 590.0 and NULL.
    const sql = async (x: number) => `WITH x AS (SELECT sum(amount) AS s FROM pay WHERE ${await paidAbove(x)}) SELECT s FROM x`;
    const yes = await exportSeen(await sql(145));
    const no = await exportSeen(await sql(149));
    expect(yes.outcome).toBe('review');
    expect({ ...yes, snapshotSha256: undefined }).toEqual({ ...no, snapshotSha256: undefined });
    // What leaks: the hash is that of person 7's own total.
    const offline = async (value: string) => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'red-team-6-'));
      const db = await openDatabase(':memory:');
      const connection = await db.connect();
      try {
        const file = path.join(dir, 'guess.parquet');
        await connection.run(`CREATE TABLE guess ("s" DECIMAL(38,1)); INSERT INTO guess VALUES (${value})`);
        await connection.run(`COPY guess TO '${file}' (FORMAT parquet)`);
        return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
      } finally {
        connection.close();
        db.close();
        fs.rmSync(dir, { recursive: true, force: true });
      }
    };
    const recovered = { yes: yes.snapshotSha256 === await offline('590.0'), no: no.snapshotSha256 === await offline('NULL') };
    // SAFE: the operator cannot tell the two snapshots apart, nor match either to a guess.
    expect(recovered).toEqual({ yes: false, no: false });
    expect(yes.snapshotSha256).toEqual(no.snapshotSha256);
    expect(yes.snapshotSha256).toBeNull();
  });

  it('was a hole (the values rule compares what each person adds to each cell, rows for a count): "value-weighted" combinations inside one row, reached without sum(expression): count(*) beside sum(r.range) over a join that gives person 7\'s rows above x weight 2', async () => {
    // sum(expression) is refused, but `pay JOIN range(1, 3) AS r ON r.range = CASE WHEN <person 7
    // paid above x> THEN 2 ELSE 1 END` gives every payment exactly one partner (no repeated rows) and
    // a per-row weight in a plain column. Both cells count the 100 people of 四区; their pair "differs"
    // for all 100 (count has no contribution, sum does), so neither is withheld, and the cells have
    // the same entities, so the history sees no pair. Seen: n 2000 and s 2004 (yes) against 2000 and
    // 2000 (no): s - n is person 7's number of payments above 145 (weights up to their amount give
    // more: dominance stays with the others' weight of 20 each).
    const sql = async (x: number) => `SELECT p.district, count(*) AS n, sum(r.range) AS s FROM pay AS p JOIN range(1, 3) AS r ON r.range = CASE WHEN ${await paidAbove(x, 'p.')} THEN 2 ELSE 1 END WHERE p.district = '四区' GROUP BY p.district`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('attacks stopped in the sixth pass', () => {
  it('STOPPED: other ways to read the checks\' own columns or to bind names differently, and data-dependent refusals, look the same whoever matches', async () => {
    const person = await knownPerson(7);
    const attempts: ((x: number) => Promise<string>)[] = [
      // A whole row read in a LATERAL subquery or a table function of the FROM (not a clause the
      // fifth pass b rule walks): the companion fails to check, either way.
      async (x) => `SELECT count(*) AS n, sum(amount) AS s FROM pay, (SELECT pay::VARCHAR AS v) AS l WHERE district = '四区' AND ((${await paidAbove(x)}) OR l.v LIKE '%__row0%')`,
      async (x) => `SELECT count(*) AS n, sum(amount) AS s FROM pay, unnest([pay::VARCHAR]) AS l(v) WHERE district = '四区' AND ((${await paidAbove(x)}) OR l.v LIKE '%__row0%')`,
      // The alias named like the entity column: the companion selects nobody (NOT_K_ANONYMOUS both).
      async (x) => `SELECT district AS __e0, count(*) AS n FROM pay WHERE district = '四区' AND ((${await paidAbove(x)}) OR try_cast(__e0 AS BIGINT) IS NOT NULL) GROUP BY district`,
      // Group keys that print alike (NaN beside NULL) or equal (-0.0 and 0.0): uncheckable or one group either way.
      async (x) => `SELECT count(*) AS n FROM pay WHERE district = '四区' GROUP BY CASE WHEN ${await paidAbove(x)} THEN 'NaN'::DOUBLE END`,
      async (x) => `SELECT count(*) AS n FROM pay WHERE district = '四区' GROUP BY CASE WHEN ${await paidAbove(x)} THEN -0.0::DOUBLE ELSE 0.0::DOUBLE END`,
      // A lateral range whose length depends on person 7: uncheckable either way.
      async (x) => `SELECT count(*) AS n FROM pay, range(CASE WHEN ${await paidAbove(x)} THEN 3 ELSE 1 END) AS r WHERE district = '四区'`,
      // mad (a spread, not a one-person value) beside itself FILTERed: the later withheld either way.
      async (x) => `SELECT district, mad(amount) AS a, mad(amount) FILTER (WHERE NOT (id_card_birth_year = ${person.year} AND amount > ${x})) AS b FROM pay WHERE district = '四区' GROUP BY district`,
      // A count FILTERed to person 7 (4 or 0): withheld either way in prod.
      async (x) => `SELECT district, count(*) FILTER (WHERE ${await paidAbove(x)}) AS n FROM pay WHERE district = '四区' GROUP BY district`,
    ];
    for (const sql of attempts) {
      const yes = await seen(await sql(145));
      const no = await seen(await sql(149));
      expect(yes, await sql(145)).toEqual(no);
    }
  });
});
