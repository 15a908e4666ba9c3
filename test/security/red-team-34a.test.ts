/**
 * Red-team pass 34a: what still lets several people behind one identifier count as one person
 * (desensitize/doubtful-keys.ts, `doubtSource` in tenants/refinery.ts; docs/sandbox.md, "Rows without
 * a key"). The attack is pass 28a's subtraction: a district's total minus the same total leaving out
 * one walk-in's row gives that walk-in's payment when the walk-ins' shared key is one person.
 *
 * Setup (test/helpers/crafted-domain.ts; personal columns plain, all granted to `rt34-org`):
 * - `rt34_card`: payments keyed by mobile with birth dates: 150 payers in six districts (25 each),
 *   and in every district but 中区 a clerk's own mobile written for 12 walk-ins, dated from the
 *   mobile's account (they agree here). The first walk-in of each paid 781–785.
 * - one dataset per clerk that shows the clerk's mobile beside the walk-ins' own witnesses, as a
 *   provider's file could plausibly hold them: names under a `缴费人` header, names in pinyin,
 *   birth years as a float column (a pandas export), the name `散客` (a walk-in) twelve times, and
 *   the mobile written `+86 177-4826-1935` beside dates written 1990年3月14日 (the control: STOPPED).
 * - `rt34_pos`: payments keyed by bank card (`card_no`), a clerk's own card for 12 walk-ins, and
 *   `rt34_fx` showing that card beside the walk-ins' 12 passports.
 * - `rt34_clinic` (utility): 150 patients keyed by mobile, two visits each, birth dates in
 *   full-width digits (which recognition takes for birth dates); `rt34_claims` (utility): 150
 *   insured, two claims each, with a `cost_borne_by` column; `rt34_plain`, their control: two rows
 *   per person, ASCII birth dates.
 * `was a hole` tests failed when written (they assert the SAFE or useful outcome; the comment says
 * what was seen, which file:line let it through and a fix); `STOPPED:` tests held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, nameSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { districtTotal, firstCell, subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { twinProbes } from '../helpers/twin-probes.js';
import type { TestApp } from '../helpers/test-app.js';
import { AMOUNT, BORN, clerkWalkIns, OWN, passportOf, PEOPLE, ref, victimAmount, WALK_INS, beside as besideOf, distinctUnder as distinctUnderOf } from '../helpers/walk-in-sql.js';

const ORG = 'rt34-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'oscar' } as const;
const LAB = { id: 'rt34-lab', name: 'Red team 34a lab' };

/** Each clerk's own mobile, written for walk-ins: real-looking, of no placeholder's shape. */
const CLERK = { payer: '13958201476', pinyin: '15827493610', float: '18629374051', walkIn: '13703958246', written: '17748261935' } as const;
const DISTRICT = `['东区', '西区', '南区', '北区', '中区', '新区'][1 + p % 6]`;
const PAYER_MOBILE = mobileSql('p', 3401);
const PAYER_NAME = nameSql('p', 3402);

const CARD_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${PAYER_MOBILE} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${clerkWalkIns(CLERK.payer, 'C', '东区', '1985-06-23', 781)}
    UNION ALL ${clerkWalkIns(CLERK.pinyin, 'D', '西区', '1983-09-17', 782)}
    UNION ALL ${clerkWalkIns(CLERK.float, 'E', '南区', '1979-04-18', 783)}
    UNION ALL ${clerkWalkIns(CLERK.walkIn, 'F', '北区', '1988-11-05', 784)}
    UNION ALL ${clerkWalkIns(CLERK.written, 'G', '新区', '1990-03-14', 785)})`;

/** A dataset beside `rt34_card`: the payers' mobiles with `payers`, the clerk's mobile 12 times with `walkInValues` (SQL over `p` and `i`). */
const beside = (columns: string, payers: string, clerk: string, walkInValues: string, payerMobile = PAYER_MOBILE): string => besideOf(columns, payers, clerk, walkInValues, payerMobile);

/** Counter receipts: the payer's name under `缴费人` ("the payer"), recognized as a name by its values. */
const RECEIPTS_SQL = beside('mobile, 缴费人', PAYER_NAME, CLERK.payer, nameSql('i', 3403));
/** A hotel's guests (another population) with names in pinyin under `name`, as a booking system writes them. */
const pinyin = (n: string) => `['Wang', 'Li', 'Zhang', 'Liu', 'Chen', 'Yang', 'Zhao', 'Huang', 'Zhou', 'Wu'][1 + ((${n}) * 7) % 10] || ' ' || ['Wei', 'Fang', 'Na', 'Min', 'Jing', 'Qiang', 'Lei', 'Jun', 'Yong', 'Xiuying', 'Hua', 'Tao'][1 + ((${n}) * 5 + (${n}) // 10) % 12]`;
const TOURISTS_SQL = beside('mobile, name', pinyin('p'), CLERK.pinyin, pinyin('i + 3'), mobileSql('p', 3406));
/** A survey exported by pandas: a year column with gaps is a float column (1985.0). */
const SURVEY_SQL = beside('mobile, 出生年份', `CASE WHEN p % 9 = 4 THEN NULL ELSE CAST(year(${BORN}) AS DOUBLE) END`, CLERK.float, `CAST(1950 + i * 3 AS DOUBLE)`);
/** A counter's log: the payers' names, and the clerk's mobile beside `散客` ("walk-in") twelve times. */
const COUNTER_SQL = beside('mobile, 姓名', PAYER_NAME, CLERK.walkIn, `'散客'`);
/** A paper form typed in: the clerk's mobile as `+86 177-4826-1935`, dates as 1990年3月14日. */
const PAPER_SQL = `SELECT 手机号码, 出生日期 FROM (
    SELECT ${PAYER_MOBILE} AS 手机号码, strftime(${BORN}, '%Y年%-m月%-d日') AS 出生日期 FROM ${PEOPLE}
    UNION ALL SELECT '+86 177-4826-1935', strftime(${OWN}, '%Y年%-m月%-d日') FROM ${WALK_INS})`;

/** Bank cards: 16 digits of `n`, and the clerk's own card. */
const card = (n: string) => `'6222' || lpad(CAST((${n} * 7919 + 104729) % 999999999999 AS VARCHAR), 12, '0')`;
const CLERK_CARD = '6222021408176395';
const POS_SQL = `SELECT card_no, ref_no, district, amount FROM (
    SELECT ${card('p')} AS card_no, ${ref('P', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK_CARD}', ${ref('H', 'i')}, '西区', ${victimAmount(786)} FROM ${WALK_INS})`;
/** A currency exchange counter: each card beside its holder's passport; the clerk's card beside 12 travellers' passports. */
const FX_SQL = `SELECT card_no, passport_no FROM (
    SELECT ${card('p')} AS card_no, ${passportOf('E', 'p')} AS passport_no FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK_CARD}', ${passportOf('G', 'i')} FROM ${WALK_INS})`;

/** Patients with two visits each, birth dates typed with full-width digits (an IME's): one person per mobile. */
const FULL_WIDTH = (date: string) => `translate(strftime(${date}, '%Y-%m-%d'), '0123456789', '０１２３４５６７８９')`;
const CLINIC_SQL = `SELECT ${mobileSql('p', 3407)} AS mobile, ${FULL_WIDTH(BORN)} AS 出生日期, ['东区', '西区', '南区', '北区', '中区'][1 + p % 5] AS district,
    CAST(50 + (p * 13 + v * 7) % 40 AS DECIMAL(10,2)) AS amount FROM ${PEOPLE}, (SELECT range AS v FROM range(2))`;

/** Claims with two per person and who bore the cost (`本人`, the insured, or `单位`, the employer): no birth date at all. */
const CLAIMS_SQL = `SELECT ${mobileSql('p', 3408)} AS mobile, ['本人', '单位'][1 + (p + v) % 2] AS cost_borne_by, ['东区', '西区', '南区', '北区', '中区'][1 + p % 5] AS district,
    CAST(60 + (p * 11 + v * 5) % 40 AS DECIMAL(10,2)) AS amount FROM ${PEOPLE}, (SELECT range AS v FROM range(2))`;
/** The same two rows per person, without the column (another population): the control of the two utility tests. */
const PLAIN_SQL = `SELECT ${mobileSql('p', 3409)} AS mobile, ${BORN} AS 出生日期, ['东区', '西区', '南区', '北区', '中区'][1 + p % 5] AS district,
    CAST(60 + (p * 11 + v * 5) % 40 AS DECIMAL(10,2)) AS amount FROM ${PEOPLE}, (SELECT range AS v FROM range(2))`;

describe('red team 34a: shared keys whose several people are still one', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 34a');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt34_card', CARD_SQL, { entity: 'mobile' });
    for (const [id, sql] of [['rt34_receipts', RECEIPTS_SQL], ['rt34_tourists', TOURISTS_SQL], ['rt34_survey', SURVEY_SQL], ['rt34_counter', COUNTER_SQL], ['rt34_paper', PAPER_SQL]] as const) await domain.ingest(id, sql);
    await domain.ingest('rt34_pos', POS_SQL, { entity: 'card_no' });
    await domain.ingest('rt34_fx', FX_SQL, { entity: 'card_no' });
    await domain.ingest('rt34_clinic', CLINIC_SQL, { entity: 'mobile' });
    await domain.ingest('rt34_claims', CLAIMS_SQL, { entity: 'mobile' });
    await domain.ingest('rt34_plain', PLAIN_SQL, { entity: 'mobile' });
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const subtract = subtractionProbes(prod, exportProbes(() => t, OPERATOR, LAB.id, 'red team 34a'));
  /** The distinct values of `column` under the clerk's identifier in `sql` (the truth the domain holds). */
  const distinctUnder = (sql: string, key: string, value: string, column: string) => distinctUnderOf(real, sql, key, value, column);
  const { kindsOf } = domain;

  it('control: the 中区 total of 25 payers answers, the bank-card payers\' 中区 total too, and a walk-in\'s payment is what the subtraction would give', async () => {
    const body = await prod(districtTotal('rt34_card', '中区'));
    expect(firstCell(body), body).not.toBeNull();
    const pos = await prod(districtTotal('rt34_pos', '中区'));
    expect(firstCell(pos), pos).not.toBeNull();
    expect(Number((await real(`SELECT amount FROM (${CARD_SQL}) WHERE ref_no = 'C000000'`))[0]!.amount)).toBe(781);
  }, 600_000);

  it('was a hole (fix: any recognized name is a witness unless its header says whose it is not): names under the header `缴费人` ("the payer"), recognized as names, do not witness the clerk\'s mobile', async () => {
    // Seen: 东区 total minus the total without C000000 gives 781 in prod, and the export passes its
    // cell threshold. The column is recognized as a name (by its values), but witnessKindOf
    // (desensitize/doubtful-keys.ts:69) keeps a name only when its header matches PERSONS_NAME
    // (:79-81), which wants 姓名/name after the person word: `缴费人`, `联系人`, `户名`, `持卡人`,
    // `学生姓名`, `就诊人姓名`, `参保人员姓名` all fall out. SAFE: the cell leaving out one walk-in
    // is withheld. Fix: take any recognized name as the row's person's unless its header says whose
    // it is not (doctor/clerk/经办/医生/product/商品: a deny list, failing safe), or at least accept
    // the PERSON words alone (`缴费人`) and `<any>姓名`.
    expect(await distinctUnder(RECEIPTS_SQL, 'mobile', `'${CLERK.payer}'`, '缴费人')).toBeGreaterThan(1);
    expect((await kindsOf('rt34_receipts')).缴费人).toBe('name');
    const { seen, safe } = await subtract('rt34_card', 'ref_no', 'C000000', '东区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: text under a person\'s name\'s header is a name witness whatever recognition says): names in pinyin under `name` (not recognized as names) do not witness the clerk\'s mobile', async () => {
    // Seen: 西区's subtraction gives 782. Recognition takes only Han names (CHINESE_NAME_PATTERN), so
    // `name` holding `Wang Fang` has no PII kind and witnessKindOf (doubtful-keys.ts:69-72) reads
    // names only from piiKind 'name'. SAFE: withheld. Fix: a text column whose header matches
    // PERSONS_NAME is a name witness whatever recognition says (a wrong witness only makes keys
    // keyless, the safe side).
    expect(await distinctUnder(TOURISTS_SQL, 'mobile', `'${CLERK.pinyin}'`, 'name')).toBeGreaterThan(1);
    expect((await kindsOf('rt34_tourists')).name).toBeNull();
    const { seen, safe } = await subtract('rt34_card', 'ref_no', 'D000000', '西区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: a float\'s zero fraction is dropped and fractional types are read): birth years in a float column (`出生年份` 1950.0, a pandas export of a year with gaps) do not witness the clerk\'s mobile', async () => {
    // Seen: 南区's subtraction gives 783. witnessKindOf (doubtful-keys.ts:70) drops every DOUBLE/
    // DECIMAL column before the header test (FRACTIONAL, :82), and even read, `1952.0` would match
    // no form of birthDateReadings (:187 wants 4 digits). SAFE: withheld. Fix: do not exclude
    // fractional types for birth-date headers; read whole-number floats as their digits
    // (wholeNumberTextSql, as compactIdentifierSql does) before the date forms.
    expect(await distinctUnder(SURVEY_SQL, 'mobile', `'${CLERK.float}'`, '出生年份')).toBeGreaterThan(1);
    expect((await domain.profileOf('rt34_survey')).columns.find((c) => c.name === '出生年份')?.type).toBe('DOUBLE');
    const { seen, safe } = await subtract('rt34_card', 'ref_no', 'E000000', '南区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: a name that says what the person is, not who, is none): twelve walk-ins named `散客` ("walk-in") agree on their name, as the account\'s birth date does', async () => {
    // Seen: 北区's subtraction gives 784. nameWitness (doubtful-keys.ts:159-163) reads only its short
    // list of placeholders as none; `散客`, `散户`, `现金客户`, `临时`, `-`, `/`, `*`, `？` are a name
    // twelve rows agree on, exactly as `未登记` was before pass 30a for dates. SAFE: withheld (a
    // name no one has counts as none, and none disagrees). Fix: extend NAME_PLACEHOLDERS (散客, 散户,
    // 客户, 现金, 临时, 个人, 先生, 女士, 代缴, 本人) and treat a name without any letter or Han
    // character (`-`, `*`, `？`, `/`) as none.
    expect((await real(`SELECT count(*) AS n FROM (${COUNTER_SQL}) WHERE mobile = '${CLERK.walkIn}' AND 姓名 = '散客'`))[0]!.n).toBe(12);
    expect((await kindsOf('rt34_counter')).姓名).toBe('name');
    const { seen, safe } = await subtract('rt34_card', 'ref_no', 'F000000', '北区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: the clerk\'s mobile written `+86 177-4826-1935` beside dates written 1952年2月3日 is several people\'s', async () => {
    expect(await distinctUnder(PAPER_SQL, '手机号码', `'+86 177-4826-1935'`, '出生日期')).toBe(12);
    const { seen, safe } = await subtract('rt34_card', 'ref_no', 'G000000', '新区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: witnesses are judged by the identifier\'s kind, not its normalization): a clerk\'s own bank card beside 12 travellers\' passports is one person (passports do not witness bank cards)', async () => {
    // Seen: 西区 of rt34_pos minus the total without H000000 gives 786. witnesses()
    // (doubtful-keys.ts:117-119) decides on the identifier's normalization, and a bank card's is
    // 'document' like a passport's (tokens.ts:41), so a passport never witnesses a bank card: the
    // documented rule ("for any but a passport or bank card") is an artefact of the shared
    // normalization. A card has one holder; 12 holders' passports beside it are 12 people. SAFE:
    // withheld. Fix: pass the identifier's kind to witnesses() and exclude passports only for
    // passport identifiers.
    expect(await distinctUnder(FX_SQL, 'card_no', `'${CLERK_CARD}'`, 'passport_no')).toBe(12);
    expect(await kindsOf('rt34_fx')).toMatchObject({ card_no: 'bank_card', passport_no: 'passport' });
    const { seen, safe } = await subtract('rt34_pos', 'ref_no', 'H000000', '西区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole, of utility (fix: birth dates are folded as recognition folds them): birth dates typed with full-width digits make every patient with two visits keyless, and a district of 30 patients no answer', async () => {
    // Seen: the 东区 total of 30 patients (60 visits) is withheld. Recognition folds full-width digits
    // and Chinese numerals (isBirthDate, desensitize/identifiers.ts:305-306) and takes the column
    // for birth dates, but birthDateReadings (doubtful-keys.ts:181-183, datePrefixSql at
    // identifiers.ts:289) reads ASCII digits only: every value is none, none disagrees, and each
    // person with two rows anywhere in the domain is doubtful (one `一九八五年六月二十三日` column
    // does the same). Useful outcome: the total answers. Fix: fold the text as recognition does
    // (foldIdentifier's table with translate, chineseDateNumbers) before the date forms.
    expect((await kindsOf('rt34_clinic')).出生日期).toBe('birth_date');
    // The control: 30 people of two rows each, birth dates in ASCII, answer.
    const plain = await prod(districtTotal('rt34_plain', '东区'));
    expect(firstCell(plain), plain).not.toBeNull();
    const body = await prod(districtTotal('rt34_clinic', '东区'));
    expect(firstCell(body), body).not.toBeNull();
  }, 600_000);

  it('was a hole, of utility (fix: short header words match whole, and a header-only birth date needs profiled values that read as dates): a column `cost_borne_by` (who bore a claim\'s cost) is taken for a birth date, and every insured with two claims is keyless', async () => {
    // Seen: the 东区 total of 30 insured (60 claims) is withheld. BIRTH_DATE_HEADER
    // (desensitize/doubtful-keys.ts:75) matches `born` inside `borne`, and NOT_A_BIRTH_DATE (:77)
    // does not exclude it; witnessKindOf (:71) makes `cost_borne_by` a birth date, whose values
    // (本人/单位) read as none, so every person with two rows anywhere is doubtful. The same for
    // `newborn_flag`, `airborne`, `dob_verified`, `生日礼券`. Useful outcome: the total answers. Fix:
    // match header words, not substrings (`born` only as a whole word or `born_on`/`date_born`), and
    // take a header-only birth date as a witness only when some of its values read as dates.
    expect((await kindsOf('rt34_claims')).cost_borne_by).toBeNull();
    const plain = await prod(districtTotal('rt34_plain', '东区'));
    expect(firstCell(plain), plain).not.toBeNull();
    const body = await prod(districtTotal('rt34_claims', '东区'));
    expect(firstCell(body), body).not.toBeNull();
  }, 600_000);
});
