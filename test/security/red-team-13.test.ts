/**
 * Red-team attacks, thirteenth pass (invariant 8 "usable but invisible"), from outside (HTTP only,
 * as operators of org `p13`): learn whether one known person matches a condition, or one person's
 * value, from ONE prod answer, with no refusal counted towards the probing budget. This pass aims
 * at the twelfth's fix (`EXACT_KEY_TYPE`: grouping keys come from an allow-list of types whose
 * equal values are the same value): values of allowed types that DuckDB still holds equal (one
 * group, one DISTINCT row) while they print apart. Each attack asks the same question twice
 * (person 7 paid above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is
 * that the two look the same. `was a hole` failed until the fix it names (the comment says
 * what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts), as in red-team-11.test.ts: person 7 (四区)
 * pays 140..149 (rows 140..149) then 100..109; in 四区 person 3 comes before person 7 and person 11
 * after.
 */
import { describe, expect, it } from 'vitest';
import { fourWithSeven, knownAs } from '../helpers/pay-fixture.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, bothWorlds } = payRedTeam('p13');

const person7 = (table = '') => knownAs(7, table);

let made: Promise<boolean> | undefined;
/**
 * The attacker's own workspace table (prod), two spellings of one string under NOCASE. Now refused
 * (a workspace table cannot keep a collation): false, and the attack has nothing to join.
 */
const casing = () => (made ??= (async () => {
  const response = await app().call({ role: 'operator', org: 'p13', sub: 'maker' }, 'POST', '/v1/tables', { name: 'casing', env: 'prod', sql: `SELECT 'X' COLLATE NOCASE AS a, 'x' COLLATE NOCASE AS b` });
  if (response.statusCode === 201) return true;
  expect(response.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT');
  return false;
})());

describe('holes: VARCHAR keys that DuckDB holds equal', () => {
  it('was a hole (a workspace table cannot keep a collation: its creation is refused): a collation carried by a workspace table\'s column (`CREATE TABLE casing AS SELECT \'X\' COLLATE NOCASE AS a, \'x\' COLLATE NOCASE AS b`): the key CASE WHEN <person 7> THEN c.a ELSE c.b END is a VARCHAR, so allowed, but grouped under NOCASE: one group printing the first row\'s spelling', async () => {
    // The twelfth pass refuses COLLATE written in the SELECT list or GROUP BY, but a collation is a
    // property of the VARCHAR type, and CREATE TABLE AS keeps it in the column: the prod query names
    // no COLLATE at all. The workspace table reads no personal data (not `derivedFromPersonal`). The
    // key's type prints plain VARCHAR. One group of about 98 people, nothing withheld, no pair, no
    // count shown (with count(*) beside it, the same: [['X', '1964']] against [['x', '1960']]).
    // Seen: rows [['X']] (yes) against [['x']] (no), both 200, disclosure alike.
    if (!await casing()) return;
    const sql = async (x: number) => {
      const k = `CASE WHEN ${await person7('p.')} THEN c.a ELSE c.b END`;
      return `SELECT ${k} AS k FROM pay AS p CROSS JOIN casing AS c WHERE ${await fourWithSeven(x, 'p.')} GROUP BY ${k}`;
    };
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });

  it('was a hole (as above): one person\'s VALUES: grouped by amount beside the collated key, every amount group of 四区 (about 39 people each) prints \'X\' exactly when person 7 paid that amount', async () => {
    // As the twelfth pass's -0.0 attack: person 7's rows come first in every amount group of 四区
    // once person 3 is left out; without the `amount > x` clause one answer lists all 20 of person
    // 7's amounts (100..109 and 140..149 print 'X', the 30 others 'x'). Counts only: no pinning rule.
    // Seen: amounts 146..149 print 'X' (yes) against 'x' (no); the 46 others 'x' in both.
    if (!await casing()) return;
    const sql = async (x: number) => {
      const k = `CASE WHEN ${await person7('p.')} THEN c.a ELSE c.b END`;
      return `SELECT p.amount AS amount, ${k} AS k FROM pay AS p CROSS JOIN casing AS c WHERE ${await fourWithSeven(x, 'p.')} GROUP BY p.amount, ${k}`;
    };
    const { yes, no } = await bothWorlds(sql);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('closed by rule after the thirteenth pass', () => {
  it('was refused only by accident (a collation anywhere in a prod query over personal data is uncheckable by its own rule): the collated pair written inline in a FROM subquery instead of a workspace table, and a collation in WHERE', async () => {
    // The twelfth pass refused COLLATE in the SELECT list and GROUP BY only; this subquery's columns
    // carry NOCASE into the outer GROUP BY. It was refused because the companions' rendering failed,
    // which a change of rendering could open; now the shape refuses it before anything runs.
    const inline = await bothWorlds(async (x) => {
      const k = `CASE WHEN ${await person7('p.')} THEN c.a ELSE c.b END`;
      return `SELECT ${k} AS k FROM pay AS p CROSS JOIN (SELECT 'X' COLLATE NOCASE AS a, 'x' COLLATE NOCASE AS b) AS c WHERE ${await fourWithSeven(x, 'p.')} GROUP BY ${k}`;
    });
    const filtered = await bothWorlds(async (x) => `SELECT district, count(*) AS n FROM pay WHERE district COLLATE NOCASE = '四区' AND ${await fourWithSeven(x)} GROUP BY district`);
    for (const { yes, no } of [inline, filtered]) {
      expect(yes.status).toBe(422);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes.body.message).toMatch(/collation \(COLLATE\)/);
      // SAFE: the two look the same.
      expect(yes).toEqual(no);
    }
  });
});

describe('stopped by the thirteenth pass', () => {
  it('STOPPED: DOUBLE values cast to VARCHAR before grouping are grouped as strings: \'-0.0\' and \'0.0\' are two groups, and every row of a group has the same string (1 / CAST(key AS DOUBLE) is the same whichever row came first)', async () => {
    // Person 7's early rows come first in 四区's group when they paid above x; the key is 四区's
    // -0.0 either way, cast to text before DuckDB compares it, so no row of the group prints apart.
    // (A group of person 7's rows alone would be withheld, and that a row was withheld is the known
    // limit of docs/sandbox.md "Known limits": not this pass's subject.)
    const { yes, no } = await bothWorlds(async (x) => {
      const k = `CAST(CASE WHEN district = '四区' THEN -0.0::DOUBLE ELSE 0.0::DOUBLE END AS VARCHAR)`;
      return `SELECT ${k} AS k, 1 / CAST(${k} AS DOUBLE) AS s FROM pay WHERE (${await fourWithSeven(x)}) OR district = '三区' GROUP BY ${k}`;
    });
    expect(yes.status).toBe(200);
    expect(yes).toEqual(no);
  });

  it('STOPPED: ORDER BY a constant with LIMIT 1, and ORDER BY an expression equal for every group, are broken by the keys (the same group comes first in both worlds)', async () => {
    for (const order of ['1 = 1', 'length(district)']) {
      const { yes, no } = await bothWorlds(async (x) => `SELECT district, p.amount AS amount FROM pay AS p WHERE ${await fourWithSeven(x, 'p.')} OR p.district = '三区' GROUP BY district, p.amount ORDER BY ${order} LIMIT 1`);
      expect(yes.status).toBe(200);
      expect(yes).toEqual(no);
    }
  });
});
