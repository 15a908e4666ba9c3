/**
 * Red-team pass 43a: the fixes of passes 42a/42b (commits 48a402e, 452b74a) attacked again over
 * HTTP, as the operator of `rt43a-org` and the application entity `rt43a-lab` (the recipient of
 * every release, the operator's accomplice):
 * 1. differencing (sandbox/engine/release-store.ts, closePairs): the sum rules select the released
 *    cells "more than half inside" the new cell; cells each mostly outside it, whose outside people
 *    add nothing to the value (a measure that is 0 in their rows: a subsidy most people lack), are
 *    never selected (padding by expression, `ELSE 0`, is refused as uncheckable: STOPPED); a share changed against a per-month column (cells sharing people: their
 *    contributions never equal a total's, and the union rule counts people only); and (utility) a
 *    half-year total after a per-month release of the same people, a few of whom joined mid-year;
 * 2. rows of people (rowsOfPeople, desensitize/person-numbers.ts): a ward with a genuine count
 *    (`住院次数`, each inpatient's admissions) and no per-row code; (utility) a table of counts per
 *    county, one row per county, refused as rows of people;
 * 3. merges (sameRole, desensitize/doubtful-keys.ts): a register of guarantors whose entity is
 *    `担保人身份证号` with the guarantors' own mobiles under `手机号`.
 * SAFE means the operator and the recipient see the same whatever the target's value (or the probe
 * is refused or withheld, one bit at most). `was a hole` tests assert the SAFE outcome and failed
 * when written (the comment says what was seen, file:line, what SAFE means and a fix); `STOPPED:`
 * tests hold now and fail if the defence broke; `control:` shows the method reads the truth.
 *
 * Three findings of this pass are not fixed and their tests are left out (main stays green; branch
 * `rt43a` of the checkout that ran the pass holds them; docs/exports.md says so): (1) released cells
 * each mostly outside a new cell are never summed, and a member adding 0 is a member: after
 * "subsidy per district" of everyone (only cohort b has one), cohort b's total without its target
 * passed and gave the target's subsidy by subtraction; (2) a share changed against a per-month
 * column (cells sharing people): the cohort count without the target's payments above 140 passed,
 * and the month sum minus it gave how many there were; both need each member's contribution as
 * numbers in the trusted store; (3, utility) a half-year total after a per-month release of the
 * same people, three of whom joined in July, fails (the union rule counts them).
 *
 * Setup (test/helpers/crafted-domain.ts; the truth from the generating SQL in an in-memory DuckDB):
 * - `rt43a_pay`: cohorts a..d, 200 people each (p // 200), 10 payments a person in 10 distinct
 *   months of 12 (as pass 42b), district p % 4, amount 100..149, a subsidy 10..29 for cohort b and 0
 *   for everyone else; cohort q (people 800..999) pays
 *   three times a year, every four months from month 1 + p % 4 (about 50 people a month), and its
 *   people 800..802 joined in July (their payments before month 7 do not exist). Cohorts never share
 *   a person, so the attacks sharing one release store are never compared with each other's cells.
 * - `rt43a_w_*`: wards of 200 inpatients (年龄, 区县, 诊断, no 编号), inpatient 7 alone in 北区 (97,
 *   HIV); `rt43a_c_county`: people per county (100 counties, one row each, with their mean age).
 * - `rt43a_reg_<v>` (entity: the ID) and `rt43a_pay_<v>` (entity: mobile): G's ten mobiles beside
 *   G's one ID in the register, and G alone in 五区 in the payments keyed by those mobiles.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes, type CreatedExport } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt43a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'otto' } as const;
const LAB = { id: 'rt43a-lab', name: 'RT43a Lab' };
const LAB_USER = { role: 'applicant', org: LAB.id, sub: 'lise' } as const;
const PURPOSE = 'red team 43a';

const TABLE = 'rt43a_pay';
const PAY_SQL = `SELECT * FROM (
    SELECT ${residentIdSql('p', 4307)} AS id_card, ['a', 'b', 'c', 'd'][1 + p // 200] AS cohort,
      ['一区', '二区', '三区', '四区'][1 + p % 4] AS district, CAST(1 + (i * 7) % 12 AS INTEGER) AS month,
      CAST(100 + (i * 37) % 50 AS INTEGER) AS amount, CAST(CASE WHEN p // 200 = 1 THEN 10 + (i * 13) % 20 ELSE 0 END AS INTEGER) AS subsidy
    FROM (SELECT range AS i, range // 10 AS p FROM range(8000))
    UNION ALL
    SELECT ${residentIdSql('p', 4307)}, 'q', ['一区', '二区', '三区', '四区'][1 + p % 4], CAST(1 + p % 4 + 4 * j AS INTEGER),
      CAST(100 + (p * 13 + j * 37) % 50 AS INTEGER), CAST(0 AS INTEGER)
    FROM range(800, 1000) t(p), range(3) u(j) WHERE NOT (p < 803 AND 1 + p % 4 + 4 * j < 7))`;
const X_YES = 140;
const X_NO = 149;

/** A ward of 200 inpatients without a per-row code; inpatient 7 alone in 北区, 97, HIV. `extra` is one more column. */
const RARE = 'B24 HIV';
const wardSql = (extra?: { header: string; sql: string }) => `SELECT CAST(CASE WHEN p = 7 THEN 97 ELSE 20 + p % 60 END AS INTEGER) AS 年龄,
    CASE WHEN p = 7 THEN '北区' ELSE ['东区', '西区'][1 + p % 2] END AS 区县,
    CASE WHEN p = 7 THEN '${RARE}' ELSE ['I10 原发性高血压', 'E11.9 2型糖尿病', 'J45.9 支气管哮喘'][1 + p % 3] END AS 诊断
    ${extra ? `, ${extra.sql} AS "${extra.header}"` : ''} FROM range(200) t(p)`;
const WARDS = {
  control: undefined,
  /** Each inpatient's number of admissions (a HIS field: 住院次数), a whole number under a count's header. */
  admissions: { header: '住院次数', sql: 'CAST(1 + p % 4 AS INTEGER)' },
} as const;
/** People per county: one row per county (100), its code and name, its count and its mean age. */
const COUNTY_SQL = `SELECT '3201' || lpad(CAST(k AS VARCHAR), 2, '0') AS 区划代码, '第' || CAST(k AS VARCHAR) || '县' AS 区县,
    CAST(2000 + (k * 337) % 5000 AS BIGINT) AS 人数, CAST(35 + (k * 7) % 100 / 10.0 AS DECIMAL(5,1)) AS 平均年龄 FROM range(100) t(k)`;

/** A register (entity: its ID column) with each person's own mobile, and G's ten mobiles beside G's one ID. */
const REGISTERS = {
  plain: { id: '身份证号', seed: 4370 },
  guarantor: { id: '担保人身份证号', seed: 4380 },
} as const;
type RegisterName = keyof typeof REGISTERS;
const ID = (i: string, seed: number) => residentIdSql(i, seed, { from: 1950, to: 1990 });
const registerSql = (name: RegisterName) => {
  const { id, seed } = REGISTERS[name];
  return `SELECT * FROM (
    SELECT ${ID('p + 1000', seed)} AS "${id}", ${mobileSql('p', seed)} AS 手机号, ['一区', '二区', '三区'][1 + p % 3] AS district FROM range(150) t(p)
    UNION ALL SELECT ${ID('9201', seed + 2)}, ${mobileSql('9200 + k', seed + 1)}, '五区' FROM range(10) t(k))`;
};
const paymentsSql = (name: RegisterName) => {
  const { seed } = REGISTERS[name];
  return `SELECT * FROM (
    SELECT ${mobileSql('p', seed)} AS mobile, ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9200 + k', seed + 1)}, '五区', CAST(83.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;
};

describe('red team 43a', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, PURPOSE);
  let t: TestApp;
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);
  let operators = 0;
  const ask = (sql: string) => prodAsker(() => t, { role: 'operator', org: ORG, sub: `asker${operators++}` } as const)(sql);
  const said = (answer: Awaited<ReturnType<typeof ask>>) => (answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}`);
  /** Per cohort, the target: the first person with 1..9 payments above X_YES and none above X_NO. */
  const target: Record<string, { id: string; above: number; subsidy: number }> = {};

  const ingest = async (id: string, sql: string, options: Parameters<typeof domain.ingest>[2] = {}) => {
    try {
      await domain.ingest(id, sql, options);
    } catch (error) {
      throw new Error(`ingest ${id}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
    }
  };

  beforeAll(async () => {
    t = await domain.start();
    await ingest(TABLE, PAY_SQL);
    for (const [name, extra] of Object.entries(WARDS)) await ingest(`rt43a_w_${name}`, wardSql(extra));
    await ingest('rt43a_c_county', COUNTY_SQL);
    for (const name of Object.keys(REGISTERS) as RegisterName[]) {
      await ingest(`rt43a_reg_${name}`, registerSql(name), { entity: REGISTERS[name].id });
      await ingest(`rt43a_pay_${name}`, paymentsSql(name), { entity: 'mobile' });
    }
    await domain.refresh();
    const [distinct] = await real(`SELECT count(DISTINCT id_card) AS n FROM (${PAY_SQL})`);
    expect(Number(distinct!.n), 'the generator gives 1,000 distinct people').toBe(1000);
    for (const cohort of ['a', 'b', 'c']) {
      const [row] = await real(`SELECT id_card, count(*) FILTER (WHERE amount > ${X_YES}) AS above, sum(subsidy) AS subsidy
        FROM (${PAY_SQL}) WHERE cohort = '${cohort}' GROUP BY id_card HAVING count(*) FILTER (WHERE amount > ${X_YES}) BETWEEN 1 AND 9
          AND count(*) FILTER (WHERE amount > ${X_NO}) = 0 ORDER BY id_card LIMIT 1`);
      target[cohort] = { id: String(row!.id_card), above: Number(row!.above), subsidy: Number(row!.subsidy) };
    }
  }, 900_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  const exports = exportProbes(() => t, OPERATOR, LAB.id, PURPOSE);
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const approve = async (created: CreatedExport): Promise<void> => {
    expect(created.outcome, JSON.stringify(created.checks)).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
  };
  const downloaded = async (id: string): Promise<string[][]> =>
    expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/download`), 200).body.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean).slice(1).map((line) => line.split(','));
  const columnSum = (rows: string[][], c: number) => rows.reduce((s, r) => s + Number(r[c]), 0);

  // ---------------------------------------------------------------------------------------------
  // 1. Differencing.
  // ---------------------------------------------------------------------------------------------

  it('control: after "payments and amount per district" of cohort a, the cohort total without its target fails differencing (a sum of the released column)', async () => {
    await exports.release(`SELECT district, count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'a' GROUP BY district`);
    const without = await exports.create(`SELECT count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'a' AND id_card <> '${target.a!.id}'`);
    expect(check(without, 'differencing'), JSON.stringify(without.checks)).toBe('fail');
  });

  it('STOPPED: padding by expression is no way round: `sum(CASE WHEN cohort = \'d\' THEN amount ELSE 0 END)` and `sum(amount) FILTER (WHERE cohort = \'d\') + 0 * count(*)` per district are uncheckable (`review`, never `pass`), so only the data\'s own zeros pad a cell', async () => {
    for (const column of ["sum(CASE WHEN cohort = 'd' THEN amount ELSE 0 END)", "sum(amount) FILTER (WHERE cohort = 'd') + 0 * count(*)"]) {
      const created = await exports.create(`SELECT district, ${column} AS paid FROM ${TABLE} WHERE cohort IN ('c', 'd') GROUP BY district`);
      expect({ outcome: created.outcome, differencing: check(created, 'differencing') }, JSON.stringify(created.checks)).toEqual({ outcome: 'review', differencing: 'review' });
    }
  });

  // ---------------------------------------------------------------------------------------------
  // 2. Rows of people.
  // ---------------------------------------------------------------------------------------------

  const wardSeen = async (name: string) => {
    const answer = await ask(`SELECT 区县, 年龄, 诊断 FROM rt43a_w_${name} WHERE 区县 = '北区'`);
    return `entity ${(await domain.profileOf(`rt43a_w_${name}`)).entity}: ${said(answer)}`;
  };

  it('control: the ward of 年龄, 区县 and 诊断 is rows of people without an entity, and prod refuses the 北区 inpatient\'s row', async () => {
    expect((await real(`SELECT 诊断 FROM (${wardSql()}) WHERE 区县 = '北区'`)).map((r) => r.诊断)).toEqual([RARE]);
    const seen = await wardSeen('control');
    expect(seen).toMatch(/^entity null: /);
    expect(seen).not.toContain(RARE);
  });

  it('was a hole (fix: 次数 and 件数 are no counts of people, COUNT_HEADER): the same ward with each inpatient\'s number of admissions (`住院次数`, a whole number under a count\'s header) and no per-row code is a "table of counts": prod shows the 北区 inpatient\'s age and diagnosis (HIV)', async () => {
    // Seen: entity null, no personal column, and prod answers [["北区",97,"B24 HIV"]]; the control
    // (without 住院次数) is refused DSC_ERR_UNCHECKABLE.
    // Where: desensitize/person-numbers.ts:75-76 (`counts`: a whole number under COUNT_HEADER
    // (`次数$`, :45) and no non-trait column distinct on half the rows): a ward without a 编号 (an
    // extract with the code dropped: the usual "de-identified" file) has no such column, so one
    // count-headed figure of each patient clears every row. 住院次数, 就诊次数, 随访次数 are per-patient
    // fields of every HIS extract.
    // SAFE: refused as the control is. Fix: a table of counts is a table of groups: its non-count
    // columns' combinations each on one row (count(DISTINCT (non-count columns)) = rows, measured at
    // ingest, as the 42a fix proposed), and a count column sums to more than the rows (a count of 1..4
    // beside 200 distinct combinations of age, district and diagnosis is one row per person).
    const seen = await wardSeen('admissions');
    expect(seen, seen).not.toContain(RARE);
  });

  it('was a hole (utility; fix: a group\'s statistic, 平均年龄, is no trait, STATISTIC): a table of people per county (one row per county: 区划代码, 区县, 人数, 平均年龄) is taken for rows of people and refused in prod: the county code is "a column nearly one per row" beside a trait (`平均年龄`)', async () => {
    // Seen: 422 DSC_ERR_UNCHECKABLE (entity null) for the totals of a table of counts.
    // Where: desensitize/person-numbers.ts:75 (`codes`: any non-count, non-trait column distinct on
    // half the rows or more; a table of groups with one row per group has every key column distinct)
    // with :38 (TRAIT reads 年龄 inside 平均年龄, a statistic of the group, not a person's trait).
    // Useful: the total population and its mean age. Fix: a count column whose values are the sizes
    // of groups keyed by the other columns (each key combination once) is a table of counts whatever
    // the width of its keys; a trait under a statistic's word (平均, 中位, mean, avg, median) is no
    // person's trait.
    const [truth] = await real(`SELECT sum(人数) AS n FROM (${COUNTY_SQL})`);
    const answer = await ask('SELECT sum(人数) AS n FROM rt43a_c_county');
    expect(answer.rows.map((r) => String(r[0])), `entity ${(await domain.profileOf('rt43a_c_county')).entity}: ${said(answer)}`).toEqual([String(truth!.n)]);
  });

  // ---------------------------------------------------------------------------------------------
  // 3. Merges.
  // ---------------------------------------------------------------------------------------------

  const districtTotal = async (table: string, district: string) => {
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM ${table} WHERE district = '${district}'`);
    return { shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined), said: said(answer) };
  };

  it('control: G\'s ten mobiles under `手机号` beside G\'s one ID under `身份证号` (the register\'s entity) are one person in the payments keyed by those mobiles: G\'s 五区 total withheld; a district of 50 payers shown', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) AS ids, sum(amount) AS s FROM (${paymentsSql('plain')}) WHERE district = '五区'`);
    expect([Number(truth!.ids), Number(truth!.s)]).toEqual([10, 838]);
    expect(await domain.kindsOf('rt43a_reg_plain')).toMatchObject({ 手机号: 'mobile', 身份证号: 'resident_id' });
    const g = await districtTotal('rt43a_pay_plain', '五区');
    expect(g.shown, g.said).toBe(false);
    expect((await districtTotal('rt43a_pay_plain', '一区')).shown).toBe(true);
  });

  it('was a hole (fix: a document that is the version\'s entity column takes every identifier under no role\'s header, sameRole): a register of guarantors keyed by `担保人身份证号` (the row\'s own person) with their own mobiles under `手机号` merges nothing: G\'s ten mobiles are "10 people" in the payments and G\'s total is shown', async () => {
    // Seen: 200 with G's 五区 count and total (the `身份证号` control is withheld).
    // Where: desensitize/doubtful-keys.ts:341-344 (sameRole: the document's header names a role,
    // guarantor (ROLES :358 `担保`), the mobile's names none, so "different people"), called at :284
    // whatever column is the dataset's ENTITY: in a register of guarantors (agents, doctors, 法人) the
    // role header is the row's own person, and every identifier beside it is theirs.
    // SAFE: withheld (one person). Fix: a document that is the version's entity column names the
    // row's person whatever its header: merge every identifier beside it unless that identifier's own
    // header names a role (联系人手机); more generally, compare roles relative to the entity column's.
    expect(await domain.kindsOf('rt43a_reg_guarantor')).toMatchObject({ 手机号: 'mobile', 担保人身份证号: 'resident_id' });
    expect((await domain.profileOf('rt43a_reg_guarantor')).entity).toBe('担保人身份证号');
    const g = await districtTotal('rt43a_pay_guarantor', '五区');
    expect(g.shown, g.said).toBe(false);
  });
});
