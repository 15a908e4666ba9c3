/**
 * Red-team attacks, pass 17a (invariant 8 "usable but invisible"), from outside (HTTP only, as
 * operators of org `p17a`): learn whether one known person matches a condition, or one person's
 * values, from ONE prod answer over personal data, through SQL features the shape analysis
 * (sandbox/disclosure/answer-shape.ts) may not see through. Earlier passes (red-team-4..16,
 * prod-answers*) are not repeated. Each attack asks the same question twice (person 7 paid above
 * 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is that the two look the
 * same. `HOLE:` fails (the comment says what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people, 20 payments each, stored in
 * the order of their rows (person p holds rows 20p..20p+19); person 7 (四区) pays 140..149 then
 * 100..109, in rows 140..159, in the table's first vector of 2,048 rows.
 */
import { describe, expect, it } from 'vitest';
import { knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { seen, bothWorlds } = payRedTeam('p17a');

const person7 = (table = '') => knownAs(7, table);

describe('holes: the engine\'s vectors as an oracle', () => {
  it('was a hole (vector_type is no longer allowed: it describes a batch of rows, not a value): whether person 7 paid above x, from ONE answer: `GROUP BY vector_type(CASE WHEN <person 7 paid above x> THEN \'a\' ELSE \'b\' END)` splits the 2,048 rows of person 7\'s vector off into a group of their own (about 100 people)', async () => {
    // `vector_type` (allowed in sandbox/gate/allowed-functions.ts:125, recorded in
    // test/security/sql-taking-functions.test.ts:46 as "engine internals about the value only") says
    // how DuckDB holds a value in its vector of up to 2,048 rows, and that is decided by the whole
    // vector: a CASE whose rows all take one branch returns that branch's constant as a
    // CONSTANT_VECTOR, one whose rows split returns a FLAT_VECTOR. So one person's row that takes the
    // other branch turns the key of the 2,047 rows beside it (other people's) from CONSTANT_VECTOR
    // to FLAT_VECTOR. Both groups hold about 100 people or more: every check passes
    // (`answerShape`, answer-shape.ts:87, sees a count grouped by a VARCHAR key, and no rule reads
    // which functions a key calls beyond the clock and random; the companion, `companionNode`,
    // check-answer.ts:481, evaluates the same key over the same vectors and counts the same people;
    // VARCHAR is on the allow-list of key types, check-answer.ts:72 and :229). An export of it
    // passes every check alike in both worlds (outcome `pass`), its file then carrying the keys.
    // Seen: yes rows [['CONSTANT_VECTOR', '5952'], ['FLAT_VECTOR', '2048']]; no rows
    // [['CONSTANT_VECTOR', '8000']]; disclosure alike (nothing withheld).
    const { yes, no } = await bothWorlds(async (x) => `SELECT vector_type(CASE WHEN ${await person7()} AND amount > ${x} THEN 'a' ELSE 'b' END) AS v, count(*) AS n FROM pay GROUP BY 1`);
    expect(yes.body.code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    // SAFE: the two look the same (refused alike, or answered alike).
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES in ONE answer: one key per amount, `left(vector_type(CASE WHEN <person 7> AND amount = a THEN 1 ELSE 0 END), 1)` for a = 100..149, lists every amount person 7 paid (F) in the key of their vector\'s group', async () => {
    // The same vector oracle, fifty times in one grouping key (one letter per amount: F where some row
    // of the vector, person 7's, took the THEN branch; C where none did). The group of person 7's
    // vector (2,048 rows, about 100 people) shows F at exactly person 7's amounts; every other
    // vector is all C. The row counts as in the test above; every cell passes.
    // (Without its ELSE 0, the CASE's NULL branch makes the answer uncheckable, DSC_ERR_UNCHECKABLE.)
    // Seen: rows [['CCCC…C' (50 C), '5952'], ['FFFFFFFFFF' + 'C' x 30 + 'FFFFFFFFFF', '2048']]:
    // person 7 paid 100..109 and 140..149 and nothing else (the fixture: amount = 100 + row % 50);
    // nothing withheld.
    const p7 = await person7();
    const letters = Array.from({ length: 50 }, (_, i) => `left(vector_type(CASE WHEN ${p7} AND amount = ${100 + i} THEN 1 ELSE 0 END), 1)`);
    const answer = await seen(`SELECT concat(${letters.join(', ')}) AS paid, count(*) AS n FROM pay GROUP BY 1`);
    expect(answer.body.code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    const keys = ((answer.body.rows as unknown[][] | undefined) ?? []).map((row) => String(row[0]));
    const amounts = keys.flatMap((key) => [...key].flatMap((letter, i) => (letter === 'F' ? [100 + i] : [])));
    // SAFE: no amount can be read off the keys (else these are person 7's 20 amounts).
    expect(amounts).toEqual([]);
  });
});

describe('stopped (seventeenth pass, 17a)', () => {
  it('STOPPED: PIVOT over pay, and EXCEPT of two counts (四区, and 四区 without person 7\'s payments above x), are refused for their shape (a personal table inside a PIVOT or a set operation), the same in both worlds', async () => {
    for (const sql of [
      async (x: number) => `SELECT * FROM pay PIVOT (count(*) FOR district IN ('三区', '四区')) WHERE NOT (${await person7()} AND amount > ${x})`,
      async (x: number) => `SELECT count(*) AS n FROM pay WHERE district = '四区' EXCEPT SELECT count(*) AS n FROM pay WHERE district = '四区' AND NOT (${await person7()} AND amount > ${x})`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: one grouping set (`GROUP BY GROUPING SETS ((district))`) with its grouping() id is one GROUP BY: a count filtered to person 7\'s payments above x is withheld the same in both worlds', async () => {
    const { yes, no } = await bothWorlds(async (x) => `SELECT district, grouping(district) AS g, count(*) FILTER (WHERE ${await person7()} AND amount > ${x}) AS n FROM pay GROUP BY GROUPING SETS ((district))`);
    expect(yes.status).toBe(200);
    expect(yes).toEqual(no);
  });
});
