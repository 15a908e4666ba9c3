/**
 * Red-team attacks on the person-level checks of prod answers (issue #11 item 3, invariant 8).
 * Every test asserts the SAFE behaviour. Tests named `was a hole:` failed against the first version
 * of the checks and pass since the fixes; `STOPPED:` passed from the start; `SLOWED, not closed:`
 * an attack that still works, at the probing rate. Attacks that still work are documented as known
 * limits in docs/sandbox.md (an error only one row triggers, slowed; N against N-1 in two queries;
 * a total minus the groups queried one by one).
 *
 * Setup: the `pay` dataset of tests/security/prod-answers.test.ts (400 people x 20 payments,
 * resident IDs and mobiles under default policies). Person 0 lives alone in 孤岛区; person 1 pays
 * 10,000,000 a month (二区); person 6 is an ordinary resident of 三区 paying 100–149.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownPerson, licensePayTenant } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'p1', sub: 'pat' } as const;


/** A masked mobile as prod shows it (three digits, stars, four digits). */
const MASKED_MOBILE = /\d{3}\*{4}\d{4}/;

describe('attacks on the person-level checks of prod answers', () => {
  let t: TestApp;
  /** Known to the attacker: masked mobiles (public mask rules) and birth years. */
  let rich: { mobile: string; year: number };
  let plain: { mobile: string; year: number };
  let lonely: { mobile: string; year: number };
  /** Ground truth, computed outside the platform: person 6's total payments. */
  const plainTotal = Array.from({ length: 20 }, (_, k) => 100 + ((6 * 20 + k) % 50)).reduce((a, b) => a + b, 0);

  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'p1');
    rich = await knownPerson(1);
    plain = await knownPerson(6);
    lonely = await knownPerson(0);
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const query = (sql: string, env = 'prod') => t.call(OPERATOR, 'POST', '/v1/query', { sql, env, maxRows: 10_000 });
  /** An answer's body, or no rows when the person-level checks refused it (a refusal shows nothing). */
  const answerOrRefusal = async (sql: string) => {
    const response = await query(sql);
    if (response.statusCode === 422 && /^DSC_ERR_/.test(response.json().code)) return { rows: [] as unknown[][] };
    return expectStatus(response, 200).json();
  };


  /** What an attacker observes of an answer: status, code, rows and the disclosure report. */
  async function observe(sql: string): Promise<string> {
    const response = await query(sql);
    const body = response.json();
    return JSON.stringify({ status: response.statusCode, code: body.code, rows: body.rows, disclosure: body.disclosure });
  }

  // ---------------------------------------------------------------- whole rows and identifiers

  it('was a hole: a table alias used as a column (the whole row as a struct) does not show identifiers', async () => {
    for (const sql of ['SELECT p FROM pay p', 'SELECT pay FROM pay', 'SELECT to_json(p) AS j FROM pay p', 'SELECT p.amount, p FROM pay AS p']) {
      const response = await query(sql);
      expect(response.statusCode, sql).toBe(422);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
    }
  });

  it('was a hole: COLUMNS(...) inside an expression does not show identifiers', async () => {
    for (const sql of ["SELECT COLUMNS('mobile') || '' FROM pay", "SELECT upper(COLUMNS('mob.*')) FROM pay", "SELECT [COLUMNS('mobile')] AS m FROM pay", "SELECT struct_pack(COLUMNS('mobile|id_card')) FROM pay"]) {
      const response = await query(sql);
      expect(response.statusCode, sql).toBe(422);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
    }
  });

  it('was a hole: a field of the whole-row struct does not show an identifier', async () => {
    for (const sql of ["SELECT struct_extract(p, 'mobile') AS m FROM pay p", "SELECT (p).mobile AS m FROM pay p"]) {
      const response = await query(sql);
      expect(response.statusCode, sql).toBe(422);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
    }
  });

  it('was a hole: min/max over the whole-row struct or COLUMNS(...) do not return one person\'s identifier', async () => {
    for (const sql of ['SELECT min(p) AS m FROM pay p', "SELECT max(COLUMNS('mobile')) FROM pay", "SELECT max(struct_extract(p, 'mobile')) AS m FROM pay p", "SELECT district, max(p) AS m FROM pay p WHERE district <> '孤岛区' GROUP BY district"]) {
      const response = await query(sql);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
    }
  });

  it('STOPPED: identifiers through aliases, structs, lists, star modifiers and casts are refused', async () => {
    for (const sql of [
      'SELECT mobile AS x FROM pay', "SELECT {'a': mobile} AS s FROM pay", 'SELECT [mobile] AS l FROM pay', 'SELECT row(mobile, amount) AS r FROM pay',
      'SELECT CAST(id_card AS VARCHAR) AS v FROM pay', 'SELECT * EXCLUDE (amount) FROM pay', "SELECT * REPLACE (upper(mobile) AS mobile) FROM pay",
      'SELECT COLUMNS(*) FROM pay', 'SELECT p.* FROM pay p', 'SELECT substr(mobile, 1, 7) AS x FROM pay',
    ]) {
      const response = await query(sql);
      expect(response.statusCode, sql).toBe(422);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
    }
  });

  // ---------------------------------------------------------------- row-level: ORDER BY / LIMIT

  it('was a hole: ORDER BY an identifier and LIMIT do not pick one person\'s rows out of a k-anonymous population', async () => {
    // The population (everyone) is k-anonymous; the rows shown are the lonely resident's 20 payments.
    const sql = `SELECT amount FROM pay ORDER BY mobile = '${lonely.mobile}' DESC, amount LIMIT 20`;
    const response = await query(sql);
    expect(response.statusCode, sql).toBe(422);
  });

  it('was a hole: ORDER BY ... LIMIT 1 does not answer "does this person earn more than X"', async () => {
    const ask = (mobile: string) => observe(`SELECT amount > 1000 AS rich FROM pay ORDER BY mobile = '${mobile}' DESC LIMIT 1`);
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
  });

  it('was a hole: ORDER BY ... LIMIT 1 does not show the single largest value (one person\'s own)', async () => {
    const response = await query('SELECT amount FROM pay ORDER BY amount DESC LIMIT 1');
    if (response.statusCode === 200) expect(response.json().rows.flat().map(Number)).not.toContain(10_000_000);
  });

  it('was a hole: DISTINCT ON does not show the largest value of a group (one person\'s own)', async () => {
    const response = await query("SELECT DISTINCT ON (district) district, amount FROM pay WHERE district <> '孤岛区' ORDER BY district, amount DESC");
    if (response.statusCode === 200) expect(response.json().rows.map((r: unknown[]) => Number(r[1]))).not.toContain(10_000_000);
  });

  // ---------------------------------------------------------------- membership oracles

  it('was a hole: a row-level answer over one person is refused, over nobody answered: the two must look the same', async () => {
    const ask = (mobile: string) => observe(`SELECT 1 AS x FROM pay WHERE mobile = '${mobile}' AND amount > 1000`);
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
  });

  it('was a hole: withheldRows does not say whether one person has a property', async () => {
    const ask = (mobile: string) => observe(`SELECT district, count(*) AS n FROM pay WHERE mobile = '${mobile}' AND amount > 1000 GROUP BY district`);
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
  });

  it('STOPPED: an aggregate without GROUP BY over one person or nobody looks the same', async () => {
    const ask = (mobile: string) => observe(`SELECT count(*) AS n, sum(amount) AS s FROM pay WHERE mobile = '${mobile}' AND amount > 1000`);
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
  });

  it('was a hole: HAVING over a hidden aggregate of one person does not answer a yes/no question about them', async () => {
    const ask = (mobile: string) => observe(`SELECT count(*) AS n FROM pay HAVING max(amount) FILTER (WHERE mobile = '${mobile}') > 1000`);
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
    const ask2 = (mobile: string) => observe(`SELECT district, count(*) AS n FROM pay WHERE district <> '孤岛区' GROUP BY district HAVING count(*) FILTER (WHERE mobile = '${mobile}' AND amount > 1000) > 0`);
    expect(await ask2(rich.mobile)).toBe(await ask2(plain.mobile));
  });

  it('was a hole: ORDER BY a hidden aggregate of one person and LIMIT 1 do not reveal their district', async () => {
    const sql = (mobile: string) => `SELECT district, count(*) AS n FROM pay WHERE district <> '孤岛区' GROUP BY district ORDER BY count(*) FILTER (WHERE mobile = '${mobile}') DESC LIMIT 1`;
    // Person 6 lives in 三区; an answer naming 三区 here is their district.
    const response = await query(sql(plain.mobile));
    if (response.statusCode === 200) expect(response.json().rows.map((r: unknown[]) => r[0])).not.toEqual(['三区']);
    const other = await query(sql((await knownPerson(7)).mobile));
    if (other.statusCode === 200) expect(other.json().rows.map((r: unknown[]) => r[0])).not.toEqual(['四区']);
  });

  it('STOPPED (over-strict): a sum whose FILTER or CASE names an identifier is refused as "sum over an identifier"', async () => {
    for (const sql of [
      `SELECT sum(amount) AS everyone, sum(amount) FILTER (WHERE mobile <> '${plain.mobile}') AS others FROM pay WHERE district = '三区'`,
      `SELECT sum(amount) - sum(amount) FILTER (WHERE mobile <> '${plain.mobile}') AS x FROM pay WHERE district = '三区'`,
      `SELECT sum(CASE WHEN mobile = '${rich.mobile}' THEN amount + 1000000 ELSE 1000000 END) AS s, count(*) AS n FROM pay WHERE district <> '孤岛区'`,
    ]) expect(expectStatus(await query(sql), 422).json().code, sql).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole: two large cells of one answer do not differ by one person (sum with and without them)', async () => {
    // The operator needs no identifier: everyone minus everyone-but-those-born-in-Y (a handful of people, person 6 among them).
    const answer = expectStatus(await query(`SELECT sum(amount) AS everyone, sum(amount) FILTER (WHERE id_card_birth_year <> ${plain.year}) AS others, count(*) AS n, count(*) FILTER (WHERE id_card_birth_year <> ${plain.year}) AS n_others FROM pay WHERE district = '三区'`), 200).json();
    const [everyone, others, n, nOthers] = answer.rows[0] ?? [null, null, null, null];
    // The difference is the total of fewer than 10 people (20 payments each): a cell the threshold would withhold.
    const people = (Number(n) - Number(nOthers)) / 20;
    const leaked = everyone !== null && others !== null && n !== null && nOthers !== null && people > 0 && people < 10;
    expect(leaked, `everyone ${everyone} - others ${others} = the total of ${people} people born in ${plain.year}`).toBe(false);
  });

  it('was a hole: one output column combining two aggregates does not give the total of fewer than 10 people', async () => {
    const answer = (await answerOrRefusal(`SELECT sum(amount) - sum(amount) FILTER (WHERE id_card_birth_year <> ${plain.year}) AS x, count(*) - count(*) FILTER (WHERE id_card_birth_year <> ${plain.year}) AS n FROM pay WHERE district = '三区'`));
    const [x, n] = answer.rows[0] ?? [null, null];
    expect(x !== null && n !== null && Number(n) > 0 && Number(n) < 200, `sum ${x} over ${n} payments of fewer than 10 people`).toBe(false);
  });

  it('was a hole: a constant offset in CASE does not hide one person\'s sum from the dominance rule', async () => {
    // Every person contributes 20 x 1,000,000, so no one dominates; the rich person adds 200,000,000.
    const answer = (await answerOrRefusal(`SELECT sum(CASE WHEN amount > 1000 THEN amount + 1000000 ELSE 1000000 END) AS s, count(*) AS n FROM pay WHERE district <> '孤岛区'`));
    const [s, n] = answer.rows[0] ?? [null, null];
    const leaked = s !== null && n !== null && Number(s) - 1_000_000 * Number(n) === 200_000_000;
    expect(leaked, `s ${s} - 1e6 x n ${n} = person 1's total`).toBe(false);
  });

  it('was a hole: count differences give one person\'s exact value by bisection (identifiers allowed in counts)', async () => {
    // How many of person 6's payments exceed X, for any X: a handful of answers give every amount.
    const above = async (x: number) => {
      const answer = (await answerOrRefusal(`SELECT count(*) - count(*) FILTER (WHERE NOT (mobile = '${plain.mobile}' AND amount > ${x})) AS n FROM pay`));
      return answer.rows[0]?.[0] === null || answer.rows[0] === undefined ? null : Number(answer.rows[0][0]);
    };
    const counts = [await above(0), await above(119.5), await above(139)];
    expect(counts, 'person 6 has 20 payments > 0, 20 > 119.5, 0 > 139').not.toEqual([20, 20, 0]);
  });

  it('STOPPED: a total and the same total without the dominant person: refused (the FILTER chooses rows by the column summed)', async () => {
    // Before the ninth pass the dominated cell was withheld; now the shape itself is uncheckable.
    const response = await query(`SELECT sum(amount) AS everyone, sum(amount) FILTER (WHERE amount < 1000) AS others FROM pay WHERE district = '二区'`);
    expect(response.statusCode).toBe(422);
    expect(response.json().code).toBe('DSC_ERR_UNCHECKABLE');
  });

  it('was a hole: the total minus the shown groups does not give the count of two withheld small groups', async () => {
    // Two groups of one person each (孤岛区's resident and the rich payer) are withheld; with only
    // one more group withheld when exactly one was, the grand total minus the shown groups gave
    // "40 payments": 2 people (everyone pays 20 times). Now a passing group is withheld with them.
    const total = Number(expectStatus(await query('SELECT count(*) AS n FROM pay'), 200).json().rows[0][0]);
    expect(total).toBe(8000);
    const answer = expectStatus(await query(`SELECT CASE WHEN district = '孤岛区' THEN 'lonely' WHEN amount > 1000 THEN 'rich' ELSE district END AS g, count(*) AS n FROM pay GROUP BY g`), 200).json();
    const shown = answer.rows.reduce((sum: number, row: unknown[]) => sum + Number(row[1] ?? 0), 0);
    const people = (total - shown) / 20;
    expect(people, `the total minus the shown groups describes ${people} people`).toBeGreaterThanOrEqual(10);
    expect(answer.disclosure.reasons.join(' ')).toMatch(/secondary suppression/);
  });

  it('was a hole: a count difference inside one answer does not say whether one person has a property', async () => {
    const ask = async (mobile: string) => {
      const answer = (await answerOrRefusal(`SELECT count(*) - count(*) FILTER (WHERE NOT (mobile = '${mobile}' AND amount > 1000)) AS x FROM pay`));
      return JSON.stringify(answer.rows);
    };
    expect(await ask(rich.mobile)).toBe(await ask(plain.mobile));
  });

  it('was a hole: max over a large group is not one person\'s own value', async () => {
    const answer = expectStatus(await query("SELECT max(amount) AS m FROM pay WHERE district <> '孤岛区'"), 200).json();
    expect(answer.rows.flat().map(Number)).not.toContain(10_000_000);
  });

  it('was a hole: a crowd in the WHERE does not carry one person\'s value into a row-level answer', async () => {
    // 1 rich person + 100 people of 一区 make a k-anonymous population; the rich one's salary is a row.
    const response = await query("SELECT DISTINCT amount FROM pay WHERE amount > 1000 OR district = '一区'");
    if (response.statusCode === 200) expect(response.json().rows.flat().map(Number)).not.toContain(10_000_000);
  });

  it('was a hole: the row count of a prod workspace table over one person does not answer a yes/no question', async () => {
    const ask = async (mobile: string, name: string) => {
      const response = await t.call(OPERATOR, 'POST', '/v1/tables', { name, env: 'prod', sql: `SELECT amount FROM pay WHERE mobile = '${mobile}' AND amount > 1000` });
      const body = response.json();
      return JSON.stringify({ status: response.statusCode, code: body.code, rows: body.rows });
    };
    expect(await ask(rich.mobile, 'probe_rich')).toBe(await ask(plain.mobile, 'probe_plain'));
  });

  it('was a hole: the row count of a prod workspace table does not give one person\'s exact value', async () => {
    const response = await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'probe_value', env: 'prod', sql: `SELECT DISTINCT r.range AS v FROM pay, range(CAST(amount AS BIGINT)) AS r WHERE mobile = '${plain.mobile}'` });
    // The largest of person 6's payments is 139: 139 rows say so.
    if (response.statusCode === 201) expect(response.json().rows).not.toBe(139);
  });

  it('STOPPED: a prod workspace table derived from personal data cannot be read back in prod', async () => {
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'copy_all', env: 'prod', sql: 'SELECT * FROM pay' }), 201);
    for (const sql of ['SELECT * FROM copy_all', 'SELECT count(*) FROM copy_all', 'SELECT district, count(*) FROM workspace.copy_all GROUP BY 1', 'SUMMARIZE copy_all', 'SELECT * FROM copy_all JOIN pay USING (mobile)']) {
      const response = await query(sql);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
      if (response.statusCode === 200) expect(response.json().rows.flat().map(String), sql).not.toContain('10000000');
    }
  });

  // ---------------------------------------------------------------- binding, grouping, joins

  it('STOPPED: GROUP BY by alias, position, ALL and expression is counted per person', async () => {
    for (const sql of [
      'SELECT district AS d, count(*) AS n FROM pay GROUP BY d',
      'SELECT district, count(*) AS n FROM pay GROUP BY 1',
      'SELECT district, count(*) AS n FROM pay GROUP BY ALL',
      "SELECT district || '' AS d, count(*) AS n FROM pay GROUP BY district || ''",
      'SELECT upper(district) AS amount, count(*) AS n FROM pay GROUP BY upper(district)',
      'SELECT district, count(DISTINCT amount) AS n FROM pay GROUP BY district',
      'SELECT d, count(*) AS n FROM pay AS q(a, b, d, c) GROUP BY d',
    ]) {
      // Either counted (孤岛区 withheld) or refused (fail closed).
      const response = await query(sql);
      if (response.statusCode === 200) expect(JSON.stringify(response.json().rows), sql).not.toContain('孤岛区');
      else expect(response.json().code, sql).toBe('DSC_ERR_UNCHECKABLE');
    }
  });

  it('STOPPED: self-joins, USING/NATURAL joins and table functions multiplying rows still count people', async () => {
    for (const sql of [
      "SELECT a.district, count(*) AS n FROM pay a JOIN pay b ON a.mobile = b.mobile GROUP BY a.district",
      'SELECT district, count(*) AS n FROM pay JOIN pay AS b USING (mobile, district) GROUP BY district',
      'SELECT district, count(*) AS n FROM pay NATURAL JOIN pay AS b GROUP BY district',
      'SELECT district, count(*) AS n FROM pay, range(50) GROUP BY district',
      'SELECT district, count(*) AS n FROM pay CROSS JOIN unnest([1, 2, 3]) GROUP BY district',
      'SELECT district, count(*) AS n FROM pay, LATERAL (SELECT amount * 2 AS a2) GROUP BY district',
    ]) {
      const response = await query(sql);
      if (response.statusCode === 200) expect(JSON.stringify(response.json().rows), sql).not.toContain('孤岛区');
      else expect(response.statusCode, sql).toBe(422);
    }
  });

  it('STOPPED: quasi-identifiers renamed, cut or cast are still counted for k-anonymity', async () => {
    for (const sql of ['SELECT district AS x, amount FROM pay', 'SELECT substr(district, 1, 2) AS x FROM pay', 'SELECT CAST(district AS VARCHAR) AS x FROM pay', 'SELECT DISTINCT id_card_birth_year AS y, id_card_gender AS g, district AS d FROM pay']) {
      const response = await query(sql);
      // Person 0's row (alone in 孤岛区) is left out, or (with an amount beside it) the answer is refused.
      if (response.statusCode === 422) expect(response.json().code, sql).toBe('DSC_ERR_UNCHECKABLE');
      else {
        const body = expectStatus(response, 200).json();
        expect(body.rows.length, sql).toBeGreaterThan(0);
        expect(JSON.stringify(body.rows), sql).not.toContain('孤岛');
      }
    }
  });

  it('STOPPED: aggregates hidden in CASE/COALESCE and FILTERs over one person are withheld', async () => {
    for (const sql of [
      `SELECT district, coalesce(sum(amount) FILTER (WHERE mobile = '${plain.mobile}'), 0) AS s FROM pay WHERE district <> '孤岛区' GROUP BY district`,
      `SELECT district, CASE WHEN count(*) FILTER (WHERE mobile = '${plain.mobile}') > 0 THEN 1 ELSE 0 END AS here FROM pay WHERE district <> '孤岛区' GROUP BY district`,
      `SELECT district, sum(CASE WHEN mobile = '${plain.mobile}' THEN amount END) AS s FROM pay WHERE district <> '孤岛区' GROUP BY district`,
    ]) {
      // Withheld, or refused (a sum naming an identifier is refused outright).
      const response = await query(sql);
      if (response.statusCode === 200) for (const row of response.json().rows) expect(row[1], sql).toBeNull();
      else expect(response.json().code, sql).toBe('DSC_ERR_UNCHECKABLE');
    }
  });

  // ---------------------------------------------------------------- errors and resources

  it('STOPPED: errors do not echo data values', async () => {
    for (const sql of [
      'SELECT count(*) AS n FROM pay WHERE CAST(mobile AS INTEGER) > 0',
      'SELECT count(*) AS n FROM pay WHERE error(mobile) IS NULL',
      "SELECT district, count(*) AS n FROM pay WHERE CAST(district || mobile AS DATE) IS NOT NULL GROUP BY district",
      'SELECT count(*) AS n FROM pay WHERE CAST(id_card AS INTEGER) > 0',
    ]) {
      const response = await query(sql);
      expect(response.statusCode, sql).not.toBe(200);
      expect(response.body, sql).not.toMatch(MASKED_MOBILE);
      expect(response.body, sql).not.toMatch(/区/);
    }
  });

  it('STOPPED: many groups and deep nesting are refused cleanly, not crashing the engine', async () => {
    const many = await query('SELECT amount * 100000 + r.range AS g, count(*) AS n FROM pay, range(300) AS r GROUP BY g');
    expect([200, 408, 422], 'many groups').toContain(many.statusCode);
    const deep = await query(`SELECT district, count(*) AS n FROM pay WHERE ${'abs('.repeat(300)}amount${')'.repeat(300)} > 0 GROUP BY district`);
    expect([400, 422], 'deep nesting').toContain(deep.statusCode);
    const wide = await query(`SELECT district, ${Array.from({ length: 200 }, (_, i) => `sum(amount + ${i}) AS s${i}`).join(', ')} FROM pay GROUP BY district`);
    expect([200, 400, 422], 'wide').toContain(wide.statusCode);
    if (wide.statusCode === 200) expect(JSON.stringify(wide.json().rows)).not.toContain('孤岛区');
    // Still serving.
    expectStatus(await query("SELECT district, count(*) AS n FROM pay WHERE district <> '孤岛区' GROUP BY district"), 200);
  });

  // Last in the file: it spends the tenant's probing budget.
  it('SLOWED, not closed: a runtime error that only one person\'s row triggers says nothing more than any failure, and counts as probing', async () => {
    const EVE = { role: 'operator', org: 'p1', sub: 'eve' } as const;
    const ask = (sql: string) => t.call(EVE, 'POST', '/v1/query', { sql, env: 'prod' });
    // "Does person 1 pay more than X a month?": the cast fails only on their rows when they do.
    const oracle = (x: number) => `SELECT count(*) AS n FROM pay WHERE CASE WHEN mobile = '${rich.mobile}' AND id_card_birth_year = ${rich.year} AND amount > ${x} THEN CAST('x' AS INTEGER) ELSE 1 END = 1`;
    const failed = await ask(oracle(5_000_000));
    expect(failed.statusCode, failed.body).toBe(422);
    expect(failed.json().code).toBe('DSC_ERR_RUNTIME_ERROR');
    // Another kind of failure (a logarithm of zero, not a conversion) over everyone reads the same: no error class.
    const other = await ask('SELECT count(*) AS n FROM pay WHERE ln(amount - amount) > 0');
    expect(other.json().code).toBe('DSC_ERR_RUNTIME_ERROR');
    expect(other.json().message).toBe(failed.json().message);
    expect(failed.body).not.toMatch(/Conversion|Out of Range|INT32|'x'/);
    // Each such failure spends the operator's probing budget: past its burst, the operator is slowed.
    const codes: string[] = [];
    for (let i = 0; i < 40 && !codes.includes('SBX_ERR_REJECTIONS_RATE_LIMITED'); i++) codes.push((await ask(oracle(5_000_000 + i))).json().code);
    expect(codes).toContain('SBX_ERR_REJECTIONS_RATE_LIMITED');
    expect(codes.filter((c) => c !== 'SBX_ERR_REJECTIONS_RATE_LIMITED').every((c) => c === 'DSC_ERR_RUNTIME_ERROR')).toBe(true);
  });
});
