/**
 * Red-team pass 40b: the fixes of passes 36a–39a on who a row is about attacked again over HTTP, as
 * operators of `rt40b-org` (and, for the dev twin, of `rt40b-tw`):
 * 1. a person's number by its header (personNumberColumns, desensitize/person-numbers.ts): headers
 *    of a person's number the list lacks, and a later version that renames the number;
 * 2. merged keys (compileMergedKeys, desensitize/doubtful-keys.ts): identifiers of SOMEONE ELSE
 *    (an emergency contact's mobile, a relative's mobile in the note) merged into the row's person:
 *    by entity sets a cell leaving one of the two out leaves out "no one" (the history's
 *    contribution fingerprints still report it);
 * 3. merged keys from free text (expandTextIdentifiers, textDocuments): a resident ID written with
 *    spaces, a passport number, a Hong Kong residence permit, an English note;
 * 4. one kind per dataset (settleEntity's CAT_ERR_ENTITY_CHANGED) and the twin's pair measured once
 *    (knownLink), both through a version in between that has no identifier at all.
 * Each question is asked in two worlds (the person matches, or not; a person left out or not);
 * SAFE means the operator sees the same in both, or the probe is refused. `was a hole` tests assert
 * the SAFE outcome and failed when written (the comment says what was seen, which file:line let it
 * through, what SAFE means and a fix); `STOPPED:` tests hold now and fail if the defence breaks; `control:` tests
 * show the method reads the truth where it should.
 *
 * Setup (test/helpers/crafted-domain.ts: every dataset ingested through the trusted pipeline,
 * personal columns plain with a reason; the truth computed from the generating SQL in an in-memory
 * DuckDB):
 * - `rt40b_w<n>`: 200 inpatients by a number under `<header>` only, beside 年龄, 性别, 区县, 诊断;
 *   inpatient 7 alone is 97 and has HIV.
 * - `rt40b_visits` (entity 身份证号, NOT granted): 150 patients with their own mobile (`手机`), an
 *   emergency contact's mobile (`联系人手机`) and a relative's mobile in the note (`备注`, 家属电话…);
 *   P's contact is C1 (their spouse) and the relative in the note C2.
 * - `rt40b_rides` (entity mobile): 200 riders in 一区/二区 with 5 rides each; P, C1 and C2 ride in 一区
 *   too, each under their own mobile.
 * - `rt40b_notes` (entity mobile, 身份证号, 备注, remarks): 150 payers; people with ten mobiles each,
 *   alone in a district, `未登记` as their resident ID and the document in the note: V (ID written
 *   with spaces, 五区), W (the control: ID written plain, 六区), H (Hong Kong residence permit,
 *   七区), F (a passport number, 八区), E (ID in an English note under `remarks`, 九区).
 * - `rt40b_pay`: 100 payers by resident ID (and mobile); version 2 without any identifier; version 3
 *   by mobile only, without P.
 * - in `rt40b-tw`: `rt40b_res` (200 residents) and `rt40b_hiv` (25 patients: residents 0–14 and ten
 *   living elsewhere); version 2 of the residents without their ID column; version 3 with it again,
 *   without P (resident 3, a patient).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdCheckChar, residentIdSql } from '../../desensitize/index.js';
import { auditProbes } from '../helpers/audit-probes.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { prodAsker } from '../helpers/prod-answer.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { waitUntil } from '../helpers/wait-until.js';

const ORG = 'rt40b-org';
const LAB = { id: 'rt40b-lab', name: 'Red team 40b lab' };
const PURPOSE = 'red team 40b';

/** A resident ID of 18 characters from its first 17 digits. */
const residentId = (first17: string) => `${first17}${residentIdCheckChar(first17)}`;
/** Resident IDs of people born 1950–1990. */
const ID = (i: string, seed: number) => residentIdSql(i, seed, { from: 1950, to: 1990 });

// ---------------------------------------------------------------------------------------------
// 1. Inpatients by a number under `header`: inpatient 7 alone is 97, with HIV.
// ---------------------------------------------------------------------------------------------
const RARE = 'HIV';
const wardSql = (header: string) => `SELECT 'ZY' || lpad(CAST(10000 + p * 7 AS VARCHAR), 6, '0') AS "${header}",
    CAST(CASE WHEN p = 7 THEN 97 ELSE 20 + p % 60 END AS INTEGER) AS 年龄, ['男', '女'][1 + p % 2] AS 性别, ['东区', '西区'][1 + (p // 2) % 2] AS 区县,
    CASE WHEN p = 7 THEN '${RARE}' ELSE ['高血压', '糖尿病', '哮喘'][1 + p % 3] END AS 诊断
  FROM range(200) t(p)`;
/** Headers that name a person's number the list does not know (pinyin of HIS and 医保 systems, English, Chinese variants). */
const MISSED_HEADERS = ['住院号码', '就诊卡号', 'BRID', 'GRBH', 'subject_id', 'emp_id', '客户编码', '学生编号'] as const;
const wardId = (header: string) => `rt40b_w${['住院号', ...MISSED_HEADERS].indexOf(header)}`;

// ---------------------------------------------------------------------------------------------
// 2. A family: P (a patient), C1 (P's emergency contact, their spouse), C2 (a relative in P's note).
// ---------------------------------------------------------------------------------------------
const P_ID = residentId('44010619750314127');
const M_P = '13957140021';
const M_C1 = '18622871453';
const M_C2 = '15088264317';
const VISITS_SQL = `SELECT * FROM (
    SELECT ${ID('p', 4011)} AS 身份证号, ${mobileSql('p', 4012)} AS 手机, ${mobileSql('p', 4013)} AS 联系人手机,
      '家属电话 ' || ${mobileSql('p', 4014)} AS 备注, ['高血压', '糖尿病', '哮喘'][1 + p % 3] AS 诊断 FROM range(150) t(p)
    UNION ALL SELECT '${P_ID}', '${M_P}', '${M_C1}', '家属电话 ${M_C2}', ['高血压', '糖尿病'][1 + k] FROM range(2) t(k))`;
/** R: an ordinary rider of 一区 (rider 10), the control. */
const RIDES_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 4021)} AS mobile, ['一区', '二区'][1 + p % 2] AS district, CAST(20 + (p * 7 + k) % 30 AS DECIMAL(10,2)) AS amount FROM range(200) t(p), range(5) u(k)
    UNION ALL SELECT m, '一区', CAST(a + k AS DECIMAL(10,2)) FROM (VALUES ('${M_P}', 31), ('${M_C1}', 61), ('${M_C2}', 41)) v(m, a), range(5) u(k))`;

// ---------------------------------------------------------------------------------------------
// 3. Ten mobiles of one person beside 未登记, the document in the note.
// ---------------------------------------------------------------------------------------------
const V_ID = residentId('44010619850612123');
const W_ID = residentId('32010219790823104');
const E_ID = residentId('51010419820917215');
const HK_PERMIT = residentId('81000019850612012');
const PASSPORT = 'E51234567';
const spaced = (id: string) => `${id.slice(0, 6)} ${id.slice(6, 14)} ${id.slice(14)}`;
/** Who is alone in which district, and what their notes say. */
const TEN_MOBILES = [
  { who: 'V', district: '五区', seed: 4031, note: `本人身份证 ${spaced(V_ID)}`, remarks: null, amount: 71.1 },
  { who: 'W', district: '六区', seed: 4032, note: `本人身份证${W_ID}`, remarks: null, amount: 72.1 },
  { who: 'H', district: '七区', seed: 4033, note: `港澳居民居住证${HK_PERMIT}`, remarks: null, amount: 73.1 },
  { who: 'F', district: '八区', seed: 4034, note: `外籍人员，护照号${PASSPORT}`, remarks: null, amount: 74.1 },
  { who: 'E', district: '九区', seed: 4035, note: '见英文备注', remarks: `walk-in, ID card no. ${E_ID}`, amount: 75.1 },
] as const;
const NOTES_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 4030)} AS mobile, ${ID('p', 4030)} AS 身份证号, '复诊' AS 备注, CAST(NULL AS VARCHAR) AS remarks,
      ['一区', '二区', '三区'][1 + p % 3] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(150) t(p)
    ${TEN_MOBILES.map((x) => `UNION ALL SELECT ${mobileSql(`9000 + k`, x.seed)}, '未登记', '${x.note}', ${x.remarks === null ? 'NULL' : `'${x.remarks}'`}, '${x.district}', CAST(${x.amount} + k AS DECIMAL(10,2)) FROM range(10) t(k)`).join('\n    ')})`;

// ---------------------------------------------------------------------------------------------
// 4. Payers by resident ID, then by nothing, then by mobile (without P).
// ---------------------------------------------------------------------------------------------
const PAY_P = 4;
const PAY_Q = 6;
const paySql = (columns: 'id' | 'none' | 'mobile', without?: number) => `SELECT ${columns === 'id' ? `${ID('p', 4041)} AS id_card, ${mobileSql('p', 4042)} AS mobile, ` : columns === 'mobile' ? `${mobileSql('p', 4042)} AS mobile, ` : ''}
    ['一区', '二区'][1 + p % 2] AS district, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
  FROM range(100) t(p)${without === undefined ? '' : ` WHERE p <> ${without}`}`;

describe('red team 40b', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, PURPOSE);
  let t: TestApp;
  let operators = 0;
  /** A fresh operator for each world, so that no probing budget is shared between them. */
  const operator = () => ({ role: 'operator', org: ORG, sub: `op${operators++}` }) as const;
  const ask = (sql: string) => prodAsker(() => t, operator())(sql);
  const real = (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql);
  const said = (answer: Awaited<ReturnType<typeof ask>>) => (answer.status === 200 ? JSON.stringify(answer.rows) : `${answer.status} ${answer.code}`);

  beforeAll(async () => {
    t = await domain.start();
    for (const header of ['住院号', ...MISSED_HEADERS]) await domain.ingest(wardId(header), wardSql(header));
    await domain.ingest('rt40b_visits', VISITS_SQL, { entity: '身份证号', grant: false });
    await domain.ingest('rt40b_rides', RIDES_SQL, { entity: 'mobile' });
    await domain.ingest('rt40b_notes', NOTES_SQL, { entity: 'mobile' });
    await domain.ingest('rt40b_pay', paySql('id'), { entity: 'id_card' });
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  it('the setup: recognition took the columns as the attacks need', async () => {
    const kinds = {
      visits: await domain.kindsOf('rt40b_visits'), rides: await domain.kindsOf('rt40b_rides'), notes: await domain.kindsOf('rt40b_notes'), pay: await domain.kindsOf('rt40b_pay'),
    };
    expect(kinds, JSON.stringify(kinds)).toMatchObject({
      visits: { 身份证号: 'resident_id', 手机: 'mobile', 联系人手机: 'mobile', 备注: 'free_text', 诊断: null },
      rides: { mobile: 'mobile', district: null, amount: null },
      notes: { mobile: 'mobile', 身份证号: 'resident_id', 备注: 'free_text', remarks: 'free_text', district: null },
      pay: { id_card: 'resident_id', mobile: 'mobile' },
    });
    expect((await domain.profileOf(wardId('住院号'))).entity).toBe('住院号');
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 1. A person's number by its header.
  // ---------------------------------------------------------------------------------------------

  /** The one 97-year-old's diagnosis, asked row by row. */
  const diagnosisOf97 = (table: string) => `SELECT 年龄, 性别, 区县, 诊断 FROM ${table} WHERE 年龄 = 97`;

  it('control: the 97-year-old alone has HIV; a ward by `住院号` counts on it and prod refuses the row (pass 36a holds)', async () => {
    expect((await real(`SELECT 诊断 FROM (${wardSql('住院号')}) WHERE 年龄 = 97`)).map((r) => r.诊断)).toEqual([RARE]);
    const answer = await ask(diagnosisOf97(wardId('住院号')));
    expect(answer.status === 200 && JSON.stringify(answer.rows).includes(RARE), said(answer)).toBe(false);
  }, 600_000);

  it('was a hole (fix: person numbers by a holder and a number word, pinyin initials; rows of people keyed by unknown codes are personal without an entity, rowsOfPeople): a person\'s number under a header the list lacks (住院号码, 就诊卡号, BRID, GRBH, subject_id, emp_id, 客户编码, 学生编号) makes no entity: the ward is "not personal" and prod shows the one 97-year-old\'s diagnosis (HIV)', async () => {
    // Seen: every one of these wards ingests with entity null and no personal column, and prod
    // answers [["97","男","东区","HIV"]]: the 36a hole, reopened by the header's spelling. 住院号码 and
    // 病案号码 fail only on the regex's `$` after 号; 就诊卡号/诊疗卡号 (the card a hospital issues
    // each patient), BRID (病人ID in HIS tables), GRBH (医保 个人编号), hzbh, bah, jzkh, emp_id,
    // pat_id, subject_id/participant_id (a study's), 客户编码, 会员编码, 用户号, 学生编号, 职工编号,
    // 考生号 are not in the list at all.
    // Where: desensitize/person-numbers.ts:9-10 (PERSON_NUMBER: Chinese headers anchored on their
    // last character, `客户(?:号|编号|id)` without 编码, no `卡号` of a patient's card, pinyin only
    // zyh/blh/mzh, `emp_?no` but not emp_id), so sandbox/engine/ingest-people.ts:141 finds no
    // candidate and tenants/refinery.ts:101 (wasEverPersonal: no version had a personal column) publishes the table unchecked.
    // SAFE: the row is refused (or withheld), as for `住院号`.
    // Fix: let `号码`, `编码`, `卡号` and trailing qualifiers end a number's header (住院号码,
    // 就诊卡号, 客户编码), add the HIS/医保 pinyin (brid, brbh, hzbh, bah, jzkh, grbh, rybh) and
    // English (emp_id, pat_id, pt_id, subject_id, participant_id, respondent_id); better, fail
    // closed: a column of many distinct, code-shaped values beside quasi-identifiers (age, gender,
    // district) and no other identifier needs the supervisor to declare the entity (or to state that
    // the rows are about no one) before it is granted.
    const seen: Record<string, string> = {};
    for (const header of MISSED_HEADERS) {
      const answer = await ask(diagnosisOf97(wardId(header)));
      seen[header] = `entity ${(await domain.profileOf(wardId(header))).entity}: ${said(answer)}`;
    }
    const shown = Object.entries(seen).filter(([, s]) => s.includes(RARE));
    expect(shown, JSON.stringify(seen, null, 1)).toEqual([]);
  }, 600_000);

  it('STOPPED: a later version of the `住院号` ward that renames the number to a header no rule knows (编号: 住院号码, the first spelling tried, is a person\'s number since the fix above) leaves the dataset personal: prod still refuses the 97-year-old\'s row (wasEverPersonal)', async () => {
    const id = wardId('住院号');
    await domain.ingest(id, wardSql('编号'), { grant: false });
    await domain.refresh();
    const profile = await domain.profileOf(id);
    expect([profile.version, profile.entity]).toEqual([2, null]);
    const answer = await ask(diagnosisOf97(id));
    expect(answer.status === 200 && JSON.stringify(answer.rows).includes(RARE), said(answer)).toBe(false);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. Someone else's identifier merged into the row's person.
  // ---------------------------------------------------------------------------------------------

  const { audit } = auditProbes(() => t);
  const sha = (sql: string) => createHash('sha256').update(sql).digest('hex');
  type PairEntry = { details: { sqlSha256?: string; examples?: { earlier: string }[] } };
  const pairs = async () => (await audit('action=query.differencing')) as PairEntry[];
  /** Whether the audit reports `later` as a pair of `earlier`. */
  const reported = async (later: string, earlier: string) => (await pairs()).some((e) => e.details.sqlSha256 === sha(later) && (e.details.examples ?? []).some((x) => x.earlier === sha(earlier)));
  /** A prod cell (row 0, column 1) as a number, or null when withheld; the answer must be 200. */
  const cellOf = async (who: ReturnType<typeof operator>, sql: string): Promise<number | null> => {
    const res = expectStatus(await t.call(who, 'POST', '/v1/query', { sql, env: 'prod' }), 200).json() as { rows: unknown[][] };
    const value = res.rows[0]?.[1];
    return value === null || value === undefined ? null : Number(value);
  };
  /**
   * The tenant's history is a barrier: `probe` and then `probe` without one more person (a pair in
   * every world) are asked; once that pair is in the audit, `probe` has been compared too.
   */
  const askThenBarrier = async (who: ReturnType<typeof operator>, probe: string, barrier: string) => {
    const value = await cellOf(who, probe);
    await cellOf(who, barrier);
    await waitUntil('the barrier pair in the audit', async () => (await pairs()).some((e) => e.details.sqlSha256 === sha(barrier)), { deadlineMs: 60_000, intervalMs: 200 });
    return value;
  };

  const RIDES_WHOLE = "SELECT district, sum(amount) AS total FROM rt40b_rides WHERE district = '一区' GROUP BY district";
  const ridesWithout = (alias: string, ...mobiles: string[]) => `SELECT district, sum(amount) AS ${alias} FROM rt40b_rides WHERE district = '一区' AND mobile NOT IN (${mobiles.map((m) => `'${m}'`).join(', ')}) GROUP BY district`;
  const ridesOf = async (mobile: string) => Number((await real(`SELECT sum(amount) AS s FROM (${RIDES_SQL}) WHERE mobile = '${mobile}'`))[0]!.s);
  /** Rider `p`'s mobile (even riders ride in 一区). */
  const rider = async (p: number) => String((await real(`SELECT ${mobileSql(String(p), 4021)} AS m`))[0]!.m);
  /**
   * N against N-1 over 一区: the total, then the total without `victim` (a WHERE: a FILTER on the
   * mobile is refused as a sum over an identifier), then without one more rider (the barrier).
   * `learned` is what the operator reads by difference; `reported` whether supervisors are told.
   */
  const leaveOut = async (victim: string, alias: string, barrierRider: number) => {
    const who = operator();
    const whole = await cellOf(who, RIDES_WHOLE);
    expect(whole, 'the control: the district total is shown').not.toBeNull();
    const part = await askThenBarrier(who, ridesWithout(alias, victim), ridesWithout(`${alias}_b`, victim, await rider(barrierRider)));
    return { learned: part === null ? null : Math.round((whole! - part) * 100) / 100, reported: await reported(ridesWithout(alias, victim), RIDES_WHOLE) };
  };

  it('control: 一区\'s total without an ordinary rider (R: one mobile, no document anywhere) is shown, and supervisors are told (query.differencing, N against N-1)', async () => {
    const r = await rider(10);
    const seen = await leaveOut(r, 'without_r', 12);
    expect(seen).toEqual({ learned: await ridesOf(r), reported: true });
  }, 600_000);

  it('STOPPED: an emergency contact\'s mobile (`联系人手机`) and a relative\'s mobile in the note (`备注`: 家属电话 …) beside the patient\'s own resident ID ARE merged into the patient (C1, C2 and P are one key in every table), yet 一区\'s total without C1 or C2 is still reported as a pair: the history compares each person\'s contribution, not only the entity sets', async () => {
    // The wrong merge (desensitize/doubtful-keys.ts sameRole: a document under no role's header
    // takes any identifier beside it, whatever role the identifier's header names, kept on purpose
    // since pass 42a: each rule that held a merge back let one person count as several) makes two
    // people one key (and the relative's mobile in the note, read as the row's): a cell of P, C1, C2
    // and eight riders (11 people) counts 9 and is withheld (the safe side). Leaving C1 out then
    // leaves out "no one" by entity sets, and only the contribution fingerprints
    // (answer-history.ts, cell-entities.ts) see that P's key contributes less: were they dropped,
    // C1's exact total (315) would be read by difference with no pair reported. Fixing sameRole
    // (an identifier under a role's header merges only into a document of the same role) and
    // merging no mobile read from notes would remove the wrong merge itself.
    const others = await Promise.all([20, 22, 24, 26, 28, 30, 32, 34].map(rider));
    expect(new Set([M_P, M_C1, M_C2, ...others]).size).toBe(11);
    const family = await ask(`SELECT count(*) AS n FROM rt40b_rides WHERE mobile IN (${[M_P, M_C1, M_C2, ...others].map((m) => `'${m}'`).join(', ')})`);
    expect(family.status === 200 && family.rows.length === 0, `merged: 11 people counted as 9 and withheld; ${said(family)}`).toBe(true);
    expect([await ridesOf(M_C1), await ridesOf(M_C2)]).toEqual([315, 215]);
    const seen = { c1: await leaveOut(M_C1, 'without_c1', 14), c2: await leaveOut(M_C2, 'without_c2', 16) };
    expect(seen).toEqual({ c1: { learned: 315, reported: true }, c2: { learned: 215, reported: true } });
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Documents in free text.
  // ---------------------------------------------------------------------------------------------

  /** A district's count and total as the operator sees it: shown (a non-null sum) or not. */
  const districtTotal = async (district: string) => {
    const answer = await ask(`SELECT count(*) AS n, sum(amount) AS s FROM rt40b_notes WHERE district = '${district}'`);
    return { shown: answer.rows.some((r) => r[1] !== null && r[1] !== undefined), said: said(answer) };
  };
  const alone = (who: string) => TEN_MOBILES.find((x) => x.who === who)!;
  const truthOf = async (who: string) => {
    const [row] = await real(`SELECT count(DISTINCT mobile) AS ids, sum(amount) AS s FROM (${NOTES_SQL}) WHERE district = '${alone(who).district}'`);
    return [Number(row!.ids), Number(row!.s)];
  };

  it('control: W\'s ten mobiles beside 未登记, each note `本人身份证<ID>`, are one person (withheld); a district of 50 payers is shown', async () => {
    expect(await truthOf('W')).toEqual([10, 766]);
    const w = await districtTotal('六区');
    expect(w.shown, w.said).toBe(false);
    expect((await districtTotal('一区')).shown).toBe(true);
  }, 600_000);

  it('was a hole (fix: resident IDs in free text read with spaces or dashes between their digits): V\'s resident ID written with spaces in the note (`本人身份证 440106 19850612 123X`, as IDs are written to be read) merges nothing: ten mobiles are "10 people" and their total is shown', async () => {
    // Seen: 200 [["10","756.00"]]: one person's ten payments and their total, where W (the same
    // note without spaces) is withheld. Recognition reads the spaced ID (free-text.ts DIGIT_RUN and
    // DIGIT_SEPARATORS: spaces and hyphens inside a run, full-width digits), so the column is free
    // text holding a resident ID, but the merge extracts IDs with IN_TEXT's regex
    // (desensitize/doubtful-keys.ts:63-66), 18 contiguous ASCII digits only; the same holds for
    // `440106-19850612-123X`, a 15-digit ID, and for the doubt's mobiles written with two spaces
    // (`139  1234  5678`).
    // SAFE: withheld (one person). Fix: extract identifiers from text with the recognizer's own
    // finder (findEmbeddedIdentifiers' DIGIT_RUN split, compacted, then the key rules), in SQL as
    // the scrub does (RE2 of the same patterns), so that what recognition calls an ID is one.
    expect(await truthOf('V')).toEqual([10, 756]);
    const v = await districtTotal(alone('V').district);
    expect(v.shown, v.said).toBe(false);
  }, 600_000);

  it('was a hole (fix: passport numbers after a passport\'s word in free text are documents of the row, textDocuments): F\'s passport number in the note (`外籍人员，护照号E51234567`) merges nothing: a foreigner\'s ten mobiles are "10 people" and their total is shown', async () => {
    // Seen: 200 [["10","786.00"]], where W (an ID in the note) is withheld. Pass 36a merged mobiles
    // into a passport for foreigners, and pass 36a/89def64 read resident IDs in notes as the row's,
    // but only resident IDs: desensitize/doubtful-keys.ts:298-309 (textDocuments filters
    // `identifier.kind === 'resident_id'`; IN_TEXT, :63-66, has no passport), though recognition
    // finds passports in text (free-text.ts PASSPORT). The people without a resident ID (foreigners)
    // are exactly those whose document is more likely written in a note than in an ID column.
    // SAFE: withheld (one person). Fix: read passport numbers in free text as documents of the row
    // (China's E/G numbers by their shape, others after 护照/passport), as resident IDs are.
    expect(await truthOf('F')).toEqual([10, 786]);
    const f = await districtTotal(alone('F').district);
    expect(f.shown, f.said).toBe(false);
  }, 600_000);

  it('STOPPED: a Hong Kong residence permit in the note (港澳居民居住证810000…) and a resident ID in an English note under `remarks` merge their ten mobiles: both withheld', async () => {
    expect(await truthOf('H')).toEqual([10, 776]);
    expect(await truthOf('E')).toEqual([10, 796]);
    const h = await districtTotal(alone('H').district);
    const e = await districtTotal(alone('E').district);
    expect({ h: h.shown, e: e.shown }, JSON.stringify({ h: h.said, e: e.said })).toEqual({ h: false, e: false });
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 4. One kind per dataset, through a version without any identifier.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a version keeps the kind of the last version that counted people): a version with no identifier at all between two versions lets the dataset change the kind it counts on (resident ID at v1, mobile at v3): the payer who left between v1 and v3 is one person from v1\'s total, and no pair is reported', async () => {
    // Seen: version 2 (district and amount only) settles no entity, and version 3 (mobile, without
    // P) is accepted with entity `mobile`: the CAT_ERR_ENTITY_CHANGED check compares with the
    // previous version only, which had none. 一区's total at v1 minus the same total at v3 is P's
    // payment (both shown), and the differencing history, which compares entity keys, finds the
    // two cells share nobody (resident-ID keys against mobile keys; one mobile per person is not
    // merged): no `query.differencing`, while the same pair within v3 (Q left out) is reported.
    // Where: sandbox/engine/ingest-people.ts:104 (settleEntity: `previous` is the last
    // version's entity, undefined after a version without one) and tenants/catalog-service.ts:121
    // (previousEntity = entityOfVersion(latest)).
    // SAFE: version 3 refused (CAT_ERR_ENTITY_CHANGED), or the v1/v3 pair reported.
    // Fix: the kind a dataset counts on is that of its LAST VERSION WITH AN ENTITY (any earlier
    // version's), kept in the dataset's record; pass it as `previous` (also to knownLink, below).
    const one = operator();
    const cell = async (sql: string) => {
      const res = expectStatus(await t.call(one, 'POST', '/v1/query', { sql, env: 'prod' }), 200).json() as { rows: unknown[][] };
      expect(res.rows[0]?.[1], sql).not.toBeNull();
      return Number(res.rows[0]![1]);
    };
    const atV1 = "SELECT district, sum(amount) AS total FROM rt40b_pay WHERE district = '一区' GROUP BY district";
    const atV3 = "SELECT district, sum(amount) AS s3 FROM rt40b_pay WHERE district = '一区' GROUP BY district";
    const q = String((await real(`SELECT ${mobileSql(String(PAY_Q), 4042)} AS m`))[0]!.m);
    const withoutQ = `SELECT district, sum(amount) AS s3q FROM rt40b_pay WHERE district = '一区' AND mobile <> '${q}' GROUP BY district`;
    const before = await cell(atV1);
    await domain.ingest('rt40b_pay', paySql('none'), { grant: false });
    let refused: string | undefined;
    try {
      await domain.ingest('rt40b_pay', paySql('mobile', PAY_P), { grant: false });
    } catch (error) {
      refused = (error as { code?: string }).code ?? String(error);
    }
    if (refused !== undefined) {
      expect(refused).toBe('CAT_ERR_ENTITY_CHANGED');
      return;
    }
    await domain.refresh();
    const profile = await domain.profileOf('rt40b_pay');
    const after = await cell(atV3);
    const [truth] = await real(`SELECT sum(amount) AS s FROM (SELECT p, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM range(100) t(p)) WHERE p = ${PAY_P}`);
    expect(before - after).toBe(Number(truth!.s));
    // The same pair within v3 (Q left out) is reported: once it is, v3's first answer was compared too.
    await cell(withoutQ);
    await waitUntil('the pair within version 3 in the audit', async () => (await pairs()).some((e) => e.details.sqlSha256 === sha(withoutQ)), { deadlineMs: 60_000, intervalMs: 200 });
    expect(await reported(atV3, atV1), `version ${profile.version} counts on ${profile.entity}; P's payment ${before - after} by difference, no pair reported`).toBe(true);
  }, 600_000);
});

// ---------------------------------------------------------------------------------------------
// 4b. The twin's pair measured once, through a version without the identifier, in a domain of its
//     own (the layout places every resident-ID column of a tenant's grants together).
// ---------------------------------------------------------------------------------------------

const TWIN_SEED = 4051;
/** P: resident 3, one of the patients. */
const TWIN_P = 3;
/** Residents `p` (an index list): resident ID (none when `withId` is false), district, a score. */
const residentsSql = (indexes: string, withId = true) => `SELECT ${withId ? `${residentIdSql('p', TWIN_SEED)} AS id_card, ` : ''}['一区', '二区', '三区', '四区'][1 + p % 4] AS district, CAST(50 + (p * 37) % 50 AS INTEGER) AS score
  FROM (SELECT unnest(${indexes}) AS p)`;
/** Patients: residents 0–14 and ten people living elsewhere (1000–1009). */
const PATIENTS_SQL = `SELECT ${residentIdSql('p', TWIN_SEED)} AS id_card, DATE '2015-01-01' + CAST((p * 97) % 3000 AS INTEGER) AS diagnosed, CAST(200 + (p * 53) % 600 AS INTEGER) AS cd4
  FROM (SELECT unnest(range(15) || range(1000, 1010)) AS p)`;
const WITHOUT_P = `list_filter(range(200), x -> x <> ${TWIN_P})`;

describe('red team 40b: the twin\'s pair through a version without the identifier', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain('rt40b-tw', LAB, PURPOSE);
  let t: TestApp;
  const probes = twinProbes(() => t, memory, { role: 'operator', org: 'rt40b-tw', sub: 'otto' });
  const overlapSql = 'SELECT count(DISTINCT h.id_card) FROM rt40b_hiv h JOIN rt40b_res r ON h.id_card = r.id_card';
  const realOverlap = async (residents: string) => Number((await probes.real(`SELECT count(*) AS n FROM (${PATIENTS_SQL}) h JOIN (${residents}) r ON h.id_card = r.id_card`))[0]!.n);
  let first = -1;

  beforeAll(async () => {
    t = await domain.start();
    // Residents first, so that the patients' ingest measures the pair.
    await domain.ingest('rt40b_res', residentsSql('range(200)'), { plain: false });
    await domain.ingest('rt40b_hiv', PATIENTS_SQL, { plain: false });
    await domain.refresh();
  }, 600_000);
  afterAll(async () => {
    await t?.close({ remove: true });
  });

  it('control: dev reproduces the real overlap of the patients and the residents (15)', async () => {
    expect(await realOverlap(residentsSql('range(200)'))).toBe(15);
    first = Number((await probes.dev(overlapSql))[0]![0]);
    expect(first).toBe(15);
  }, 600_000);

  it('was a hole (fix: links carried from the latest earlier version that has them, linkTargets): version 2 of the residents without their ID column, then version 3 with it again but without P (a patient), has the pair measured afresh: dev\'s overlap goes from 15 to 14, the one person who left', async () => {
    // Seen: dev overlap 15 at version 1, 14 at version 3; had a non-patient left it would read 15.
    // Where: tenants/catalog-service.ts:226-236 (linkTargets: a pair's known link only from this
    // dataset's PREVIOUS version, `theirs` filtered on `l.version === previous?.record.version`,
    // `ours` from the previous version's columns): version 2 has no resident-ID column, so no link
    // of it, and the patients' link names version 1; sandbox/engine/ingest-dataset.ts:390 (knownLink) then
    // finds nothing and measures the pair on today's rows. Version 2 is also accepted with no
    // entity (ingest-people.ts settleEntity), so `previousEntity` is gone at version 3 too.
    // SAFE: the overlap stays 15 (or moves by 10 or more). Fix: carry a pair's link from the latest
    // version that had it (any earlier version of either dataset), not only the previous one.
    await domain.ingest('rt40b_res', residentsSql('range(200)', false), { plain: false, grant: false });
    await domain.refresh();
    expect((await domain.profileOf('rt40b_res')).entity).toBeNull();
    await domain.ingest('rt40b_res', residentsSql(WITHOUT_P), { plain: false, grant: false });
    // The column is new against version 2, hidden until the supervisor gives it a policy: tokenized, as at version 1.
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/rt40b_res/policy', { columns: { id_card: { kind: 'token', rule: 'resident_id' } } }), 200);
    await domain.refresh();
    expect(await realOverlap(residentsSql(WITHOUT_P))).toBe(14);
    const again = Number((await probes.dev(overlapSql))[0]![0]);
    const moved = Math.abs(first - again);
    expect(moved === 0 || moved >= 10, `dev overlap ${first} at version 1, ${again} at version 3 (the ID column dropped at version 2)`).toBe(true);
  }, 600_000);
});
