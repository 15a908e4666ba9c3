/**
 * Red-team pass 41a: the fixes of passes 39b–40b (commits e691073, 332b856, 0ce10df) attacked again
 * over HTTP, as operators of `rt41a-org` (and, for the withdrawal race, of `rt41a-race`):
 * 1. rows of people without an entity (rowsOfPeople, desensitize/person-numbers.ts; isPersonalVersion,
 *    tenants/catalog-service.ts): the same ward of inpatients written as providers write them: the
 *    patient numbers stored as numbers, a second visit of some patients, a small ward, the age or the
 *    gender under a header the rule does not read;
 * 2. a person's number by its header (personNumberColumns) taking the WRONG column as the entity: a
 *    doctor's bare `工号` in a table of visits (settled as the entity; the doubt stops it);
 * 3. one kind per dataset (settleEntity's CAT_ERR_ENTITY_CHANGED): `subject_id` is the kind of every
 *    number no format knows, so a version counting on ANOTHER number system (医保号 after 住院号) is
 *    the same kind and its keys compare with nobody;
 * 4. merged keys (compileMergedKeys, sameRole, textDocuments; desensitize/doubtful-keys.ts): a
 *    registry of doctors whose mobile's header names the role and whose ID's does not (0ce10df), the
 *    role named in English on one side and in Chinese on the other, documents in notes written as
 *    the text finders do not read them (a 15-digit ID, 護照, a passport of 6 digits);
 * 5. a failure that still tells after a withdrawal (runAdmitted, tenants/lineage.ts): a run admitted
 *    before the withdrawal that blows the engine's memory after it takes every task in flight with it,
 *    and a task sent AFTER the withdrawal, over another dataset, is told so.
 * Each question is asked in two worlds (the person matches, or not; a rare diagnosis shown, or not);
 * SAFE means the operator sees the same in both, or the probe is refused (counted, one bit at most).
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and a fix); `STOPPED:` tests hold now and fail
 * if the defence breaks; `control:` tests show the method reads the truth where it should.
 *
 * Section 5's hole is not fixed and its tests are left out (main stays green; branch `rt41a` of the
 * checkout that ran the pass holds them): a probe admitted before a withdrawal reached the withdrawn
 * rows after it and blew the engine's memory on row 7 above 50; the probe itself was told
 * CAT_ERR_DATASET_WITHDRAWN in both worlds (runAdmitted), but a companion sent AFTER the withdrawal,
 * in dev, over another dataset, failed with the engine (SBX_ERR_ENGINE_MEMORY, uncounted then) or
 * answered: one bit of a withdrawn dataset per kill. Since this pass an engine stop counts as
 * probing in every env (tenants/probe-limiter.ts), which slows it; closing it needs a withdrawal to
 * interrupt the runs admitted before it, or a task failed by another task's kill to be retried on
 * the restarted engine (docs/sandbox.md says so).
 *
 * Setup (test/helpers/crafted-domain.ts: every dataset ingested through the trusted pipeline and
 * granted, personal columns plain with a reason; the truth computed from the generating SQL in an
 * in-memory DuckDB):
 * - `rt41a_w_<variant>`: wards of inpatients by a code under `编号` (no person number's header), one
 *   trait (an age, a gender or a birth year), 区县 and 诊断; inpatient 7 alone lives in 北区 (97 years
 *   old) and has HIV. The control is 200 rows of VARCHAR codes beside `年龄` (rowsOfPeople: refused).
 * - `rt41a_gh` / `rt41a_gh_ctl` / `rt41a_gh_sex`: 200 visits under a visit number (`就诊号`), each with
 *   its doctor's number (`工号` / `医生工号` / `工号` beside a gender, 12 doctors); P (97, 北区, HIV) has
 *   twelve visits, one to each doctor.
 * - `rt41a_pay`: 100 inpatients by `住院号` (district, amount); version 2 by their 医保号 (another
 *   number system, the same people) without P.
 * - `rt41a_doc_*`: registries of 150 doctors (entity: the mobile); D has ten mobiles beside their one
 *   resident ID, alone in 五区.
 * - `rt41a_notes` (entity mobile, 身份证号, 备注): 150 payers, and people with ten mobiles beside
 *   `未登记`, alone in a district, their document in the note in several spellings.
 *
 * Looked at and found holding (no test beyond those below): `护照号码：E…` and `Passport#…` in notes
 * (STOPPED below); a passport whose digits are a run (`EB1234567`) is no key by design; a ward of 49
 * rows whose three-character diagnoses (高血压, 糖尿病, 哮喘) recognition reads as names is personal by
 * that accident (with ICD-coded diagnoses, as HISs write them, it answered: a hole below); a bare
 * `工号` in visits is settled as the entity, but a doctor's number on many visits keys no one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mobileSql, residentIdCheckChar, residentIdSql } from '../../desensitize/index.js';
import { auditProbes } from '../helpers/audit-probes.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { licenseTenantWithData, type FixtureDataset } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const ORG = 'rt41a-org';
const LAB = { id: 'rt41a-lab', name: 'Red team 41a lab' };
const PURPOSE = 'red team 41a';
/** The rare diagnosis, as a HIS writes diagnoses: an ICD-10 code and its name. */
const RARE = 'B24 HIV';

/** A resident ID of 18 characters from its first 17 digits. */
const residentId = (first17: string) => `${first17}${residentIdCheckChar(first17)}`;
/** Resident IDs of people born 1950–1990. */
const ID = (i: string, seed: number) => residentIdSql(i, seed, { from: 1950, to: 1990 });

// ---------------------------------------------------------------------------------------------
// 1. Wards: inpatient 7 alone lives in 北区 (97 years old, born 1928) and has HIV.
// ---------------------------------------------------------------------------------------------
interface Ward {
  /** The code's type as stored. */
  codeType: 'VARCHAR' | 'BIGINT' | 'DOUBLE';
  /** The trait's header and what it holds. */
  trait: string;
  holds: 'age' | 'gender' | 'birth_year';
  /** Rows: one per inpatient, or 200 inpatients of whom the first `again` came twice. */
  rows: number;
  again?: number;
}
const WARDS = {
  control: { codeType: 'VARCHAR', trait: '年龄', holds: 'age', rows: 200 },
  bigint: { codeType: 'BIGINT', trait: '年龄', holds: 'age', rows: 200 },
  double: { codeType: 'DOUBLE', trait: '年龄', holds: 'age', rows: 200 },
  rows49: { codeType: 'VARCHAR', trait: '年龄', holds: 'age', rows: 49 },
  again25: { codeType: 'VARCHAR', trait: '年龄', holds: 'age', rows: 200, again: 25 },
  nl: { codeType: 'VARCHAR', trait: 'nl', holds: 'age', rows: 200 },
  sui: { codeType: 'VARCHAR', trait: '岁', holds: 'age', rows: 200 },
  xingbie_trad: { codeType: 'VARCHAR', trait: '性別', holds: 'gender', rows: 200 },
  sexe: { codeType: 'VARCHAR', trait: 'sexe', holds: 'gender', rows: 200 },
  birth_year: { codeType: 'VARCHAR', trait: '出生年', holds: 'birth_year', rows: 200 },
} as const satisfies Record<string, Ward>;
type WardName = keyof typeof WARDS;
/** Diagnoses as a HIS writes them (bare 高血压, 糖尿病, 哮喘 read as names in a small ward). */
const DIAGNOSES = "['I10 原发性高血压', 'E11.9 2型糖尿病', 'J45.9 支气管哮喘'][1 + p % 3]";
const wardId = (name: WardName) => `rt41a_w_${name}`;
const wardSql = (ward: Ward) => {
  const code = ward.codeType === 'VARCHAR' ? `'P' || lpad(CAST(10000 + p * 7 AS VARCHAR), 6, '0')` : `CAST(100000 + p * 7 AS ${ward.codeType})`;
  const trait = ward.holds === 'age' ? 'CAST(CASE WHEN p = 7 THEN 97 ELSE 20 + p % 60 END AS INTEGER)'
    : ward.holds === 'gender' ? "['男', '女'][1 + p % 2]" : 'CAST(CASE WHEN p = 7 THEN 1928 ELSE 1950 + p % 50 END AS INTEGER)';
  const from = ward.again === undefined ? `range(${ward.rows}) t(p)` : `(SELECT range AS p FROM range(${ward.rows}) UNION ALL SELECT range FROM range(${ward.again})) t(p)`;
  return `SELECT ${code} AS 编号, ${trait} AS "${ward.trait}", CASE WHEN p = 7 THEN '北区' ELSE ['东区', '西区'][1 + p % 2] END AS 区县,
      CASE WHEN p = 7 THEN '${RARE}' ELSE ${DIAGNOSES} END AS 诊断 FROM ${from}`;
};

// ---------------------------------------------------------------------------------------------
// 2. Visits with the doctor's number: P (97, 北区, HIV) saw each of the 12 doctors once.
// ---------------------------------------------------------------------------------------------
const visitsSql = (doctorHeader: string, withGender = false) => `SELECT 'JZ' || lpad(CAST(v AS VARCHAR), 7, '0') AS 就诊号, 'D' || lpad(CAST(101 + doc AS VARCHAR), 4, '0') AS "${doctorHeader}",
    age AS 年龄, ${withGender ? 'g AS 性别, ' : ''}d AS 区县, dx AS 诊断
  FROM (SELECT p AS v, p % 12 AS doc, CAST(20 + p % 60 AS INTEGER) AS age, ['男', '女'][1 + p % 2] AS g, ['东区', '西区'][1 + p % 2] AS d, ${DIAGNOSES} AS dx FROM range(200) t(p)
    UNION ALL SELECT 1000 + k, k, 97, '男', '北区', '${RARE}' FROM range(12) t(k))`;

// ---------------------------------------------------------------------------------------------
// 3. Inpatients by 住院号, then by 医保号 (another number system for the same people), without P.
// ---------------------------------------------------------------------------------------------
const PAY_P = 4;
const PAY_Q = 6;
const paySql = (header: '住院号' | '医保号', without?: number) => `SELECT ${header === '住院号' ? `'ZY' || lpad(CAST(30000 + p * 11 AS VARCHAR), 6, '0')` : `'YB' || lpad(CAST(770000 + p * 13 AS VARCHAR), 7, '0')`} AS ${header},
    ['一区', '二区'][1 + p % 2] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
  FROM range(100) t(p)${without === undefined ? '' : ` WHERE p <> ${without}`}`;

// ---------------------------------------------------------------------------------------------
// 4a. Registries of doctors: D, ten mobiles beside their one ID, alone in 五区.
// ---------------------------------------------------------------------------------------------
const DOCTOR_HEADERS = {
  /** The 39a registry (one role on both sides): merged, the control. */
  same: { mobile: '医师手机', id: '医师身份证号' },
  /** The role on the mobile only: the register's ID column names no one (the usual export of a HR system). */
  role_on_mobile: { mobile: '医生手机', id: '身份证号' },
  /** One role, in English on one side and in Chinese on the other. */
  two_languages: { mobile: 'doctor_mobile', id: '医生身份证号' },
} as const;
type DoctorCase = keyof typeof DOCTOR_HEADERS;
const doctorsSql = (which: DoctorCase, seed: number) => {
  const { mobile, id } = DOCTOR_HEADERS[which];
  return `SELECT * FROM (
    SELECT ${mobileSql('p', seed)} AS ${mobile}, ${ID('p + 1000', seed)} AS ${id}, ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    UNION ALL SELECT ${mobileSql('9200 + k', seed + 1)}, ${ID('9201', seed + 2)}, '五区', CAST(83.8 AS DECIMAL(10,2)) FROM range(10) t(k))`;
};

// ---------------------------------------------------------------------------------------------
// 4b. Ten mobiles of one person beside 未登记, the document in the note.
// ---------------------------------------------------------------------------------------------
const W_ID = residentId('32010219790823104');
/** A first-generation (15-digit) resident ID: 440106, born 1985-06-12, sequence 123. */
const OLD_ID = '440106850612123';
const TEN_MOBILES = [
  { who: 'W', district: '六区', seed: 4162, note: `本人身份证${W_ID}`, amount: 72.1 },
  { who: 'O', district: '五区', seed: 4161, note: `本人身份证 ${OLD_ID}`, amount: 71.1 },
  { who: 'T', district: '七区', seed: 4163, note: '外籍人员，護照號碼 E61234578', amount: 73.1 },
  { who: 'C', district: '八区', seed: 4164, note: 'foreign national, passport no. GA123457', amount: 74.1 },
  { who: 'F', district: '九区', seed: 4165, note: '外籍人员，护照号码：E71234589', amount: 75.1 },
  { who: 'G', district: '十区', seed: 4166, note: 'walk-in, Passport#EB7391528', amount: 76.1 },
] as const;
const NOTES_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 4160)} AS mobile, ${ID('p', 4160)} AS 身份证号, '复诊' AS 备注,
      ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    ${TEN_MOBILES.map((x) => `UNION ALL SELECT ${mobileSql('9000 + k', x.seed)}, '未登记', '${x.note}', '${x.district}', CAST(${x.amount} + k AS DECIMAL(10,2)) FROM range(10) t(k)`).join('\n    ')})`;

describe('red team 41a', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, PURPOSE);
  let t: TestApp;
  let operators = 0;
  /** A fresh operator for each world, so that no probing budget is shared between them. */
  const operator = () => ({ role: 'operator', org: ORG, sub: `op${operators++}` }) as const;
  const ask = (sql: string) => prodAsker(() => t, operator())(sql);
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);
  const said = (answer: Awaited<ReturnType<typeof ask>>) => (answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}`);

  /** domain.ingest, naming the dataset when it fails (a setup failure says which and why). */
  const ingest = async (id: string, sql: string, options: Parameters<typeof domain.ingest>[2] = {}) => {
    try {
      await domain.ingest(id, sql, options);
    } catch (error) {
      throw new Error(`ingest ${id}: ${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
    }
  };

  beforeAll(async () => {
    t = await domain.start();
    for (const name of Object.keys(WARDS) as WardName[]) await ingest(wardId(name), wardSql(WARDS[name]));
    await ingest('rt41a_gh', visitsSql('工号'));
    await ingest('rt41a_gh_ctl', visitsSql('医生工号'));
    await ingest('rt41a_gh_sex', visitsSql('工号', true));
    await ingest('rt41a_pay', paySql('住院号'));
    for (const [k, which] of (Object.keys(DOCTOR_HEADERS) as DoctorCase[]).entries()) {
      await ingest(`rt41a_doc_${which}`, doctorsSql(which, 4110 + 10 * k), { entity: DOCTOR_HEADERS[which].mobile });
    }
    await ingest('rt41a_notes', NOTES_SQL, { entity: 'mobile' });
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  // ---------------------------------------------------------------------------------------------
  // 1. Rows of people without an entity.
  // ---------------------------------------------------------------------------------------------

  /** The one 北区 inpatient's diagnosis, asked row by row. */
  const northOf = (table: string) => `SELECT 区县, 诊断 FROM ${table} WHERE 区县 = '北区'`;
  /** What prod says of the 北区 inpatient in each ward, with the entity the ward settled. */
  const wardsSeen = async (names: readonly WardName[]) => {
    const seen: Record<string, string> = {};
    for (const name of names) {
      const answer = await ask(northOf(wardId(name)));
      seen[name] = `entity ${(await domain.profileOf(wardId(name))).entity}: ${said(answer)}`;
    }
    return seen;
  };
  const shown = (seen: Record<string, string>) => Object.entries(seen).filter(([, s]) => s.includes(RARE));

  it('control: the 北区 inpatient alone has HIV in every ward (generator); the ward of 200 VARCHAR codes beside 年龄 is rows of people without an entity, and prod refuses the row (rowsOfPeople holds)', async () => {
    for (const name of Object.keys(WARDS) as WardName[]) {
      expect((await real(`SELECT DISTINCT 诊断 FROM (${wardSql(WARDS[name])}) WHERE 区县 = '北区'`)).map((r) => r.诊断), name).toEqual([RARE]);
    }
    const seen = await wardsSeen(['control']);
    expect(seen.control).toMatch(/^entity null: /);
    expect(shown(seen), JSON.stringify(seen)).toEqual([]);
  }, 600_000);

  it('was a hole (fix: rows of people need no codes: a trait whose values repeat and no column of counts, rowsOfPeople): rowsOfPeople reads codes only when stored as VARCHAR: the same ward with its patient numbers stored as BIGINT or DOUBLE (as a spreadsheet or pandas writes a numeric code) is "not personal", and prod shows the 北区 inpatient\'s diagnosis (HIV)', async () => {
    // Seen: both wards ingest with entity null and no personal column, and prod answers
    // [["北区","B24 HIV"]], where the VARCHAR ward (the control) is refused DSC_ERR_UNCHECKABLE.
    // Where: desensitize/person-numbers.ts:57 (rowsOfPeople: `/^VARCHAR$/i.test(c.type)` for the
    // codes), reached from tenants/catalog-service.ts:45 (isPersonalVersion) and
    // sandbox/engine/ingest-dataset.ts:196 (uncountable): codes of digits are loaded as numbers by
    // the uploads' type inference (docs/catalog.md: "column types guessed"), so a ward whose 住院号
    // has no letters is never rows of people.
    // SAFE: refused as for the VARCHAR ward. Fix: take integer and whole-valued DOUBLE/DECIMAL
    // columns as codes too (any column but dates, booleans and fractions), nearly one per row.
    const seen = await wardsSeen(['bigint', 'double']);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  it('was a hole (fix: as above, no thresholds of rows or distinct codes): rowsOfPeople\'s thresholds: a ward of 49 inpatients, or a ward where 25 of 200 inpatients came twice (codes 89% distinct, a patient\'s second visit), is "not personal", and prod shows the 北区 inpatient\'s diagnosis (HIV)', async () => {
    // Seen: [["北区","B24 HIV"]] for both (twice where P came twice), entity null. Where:
    // desensitize/person-numbers.ts:57 (`rows >= 50 && c.distinct >= 0.9 * rows`): a
    // code that repeats on a person's second visit (every visits table: admissions, prescriptions,
    // payments) is below 90% as soon as one row in ten is a return, and a ward of a small clinic has
    // fewer than 50 rows; each is one person's row all the same.
    // SAFE: refused as for the control ward. Fix: codes are people's when the trait says rows are
    // about people, whatever their share: a column of many codes (say 20 distinct or more, or half
    // the rows) beside a gender/age/birth column is a candidate entity; with no declared entity the
    // version is uncheckable (fail closed), and the supervisor names it.
    const seen = await wardsSeen(['rows49', 'again25']);
    const [again] = await real(`SELECT count(DISTINCT 编号) / count(*) AS share FROM (${wardSql(WARDS.again25)})`);
    expect(Number(again!.share)).toBeCloseTo(200 / 225, 5);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  it('was a hole (fix: traits read under 性別, sexe, xb, nl, 岁, 出生年 and the like, TRAIT): rowsOfPeople reads a trait by a few headers only: the same ward with the age under `nl` (年龄\'s pinyin initials, as 医保 and HIS tables write it) or `岁`, the gender under `性別` (traditional) or `sexe`, or a birth year under `出生年`, is "not personal", and prod shows the 北区 inpatient\'s diagnosis (HIV)', async () => {
    // Seen: [["北区","B24 HIV"]] for every one, entity null. Where: desensitize/person-numbers.ts:35
    // (AGE_HEADER `年龄|岁数|age`) and :56, where a gender or a birth date is read by witnessKindOf
    // (desensitize/doubtful-keys.ts:152, GENDER_HEADER anchored on `性别|xb|gender|sex`; :148,
    // BIRTH_DATE_HEADER needs `出生年份`/`出生年月`, and a header that only mentions birth needs
    // profiled values, which rowsOfPeople never passes). The same lists the person-number headers
    // had before pass 40b: a spelling short of them answers the row.
    // SAFE: refused as for the control ward. Fix: add the pinyin and other spellings (nl, nianling,
    // 岁, 周岁, 年纪, 性別, sexe, xingbie, 出生年, byear, 出生年度), and pass the profiled values to
    // witnessKindOf from rowsOfPeople; better, fail closed on the codes alone: a column of codes nearly
    // one per row beside any other column is rows of something the supervisor must name.
    const seen = await wardsSeen(['nl', 'sui', 'xingbie_trad', 'sexe', 'birth_year']);
    expect(shown(seen), JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. A person's number taken from the wrong column.
  // ---------------------------------------------------------------------------------------------

  const northDiagnoses = (table: string) => `SELECT 区县, 诊断, count(*) AS n FROM ${table} WHERE 区县 = '北区' GROUP BY 区县, 诊断`;

  it('control: the same visits with the doctor\'s number under `医生工号` have no entity and are rows of people (visit numbers one per row beside 年龄): prod refuses the 北区 patient\'s diagnoses', async () => {
    const [truth] = await real(`SELECT count(*) AS visits, count(DISTINCT 工号) AS doctors FROM (${visitsSql('工号')}) WHERE 区县 = '北区' AND 诊断 = '${RARE}'`);
    expect([Number(truth!.visits), Number(truth!.doctors)]).toEqual([12, 12]);
    expect((await domain.profileOf('rt41a_gh_ctl')).entity).toBeNull();
    const answer = await ask(northDiagnoses('rt41a_gh_ctl'));
    expect(answer.status === 200 && JSON.stringify(answer.rows).includes(RARE), said(answer)).toBe(false);
  }, 600_000);

  it('STOPPED: a doctor\'s number under a bare `工号` (no role word) in a table of visits is taken for the rows\' people (entity `工号`), yet the 97-year-old\'s twelve visits to twelve doctors do not pass as 12 people: the doctors\' numbers, each on many visits, are no one\'s key, and prod refuses the 北区 diagnoses (DSC_ERR_NOT_K_ANONYMOUS, "none included"), with or without a gender column', async () => {
    // Looked at as a wrong entity: desensitize/person-numbers.ts:19 takes any `工号` for the row's
    // person, and sandbox/engine/ingest-people.ts:141 settles it as the only candidate, though
    // `就诊号` (one per row) says the rows are visits. What stops it is the domain's doubt over keys
    // (no doctor's key counts anyone), not the entity rule: were the doubt to accept such keys, this
    // table would answer where the `医生工号` control refuses.
    for (const id of ['rt41a_gh', 'rt41a_gh_sex']) {
      expect((await domain.profileOf(id)).entity, id).toBe('工号');
      const answer = await ask(northDiagnoses(id));
      expect(answer.status === 200 && JSON.stringify(answer.rows).includes(RARE), `${id}: ${said(answer)}`).toBe(false);
    }
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. One kind per dataset, through a change of number system.
  // ---------------------------------------------------------------------------------------------

  const { audit } = auditProbes(() => t);
  const sha = (sql: string) => createHash('sha256').update(sql).digest('hex');
  type PairEntry = { details: { sqlSha256?: string; examples?: { earlier: string }[] } };
  const pairs = async () => (await audit('action=query.differencing')) as PairEntry[];
  /** Whether the audit reports `later` as a pair of `earlier`. */
  const reported = async (later: string, earlier: string) => (await pairs()).some((e) => e.details.sqlSha256 === sha(later) && (e.details.examples ?? []).some((x) => x.earlier === sha(earlier)));

  it('was a hole (fix: a `subject_id` keeps its column: another numbering of the same people is refused, CAT_ERR_ENTITY_CHANGED): a version counting on ANOTHER number system of the same people (医保号 after 住院号, both `subject_id`) is accepted as the same kind: 一区\'s total at version 1 minus the same total at version 2 is the one patient who left, and no pair is reported', async () => {
    // Seen: version 2 (医保号, without P) ingests with entity `医保号` (subject_id), no
    // CAT_ERR_ENTITY_CHANGED; both totals are shown, their difference is P's amount, and the
    // differencing history (which compares entity keys: keyed hashes of the codes) finds the two cells
    // share nobody: no `query.differencing`, while the same pair within version 2 (Q left out) is
    // reported. The pass 23a/40b hole through a kind that names no format: every number no format
    // knows is `subject_id`, so "one kind per dataset" holds for any change of number system (a
    // hospital migrating its HIS, a provider sending 医保号 instead of 住院号, or renumbering under the
    // same header).
    // Where: sandbox/engine/ingest-people.ts:104 (settleEntity compares `kind` only; a subject_id's
    // values are not a kind), :138 (`kept` by name) and :141 (any person's number is a candidate).
    // SAFE: version 2 refused (CAT_ERR_ENTITY_CHANGED), or the v1/v2 pair reported. Fix: a subject_id
    // entity keeps its COLUMN, not only its kind: a version whose subject_id column is another one (or
    // whose keys share few of the previous version's, say under half) is refused as a change of
    // entity, unless declared with the supervisor's statement that the codes are the same people's.
    const one = operator();
    const cell = async (sql: string) => {
      const res = expectStatus(await t.call(one, 'POST', '/v1/query', { sql, env: 'prod' }), 200).json() as { rows: unknown[][] };
      expect(res.rows[0]?.[1], sql).not.toBeNull();
      return Number(res.rows[0]![1]);
    };
    expect((await domain.profileOf('rt41a_pay')).entity).toBe('住院号');
    const atV1 = "SELECT district, sum(amount) AS total FROM rt41a_pay WHERE district = '一区' GROUP BY district";
    const atV2 = "SELECT district, sum(amount) AS s2 FROM rt41a_pay WHERE district = '一区' GROUP BY district";
    const [q] = (await real(`SELECT 医保号, district FROM (${paySql('医保号')}) WHERE 医保号 = 'YB' || lpad(CAST(770000 + ${PAY_Q} * 13 AS VARCHAR), 7, '0')`)).map((r) => String(r.医保号));
    expect(q).toBeDefined();
    const withoutQ = `SELECT district, sum(amount) AS s2q FROM rt41a_pay WHERE district = '一区' AND 医保号 <> '${q}' GROUP BY district`;
    const before = await cell(atV1);
    let refused: string | undefined;
    try {
      await domain.ingest('rt41a_pay', paySql('医保号', PAY_P), { grant: false });
    } catch (error) {
      refused = (error as { code?: string }).code ?? String(error);
    }
    if (refused !== undefined) {
      expect(refused).toBe('CAT_ERR_ENTITY_CHANGED');
      return;
    }
    await domain.refresh();
    const profile = await domain.profileOf('rt41a_pay');
    const after = await cell(atV2);
    const [truth] = await real(`SELECT amount FROM (${paySql('住院号')}) t WHERE 住院号 = 'ZY' || lpad(CAST(30000 + ${PAY_P} * 11 AS VARCHAR), 6, '0')`);
    expect(Math.round((before - after) * 100) / 100).toBe(Number(truth!.amount));
    await cell(withoutQ);
    await waitUntil('the pair within version 2 in the audit', async () => (await pairs()).some((e) => e.details.sqlSha256 === sha(withoutQ)), { deadlineMs: 60_000, intervalMs: 200 });
    expect(await reported(atV2, atV1), `version ${profile.version} counts on ${profile.entity}; P's amount ${before - after} by difference, no pair reported`).toBe(true);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 4. Merged keys.
  // ---------------------------------------------------------------------------------------------

  /** A district's count and total as the operator sees it: shown (a non-null sum) or not. */
  const districtTotal = async (table: string, district: string) => {
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM ${table} WHERE district = '${district}'`);
    return { shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined), said: said(answer) };
  };

  it('control: in the 39a registry (`医师手机` beside `医师身份证号`) D\'s ten mobiles are one doctor (withheld); a district of 50 doctors is shown', async () => {
    const { mobile, id } = DOCTOR_HEADERS.same;
    const [truth] = await real(`SELECT count(DISTINCT ${mobile}) AS ids, count(DISTINCT ${id}) AS docs, sum(amount) AS s FROM (${doctorsSql('same', 4110)}) WHERE district = '五区'`);
    expect([Number(truth!.ids), Number(truth!.docs), Number(truth!.s)]).toEqual([10, 1, 838]);
    const d = await districtTotal('rt41a_doc_same', '五区');
    expect(d.shown, d.said).toBe(false);
    expect((await districtTotal('rt41a_doc_same', '一区')).shown).toBe(true);
  }, 600_000);

  it('was a hole (fix: a document under no role\'s header is the entity column\'s person, whatever role that header names, sameRole): a registry of doctors whose mobile\'s header names the role (`医生手机`, the entity) and whose ID\'s names none (`身份证号`) merges nothing since 0ce10df: one doctor\'s ten mobiles are "10 people", and their total is shown', async () => {
    // Seen: 200 [["10","838.00"]] for D alone in 五区 (the control registry withholds it). Commit
    // 0ce10df changed sameRole from "the document's header names no role, or the identifier's the
    // same" to "both the same role or none", to stop `联系人手机` merging into the patient's ID (a
    // wrong merge: fewer people counted, the safe side, pass 40b); a registry whose entity column
    // names its people's role and whose ID column does not (a HR or licence system's export) is now
    // counted per mobile: the pass 39a hole reopened by one header.
    // Where: desensitize/doubtful-keys.ts:335-337 (sameRole: `role(document) === role(identifier)`,
    // '医生' against undefined).
    // SAFE: withheld (one person). Fix: the entity column's header names whose rows they are: a
    // document under no role's header is the row's person's, so it merges with the ENTITY column
    // whatever role that names; only identifiers under another role's header than the entity's
    // (`联系人手机` beside a patient's entity) stay apart.
    const d = await districtTotal('rt41a_doc_role_on_mobile', '五区');
    expect(d.shown, d.said).toBe(false);
  }, 600_000);

  it('was a hole (fix: roles compared under one name in any language, ROLES): a registry of doctors with the role in English on the mobile (`doctor_mobile`) and in Chinese on the ID (`医生身份证号`) merges nothing: one doctor\'s ten mobiles are "10 people", and their total is shown', async () => {
    // Seen: 200 [["10","838.00"]]. Where: desensitize/doubtful-keys.ts:337 (sameRole compares the
    // matched words: 'doctor' against '医生'), the same for physician/医师, nurse/护士,
    // guarantor/担保人, contact/联系人, and for 医生 against 医师 (one role, two words).
    // SAFE: withheld. Fix: compare roles by a canonical role (医生 = 医师 = 主治 = doctor =
    // physician, …), not by the word matched.
    const d = await districtTotal('rt41a_doc_two_languages', '五区');
    expect(d.shown, d.said).toBe(false);
  }, 600_000);

  const alone = (who: string) => TEN_MOBILES.find((x) => x.who === who)!;
  const truthOf = async (who: string) => {
    const [row] = await real(`SELECT count(DISTINCT mobile) AS ids, sum(amount) AS s FROM (${NOTES_SQL}) WHERE district = '${alone(who).district}'`);
    return [Number(row!.ids), Number(row!.s)];
  };

  it('control: W\'s ten mobiles beside 未登记, each note `本人身份证<ID>`, are one person (withheld); a district of 50 payers is shown', async () => {
    expect(await domain.kindsOf('rt41a_notes')).toMatchObject({ mobile: 'mobile', 身份证号: 'resident_id', 备注: 'free_text' });
    expect(await truthOf('W')).toEqual([10, 766]);
    const w = await districtTotal('rt41a_notes', '六区');
    expect(w.shown, w.said).toBe(false);
    expect((await districtTotal('rt41a_notes', '一区')).shown).toBe(true);
  }, 600_000);

  it('STOPPED: passport numbers after `护照号码：` and `Passport#` in the note merge their ten mobiles: withheld', async () => {
    const f = await districtTotal('rt41a_notes', alone('F').district);
    const g = await districtTotal('rt41a_notes', alone('G').district);
    expect({ f: f.shown, g: g.shown }, JSON.stringify({ f: f.said, g: g.said })).toEqual({ f: false, g: false });
  }, 600_000);

  it('was a hole (fix: 15-digit resident IDs read in free text): a first-generation resident ID (15 digits) in the note (`本人身份证 440106850612123`) merges nothing: O\'s ten mobiles are "10 people" and their total is shown', async () => {
    // Seen: 200 [["10","756.00"]]. The key rules take a 15-digit ID (upgraded, docs/catalog.md "Rows
    // without a key") and recognition finds it in text, but the merge's finder is 18 characters only:
    // desensitize/doubtful-keys.ts:68 (IN_TEXT.resident_id, `[1-9](?:[- ]?[0-9]){16}[- ]?[0-9Xx]`).
    // Old IDs are what an elderly person's record, the one most often written by hand into a note,
    // still carries.
    // SAFE: withheld (one person). Fix: accept 15 digits too (`[1-9][0-9]{5}[0-9]{2}(?:0[1-9]|1[0-2])[0-9]{5}`
    // between non-digits), upgraded as the entity keys are.
    expect(await truthOf('O')).toEqual([10, 756]);
    const o = await districtTotal('rt41a_notes', alone('O').district);
    expect(o.shown, o.said).toBe(false);
  }, 600_000);

  it('was a hole (fix: 護照 and passport numbers of up to two letters and 6 to 9 digits read in free text): passport numbers written in traditional Chinese (`護照號碼 E61234578`) or of another shape than one or two letters and 7–9 digits (`passport no. GA123457`, a letter pair and 6 digits as Canada\'s and others\' are) merge nothing: a foreigner\'s ten mobiles are "10 people" and their total is shown', async () => {
    // Seen: 200 [["10","776.00"]] (T) and 200 [["10","786.00"]] (C). Where:
    // desensitize/doubtful-keys.ts:72 (PASSPORT_IN_TEXT: the word `护照|passport` only, not 護照, and
    // the number `[a-z]{1,2}[0-9]{7,9}`), though recognition reads any country's 6 to 9 letters and
    // digits under a passport's header (docs/catalog.md, `passport`).
    // SAFE: withheld (one person each). Fix: the word in every script (護照, パスポート, hzhm) and the
    // number as recognition reads it under a passport's header (6 to 9 letters and digits with a digit).
    const t1 = await truthOf('T');
    const c1 = await truthOf('C');
    expect([t1, c1]).toEqual([[10, 776], [10, 786]]);
    const t2 = await districtTotal('rt41a_notes', alone('T').district);
    const c2 = await districtTotal('rt41a_notes', alone('C').district);
    expect({ t: t2.shown, c: c2.shown }, JSON.stringify({ t: t2.said, c: c2.said })).toEqual({ t: false, c: false });
  }, 600_000);
});
