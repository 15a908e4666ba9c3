/**
 * Red-team attacks, pass 32b: the domain-wide doubt on shared entity keys as reworked after passes
 * 31a and 32a, attacked from outside (HTTP only, as an operator of org `rt32b-org`, supervisors,
 * and the application entity `rt32b-lab`):
 * - what the doubt reads (`compileDoubtfulKeys`, desensitize/doubtful-keys.ts; `doubtSource` and
 *   ENTERPRISE_KINDS, tenants/refinery.ts; `splitEntityKeys`, sandbox/engine/publish.ts;
 *   docs/sandbox.md "Rows without a key"): birth dates beside an identifier column that is not the
 *   dataset's entity, resident IDs (each with a birth date inside) beside the entity, a person's
 *   columns in a USCC-keyed dataset, one real USCC for several sole traders;
 * - normalization: the proof written in other spellings than the entity keys (a mobile with +86,
 *   0086, full-width digits, spaces, dashes, a zero-width space; a resident ID in its 15-digit form).
 * The attack each time is pass 28a's: a district's total beside the same total leaving out one
 * walk-in (a `FILTER` in one prod answer, and the same as an export's cell threshold), which gives
 * that walk-in's payment when the shared key counts as one person.
 * `was a hole` tests failed when written (they assert the SAFE outcome; the comment says what was seen, which
 * file:line lets it through, what SAFE means and a fix); `STOPPED:` tests held.
 *
 * Setup (datasets ingested through the trusted pipeline, test/helpers/crafted-domain.ts; personal
 * columns set plain with a reason as the supervisor's choice; all granted to rt32b-org; 150 payers,
 * 30 per district, the same people across datasets):
 * - `rt32b_card`: card payments keyed by mobile (recognized), birth date from the mobile's account.
 *   Three clerks' own real mobiles are written for 12 walk-ins each, whose birth date the system
 *   filled from the account (the clerk's, the same for all 12: they agree): CLERK_DATES in 东区
 *   (victim A000000, 781), CLERK_AGENT in 南区 (B000000, 783), CLERK_NORM in 中区 (C000000, 784).
 * - `rt32b_clinic`: visits keyed by resident ID (declared): the payers, and CLERK_DATES's 12 walk-ins
 *   with their resident ID not recorded (`未登记`), their own 12 birth dates, the clerk's mobile.
 * - `rt32b_wallet`: wallet payments keyed by mobile (declared: the account), with the payer's
 *   resident ID (`id_no`): CLERK_IDS written for 12 walk-ins in 西区, each with their own resident
 *   ID (victim W000000, 782).
 * - `rt32b_shop`: a shop register keyed by USCC (declared): 150 enterprises, and 12 sole traders
 *   (个体工商户) each with their own USCC and legal representative's resident ID, all registered by
 *   one agent with the agent's mobile CLERK_AGENT as contact.
 * - `rt32b_tax`: tax keyed by USCC (declared), legal representative's resident ID beside it: 150
 *   enterprises, and in 北区 12 market stall traders written under the market operator's real USCC,
 *   each with their own legal representative's resident ID (victim M000000, 785).
 * - `rt32b_reg`: registrations keyed by resident ID (declared) with mobile and birth date: the payers;
 *   CLERK_NORM beside 12 walk-ins' resident IDs, written 12 ways (+86, 0086, full-width, …); and the
 *   holder of CLERK_RID (born 1958-07-09) in the ID's 15-digit form.
 * - `rt32b_fee`: fees keyed by resident ID (recognized): the payers; CLERK_RID (18 digits) written
 *   for 12 walk-ins in 东区, dated from the account 1985-06-23 (they agree) (victim F000000, 786).
 * - `rt32b_mail` (keyed by e-mail, recognized; the clerk's Gmail address for 12 walk-ins in 西区,
 *   dated from the account: victim E000000, 787) and `rt32b_member` (keyed by resident ID,
 *   declared, with e-mail: the address beside the 12 walk-ins' IDs, spelled 12 ways).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailSql, mobileSql, residentIdSql, usccSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import type { TestApp } from '../helpers/test-app.js';
import { AMOUNT, BORN, clerkWalkIns, OWN, PEOPLE, ref, victimAmount, WALK_INS } from '../helpers/walk-in-sql.js';

const ORG = 'rt32b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { role: 'applicant', org: 'rt32b-lab', sub: 'rita' } as const;

/** Real-looking mobiles of no placeholder's shape: each clerk's (or agent's) own, written for walk-ins. */
const CLERK_DATES = '13865207419';
const CLERK_IDS = '15937281046';
const CLERK_AGENT = '18726950314';
const CLERK_NORM = '13691524078';
/** A real resident ID (born 1958-07-09) and its legacy 15-digit form. */
const CLERK_RID = '110105195807091237';
const CLERK_RID_15 = '110105580709123';
/** CLERK_NORM as twelve clerks typed it in rt32b_reg (one per walk-in). */
const NORM_SPELLINGS = [
  '+86 136-9152-4078', '0086 13691524078', '１３６９１５２４０７８', '136 9152 4078', '+86-13691524078', '136–9152–4078',
  '13691524078', '(+86)13691524078', '86 136 9152 4078', '136\u200b91524078', ' 13691524078 ', '＋８６１３６９１５２４０７８',
];

/** A clerk's own Gmail address written for 12 walk-ins, and as the 12 walk-ins' registrations spelled it. */
const CLERK_MAIL = 'wang.lei.1985@gmail.com';
const MAIL_SPELLINGS = [
  'WangLei1985+club1@gmail.com', 'wang.lei.1985@googlemail.com', 'w.a.n.g.lei1985@gmail.com', 'WANG.LEI.1985@GMAIL.COM', ' wang.lei.1985@gmail.com ', 'wanglei1985+a@gmail.com',
  'wang.lei.1985＠gmail.com', '<wang.lei.1985@gmail.com>', 'Wang.Lei.1985+x.y@GoogleMail.com', 'wang.lei1985@gmail.com', 'wanglei.1985@gmail.com', 'wang.lei.1985@gmail.com',
];

const DISTRICT = `['东区', '西区', '南区', '北区', '中区'][1 + p % 5]`;
const PAYER_MOBILE = mobileSql('p', 3301);
const PAYER_ID = residentIdSql('p', 3302);
/** Each walk-in's own resident ID (the same people in every dataset they appear in). */
const WALK_IN_ID = residentIdSql('i', 3392);

const CARD_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${PAYER_MOBILE} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${clerkWalkIns(CLERK_DATES, 'A', '东区', '1985-06-23', 781)}
    UNION ALL ${clerkWalkIns(CLERK_AGENT, 'B', '南区', '1983-09-17', 783)}
    UNION ALL ${clerkWalkIns(CLERK_NORM, 'C', '中区', '1979-04-18', 784)})`;
const CLINIC_SQL = `SELECT resident_id, mobile, visit_no, birth_date FROM (
    SELECT ${PAYER_ID} AS resident_id, ${PAYER_MOBILE} AS mobile, ${ref('V', 'p')} AS visit_no, ${BORN} AS birth_date FROM ${PEOPLE}
    UNION ALL SELECT '未登记', '${CLERK_DATES}', ${ref('N', 'i')}, ${OWN} FROM ${WALK_INS})`;
const WALLET_SQL = `SELECT mobile, id_no, ref_no, district, amount FROM (
    SELECT ${PAYER_MOBILE} AS mobile, ${PAYER_ID} AS id_no, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK_IDS}', ${WALK_IN_ID}, ${ref('W', 'i')}, '西区', ${victimAmount(782)} FROM ${WALK_INS})`;
const SHOP_SQL = `SELECT uscc, legal_rep_id, contact_mobile, shop_no FROM (
    SELECT ${usccSql('p', 3306)} AS uscc, ${residentIdSql('p', 3307)} AS legal_rep_id, ${mobileSql('p', 3308)} AS contact_mobile, ${ref('S', 'p')} AS shop_no FROM ${PEOPLE}
    UNION ALL SELECT ${usccSql('i', 3309)}, ${WALK_IN_ID}, '${CLERK_AGENT}', ${ref('T', 'i')} FROM ${WALK_INS})`;
const MARKET_USCC = usccSql('999', 3310);
const TAX_SQL = `SELECT uscc, legal_rep_id, ref_no, district, amount FROM (
    SELECT ${usccSql('p', 3311)} AS uscc, ${residentIdSql('p', 3312)} AS legal_rep_id, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT ${MARKET_USCC}, ${residentIdSql('i', 3313)}, ${ref('M', 'i')}, '北区', ${victimAmount(785)} FROM ${WALK_INS})`;
const REG_SQL = `SELECT resident_id, mobile, reg_no, birth_date FROM (
    SELECT ${PAYER_ID} AS resident_id, ${PAYER_MOBILE} AS mobile, ${ref('G', 'p')} AS reg_no, ${BORN} AS birth_date FROM ${PEOPLE}
    UNION ALL SELECT ${WALK_IN_ID}, [${NORM_SPELLINGS.map((s) => `'${s}'`).join(', ')}][1 + i], ${ref('H', 'i')}, ${OWN} FROM ${WALK_INS}
    UNION ALL SELECT '${CLERK_RID_15}', '13590462817', 'H999999', DATE '1958-07-09')`;
const FEE_SQL = `SELECT resident_id, ref_no, district, birth_date, amount FROM (
    SELECT ${PAYER_ID} AS resident_id, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK_RID}', ${ref('F', 'i')}, '东区', DATE '1985-06-23', ${victimAmount(786)} FROM ${WALK_INS})`;

const PAYER_MAIL = emailSql('p', 3314);
const MAIL_SQL = `SELECT email, ref_no, district, birth_date, amount FROM (
    SELECT ${PAYER_MAIL} AS email, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK_MAIL}', ${ref('E', 'i')}, '西区', DATE '1981-05-06', ${victimAmount(787)} FROM ${WALK_INS})`;
const MEMBER_SQL = `SELECT resident_id, email, member_no FROM (
    SELECT ${PAYER_ID} AS resident_id, ${PAYER_MAIL} AS email, ${ref('K', 'p')} AS member_no FROM ${PEOPLE}
    UNION ALL SELECT ${WALK_IN_ID}, [${MAIL_SPELLINGS.map((s) => `'${s}'`).join(', ')}][1 + i], ${ref('L', 'i')} FROM ${WALK_INS})`;

describe('red team 32b: what the domain-wide doubt reads, and how it normalizes', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, { id: LAB.org, name: 'RT32b Lab' }, 'red team 32b');
  let t: TestApp;

  /** A dataset through the trusted pipeline, its entity column declared (`entity`), personal columns plain, granted to the tenant. */

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt32b_card', CARD_SQL);
    await domain.ingest('rt32b_clinic', CLINIC_SQL, { entity: 'resident_id' });
    await domain.ingest('rt32b_wallet', WALLET_SQL, { entity: 'mobile' });
    await domain.ingest('rt32b_shop', SHOP_SQL, { entity: 'uscc' });
    await domain.ingest('rt32b_tax', TAX_SQL, { entity: 'uscc' });
    await domain.ingest('rt32b_reg', REG_SQL, { entity: 'resident_id' });
    await domain.ingest('rt32b_fee', FEE_SQL);
    await domain.ingest('rt32b_mail', MAIL_SQL);
    await domain.ingest('rt32b_member', MEMBER_SQL, { entity: 'resident_id' });
    await domain.refresh();
    await t.app.controlPlane.refinery.idle();
  }, 1_200_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const exports = exportProbes(() => t, OPERATOR, LAB.org, 'red team 32b');
  const subtractOn = subtractionProbes(prod, exports);
  /** Pass 28a's attack on a district, leaving out the row of reference `refNo` (test/helpers/subtraction-probes.ts). */
  const subtract = (table: string, refNo: string, district: string) => subtractOn(table, 'ref_no', refNo, district);
  const amountOf = async (sql: string, refNo: string) => Number((await real(`SELECT amount FROM (${sql}) WHERE ref_no = '${refNo}'`))[0]!.amount);
  const kindsOf = async (dataset: string) => {
    const profile = await domain.profileOf(dataset);
    return { entity: profile.entity, ...Object.fromEntries(profile.columns.map((c) => [c.name, c.pii?.kind ?? null])) };
  };

  // ---------------------------------------------------------------------------------------------
  // 1. What the doubt reads.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: every identifier column of people is judged against the birth dates): birth dates beside an identifier column that is not the entity are never read: CLERK_DATES beside 12 walk-ins with 12 different birth dates in rt32b_clinic (keyed by resident ID, theirs not recorded: 未登记) stays one person in rt32b_card; the 东区 subtraction gives a walk-in\'s payment', async () => {
    const [truth] = await real(`SELECT count(DISTINCT birth_date) AS dates, list(DISTINCT resident_id) AS ids, count(*) AS n FROM (${CLINIC_SQL}) WHERE mobile = '${CLERK_DATES}'`);
    // Truth: 12 rows of one mobile, 12 birth dates (12 people), resident ID not recorded.
    expect([Number(truth!.dates), String(truth!.ids), Number(truth!.n)]).toEqual([12, '未登记', 12]);
    expect(await kindsOf('rt32b_clinic')).toMatchObject({ entity: 'resident_id', resident_id: 'resident_id', mobile: 'mobile', birth_date: 'birth_date' });
    expect((await kindsOf('rt32b_card')).entity).toBe('mobile');
    const { seen, safe } = await subtract('rt32b_card', 'A000000', '东区');
    // Seen: the cell is shown, learned = 781 (A000000's payment), the export passes its cell threshold.
    // Why: compileDoubtfulKeys (desensitize/doubtful-keys.ts:54-57) pairs birth dates only with the
    // dataset's ENTITY column (`dated` rows are `SELECT e, w`, e = source.entity); the other
    // identifier columns (`source.others`, lines 58-61) are judged only by the distinct entities
    // beside them (`count(DISTINCT o) > 1`, line 65), and here the 12 walk-ins' entity is one
    // placeholder `未登记` (o counts it once; a NULL entity would not count at all: `o <> ''`). So a
    // mobile beside 12 different birth dates, in a dataset that holds its birth dates, is one
    // person. SAFE: CLERK_DATES keyless in every table; withheld, the export fails. Fix: in
    // compileDoubtfulKeys, add a `dated` branch per other column too (`SELECT k AS e, w` over the
    // same witnesses, `WHERE k <> ''`), so every person identifier of a row is witnessed by that
    // row's birth dates (the doc's rule "one person has one birth date" for every identifier, not
    // only the one counted on); and in `paired` count only entities that are keys
    // (isEntityKeySql), counting a row whose entity is no key as a distinct `o` of its own (e.g.
    // `coalesce(key, 'row ' || rowid)`), since a missing ID is nobody's proof of being one person.
    expect(await amountOf(CARD_SQL, 'A000000')).toBe(781);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: resident IDs witness every identifier but a resident ID): resident IDs beside the entity are no witness: CLERK_IDS written for 12 walk-ins in rt32b_wallet (keyed by mobile, declared), each row carrying the walk-in\'s own resident ID (12 IDs, 12 birth dates inside them), stays one person; the 西区 subtraction gives a walk-in\'s payment', async () => {
    const [truth] = await real(`SELECT count(DISTINCT id_no) AS ids, count(DISTINCT substr(id_no, 7, 8)) AS born FROM (${WALLET_SQL}) WHERE mobile = '${CLERK_IDS}'`);
    expect([Number(truth!.ids), Number(truth!.born)]).toEqual([12, 12]);
    expect(await kindsOf('rt32b_wallet')).toMatchObject({ entity: 'mobile', mobile: 'mobile', id_no: 'resident_id' });
    const { seen, safe } = await subtract('rt32b_wallet', 'W000000', '西区');
    // Seen: shown, learned = 782, the export passes. Why: doubtSource (tenants/refinery.ts:265-274)
    // gives `id_no` as an "other" column, and compileDoubtfulKeys (desensitize/doubtful-keys.ts:58-65)
    // only asks the other direction: is one id_no beside two mobiles (`GROUP BY e` over k AS e,
    // count(DISTINCT o)); an ENTITY beside 12 different resident IDs (12 people by definition:
    // a resident ID is one person's, and each holds a birth date, chars 7-14) is never asked, and
    // the dataset has no birth-date column to witness it. Ingest knew they do not pair
    // (CAT_ERR_ENTITY_AMBIGUOUS until `entity` was declared, sandbox/engine/ingest-people.ts:154).
    // SAFE: keyless; withheld, the export fails. Fix: in compileDoubtfulKeys, for each other column
    // of kind resident_id, also make the entity doubtful when it stands beside two or more distinct
    // resident-ID keys (`SELECT e FROM (... e, k ...) WHERE k is a key GROUP BY e HAVING
    // count(DISTINCT k) > 1`), or at least use the birth date inside each resident ID (chars 7-14 of
    // the normalized value) as one more witness of the row's entity in `dated`.
    expect(await amountOf(WALLET_SQL, 'W000000')).toBe(782);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: person columns of a dataset keyed by credit codes are judged too): a person\'s columns in a USCC-keyed dataset are never read: the agent\'s mobile CLERK_AGENT beside 12 sole traders\' legal representatives (12 resident IDs, 12 people) in rt32b_shop stays one person in rt32b_card; the 南区 subtraction gives a walk-in\'s payment', async () => {
    const [truth] = await real(`SELECT count(DISTINCT legal_rep_id) AS reps, count(DISTINCT uscc) AS shops FROM (${SHOP_SQL}) WHERE contact_mobile = '${CLERK_AGENT}'`);
    expect([Number(truth!.reps), Number(truth!.shops)]).toEqual([12, 12]);
    expect(await kindsOf('rt32b_shop')).toMatchObject({ entity: 'uscc', uscc: 'uscc', legal_rep_id: 'resident_id', contact_mobile: 'mobile' });
    const { seen, safe } = await subtract('rt32b_card', 'B000000', '南区');
    // Seen: shown, learned = 783, the export passes. Why: doubtSource (tenants/refinery.ts:268)
    // gives a dataset whose entity is of an ENTERPRISE_KINDS kind no `others` at all
    // (`ENTERPRISE_KINDS.has(counted.kind) ? [] : ...`): its person columns are neither compared
    // with the USCC (by design: one person runs several enterprises) nor with EACH OTHER, so a
    // mobile standing beside 12 different people's resident IDs on the same rows, the very proof
    // a resident-ID-keyed dataset would turn into a doubt (pass 32a), is dropped because the row
    // also holds a USCC. SAFE: CLERK_AGENT keyless; withheld, the export fails. Fix: in
    // doubtSource/compileDoubtfulKeys, for an enterprise-keyed dataset, judge its person columns
    // against its strongest person column instead of the entity (a mobile or e-mail beside two or
    // more distinct resident-ID keys of the row is doubtful), and witness them with its birth dates
    // (see the first test).
    expect(await amountOf(CARD_SQL, 'B000000')).toBe(783);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: a dataset\'s credit-code entity is judged against the resident IDs beside it): one real USCC for 12 market stall traders (sole traders, natural persons) beside 12 different legal representatives\' resident IDs in rt32b_tax stays one enterprise; the 北区 subtraction gives a trader\'s tax', async () => {
    const [truth] = await real(`SELECT count(DISTINCT legal_rep_id) AS reps, count(DISTINCT uscc) AS codes, count(*) AS n FROM (${TAX_SQL}) WHERE ref_no LIKE 'M%'`);
    expect([Number(truth!.reps), Number(truth!.codes), Number(truth!.n)]).toEqual([12, 1, 12]);
    expect(await kindsOf('rt32b_tax')).toMatchObject({ entity: 'uscc', uscc: 'uscc', legal_rep_id: 'resident_id' });
    const { seen, safe } = await subtract('rt32b_tax', 'M000000', '北区');
    // Seen: shown, learned = 785, the export passes. Why: nothing judges an enterprise key beside
    // its people: doubtSource (tenants/refinery.ts:268) gives a USCC-keyed dataset no `others`, and
    // compileDoubtfulKeys only makes OTHER columns doubtful (desensitize/doubtful-keys.ts:58-65). Yet
    // the same dataset with a `legal_rep_birth_date` column would make the USCC doubtful (a birth
    // date IS read as a witness of the USCC, refinery.ts:267, `witnesses` of any entity kind); a
    // resident ID carries that very birth date (chars 7-14) and is read for nothing. One
    // enterprise has one legal representative: 12 at once on one extract are 12 holders of one code.
    // SAFE: the market's USCC keyless; withheld, the export fails. Fix: for ENTERPRISE_KINDS
    // entities, make the entity doubtful when it stands beside two or more distinct resident-ID keys
    // of one column in one version (or use the birth date inside a resident-ID column as a witness
    // of the row's entity in `dated`, as for a birth-date column).
    expect(await amountOf(TAX_SQL, 'M000000')).toBe(785);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. Normalization of the proof.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: the proof in other spellings: CLERK_NORM beside 12 walk-ins\' resident IDs in rt32b_reg written 12 ways (+86, 0086, full-width digits and plus, spaces, dashes, an en dash, a zero-width space, brackets) is one doubtful key with CLERK_NORM in rt32b_card: the 中区 subtraction is withheld and fails the export', async () => {
    const [truth] = await real(`SELECT count(DISTINCT mobile) AS spellings, count(DISTINCT resident_id) AS ids FROM (${REG_SQL}) WHERE reg_no LIKE 'H0%'`);
    // Truth: 12 spellings of one mobile, beside 12 people.
    expect([Number(truth!.spellings), Number(truth!.ids)]).toEqual([12, 12]);
    expect(await kindsOf('rt32b_reg')).toMatchObject({ entity: 'resident_id', resident_id: 'resident_id', mobile: 'mobile' });
    const { seen, safe } = await subtract('rt32b_card', 'C000000', '中区');
    expect(await amountOf(CARD_SQL, 'C000000')).toBe(784);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: a resident ID in its 15-digit form: CLERK_RID written for 12 walk-ins in rt32b_fee (dated 1985-06-23 from the account: they agree) and its holder, born 1958-07-09, in rt32b_reg as `110105580709123`: the dates compared on the upgraded form disagree, the key is keyless, the 东区 subtraction is withheld and fails the export', async () => {
    const [truth] = await real(`SELECT (SELECT list(DISTINCT CAST(birth_date AS VARCHAR)) FROM (${FEE_SQL}) WHERE resident_id = '${CLERK_RID}') AS fee, (SELECT list(DISTINCT CAST(birth_date AS VARCHAR)) FROM (${REG_SQL}) WHERE resident_id = '${CLERK_RID_15}') AS reg`);
    expect([String(truth!.fee), String(truth!.reg)]).toEqual(['1985-06-23', '1958-07-09']);
    expect((await kindsOf('rt32b_fee')).entity).toBe('resident_id');
    const { seen, safe } = await subtract('rt32b_fee', 'F000000', '东区');
    expect(await amountOf(FEE_SQL, 'F000000')).toBe(786);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: an e-mail proof in other spellings: the clerk\'s Gmail address beside 12 walk-ins\' resident IDs in rt32b_member written with +tags, dots, googlemail.com, capitals, a full-width ＠, brackets, is one doubtful key with the address in rt32b_mail (keyed by e-mail, dates from the account agree): the 西区 subtraction is withheld and fails the export', async () => {
    const [truth] = await real(`SELECT count(DISTINCT email) AS spellings, count(DISTINCT resident_id) AS ids FROM (${MEMBER_SQL}) WHERE member_no LIKE 'L%'`);
    expect([Number(truth!.spellings), Number(truth!.ids)]).toEqual([12, 12]);
    expect(await kindsOf('rt32b_member')).toMatchObject({ entity: 'resident_id', resident_id: 'resident_id', email: 'email' });
    expect(await kindsOf('rt32b_mail')).toMatchObject({ entity: 'email', email: 'email' });
    const { seen, safe } = await subtract('rt32b_mail', 'E000000', '西区');
    expect(await amountOf(MAIL_SQL, 'E000000')).toBe(787);
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);
});
