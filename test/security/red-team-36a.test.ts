/**
 * Red-team pass 36a: the four fixes of commit 42d309a attacked over HTTP, as the operator of
 * `rt36a-org` (and supervisors who approve its exports):
 * 1. merged keys (compileMergedKeys: an identifier beside exactly one resident ID, that ID beside
 *    two identifiers or more, counts as the ID's key): one person under several keys that are still
 *    not merged (a passport instead of a resident ID, a chain mobile–passport–resident ID, a resident
 *    ID only in free text, several mobiles tied by a name and birth date only), against the forms
 *    that are merged (15-digit ID, lower-case x and full-width digits, the tie in a second dataset);
 *    and a merge that breaks utility (a doctor's resident ID beside patients' mobiles);
 * 2. narrowed grants / personal tables: a dataset about patients whose only identifier is a hospital
 *    number recognition does not know;
 * 3. differencing across datasets: the same people keyed by a mobile in one dataset and by their
 *    resident ID in another; keys that a later dataset merges between two releases;
 * 4. export files: FLOAT columns, HUGEINT beyond DECIMAL(38, 0), the manifest's tolerance over
 *    thirds, DECIMAL(38, 2), negative zero, NaN and infinity.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and the fix); `STOPPED:` tests assert the
 * defence that held and fail if it breaks; `control:` tests show the method works where it should.
 * Three holes this pass found are not fixed and their tests are left out (main stays green): V5
 * (ten mobiles tied by a name and birth date only), differencing across a mobile-keyed and a
 * resident-ID-keyed dataset of the same people, and keys merged by a dataset ingested between two
 * releases. docs/sandbox.md ("Entities, not rows") and docs/exports.md ("Not yet done") say what
 * they let through; the datasets they used are still set up below. V4 (a resident ID only in free
 * text) and the inpatients by hospital number were fixed in a later stop.
 *
 * Setup (test/helpers/crafted-domain.ts, every dataset ingested through the trusted pipeline; the
 * truth computed from the generating SQL in an in-memory DuckDB):
 * - `rt36a_pay` (entity `mobile`, personal columns plain): 150 payers (a mobile, a resident ID, a
 *   name, a birth date, a note; 一区–三区) and six victims, each ONE person paying ten times from ten
 *   mobiles of their own, alone in a district of their own (五区–十区):
 *   V1 beside their resident ID (the 35a case, the control), V2 beside it in its 15-digit form, V3
 *   beside it written with a lower-case x, full-width digits and spaces, V4 with `未登记` in the ID
 *   column and the ID only in the note (`备注`), V5 with `未登记` and only their name and birth date
 *   on every row, V6 with `未登记` and the ten mobiles beside their ID in a second dataset.
 * - `rt36a_registry` (entity 身份证号, granted to no one): 40 people (ID, mobile, passport), V6's ID
 *   beside V6's ten mobiles, and C's ID beside C's passport and another mobile of C's.
 * - `rt36a_foreign` (entity `mobile`): 150 foreigners (a mobile, a passport) and F (ten mobiles
 *   beside one passport, 五区) and C (ten mobiles beside the passport the registry ties to C's ID, 六区).
 * - `rt36a_visits` (entity 患者手机): 200 patients' visits (mobile), each beside the resident ID of
 *   one of five doctors, in four districts (50 patients each).
 * - `rt36a_clinic_np`: 200 inpatients by hospital number (住院号), age, gender, district, diagnosis,
 *   and the victim, the only one aged 97 (艾滋病); no entity declared.
 * - `rt36a_pa` (entity `mobile`) and `rt36a_pb` (entity 身份证号): the same 1,000 payments of 200
 *   people (a mobile and a resident ID each, one to one; four districts; integer amounts);
 *   `rt36a_second` (entity 身份证号, granted to no one) ingested mid-file: a second mobile for 25
 *   people of 二区.
 * - `rt36a_revenue`: 40 enterprises' revenues (DOUBLE, no personal data).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { birthDateSql, mobileSql, nameSql, passportSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { SYSTEM_ACTOR } from '../../tenants/audit/audit-entry.js';

const ORG = 'rt36a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'oscar' } as const;
const LAB = { id: 'rt36a-lab', name: 'Red team 36a lab' };
const META = { provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'monthly' } as const;
const LAB_USER = { role: 'applicant', org: LAB.id, sub: 'rita' } as const;

// ---------------------------------------------------------------------------------------------
// The data.
// ---------------------------------------------------------------------------------------------

/** Resident IDs of people born 1950–1990 (so a 15-digit form exists). */
const ID = (i: string) => residentIdSql(i, 3602, { from: 1950, to: 1990 });
const BORN_OF = (id: string) => `CAST(strptime(substr(${id}, 7, 8), '%Y%m%d') AS DATE)`;
/** Victim n's k-th mobile (k: 0–9). */
const V_MOBILE = (n: number, k: string) => mobileSql(`${n * 1000} + ${k}`, 3604);
/** Victims' resident IDs. V3's ends in X (the first such ID of the generator above 5000). */
const R1 = ID('9001');
const R2 = ID('9002');
const R3 = `(SELECT min(x) FROM (SELECT ${ID('k')} AS x FROM range(5000, 6000) t(k)) WHERE x LIKE '%X')`;
const R4 = ID('9004');
const R6 = ID('9006');
const RC = ID('9007');
const PAY_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3601)} AS mobile, ${ID('p')} AS 身份证号, ${nameSql('p', 3603)} AS 姓名, ${BORN_OF(ID('p'))} AS 出生日期,
      ['按时缴费', '补缴', '线上缴费', '柜台缴费'][1 + p % 4] AS 备注, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${V_MOBILE(1, 'k')}, ${R1}, '欧阳一鸣', ${BORN_OF(R1)}, '按时缴费', '五区', CAST(81.8 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${V_MOBILE(2, 'k')}, substr(${R2}, 1, 6) || substr(${R2}, 9, 9), '欧阳二鸣', ${BORN_OF(R2)}, '按时缴费', '六区', CAST(82.8 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${V_MOBILE(3, 'k')}, [lower(r), translate(r, '0123456789X', '０１２３４５６７８９ｘ'), substr(lower(r), 1, 6) || ' ' || substr(lower(r), 7, 8) || ' ' || substr(lower(r), 15, 4), r][1 + k % 4],
      '欧阳三鸣', ${BORN_OF('r')}, '按时缴费', '七区', CAST(83.8 AS DECIMAL(10,2)) FROM range(10) t(k), (SELECT ${R3} AS r)
    UNION ALL SELECT ${V_MOBILE(4, 'k')}, '未登记', '欧阳四鸣', ${BORN_OF(R4)}, '本人身份证' || ${R4} || '，代缴', '八区', CAST(84.8 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${V_MOBILE(5, 'k')}, '未登记', '欧阳五鸣', DATE '1961-07-15', '按时缴费', '九区', CAST(85.8 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${V_MOBILE(6, 'k')}, '未登记', '欧阳六鸣', ${BORN_OF(R6)}, '按时缴费', '十区', CAST(86.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;
/** The district each victim is alone in, and their ten payments' total. */
const VICTIMS = { V1: ['五区', 818], V2: ['六区', 828], V3: ['七区', 838], V4: ['八区', 848], V5: ['九区', 858], V6: ['十区', 868] } as const;

const P_F = passportSql('9101', 3623);
const P_C = passportSql('9102', 3623);
const REGISTRY_SQL = `SELECT * FROM (
    SELECT ${ID('q + 3000')} AS 身份证号, ${mobileSql('q', 3611)} AS 手机号, ${passportSql('q', 3612)} AS 护照号 FROM range(40) t(q)
    UNION ALL SELECT ${R6}, ${V_MOBILE(6, 'k')}, NULL FROM range(10) t(k)
    UNION ALL SELECT ${RC}, NULL, ${P_C}
    UNION ALL SELECT ${RC}, ${mobileSql('7000', 3613)}, NULL)`;
const FOREIGN_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3620)} AS mobile, ${passportSql('p', 3621)} AS 护照号码, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('1000 + k', 3622)}, ${P_F}, '五区', CAST(66.6 AS DECIMAL(10,2)) FROM range(10) t(k)
    UNION ALL SELECT ${mobileSql('2000 + k', 3622)}, ${P_C}, '六区', CAST(77.7 AS DECIMAL(10,2)) FROM range(10) t(k))`;

const DISTRICTS = `['一区', '二区', '三区', '四区']`;
/** 200 patients (p), one visit each, district p % 4, doctor p % 5. */
const VISITS_SQL = `SELECT ${mobileSql('p', 3630)} AS 患者手机, ${ID('8000 + p % 5')} AS 医生身份证号, ${DISTRICTS}[1 + p % 4] AS district,
    CAST(50 + p % 30 AS DECIMAL(10,2)) AS fee FROM range(200) t(p)`;

const CLINIC_SQL = `SELECT * FROM (
    SELECT 'ZY' || lpad(CAST(p AS VARCHAR), 6, '0') AS 住院号, CAST(20 + p % 60 AS INTEGER) AS 年龄, ['男', '女'][1 + p % 2] AS 性别,
      ['东区', '西区', '南区', '北区'][1 + p % 4] AS 区县, ['高血压', '糖尿病', '感冒', '胃炎'][1 + (p // 3) % 4] AS 诊断 FROM range(200) t(p)
    UNION ALL SELECT 'ZY900001', CAST(97 AS INTEGER), '女', '西区', '艾滋病')`;

/** 200 people x 5 payments, a mobile and a resident ID each; person p in district p % 4. */
const PA_ROWS = `SELECT ${mobileSql('p', 3640)} AS mobile, ${residentIdSql('p', 3641)} AS 身份证号, ${DISTRICTS}[1 + p % 4] AS district,
    CAST(100 + (i * 37) % 50 AS INTEGER) AS amount FROM (SELECT range AS i, range // 5 AS p FROM range(1000))`;
const PA_SQL = `SELECT mobile, 身份证号, district, amount FROM (${PA_ROWS})`;
const PB_SQL = `SELECT 身份证号, mobile, district, amount FROM (${PA_ROWS})`;
/** A second mobile for 25 people of 二区 (p % 4 = 1, p < 100): their IDs are then beside two identifiers. */
const SECOND_SQL = `SELECT ${residentIdSql('p', 3641)} AS 身份证号, ${mobileSql('p', 3642)} AS 手机号 FROM range(100) t(p) WHERE p % 4 = 1`;
/** The person the second export leaves out: person 5 (二区). */
const TARGET = 5;

/** V7's ten mobiles beside their ID in version 1 only; version 2 writes `未登记` there (the ID was struck, say). */
const R7 = ID('9008');
const OLD_SQL = (id: string) => `SELECT * FROM (
    SELECT ${mobileSql('p', 3650)} AS mobile, ${ID('p + 4000')} AS 身份证号, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${V_MOBILE(7, 'k')}, ${id}, '五区', CAST(87.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;

const REVENUE_SQL = `SELECT 'F' || lpad(CAST(range AS VARCHAR), 3, '0') AS firm, CAST(1234567890.37 + range * 98765.43 AS DOUBLE) AS revenue FROM range(40)`;

type Marked = { column: string; unit: string; decimals: number; rounded: boolean };

describe('red team 36a: merged keys, narrowed grants, differencing across datasets, export files', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 36a');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt36a_pay', PAY_SQL, { entity: 'mobile' });
    await domain.ingest('rt36a_registry', REGISTRY_SQL, { entity: '身份证号', grant: false });
    await domain.ingest('rt36a_foreign', FOREIGN_SQL, { entity: 'mobile' });
    await domain.ingest('rt36a_visits', VISITS_SQL, { entity: '患者手机' });
    await domain.ingest('rt36a_clinic_np', CLINIC_SQL);
    await domain.ingest('rt36a_pa', PA_SQL, { entity: 'mobile' });
    await domain.ingest('rt36a_pb', PB_SQL, { entity: '身份证号' });
    await domain.ingest('rt36a_revenue', REVENUE_SQL);
    await domain.ingest('rt36a_old', OLD_SQL(R7), { entity: 'mobile' });
    await t.app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, { id: 'rt36a_old', name: 'rt36a_old', ...META, acquiredAt: new Date().toISOString().slice(0, 10), entity: 'mobile' }, OLD_SQL(`'未登记'`));
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const truth = (sql: string) => memory.connection.all(sql);
  const exports = exportProbes(() => t, OPERATOR, LAB.id, 'red team 36a');
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const download = async (id: string) => expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/download`), 200).body.replace(/^\uFEFF/, '');
  const csvRows = (text: string) => text.split('\r\n').filter(Boolean).slice(1).map((line) => line.split(','));
  const manifestOf = async (id: string) => expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/manifest`), 200).json() as { fingerprint: { markedColumns: Marked[]; tolerance: string } };
  const ask = prodAsker(() => t, OPERATOR);
  /** A victim's district total: shown (a row) or not. */
  const victimCell = (table: string, district: string) => ask(`SELECT count(*) AS n, sum(amount) AS s FROM ${table} WHERE district = '${district}'`);

  it('the setup: each victim is one person (ten payments, ten mobiles); recognition took the columns as the attacks need', async () => {
    for (const [name, [district, total]] of Object.entries(VICTIMS)) {
      const [row] = await truth(`SELECT count(*) AS n, count(DISTINCT mobile) AS mobiles, count(DISTINCT 姓名) AS names, sum(amount) AS s FROM (${PAY_SQL}) WHERE district = '${district}'`);
      expect([Number(row!.n), Number(row!.mobiles), Number(row!.names), Number(row!.s)], name).toEqual([10, 10, 1, total]);
    }
    const [r3] = await truth(`SELECT ${R3} AS r`);
    expect(String(r3!.r)).toMatch(/^\d{17}X$/);
    const [r2] = await truth(`SELECT ${R2} AS r`);
    expect(String(r2!.r).slice(6, 8)).toBe('19');
    const kinds = {
      pay: await domain.kindsOf('rt36a_pay'), registry: await domain.kindsOf('rt36a_registry'), foreign: await domain.kindsOf('rt36a_foreign'),
      visits: await domain.kindsOf('rt36a_visits'), clinic: await domain.kindsOf('rt36a_clinic_np'),
    };
    expect(kinds, JSON.stringify(kinds)).toMatchObject({
      pay: { mobile: 'mobile', 身份证号: 'resident_id', 备注: 'free_text' },
      registry: { 身份证号: 'resident_id', 手机号: 'mobile', 护照号: 'passport' },
      foreign: { mobile: 'mobile', 护照号码: 'passport' },
      visits: { 患者手机: 'mobile', 医生身份证号: 'resident_id' },
      clinic: { 住院号: 'subject_id', 年龄: null, 性别: null, 区县: null, 诊断: null },
    });
    // Settled from its header since the fix below (personNumberColumns); no entity was declared.
    expect((await domain.profileOf('rt36a_clinic_np')).entity).toBe('住院号');
    expect((await domain.profileOf('rt36a_old')).version).toBe(2);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. Merged keys: one person under ten mobiles.
  // ---------------------------------------------------------------------------------------------

  /** What the operator sees of a victim alone in a district: null when nothing of their total. */
  const seenOf = async (table: string, district: string) => {
    const answer = await victimCell(table, district);
    return { status: answer.status, rows: answer.rows, shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined) };
  };

  it('control (the 35a fix): V1\'s ten mobiles, each beside their resident ID, are one person: their district total is withheld; an ordinary 150-payer district is shown', async () => {
    expect(await seenOf('rt36a_pay', VICTIMS.V1[0])).toMatchObject({ shown: false });
    const [real] = await truth(`SELECT count(*) AS n, sum(amount) AS s FROM (${PAY_SQL}) WHERE district = '一区'`);
    const shown = await victimCell('rt36a_pay', '一区');
    expect(shown.rows.map((r) => r.map(Number))).toEqual([[Number(real!.n), Number(real!.s)]]);
  }, 600_000);

  it('STOPPED: V2 beside their ID in its 15-digit form, V3 beside it with a lower-case x, full-width digits and spaces, V6 tied only by a second dataset (granted to no one): each is one person, withheld', async () => {
    const seen = { V2: await seenOf('rt36a_pay', VICTIMS.V2[0]), V3: await seenOf('rt36a_pay', VICTIMS.V3[0]), V6: await seenOf('rt36a_pay', VICTIMS.V6[0]) };
    expect({ V2: seen.V2.shown, V3: seen.V3.shown, V6: seen.V6.shown }, JSON.stringify(seen)).toEqual({ V2: false, V3: false, V6: false });
  }, 600_000);

  it('STOPPED: V7\'s ten mobiles beside their resident ID in an older version of rt36a_old only (the current one says `未登记`): one person, withheld', async () => {
    const [real] = await truth(`SELECT count(*) FILTER (WHERE 身份证号 = '未登记') AS unregistered FROM (${OLD_SQL(`'未登记'`)}) WHERE district = '五区'`);
    expect(Number(real!.unregistered)).toBe(10);
    const seen = await seenOf('rt36a_old', '五区');
    expect(seen.shown, JSON.stringify(seen)).toBe(false);
  }, 600_000);

  it('was a hole (fix: identifiers beside one passport count as its key): a foreigner\'s ten mobiles, each beside their one passport (rt36a_foreign, entity mobile), are "10 people": their total is shown', async () => {
    // Seen: 200 [["10", "666.00"]]: one person's ten payments and their total, selected by their
    // district (or, as well, `WHERE 护照号码 = '<their passport>'`).
    // Lets it through: desensitize/doubtful-keys.ts:255 (compileMergedKeys) merges only into a
    // resident ID: `ids = source.witnesses.filter((witness) => witness.kind === 'resident_id')`; a
    // passport is only ever an identifier merged into a resident ID (:254), never a key others merge
    // into, and a foreigner (or anyone recorded by passport or a 港澳台 permit) has no resident ID.
    // SAFE: one person's rows are one entity, however many mobiles: the cell is withheld.
    // Fix: merge into a passport as into a resident ID (witnesses of kind `passport`, normalized
    // `document`): an identifier beside exactly one passport, the passport beside two or more; better,
    // merge over the connected components of every identifier-beside-a-document edge (see the chain).
    const [real] = await truth(`SELECT count(DISTINCT 护照号码) AS people, sum(amount) AS s FROM (${FOREIGN_SQL}) WHERE district = '五区'`);
    expect([Number(real!.people), Number(real!.s)]).toEqual([1, 666]);
    const seen = await seenOf('rt36a_foreign', '五区');
    expect(seen.shown, JSON.stringify(seen)).toBe(false);
  }, 600_000);

  it('was a hole (fix: a passport merged into the resident ID beside it carries its identifiers along): a chain mobile–passport–resident ID: C\'s ten mobiles beside C\'s passport, which a registry ties to C\'s resident ID (beside two identifiers), are still "10 people"', async () => {
    // Seen: 200 [["10", "777.00"]]. By the rule the registry merges the passport into C's ID (beside
    // exactly one ID, which is beside two identifiers), but the mobiles are beside the passport only:
    // compileMergedKeys (desensitize/doubtful-keys.ts:252-268) joins an identifier to a resident ID
    // on one row, never through another identifier, so the chain stops one link short.
    // SAFE: withheld (C is one person). Fix: merge transitively: union-find (or an iterated join to
    // a fixed point, a few rounds) over identifier–document edges, keyed by the component's resident
    // ID (or its smallest document key when it has none), excluding doubtful keys as now.
    const seen = await seenOf('rt36a_foreign', '六区');
    expect(seen.shown, JSON.stringify(seen)).toBe(false);
  }, 600_000);

  it('was a hole (fix: resident IDs written in free text are documents of the row for the merged keys, textDocuments): V4\'s ten mobiles, with `未登记` in the ID column and the resident ID written in each row\'s note (备注, recognized as free text), are "10 people"', async () => {
    // Seen: 200 [["10", "848.00"]]. The doubt read identifiers in free text (IN_TEXT, each judged as
    // the row's), the merge did not: compileMergedKeys dropped `identifier.inText` and took resident
    // IDs from witness columns only. A clerk who writes "本人身份证 …" in the note when the ID field
    // is not filled is ordinary.
    // SAFE: withheld.
    const seen = await seenOf('rt36a_pay', VICTIMS.V4[0]);
    expect(seen.shown, JSON.stringify(seen)).toBe(false);
  }, 600_000);

  it('was a hole (utility; fix: documents under a header that says they are someone else\'s are no merge target): five doctors\' resident IDs beside 200 patients\' mobiles (rt36a_visits, entity 患者手机) merge every patient into their doctor: visits per district, 50 patients each, are all withheld', async () => {
    // Seen: every district withheld (each holds "5 people", the five doctors), though each holds 50
    // patients. compileMergedKeys (desensitize/doubtful-keys.ts:252-268) takes any column recognized
    // as a resident ID for the row's person (witnessKindOf returns `resident_id` whatever the header:
    // doubtful-keys.ts:122), so a patient's mobile beside their doctor's ID (the only ID on their
    // rows) is counted as the doctor, in this dataset and in every other dataset of the domain that
    // holds that mobile (their payments, their other visits). Nothing is shown that should not be;
    // honest analyses over patients are blocked, and the dataset's supervisor declared the entity.
    // SAFE: the four districts' counts are shown (50 patients, 50 visits each).
    // Fix: take only a resident ID of the row's own person as a merge target: not a column whose
    // header names someone else (SOMEONE_ELSE already lists 医生, doctor, 监护, …: apply it to IDs
    // as to names), and not a resident ID column of a dataset whose declared entity is another
    // column that does not pair one to one with it (ingest already knows: CAT_ERR_ENTITY_AMBIGUOUS
    // was the reason the entity had to be declared).
    const real = await truth(`SELECT district, count(*) AS visits FROM (${VISITS_SQL}) GROUP BY district ORDER BY district`);
    expect(real.map((r) => Number(r.visits))).toEqual([50, 50, 50, 50]);
    const answer = await ask('SELECT district, count(*) AS visits FROM rt36a_visits GROUP BY district ORDER BY district');
    expect({ status: answer.status, rows: answer.rows.map((r) => [r[0], Number(r[1])]) }, JSON.stringify(answer))
      .toEqual({ status: 200, rows: real.map((r) => [r.district, Number(r.visits)]) });
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. A table about people that gets no privacy.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a person\'s number by its header is the entity when nothing is declared, personNumberColumns): inpatients by hospital number (住院号, a format recognition does not know), age, gender, district and diagnosis, granted whole: prod showed the one patient aged 97 and her diagnosis, unchecked', async () => {
    // Seen: 200 [[97, "女", "西区", "艾滋病"]], no `disclosure`. The dataset had no recognized
    // personal column (住院号 is no known format, gender/age/district are quasi-identifiers, not
    // "personal data"), and no entity was declared, so the refinery's isPersonal(columns) was false
    // and the table had no `privacy`: prod answered it freely.
    // SAFE: checked (the 住院号 is the entity, a subject_id): the one 97-year-old is refused.
    const [real] = await truth(`SELECT count(*) AS n FROM (${CLINIC_SQL}) WHERE 年龄 = 97`);
    expect(Number(real!.n)).toBe(1);
    const answer = await ask('SELECT 年龄, 性别, 区县, 诊断 FROM rt36a_clinic_np WHERE 年龄 = 97');
    expect(answer.rows, JSON.stringify(answer)).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Differencing: the same people under keys of two kinds; keys merged between two releases.
  // ---------------------------------------------------------------------------------------------

  const perDistrict = (table: string, where?: string) => `SELECT district, count(*) AS payments, sum(amount) AS paid FROM ${table}${where ? ` WHERE ${where}` : ''} GROUP BY district`;
  let targetId = '';
  const notTarget = () => `身份证号 <> '${targetId}'`;
  let released = '';

  it('control: a release per district over rt36a_pa (keyed by mobile), and the same breakdown over rt36a_pa without one person fails differencing', async () => {
    targetId = String((await truth(`SELECT ${residentIdSql(String(TARGET), 3641)} AS v`))[0]!.v);
    released = await exports.release(perDistrict('rt36a_pa'));
    const same = await exports.create(perDistrict('rt36a_pa', notTarget()));
    expect([check(same, 'differencing'), same.outcome], JSON.stringify(same.checks)).toEqual(['fail', 'fail']);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 4. Export files: exactness and marks.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: the manifest\'s tolerance holds on DOUBLE thirds (rounded at 4 decimals), DECIMAL(38, 2), negative zero (delivered 0.0 or 1.0: one unit), NaN and infinity (delivered as they are)', async () => {
    const sql = `SELECT firm, revenue / 3 AS third, CAST(revenue AS DECIMAL(38, 2)) AS d38, -0.0::DOUBLE AS nz,
        CASE firm WHEN 'F000' THEN 'NaN'::DOUBLE WHEN 'F001' THEN 'inf'::DOUBLE WHEN 'F002' THEN '-inf'::DOUBLE ELSE revenue END AS odd
      FROM rt36a_revenue`;
    const id = await exports.release(sql);
    const header = (await download(id)).split('\r\n')[0]!.split(',');
    const delivered = csvRows(await download(id));
    const real = await truth(`SELECT firm, revenue / 3 AS third, CAST(revenue AS DECIMAL(38, 2)) AS d38, -0.0::DOUBLE AS nz,
        CASE firm WHEN 'F000' THEN 'NaN'::DOUBLE WHEN 'F001' THEN 'inf'::DOUBLE WHEN 'F002' THEN '-inf'::DOUBLE ELSE revenue END AS odd FROM (${REVENUE_SQL})`);
    const marked = new Map((await manifestOf(id)).fingerprint.markedColumns.map((c) => [c.column, c]));
    const worst: Record<string, number> = {};
    for (const row of delivered) {
      const r = real.find((x) => x.firm === row[0])!;
      for (const column of ['third', 'd38', 'nz', 'odd']) {
        const text = row[header.indexOf(column)]!;
        const got = ({ inf: Infinity, '-inf': -Infinity, nan: NaN } as Record<string, number>)[text.toLowerCase()] ?? Number(text);
        const want = Number(r[column]);
        if (!Number.isFinite(want)) {
          expect(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${row[0]} ${column}: ${row[header.indexOf(column)]}`).toBe(true);
          continue;
        }
        const mark = marked.get(column);
        // One unit (1.5 when rounded first), plus the few ulps that reading the CSV text as a double costs.
        const allowed = (mark ? Number(mark.unit) * (mark.rounded ? 1.5 : 1) : 0) + 4 * Math.max(1, Math.abs(want)) * Number.EPSILON;
        worst[column] = Math.max(worst[column] ?? 0, Math.abs(got - want) - allowed);
      }
    }
    expect(Object.values(worst).every((excess) => excess <= 1e-9), JSON.stringify({ worst, marked: [...marked.values()] })).toBe(true);
    expect(marked.get('third')?.rounded).toBe(true);
  }, 600_000);

  it('was a hole (tracing; fix: FLOAT columns are marked like DOUBLE, within a FLOAT\'s noise): a measure cast to FLOAT (REAL) is delivered without a mark, where the same values as DOUBLE are marked', async () => {
    // Seen: the manifest marks `revenue` (DOUBLE) and not `rf` (FLOAT) nor `rk` (REAL): those values
    // leave exactly as computed, so a leaked copy of the file cannot be traced to its recipient by
    // marks (the aggregate trace matches released cells only). Lets it through:
    // sandbox/engine/export-fingerprint.ts:74 (markOf) `if (type !== 'DOUBLE') return undefined`.
    // An operator (or a recipient's accomplice) who wants an untraceable package writes `::FLOAT`;
    // the reviewer sees a cast, not a missing mark. (Values cast to VARCHAR escape the marks alike.)
    // SAFE: every measure column of floating point (FLOAT too) is marked, or refused/flagged.
    // Fix: mark FLOAT as DOUBLE (read it as DOUBLE, at the decimals a float holds: 7 significant
    // digits), and flag numeric text columns (`TRY_CAST` of every value succeeds) for the reviewer.
    const id = await exports.release('SELECT firm, revenue, CAST(revenue / 1000 AS FLOAT) AS rf, CAST(revenue / 7 AS REAL) AS rk FROM rt36a_revenue');
    const marked = (await manifestOf(id)).fingerprint.markedColumns.map((c) => c.column).sort();
    expect(marked, 'the control: the DOUBLE column is marked').toContain('revenue');
    expect(marked).toEqual(['revenue', 'rf', 'rk']);
  }, 600_000);

  it('STOPPED: an integer (HUGEINT) of 39 digits, beyond DECIMAL(38, 0), is never delivered as another number: digit for digit, or empty', async () => {
    // exactInParquet (sandbox/engine/export-files.ts:85) casts every HUGEINT to DECIMAL(38, 0),
    // whose largest value is 10^38 - 1; a HUGEINT holds up to 1.7 × 10^38 (a UHUGEINT 3.4 × 10^38).
    // Seen when written: 422 "the query failed while running (Conversion Error)". Since then the
    // cast is a TRY_CAST (a failing export was an oracle when one person's row made the value:
    // red-team pass 19a's world pair), so such a value is delivered empty.
    // Fails if such a value is delivered as any other number.
    const sql = `SELECT firm, CAST(revenue AS HUGEINT) * CAST('100000000000000000000000000000' AS HUGEINT) AS big FROM rt36a_revenue WHERE firm < 'F003'`;
    const res = await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql }, recipient: LAB.id, purpose: 'red team 36a', format: 'csv' });
    const real = await truth(`SELECT firm, CAST(CAST(revenue AS HUGEINT) * CAST('100000000000000000000000000000' AS HUGEINT) AS VARCHAR) AS big FROM (${REVENUE_SQL}) WHERE firm < 'F003' ORDER BY firm`);
    expect(String(real[0]!.big).length).toBe(39);
    if (res.statusCode !== 201) {
      // Refused: acceptable only as a clear client error.
      expect([res.statusCode, res.body], 'a clear refusal').toEqual([422, expect.stringMatching(/./)]);
      return;
    }
    const created = res.json() as { id: string; outcome: string; checks: unknown[] };
    expect(created.outcome, JSON.stringify(created)).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200);
    const delivered = csvRows(await download(created.id)).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
    delivered.forEach((row, i) => expect(['', String(real[i]!.big)], row.join()).toContain(row[1]));
  }, 600_000);
});
