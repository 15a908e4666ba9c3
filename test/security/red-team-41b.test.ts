/**
 * Red-team pass 41b: the dev twin with fresh eyes, over HTTP, as an operator of `rt41b-org`. The
 * promise: nothing in dev describes a real person (no real person's value, no value held by fewer
 * than 10 people, no count or rate that moves by one person). Each attack asks one question in two
 * worlds (a dataset `_a` where a person T is present or holds the secret, and `_b` where not) and
 * is SAFE when dev answers the same in both. `was a hole` tests assert the SAFE outcome and
 * failed when written (the comment says what was seen, which file:line let it through, what SAFE
 * means and a fix); `STOPPED:` tests hold now and fail if the defence breaks; `control:` shows the
 * method reads what it should.
 *
 * Two holes this pass found are not fixed and their tests are left out (main stays green; branch
 * `rt41b` of the checkout that ran the pass holds them): the twin's profile counts people on the
 * raw entity column, not on the merged keys prod counts on (W, ten mobiles beside one resident ID,
 * is ten "people": W's district and W's payments of 9,999 reach dev), and its links are measured on
 * raw keys too (a watchlist of W's ten mobiles shares 10 entities with the payers' twin when W pays,
 * 0 when not). Fixing both means counting the profile on the domain's merged keys at ingest and
 * measuring again when the merges change; docs/catalog.md says so.
 *
 * Setup (test/helpers/crafted-domain.ts: ingested through the trusted pipeline, personal columns
 * plain, granted to rt41b-org; the truth from the generating SQL in an in-memory DuckDB):
 * - `rt41b_pay_a` (entity `mobile`, `身份证号` beside it): 150 payers in 一区–三区 paying 100..149,
 *   and W: ten mobiles beside W's one resident ID (merged into one person in prod, pass 35a), alone
 *   in 五区, paying 9,999 each. `rt41b_pay_b`: the same 150 payers without W.
 *   `rt41b_watch`: a watchlist of W's ten mobiles (ingested after both: its links are measured).
 * - `rt41b_clinic_a`/`_b`, version 1 (entity `id_card`): 300 patients, one row each, and T's 40 rows;
 *   T holds a rare diagnosis and 7 convictions (a) or a common one and 1 (b). Version 2: the same
 *   rows without `id_card` (the provider's "de-identified" extract), ingested during its test.
 * - `rt41b_ward_a`/`_b`: rows of people keyed by a code no rule knows (`编号`, one per row), `age`,
 *   `diagnosis`: 300 patients and T's 40 visits at 97 with a rare diagnosis (a) or at 35 with a
 *   common one (b).
 * - `rt41b_visits_a`/`_b` (entity `id_card`): 200 people with one visit, 9 with 60..68, and H, the
 *   10th heaviest, with 37 visits (a) or 41 (b).
 * - `rt41b_contact_a`/`_b` (entity `身份证号`; `备用手机`, a second mobile, is the FIRST column):
 *   300 people; 3 of them (a) or 4, T too (b), have a second mobile.
 * - `rt41b_types` (entity `id_card`): 300 people and T, with columns of the types recognition
 *   never takes as personal (TIMESTAMP with seconds, DECIMAL(18,6), INTERVAL, BLOB, STRUCT, JSON,
 *   INTEGER[], an employer's name, a salary as VARCHAR), each value one person's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import type { TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';

const ORG = 'rt41b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'otto' } as const;
const LAB = { id: 'rt41b-lab', name: 'Red team 41b lab' };
const PURPOSE = 'red team 41b';

const ID = (i: string, seed: number) => residentIdSql(i, seed, { from: 1950, to: 1990 });
const DISTRICT3 = (p: string) => `['一区', '二区', '三区'][1 + ${p} % 3]`;
const COMMON = `['高血压', '糖尿病', '哮喘']`;

// 1. Merged keys: one person under ten mobiles.
const W_AMOUNT = 9999;
const PAYERS = `SELECT ${mobileSql('p', 4101)} AS mobile, ${ID('p', 4102)} AS 身份证号, ${DISTRICT3('p')} AS district, CAST(100 + p % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)`;
const PAY_A = `SELECT * FROM (${PAYERS}
  UNION ALL SELECT ${mobileSql('9000 + k', 4103)}, ${ID('9000', 4102)}, '五区', CAST(${W_AMOUNT} AS DECIMAL(10,2)) FROM range(10) t(k))`;
const PAY_B = `SELECT * FROM (${PAYERS})`;
const WATCH = `SELECT ${mobileSql('9000 + k', 4103)} AS mobile, '重点关注' AS reason FROM range(10) t(k)`;

// 2. A dataset about people at version 1, without its identifier at version 2.
const RARE = '戈谢病';
const clinicSql = (world: 'a' | 'b', withId: boolean) => `SELECT ${withId ? 'id_card, ' : ''}diagnosis, convictions, district FROM (
    SELECT ${ID('p', 4111)} AS id_card, ${COMMON}[1 + p % 3] AS diagnosis, CAST(p % 3 AS INTEGER) AS convictions, ${DISTRICT3('p')} AS district FROM range(300) t(p)
    UNION ALL SELECT ${ID('9000', 4111)}, '${world === 'a' ? RARE : '高血压'}', ${world === 'a' ? 7 : 1}, '一区' FROM range(40))`;

// 3. Rows of people keyed by a code nothing knows.
const RARE_WARD = '庞贝病';
const wardSql = (world: 'a' | 'b') => `SELECT 'ZY' || lpad(CAST(r AS VARCHAR), 6, '0') AS 编号, age, diagnosis FROM (
    SELECT p AS r, CAST(20 + p % 60 AS INTEGER) AS age, ${COMMON}[1 + p % 3] AS diagnosis FROM range(300) t(p)
    UNION ALL SELECT 1000 + k, ${world === 'a' ? 97 : 35}, '${world === 'a' ? RARE_WARD : '糖尿病'}' FROM range(40) t(k))`;

// 4. The rows-per-key cap: the 10th heaviest person's own count.
const visitsSql = (h: number) => `SELECT ${ID('p', 4121)} AS id_card, CAST(100 + (p * 7 + j) % 50 AS DECIMAL(10,2)) AS fee FROM (
    SELECT p, unnest(range(CASE WHEN p < 200 THEN 1 WHEN p < 209 THEN 60 + (p - 200) ELSE ${h} END)) AS j FROM range(210) t(p))`;

// 5. A sparse first identifier column lays out the twin's rows.
const contactSql = (holders: number) => `SELECT CASE WHEN p < ${holders} THEN ${mobileSql('p', 4131)} END AS 备用手机, ${ID('p', 4132)} AS 身份证号, ${COMMON}[1 + p % 3] AS diagnosis
  FROM range(300) t(p)`;

// 6. Types recognition never takes as personal, each value one person's; T (p = 300) at the ends.
const TYPES = `SELECT ${ID('p', 4141)} AS id_card,
    CASE WHEN p = 300 THEN TIMESTAMP '2023-06-15 13:45:27' ELSE TIMESTAMP '2020-01-01 00:00:00' + to_minutes(CAST(p * 2113 AS BIGINT)) END AS event_at,
    CAST(CASE WHEN p = 300 THEN 98765.432101 ELSE 1000 + p * 3.000001 END AS DECIMAL(18,6)) AS ratio,
    to_minutes(CAST(p * 7 + 3 AS BIGINT)) AS waited,
    encode('blob-' || CAST(p AS VARCHAR)) AS raw,
    {'ward': p % 7, 'bed': 'B' || CAST(p AS VARCHAR)} AS placed,
    CAST('{"case": ' || CAST(p AS VARCHAR) || '}' AS JSON) AS doc,
    [p, p * 2] AS codes,
    CASE WHEN p = 300 THEN '鹏程生物科技有限公司' ELSE ['市第一医院', '市第二医院', '区卫生院'][1 + p % 3] END AS employer,
    CAST(3000 + p * 17 AS VARCHAR) AS salary_text
  FROM range(301) t(p)`;

describe('red team 41b: the dev twin', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, PURPOSE);
  let t: TestApp;
  const { dev, prod, real } = twinProbes(() => t, memory, OPERATOR);

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt41b_pay_a', PAY_A, { entity: 'mobile' });
    await domain.ingest('rt41b_pay_b', PAY_B, { entity: 'mobile' });
    await domain.ingest('rt41b_watch', WATCH);
    for (const w of ['a', 'b'] as const) {
      await domain.ingest(`rt41b_clinic_${w}`, clinicSql(w, true), { entity: 'id_card' });
      await domain.ingest(`rt41b_ward_${w}`, wardSql(w));
    }
    await domain.ingest('rt41b_visits_a', visitsSql(37), { entity: 'id_card' });
    await domain.ingest('rt41b_visits_b', visitsSql(41), { entity: 'id_card' });
    await domain.ingest('rt41b_contact_a', contactSql(3), { entity: '身份证号' });
    await domain.ingest('rt41b_contact_b', contactSql(4), { entity: '身份证号' });
    await domain.ingest('rt41b_types', TYPES, { entity: 'id_card' });
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  /** The distinct values dev shows of one query's first column, as text, sorted. */
  const devSet = async (sql: string) => (await dev(sql)).map((r) => String(r[0])).sort();
  const devOne = async (sql: string) => String((await dev(sql))[0]![0]);
  /**
   * devSet with the twin's synthetic labels of `column` (`diagnosis-123`, drawn from the dataset's own
   * seed, which differs between `_a` and `_b` whoever is in them) as one `diagnosis-#`.
   */
  const devLabels = async (sql: string, column: string) => [...new Set((await devSet(sql)).map((v) => (new RegExp(`^${column}-\\d+$`).test(v) ? `${column}-#` : v)))].sort();

  it('the setup: recognition and the entity columns are as the attacks need', async () => {
    const seen: Record<string, unknown> = {};
    for (const d of ['rt41b_pay_a', 'rt41b_watch', 'rt41b_clinic_a', 'rt41b_ward_a', 'rt41b_visits_a', 'rt41b_contact_a', 'rt41b_types']) {
      seen[d] = { entity: (await domain.profileOf(d)).entity, ...(await domain.kindsOf(d)) };
    }
    expect(seen).toMatchObject({
      rt41b_pay_a: { entity: 'mobile', mobile: 'mobile', 身份证号: 'resident_id', district: null, amount: null },
      rt41b_watch: { entity: 'mobile', mobile: 'mobile' },
      rt41b_clinic_a: { entity: 'id_card', id_card: 'resident_id', diagnosis: null, convictions: null },
      // No entity and no personal column: rows of people (an age beside codes one per row), refused in prod.
      rt41b_ward_a: { entity: null, 编号: null, age: null, diagnosis: null },
      rt41b_visits_a: { entity: 'id_card', id_card: 'resident_id' },
      rt41b_contact_a: { entity: '身份证号', 备用手机: 'mobile', 身份证号: 'resident_id' },
      rt41b_types: { entity: 'id_card', event_at: null, ratio: null, waited: null, raw: null, placed: null, doc: null, codes: null, employer: null, salary_text: null },
    });
    // W: one resident ID, ten mobiles; T of the clinic: one person over 40 rows.
    const [w] = await real(`SELECT count(DISTINCT 身份证号) AS ids, count(DISTINCT mobile) AS mobiles FROM (${PAY_A}) WHERE district = '五区'`);
    expect([Number(w!.ids), Number(w!.mobiles)]).toEqual([1, 10]);
    const [c] = await real(`SELECT count(DISTINCT id_card) AS people, count(*) AS n FROM (${clinicSql('a', true)}) WHERE diagnosis = '${RARE}'`);
    expect([Number(c!.people), Number(c!.n)]).toEqual([1, 40]);
  }, 600_000);

  it('control: dev reproduces what many people hold (the three districts of 50 payers in both worlds; the 150 payers both pay datasets share), and prod withholds W\'s district (one person, merged)', async () => {
    for (const w of ['a', 'b']) expect(await devSet(`SELECT DISTINCT district FROM rt41b_pay_${w}`)).toEqual(expect.arrayContaining(['一区', '三区', '二区']));
    const [shared] = await real(`SELECT count(*) AS n FROM (${PAY_A}) a JOIN (${PAY_B}) b ON a.mobile = b.mobile`);
    expect(await devOne('SELECT count(*) FROM rt41b_pay_a a JOIN rt41b_pay_b b ON a.mobile = b.mobile')).toBe(String(shared!.n));
    // Prod counts W once (the ten mobiles are merged into W's resident ID's key, pass 35a).
    expect(await prod("SELECT count(*), sum(amount) FROM rt41b_pay_a WHERE district = '五区'")).not.toContain(String(W_AMOUNT * 10));
    expect(await prod('SELECT district, count(*) FROM rt41b_pay_a GROUP BY 1')).not.toContain('五区');
  }, 600_000);

  it('was a hole (fix: the twin is judged about people from the catalog, every version and rows of people: twinSql `aboutPeople`; a version without the entity after one with it measures no ends): a dataset about people at version 1 whose version 2 drops the identifier is judged in rows by the twin: T\'s rare diagnosis (40 rows of one person) and T\'s 7 convictions reach dev, which prod refuses (personal at any version, no entity)', async () => {
    const view = async (w: string) => ({ diagnoses: await devLabels(`SELECT DISTINCT diagnosis FROM rt41b_clinic_${w}`, 'diagnosis'), max: await devOne(`SELECT max(convictions) FROM rt41b_clinic_${w}`) });
    // Version 1 (STOPPED): counted on id_card, T is one person: the worlds look alike.
    const v1 = { a: await view('a'), b: await view('b') };
    expect(v1.a, JSON.stringify(v1)).toEqual(v1.b);
    for (const w of ['a', 'b'] as const) await domain.ingest(`rt41b_clinic_${w}`, clinicSql(w, false), { grant: false });
    await domain.refresh();
    expect((await domain.profileOf('rt41b_clinic_a')).version).toBe(2);
    // Prod (seen): 422 DSC_ERR_UNCHECKABLE: wasEverPersonal (tenants/catalog-service.ts:54) keeps the
    // dataset personal, and without an entity its answers cannot be checked.
    expect(await prod('SELECT diagnosis, count(*) FROM rt41b_clinic_a GROUP BY 1')).toBe('422 DSC_ERR_UNCHECKABLE');
    // Seen: dev of world a: 哮喘, 戈谢病, 糖尿病, 高血压 and max convictions 7 (the 10th largest ROW
    // is T's 7, rounded to one figure, 7: the 21a hole back); world b: three diagnoses, max 2.
    // Where: desensitize/twin.ts:76 judges `personal` from the current version's recognized kinds
    // only (none at version 2), so topValues count rows (twin.ts:182), ends are rounded, not moved
    // past (twin.ts:206, roundedRange), and deciles need 100 rows, not 10 people per tenth; the
    // refinery knows better (tenants/refinery.ts:101 wasEverPersonal) but passes it to the null
    // shares only (toTwinColumn). Ingest measured the ends in rows too (ingest-dataset.ts:196:
    // `uncountable` looks at this version alone).
    // SAFE: dev looks the same in both worlds (a personal dataset with no one to count gives the
    // twin no value and no range, as it does for names-only data). Fix: pass the refinery's
    // `personal` (wasEverPersonal) into twinSql, and measure no ends for a version of a dataset that
    // was ever personal and has no entity.
    const v2 = { a: await view('a'), b: await view('b') };
    expect(v2.a, JSON.stringify(v2)).toEqual(v2.b);
  }, 600_000);

  it('was a hole (fix: as above: rowsOfPeople makes the dataset about people, so nothing counted in rows is copied): rows of people with no identifier to count them (an age beside codes one per row) give the twin values held by 10 ROWS: T\'s 40 visits put a rare diagnosis in dev, and T\'s age 97 is every dev row\'s age', async () => {
    const [truth] = await real(`SELECT count(*) AS n, min(age) AS age FROM (${wardSql('a')}) WHERE diagnosis = '${RARE_WARD}'`);
    expect([Number(truth!.n), Number(truth!.age)]).toEqual([40, 97]);
    // Prod (seen): 422 DSC_ERR_UNCHECKABLE in both worlds (rowsOfPeople: personal, no entity).
    for (const w of ['a', 'b']) expect(await prod(`SELECT diagnosis, count(*) FROM rt41b_ward_${w} GROUP BY 1`)).toBe('422 DSC_ERR_UNCHECKABLE');
    // Seen: dev of world a: 哮喘, 庞贝病 (23 rows), 糖尿病, 高血压, and age 97 on every row; world b:
    // three diagnoses, age 35 on every row. Where: desensitize/twin.ts:76 (`personal` from
    // recognized kinds only; rowsOfPeople is not one), so twin.ts:182 keeps a value held by 10 rows
    // (the 40 of T's, who may be one person: the platform says so in prod); the only age with 10
    // rows is T's (everyone else's age is held by 5). Ingest measured no ends here (ingest-dataset.ts:196,
    // fail closed), the top values it did not.
    // SAFE: the worlds look alike (no value copied from rows that may be one person's). Fix: the
    // same `personal` from the refinery (isPersonalVersion / wasEverPersonal): without counted people,
    // no top values.
    const seen = {
      a: { diagnoses: await devLabels('SELECT DISTINCT diagnosis FROM rt41b_ward_a', 'diagnosis'), ages: await devSet('SELECT DISTINCT age FROM rt41b_ward_a') },
      b: { diagnoses: await devLabels('SELECT DISTINCT diagnosis FROM rt41b_ward_b', 'diagnosis'), ages: await devSet('SELECT DISTINCT age FROM rt41b_ward_b') },
    };
    expect(seen.a, JSON.stringify(seen)).toEqual(seen.b);
  }, 600_000);

  it('was a hole, narrowed (fix: the cap is the 10th-heaviest person\'s count rounded down to one significant figure when 10 or more: 37 and 41 give 30 and 40, each standing for ten counts, as the ends do; a pair across a decade still differs by it): the rows-per-key cap is the 10th heaviest person\'s own count, not moved past: H\'s exact 37 visits (or 41) are what dev\'s ten heavy entities each have', async () => {
    const heavy = async (h: number) => (await real(`SELECT n FROM (SELECT id_card, count(*) AS n FROM (${visitsSql(h)}) GROUP BY 1) ORDER BY n DESC LIMIT 1 OFFSET 9`)).map((r) => Number(r.n));
    expect([await heavy(37), await heavy(41)]).toEqual([[37], [41]]);
    // Prod: H's own count is one person's: withheld.
    const h = String((await real(`SELECT ${ID('209', 4121)} AS id`))[0]!.id);
    expect(await prod(`SELECT count(*) FROM rt41b_visits_a WHERE id_card = '${h}'`)).not.toContain('37');
    // Seen: dev's rows per entity: {1, 37} in world a (7 entities of 37), {1, 41} in world b (17
    // of 41). Where: sandbox/engine/ingest-dataset.ts:344 caps every key at what the 10th heaviest
    // reaches, which is that person's own count (as the `ends` were before pass 22a), and the ten
    // capped keys make a bucket of their own (mergeSmallBuckets: 10 keys) whose mean, 37.0, is H's
    // count; the twin repeats it exactly (twin.ts repsSql: floor of the mean, plus one with the
    // fraction's chance). With fewer than 10 keys the cap is the lightest person's count.
    // SAFE: the same rows per entity in both worlds. Fix: move the cap strictly below the 10th
    // person's count, to a multiple of a step of one significant figure and at least 10 (as
    // outwardEnds moves the ends), or round bucket means to a coarse step.
    const seen = {
      a: await devSet('SELECT DISTINCT n FROM (SELECT id_card, count(*) AS n FROM rt41b_visits_a GROUP BY 1)'),
      b: await devSet('SELECT DISTINCT n FROM (SELECT id_card, count(*) AS n FROM rt41b_visits_b GROUP BY 1)'),
    };
    // Neither world shows H's own count; each shows its decade (37 and 41 straddle one: the one bit
    // left, docs/catalog.md, as for the ends). Two counts in one decade (32 and 37) look alike.
    expect(seen, JSON.stringify(seen)).toEqual({ a: ['1', '30'], b: ['1', '40'] });
  }, 600_000);

  it('was a hole (fix: the identifier column held by the most people lays out the rows; one held by fewer than 10 is no key plan): the first identifier column lays out the twin\'s rows whatever its nulls: a second mobile only 3 people have (4: T too) makes a twin of 3 rows (4), the count prod withholds', async () => {
    const [truth] = await real(`SELECT count(*) AS n, count(备用手机) AS holders FROM (${contactSql(3)})`);
    expect([Number(truth!.n), Number(truth!.holders)]).toEqual([300, 3]);
    for (const w of ['a', 'b']) expect(await prod(`SELECT count(备用手机) FROM rt41b_contact_${w}`)).not.toMatch(/\[\["[34]"/);
    // Seen: dev count(*), count(备用手机): [3, 3] in world a, [4, 4] in world b (the datasets have 300
    // rows). Where: desensitize/twin-population.ts:166 takes the dataset's FIRST join-kind column as
    // the primary plan, whatever its nulls; desensitize/twin.ts:96-97 and :119 lay out the rows from
    // its entities (3 of them, from keys.distinct, which has no 10-identifier rule) and add null rows
    // only for a null share strictly between 0 and 1; twinNullShare (twin.ts:49) made it 1 because
    // fewer than 10 people hold a value. The twin's size is then the number of holders.
    // SAFE: the same twin in both worlds (300 rows, the column all null). Fix: lay out rows from
    // the entity column (or the join-kind column with the most people), never from a column whose
    // twin null share is 1; give keys.distinct the 10-identifier rule.
    const seen = {
      a: (await dev('SELECT count(*), count(备用手机) FROM rt41b_contact_a'))[0]!.map(String),
      b: (await dev('SELECT count(*), count(备用手机) FROM rt41b_contact_b'))[0]!.map(String),
    };
    expect(seen.a, JSON.stringify(seen)).toEqual(seen.b);
  }, 600_000);

  it('STOPPED: columns recognition never takes as personal (a timestamp with seconds, DECIMAL(18,6), INTERVAL, BLOB, STRUCT, JSON, a list, an employer\'s name, a salary as text), each value one person\'s, give dev none of T\'s values and nothing but ranges of 10 people or synthetic labels', async () => {
    // T's event (2023-06-15 13:45:27) and ratio (98,765.432101) are the column maxima, one person's.
    const [row] = await dev("SELECT max(event_at)::VARCHAR, max(ratio), count(waited), count(raw), count(placed), count(doc), count(codes), count(*) FILTER (WHERE employer LIKE '%科技%'), count(*) FILTER (WHERE salary_text ~ '^[0-9]+$') FROM rt41b_types") as [string[]];
    expect(String(row[0]) < '2022-01-01').toBe(true);
    expect(Number(row[1])).toBeLessThan(10_000);
    // Values of other types with no value held by 10 people are left empty; text gets labels.
    expect(row.slice(2).map(String)).toEqual(['0', '0', '0', '0', '0', '0', '0']);
    const employers = await devSet('SELECT DISTINCT employer FROM rt41b_types');
    expect(employers).toEqual(['区卫生院', '市第二医院', '市第一医院'].sort());
  }, 600_000);
});
