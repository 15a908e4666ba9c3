/**
 * Red-team pass 35a: singling out one person, or learning one person's value, by routes an operator
 * has, away from shared keys and subtraction (HTTP only, as an operator of `rt35a-org`):
 * - a supervisor's ordinary narrowed grant (`columns` of POST /v1/tenants/:id/grants) of a dataset
 *   about people whose only personal columns are left out of the grant: is the published table still
 *   treated as personal data in prod?
 * - one person under several identifiers of the entity kind (a resident's ten mobiles, each written
 *   beside the same resident ID): the checks count keys, is one person then "10 people"?
 * - PIVOT / UNPIVOT in prod (a table reference the gate allows), PIVOT without an IN list (column
 *   names made from values);
 * - prod workspace tables (CREATE TABLE AS …) over personal data read back: SELECT, count(*),
 *   SUMMARIZE, DESCRIBE, information_schema, the listing's row count, an export of the table;
 * - the dev twin of a dataset about people with a rare diagnosis and an extreme age.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was seen, which file:line
 * lets it through, what SAFE means and a suggested fix); `STOPPED:` tests hold and must fail if the
 * defence breaks.
 *
 * Setup (test/helpers/crafted-domain.ts, every dataset ingested through the trusted pipeline):
 * - `rt35a_clinic`: 200 outpatients (姓名 recognized as names, 年龄, 性别, 区县, 诊断) and the victim
 *   欧阳明远, 97, 女, 西区, 艾滋病 (the only one of that age or diagnosis); default policies
 *   (`plain: false`: names masked); granted with columns 年龄, 性别, 区县, 诊断 only (a supervisor's
 *   "least necessary" grant: the names are not needed for statistics). No entity column (names are
 *   no entity kind), as recognition settles it.
 * - `rt35a_clinic_all`: the same rows, granted whole: the control.
 * - `rt35a_pay`: 150 payers (one mobile and one resident ID each, one payment of 100–149) and the
 *   victim V: one resident ID beside ten mobiles of their own (people hold up to 5 per carrier), ten
 *   payments of 88.80 in 一区; entity declared `mobile` (the supervisor must name one: mobile and ID
 *   do not pair one to one); personal columns plain (the supervisor's choice, with a reason).
 * - `rt35a_paydef`: the same rows under the default policies (ID tokenized with birth_year, gender,
 *   region derived; mobile masked).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, nameSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { licenseAround, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';

const ORG = 'rt35a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'rt35a-lab', name: 'Red team 35a lab' };

/** 200 outpatients and the victim, the only one aged 97 and the only 艾滋病. */
const CLINIC_SQL = `SELECT * FROM (
    SELECT ${nameSql('p', 3501)} AS 姓名, CAST(20 + p % 60 AS INTEGER) AS 年龄, ['男', '女'][1 + p % 2] AS 性别, ['东区', '西区', '南区', '北区'][1 + p % 4] AS 区县,
      ['高血压', '糖尿病', '感冒', '胃炎'][1 + (p // 3) % 4] AS 诊断 FROM range(200) t(p)
    UNION ALL SELECT '欧阳明远', CAST(97 AS INTEGER), '女', '西区', '艾滋病')`;
const CLINIC_GRANTED = ['年龄', '性别', '区县', '诊断'];

/** The victim's resident ID (a valid one, generated), beside ten mobiles of their own. */
const V_ID_SQL = residentIdSql('100000', 3502);
const PAY_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3503)} AS mobile, ${residentIdSql('p', 3502)} AS 身份证号, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('1000 + k', 3504)}, ${V_ID_SQL}, '一区', CAST(88.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;


describe('red team 35a: narrowed grants, one person under many keys, PIVOT, prod workspace tables, the twin', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 35a');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt35a_clinic', CLINIC_SQL, { plain: false, grant: false });
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/tenants/${ORG}/grants`, { dataset: 'rt35a_clinic', columns: CLINIC_GRANTED, purpose: 'red team 35a: statistics, names not needed', until: licenseAround(new Date(), -1, 100).licenseTo }), 201);
    await domain.ingest('rt35a_clinic_all', CLINIC_SQL, { plain: false });
    await domain.ingest('rt35a_pay', PAY_SQL, { entity: 'mobile' });
    await domain.ingest('rt35a_paydef', PAY_SQL, { entity: 'mobile', plain: false });
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { dev, real } = twinProbes(() => t, memory, OPERATOR);
  const ask = prodAsker(() => t, OPERATOR);
  const victimId = async () => String((await real(`SELECT ${V_ID_SQL} AS v`))[0]!.v);

  it('the setup: the victim is the only patient aged 97 (艾滋病); V is one resident ID beside ten mobiles, 888.00 in all; payer 0 is one mobile and one ID', async () => {
    const [clinic] = await real(`SELECT count(*) FILTER (WHERE 年龄 = 97) AS aged97, count(*) FILTER (WHERE 诊断 = '艾滋病') AS rare, count(*) AS n FROM (${CLINIC_SQL})`);
    expect([Number(clinic!.aged97), Number(clinic!.rare), Number(clinic!.n)]).toEqual([1, 1, 201]);
    const v = await victimId();
    const [pay] = await real(`SELECT count(DISTINCT mobile) FILTER (WHERE 身份证号 = '${v}') AS mobiles, sum(amount) FILTER (WHERE 身份证号 = '${v}') AS total,
        count(DISTINCT 身份证号) AS people, count(DISTINCT mobile) AS keys FROM (${PAY_SQL})`);
    expect([Number(pay!.mobiles), Number(pay!.total), Number(pay!.people), Number(pay!.keys)]).toEqual([10, 888, 151, 160]);
    const profile = await domain.profileOf('rt35a_clinic');
    // Recognition knows the dataset is about people (names), and finds no entity column in it.
    expect([profile.entity ?? null, profile.columns.find((c) => c.name === '姓名')?.pii?.kind]).toEqual([null, 'name']);
    expect((await domain.profileOf('rt35a_pay')).entity).toBe('mobile');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. A narrowed grant: the personal columns left out, the rows about people still there.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED (control): the clinic granted whole (names masked) answers nothing in prod, row-level or aggregate: no identifier to count people by', async () => {
    const row = await ask(`SELECT 年龄, 性别, 区县, 诊断 FROM rt35a_clinic_all WHERE 年龄 = 97`);
    const agg = await ask(`SELECT 诊断, count(*) AS n FROM rt35a_clinic_all GROUP BY 诊断`);
    expect([row.status, row.code, agg.status, agg.code]).toEqual([422, 'DSC_ERR_UNCHECKABLE', 422, 'DSC_ERR_UNCHECKABLE']);
  }, 600_000);

  it('was a hole (fix: a table is personal when its dataset has personal data in any column, granted or not): the same clinic granted without its name column answers freely in prod: the one patient aged 97 and her diagnosis (艾滋病), row by row, no check at all', async () => {
    const [truth] = await real(`SELECT 性别, 区县, 诊断 FROM (${CLINIC_SQL}) WHERE 年龄 = 97`);
    const answer = await ask(`SELECT 年龄, 性别, 区县, 诊断 FROM rt35a_clinic WHERE 年龄 = 97`);
    const counted = await ask(`SELECT 诊断, count(*) AS n FROM rt35a_clinic WHERE 区县 = '西区' AND 年龄 > 90 GROUP BY 诊断`);
    // Seen (when written): 200 [[97, "女", "西区", "艾滋病"]] with no `disclosure` at all, and the
    // count [["艾滋病", "1"]]: a row about one real person, her age, gender, district and diagnosis,
    // shown to the operator in prod (also any other row-level or small-group query). The same
    // dataset granted whole is refused (control above). Why: tenants/refinery.ts:101 classifies the
    // published table with `classifyPublished(kept …)`, the granted columns only, and
    // desensitize/disclosure.ts:65,73 makes it personal only if one of *those* columns is recognized
    // personal data or the dataset has an entity column: with the names left out and no entity, the
    // table gets no `privacy`, so tenant-engine.ts:668-671 finds no personal table and the answer is
    // not checked (sandbox.md: "Tables without personal data ... answer freely"). The twin, by
    // contrast, judges the dataset on all its columns (refinery.ts:104 `isPersonal(columns)`).
    // SAFE: a table published from a dataset with personal data is personal whatever columns the
    // grant keeps: refused in prod as the whole grant is (DSC_ERR_UNCHECKABLE), or checked.
    // Fix: in plan(), classify on every column of the dataset version for `personal` (keep `kept`
    // for identifiers/quasi), i.e. `personal: isPersonal(columns) || entity` -- the rows are about
    // people whether or not the grant shows who.
    expect(truth).toEqual({ 性别: '女', 区县: '西区', 诊断: '艾滋病' });
    expect({ answer: [answer.status, answer.code], counted: [counted.status, counted.code] }, JSON.stringify({ answer, counted }))
      .toEqual({ answer: [422, 'DSC_ERR_UNCHECKABLE'], counted: [422, 'DSC_ERR_UNCHECKABLE'] });
  }, 600_000);

  it('STOPPED: the same row as an export of the narrowed clinic does not pass its automated checks: no identifier to count people by, so a reviewer must judge it', async () => {
    // Since the fix above the narrowed table is personal data wherever it is read: the export's
    // person-level checks find no identifier to count people by and ask for a reviewer (when
    // written, the export side already judged the dataset on all its columns and named 姓名).
    const exported = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql: `SELECT 年龄, 性别, 区县, 诊断 FROM rt35a_clinic WHERE 年龄 = 97` }, recipient: LAB.id, purpose: 'red team 35a', format: 'csv' }), 201).json() as { outcome: string; checks: { name: string; status: string; reason?: string }[] };
    const person = exported.checks.find((c) => c.name === 'person-level');
    expect([exported.outcome, person?.status], JSON.stringify(exported)).toEqual(['review', 'review']);
    expect(person?.reason).toContain('rt35a_clinic has no identifier to count people by');
  }, 600_000);

  it('STOPPED: the dev twin of the clinic (narrowed or not) copies neither the one-patient diagnosis nor an age range ending at 97', async () => {
    for (const table of ['rt35a_clinic', 'rt35a_clinic_all']) {
      const diagnoses = (await dev(`SELECT DISTINCT 诊断 FROM ${table}`)).map((r) => r[0]);
      const [[lo, hi]] = (await dev(`SELECT min(年龄), max(年龄) FROM ${table}`)) as unknown as [[number | null, number | null]];
      expect(diagnoses, table).not.toContain('艾滋病');
      expect(hi === null || hi < 90 || hi >= 100, `${table}: ${lo}..${hi}`).toBe(true);
    }
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. One person under ten keys: the checks count identifiers, not people.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED (control): an ordinary payer\'s resident ID selects one key: withheld', async () => {
    const [p0] = await real(`SELECT 身份证号 AS v FROM (${PAY_SQL}) LIMIT 1`);
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM rt35a_pay WHERE 身份证号 = '${String(p0!.v)}'`);
    expect([answer.status, answer.rows, answer.disclosure?.withheldRows]).toEqual([200, [], 1]);
  }, 600_000);

  it('was a hole (fix: identifiers beside one resident ID count as its key): one resident under ten mobiles is "10 people": the total paid by ONE resident ID (plain) is shown, 888.00', async () => {
    const v = await victimId();
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM rt35a_pay WHERE 身份证号 = '${v}'`);
    // Seen (when written): 200 [["10", "888.00"]], disclosure {withheldRows: 0, suppressedCells: 0}:
    // one person's ten payments and their total, selected by their own resident ID. Why: people are
    // counted on the one entity column the version settled (tenants/refinery.ts:97
    // `entityKeyOptions`, sandbox/engine/ingest-people.ts settleEntity: declared `mobile`, the only
    // way to ingest a dataset whose mobile and ID do not pair), one key per normalized mobile; the
    // doubt (desensitize/doubtful-keys.ts compileDoubtfulKeys) looks only for one key shared by
    // several people, never for one person under several keys, though the row itself carries a
    // stronger identifier (a resident ID) that ties the ten keys together. SAFE: a cell whose rows
    // belong to fewer than 10 people is withheld however many mobiles they used: here, withheld.
    // Fix: merge entity keys that a row ties to one person: per build, union the entity key with the
    // other identifier columns of people on the same row (resident ID first, a passport), over every
    // dataset of the domain as the doubt does, and key every row by its component (or count on the
    // strongest kind present and refuse a declared weaker column when a stronger one is on the row).
    expect(v).toMatch(/^\d{17}[\dX]$/);
    expect({ status: answer.status, rows: answer.rows }, JSON.stringify(answer)).toEqual({ status: 200, rows: [] });
  }, 600_000);

  it('was a hole (fix: as above): the same under the default policies (ID tokenized, mobile masked): a group chosen by the ID\'s derived birth year and province holds only V, 10 "people", and shows their 888.00', async () => {
    const v = await victimId();
    const year = Number(v.slice(6, 10));
    const province = v.slice(0, 2);
    const [truth] = await real(`SELECT count(DISTINCT 身份证号) AS people, sum(amount) AS s FROM (${PAY_SQL}) WHERE substr(身份证号, 7, 4) = '${year}' AND starts_with(身份证号, '${province}')`);
    // The group is one real person (V), whatever the attacker knew beyond V's year and province.
    expect([Number(truth!.people), Number(truth!.s)]).toEqual([1, 888]);
    const answer = await ask(`SELECT 身份证号_birth_year = ${year} AND starts_with(身份证号_region, '${province}') AS target, count(*) AS n, sum(amount) AS s
      FROM rt35a_paydef GROUP BY target ORDER BY target`);
    // Seen (when written): 200 [[false, "150", "18675.00"], [true, "10", "888.00"]]: V's total beside
    // the others, nothing withheld. Why and fix: as above (the token policy changes what is shown,
    // not who is counted). SAFE: the `true` group (one person) is withheld, and with it one more
    // (secondary suppression), so no row of this answer shows 888.00.
    const shown = answer.rows.filter((r) => r[0] === true);
    expect(answer.status).toBe(200);
    expect(shown, JSON.stringify(answer)).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. PIVOT and UNPIVOT in prod.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: PIVOT (both spellings) and UNPIVOT over personal data are uncheckable in prod; PIVOT without IN (column names made of values) is refused by the gate, DESCRIBE included', async () => {
    const uncheckable = [
      `SELECT * FROM (PIVOT rt35a_pay ON district IN ('一区', '二区') USING sum(amount) GROUP BY 身份证号)`,
      `SELECT * FROM rt35a_pay PIVOT (sum(amount) FOR district IN ('一区', '二区') GROUP BY 身份证号)`,
      `SELECT * FROM (UNPIVOT rt35a_pay ON mobile, district INTO NAME k VALUE v)`,
    ];
    for (const sql of uncheckable) expect(await ask(sql), sql).toMatchObject({ status: 422, code: 'DSC_ERR_UNCHECKABLE' });
    for (const sql of [`SELECT * FROM (PIVOT rt35a_pay ON mobile USING sum(amount))`, `DESCRIBE SELECT * FROM (PIVOT rt35a_pay ON mobile USING sum(amount))`]) {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' });
      expect([res.statusCode, res.json().code], sql).toEqual([400, 'SBX_ERR_SQL_NOT_SELECT']);
      expect(res.body).not.toMatch(/1[3-9]\d{9}/);
    }
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 4. Prod workspace tables over personal data, read back.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: a prod table of one payer\'s rows (and a PIVOT per mobile) is built but nothing reads it back: SELECT, count(*) uncheckable; SUMMARIZE all null; listing rows null; an export asks for review', async () => {
    const [p0] = await real(`SELECT 身份证号 AS v, amount FROM (${PAY_SQL}) LIMIT 1`);
    const build = async (name: string, sql: string) => expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name, sql, env: 'prod' }), 201).json() as { rows: number | null };
    expect((await build('one_payer', `SELECT amount FROM rt35a_pay WHERE 身份证号 = '${String(p0!.v)}'`)).rows).toBeNull();
    expect((await build('per_mobile', `SELECT * FROM (PIVOT rt35a_pay ON district IN ('一区') USING sum(amount) GROUP BY mobile)`)).rows).toBeNull();
    for (const sql of ['SELECT * FROM one_payer', 'SELECT count(*) FROM one_payer', 'SELECT 一区, count(*) FROM per_mobile GROUP BY 一区']) {
      expect(await ask(sql), sql).toMatchObject({ status: 422, code: 'DSC_ERR_UNCHECKABLE' });
    }
    const summary = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SUMMARIZE one_payer', env: 'prod' }), 200).json() as { rows: unknown[][] };
    expect(summary.rows.map((r) => r.slice(2))).toEqual([Array(10).fill(null)]);
    const listed = (expectStatus(await t.call(OPERATOR, 'GET', '/v1/tables'), 200).json() as { tables: { name: string; rows: number | null }[] }).tables;
    expect(listed.filter((x) => x.rows !== null)).toEqual([]);
    const dev = await t.call(OPERATOR, 'POST', '/v1/query', { sql: 'SELECT * FROM one_payer', env: 'dev' });
    expect(dev.statusCode).toBeGreaterThanOrEqual(400);
    expect(dev.body).not.toContain(String(p0!.amount));
    const exported = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { table: 'one_payer' }, recipient: LAB.id, purpose: 'red team 35a', format: 'csv' }), 201).json() as { outcome: string };
    expect(exported.outcome).not.toBe('pass');
  }, 600_000);
});
