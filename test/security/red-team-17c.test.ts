/**
 * Red-team attacks, pass 17c (invariant 8 "usable but invisible"), from outside (HTTP only, as
 * operators of org `p17c`): values of a row that depend on OTHER rows processed alongside it (pass
 * 17a's class: `vector_type` described a whole batch of 2,048 rows, so one person's row changed the
 * key of the others), here through what DuckDB computes ONCE for many rows and hands to all of them.
 * Each attack asks the same question twice (person 7 paid above 145: yes, 4 payments 146..149;
 * above 149: no), and the SAFE expectation is that the two look the same. `HOLE:` fails (the
 * comment says what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people, 20 payments each, read in
 * the order of their rows (one engine thread); person 7 (四区) pays 140..149 then 100..109, in rows
 * 140..159; once person 3 is left out, person 7's rows are the first of 四区 that DuckDB meets, so
 * for each amount person 7 paid, person 7's payment of it is the first of 四区 with that amount.
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs, knownPerson } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, operator, seen, exportSeen, bothWorlds } = payRedTeam('p17c');

const person7 = (table = '') => knownAs(7, table);

/** 四区 without person 3 (who comes before person 7 in the table): person 7's rows are met first. */
const fourFromSeven = async () => `p.district = '四区' AND p.mobile <> '${(await knownPerson(3)).mobile}'`;

/**
 * Joins `t.d`, a DOUBLE, to each payment: -0.0 where `marked` holds, 0.0 elsewhere. The two are
 * EQUAL to DuckDB (`ON t.d = 0` keeps every row once, and a DISTINCT keeps one of them) but print
 * apart ('-0.0', '0.0'). A lateral table function: renderable, unlike a FROM subquery or VALUES.
 */
const signedZero = (marked: string) => `unnest([CASE WHEN ${marked} THEN CAST('-0.0' AS DOUBLE) ELSE CAST('0.0' AS DOUBLE) END]) AS t(d) ON t.d = 0`;

describe('holes: a correlated subquery is computed once per DISTINCT outer value, and a DISTINCT keeps the first row it meets', () => {
  it('was a hole (a correlated subquery over personal data is uncheckable: DEPENDENT_JOIN in the bound plan): whether person 7 paid above x, from ONE answer: `JOIN unnest([\'-0.0\', \'0.0\']) k(v) ON k.v = (SELECT CAST(t.d AS VARCHAR) FROM range(1) WHERE p.amount > 0)`, t.d being -0.0 on person 7\'s payments above x: the key of the 40 people who paid 146..149 in 四区 prints person 7\'s -0.0', async () => {
    // DuckDB plans a correlated subquery as a DELIM join: it takes the DISTINCT values of the outer
    // columns the subquery names (here t.d and p.amount), runs the subquery once per distinct value,
    // and joins the result back to every outer row EQUAL to it. -0.0 and 0.0 are equal, so each
    // amount's rows get the text of the first row of that amount DuckDB met: for 146..149 in 四区
    // (person 3 left out) that is person 7's row, -0.0 exactly when person 7 paid above x, so the 160
    // payments of 146..149 (40 people) are joined to k.v = '-0.0' instead of '0.0'.
    // Why it passes: the key `k.v` is VARCHAR, on the allow-list of exact key types
    // (sandbox/disclosure/check-answer.ts:72, checked at :229 on the key's final type only: the
    // DOUBLE equal-but-apart values of pass 11 are inside the subquery, never a key); subqueries
    // over personal data are refused only in the SELECT list (sandbox/disclosure/answer-shape.ts:172),
    // not in a join condition, WHERE, GROUP BY or FILTER, and their FROM (range) is no personal table
    // (answer-shape.ts:101-107). The companion (`companionNode`, check-answer.ts:481) repeats the
    // same FROM and WHERE over the same rows in the same order, so its DELIM join keeps the same
    // first row and counts the same 40 people under '-0.0': every check passes; each payment meets
    // one t and one k (no repeated rows).
    // Seen: yes rows [['-0.0', '160'], ['0.0', '1820']]; no rows [['0.0', '1980']]; nothing withheld.
    // An export of it (POST /v1/exports) passes every check in both worlds (outcome `pass`, the same
    // checks), its file then carrying the keys.
    const { yes, no } = await bothWorlds(async (x) => `SELECT k.v AS zero, count(*) AS n FROM pay AS p JOIN ${signedZero(`${await person7('p.')} AND p.amount > ${x}`)} JOIN unnest(['-0.0', '0.0']) AS k(v) ON k.v = (SELECT CAST(t.d AS VARCHAR) FROM range(1) WHERE p.amount > 0) WHERE ${await fourFromSeven()} GROUP BY k.v ORDER BY k.v`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES in ONE answer: 四区 (person 3 left out) grouped by amount, `WHERE (SELECT CAST(t.d AS VARCHAR) FROM range(1) WHERE p.amount > 0) = \'-0.0\'`, t.d being -0.0 on all of person 7\'s rows, lists exactly the 20 amounts person 7 paid, each with its 40 payments', async () => {
    // The same DELIM join: per amount, the first row met decides for all of that amount's rows; it
    // is person 7's wherever person 7 paid that amount, so the WHERE keeps every payment of those
    // amounts (about 40 people each) and none of the others. Each row passes every check.
    // Seen: rows [[100.0, 40] … [109.0, 40], [140.0, 40] … [149.0, 40]]: person 7 paid 100..109 and
    // 140..149 and nothing else (the fixture: amount = 100 + row % 50); nothing withheld.
    const answer = await seen(`SELECT p.amount AS amount, count(*) AS n FROM pay AS p JOIN ${signedZero(await person7('p.'))} WHERE ${await fourFromSeven()} AND (SELECT CAST(t.d AS VARCHAR) FROM range(1) WHERE p.amount > 0) = '-0.0' GROUP BY p.amount ORDER BY p.amount`);
    expect(answer.body.code).toBe('DSC_ERR_UNCHECKABLE');
    const amounts = ((answer.body.rows as unknown[][] | undefined) ?? []).map((row) => Number(row[0]));
    // SAFE: no amount can be read off the answer (else these are person 7's 20 amounts).
    expect(amounts).toEqual([]);
  });

  it('was a hole (as above): the same with INTERVAL and EXISTS: t.iv is \'30 days\' on person 7\'s payments above x and \'1 month\' elsewhere (equal to DuckDB), and `WHERE EXISTS (SELECT 1 FROM range(1) WHERE CAST(t.iv AS VARCHAR) = \'30 days\')` keeps all of 四区 or none, by person 7\'s first row', async () => {
    // Any type whose equal values print apart (DOUBLE, FLOAT, INTERVAL, as pass 11 listed for keys)
    // carries the first row's spelling through a correlated subquery, spelled in any clause.
    // `fourWithSeven`: 四区 without person 3, person 7 only for payments above x, so the first row is
    // person 7's row 146 (yes) or person 11's row 220 (no).
    // Seen: yes rows [['1964']] (99 people); no: the row withheld ("fewer than 10 people").
    const { yes, no } = await bothWorlds(async (x) => `SELECT count(*) AS n FROM pay AS p JOIN unnest([CASE WHEN ${await person7('p.')} THEN to_days(30) ELSE to_months(1) END]) AS t(iv) ON t.iv = to_months(1) WHERE ${await fourWithSeven(x, 'p.')} AND EXISTS (SELECT 1 FROM range(1) WHERE CAST(t.iv AS VARCHAR) = '30 days')`);
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('after the fix: the same subquery where rows are kept or exported', () => {
  const correlated = async () => `SELECT k.v AS zero, p.amount FROM pay AS p JOIN ${signedZero(await person7('p.'))} JOIN unnest(['-0.0', '0.0']) AS k(v) ON k.v = (SELECT CAST(t.d AS VARCHAR) FROM range(1) WHERE p.amount > 0) WHERE ${await fourFromSeven()}`;

  it('a prod workspace table over personal data cannot keep what a correlated subquery gave its rows (an export of the table would carry it)', async () => {
    const table = await app().call(operator(), 'POST', '/v1/tables', { name: 'zeros', sql: await correlated(), env: 'prod' });
    expect(table.statusCode).toBe(422);
    expect(table.json().code).toBe('DSC_ERR_UNCHECKABLE');
    expect((await seen('SELECT count(*) FROM zeros')).body.code).toBe('SBX_ERR_SQL_UNKNOWN_NAME');
  });

  it('an export of it cannot pass: its checks cannot be derived, so it needs two supervisors\' review', async () => {
    const exported = await exportSeen(`${(await correlated()).replace('SELECT k.v AS zero, p.amount', 'SELECT k.v AS zero, count(*) AS n')} GROUP BY k.v`);
    expect(exported.outcome).toBe('review');
    expect(exported.checks.some((c: { status: string; reason: string }) => c.status === 'review' && c.reason.includes('names columns of the outer query'))).toBe(true);
  });
});

describe('stopped (seventeenth pass, 17c)', () => {
  it('STOPPED: a CASE without ELSE is uncheckable whatever the data: DuckDB\'s parse gives the implied ELSE NULL (as a FROM-less subquery its EMPTY FROM, VALUES, FROM subqueries and comma joins) the query_location 18446744073709551615, which the companions cannot render back; the same in both worlds', async () => {
    // Pass 17a noted that `CASE WHEN … THEN 1 END` made its answer uncheckable and `ELSE 0` let it
    // pass. Not an oracle: the parse tree keeps that 20-digit location (no place in the text), which
    // `readParseJson` (sandbox/gate/discovery-statement.ts:145) turns into a marker string and
    // `render` (check-answer.ts:686) stringifies as such; json_deserialize_sql refuses it, and
    // `render` fails closed. A function of the text alone, before any row is read. It is raised while
    // the answer runs, so it is counted as probing (`byData`, sandbox/engine/tenant-engine.ts:556),
    // which only costs an honest operator budget.
    for (const sql of [
      async (x: number) => `SELECT district, count(*) AS n FROM pay WHERE district = '四区' AND CASE WHEN ${await person7()} AND amount > ${x} THEN 1 END = 1 GROUP BY district`,
      async (x: number) => `SELECT count(*) AS n FROM pay WHERE district = '四区' AND (SELECT CASE WHEN ${await person7('pay.')} AND pay.amount > ${x} THEN 1 ELSE 0 END) = 0`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });

  it('STOPPED: state and windows inside a WHERE subquery (`setseed` beside the signed zero, `row_number() OVER ()` over range) are refused for their shape, the same in both worlds', async () => {
    for (const sql of [
      async (x: number) => `SELECT count(*) AS n FROM pay AS p JOIN ${signedZero(await person7('p.'))} WHERE ${await fourWithSeven(x, 'p.')} AND (SELECT setseed(0.5) FROM range(1)) IS NULL`,
      async (x: number) => `SELECT count(*) AS n FROM pay AS p WHERE ${await fourWithSeven(x, 'p.')} AND p.amount > (SELECT max(r) FROM (SELECT row_number() OVER () AS r FROM range(3)) AS w)`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
    }
  });
});
