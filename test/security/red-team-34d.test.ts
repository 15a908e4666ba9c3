/**
 * Red-team pass 34d: shared keys against the domain-wide doubt (desensitize/doubtful-keys.ts,
 * compileDoubtfulKeys and witnessKindOf; tenants/refinery.ts, doubtSource), with witnesses stored
 * typed, written in free text, in a withdrawn dataset, as 15-digit resident IDs, beside Gmail
 * spellings, and in a name column the `fewNames` rule drops. The attack is pass 28a's subtraction:
 * a district's total minus the same total leaving out one walk-in's row gives that walk-in's payment
 * when the walk-ins' shared key counts as one person.
 *
 * Setup (test/helpers/crafted-domain.ts; personal columns plain, all granted to `rt34d-org`):
 * - `rt34d_pay`: counter payments keyed by mobile, no witness (mobile, ref_no, district, amount):
 *   150 payers in six districts; in 东区, 西区, 南区, 北区, 新区 a clerk's own mobile written for 12
 *   walk-ins (the first paid 781–785). 中区 is the control.
 * - `rt34d_mailpay`: the same keyed by e-mail; a clerk's `Wang.Fang+counter@gmail.com` for 12
 *   walk-ins in 东区 (the first paid 786).
 * - Witness datasets, each another population plus the clerk's identifier on the 12 walk-ins' rows:
 *   `rt34d_epoch` (`birth_time` BIGINT epoch milliseconds), `rt34d_memo` (the clerk's mobile only
 *   inside a free-text `备注`, beside `出生日期`), `rt34d_id15` (`身份证号` of 15 digits),
 *   `rt34d_members` (`姓名` on 20 of 400 members and the 12 walk-ins: fewer than a fifth as many
 *   names as people), `rt34d_gone` (`birth_date` TIMESTAMP WITH TIME ZONE; withdrawn after the first
 *   build), `rt34d_mailbook` (entity declared the passport; the clerk's e-mail as `WANGFANG@GMAIL.COM`
 *   and `wang.fang@googlemail.com` in another column, beside `出生日期`).
 * `was a hole` tests failed when written (they assert the SAFE outcome; the comment says what was seen, which
 * file:line lets it through, and a fix); `STOPPED:` tests held. Aside: payers' e-mails at
 * `@example.com` made no keys at all (the control failed with them), hence `@163.com`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { districtTotal, firstCell, subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { AMOUNT, BORN, OWN, passportOf, PEOPLE, ref, victimAmount, WALK_INS } from '../helpers/walk-in-sql.js';

const ORG = 'rt34d-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'otto' } as const;
const LAB = { id: 'rt34d-lab', name: 'Red team 34d lab' };

/** Each clerk's own mobile, written for walk-ins. */
const CLERK = { epoch: '13958207146', memo: '15827439061', id15: '18629347015', names: '13705718824', gone: '15168302957', hidden: '18857026413' } as const;
const MAIL = 'Wang.Fang+counter@gmail.com';
const DISTRICT = `['东区', '西区', '南区', '北区', '中区', '新区', '高新区'][1 + p % 7]`;

const walkIns = (clerk: string, letter: string, district: string, amount: number) =>
  `SELECT '${clerk}', ${ref(letter, 'i')}, '${district}', ${victimAmount(amount)} FROM ${WALK_INS}`;
const PAY_SQL = `SELECT mobile, ref_no, district, amount FROM (
    SELECT ${mobileSql('p', 3481)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${walkIns(CLERK.epoch, 'A', '东区', 781)}
    UNION ALL ${walkIns(CLERK.memo, 'B', '西区', 782)}
    UNION ALL ${walkIns(CLERK.id15, 'C', '南区', 783)}
    UNION ALL ${walkIns(CLERK.names, 'D', '北区', 784)}
    UNION ALL ${walkIns(CLERK.gone, 'E', '新区', 785)}
    UNION ALL ${walkIns(CLERK.hidden, 'G', '高新区', 787)})`;
const MAILPAY_SQL = `SELECT email, ref_no, district, amount FROM (
    SELECT 'payer' || p || '@163.com' AS email, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${walkIns(MAIL, 'F', '东区', 786)})`;

/** Birth times as a Java system keeps them: BIGINT epoch milliseconds, under `birth_time`. */
const EPOCH_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3482)}, epoch_ms(CAST(${BORN} AS TIMESTAMP)) FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.epoch}', epoch_ms(CAST(${OWN} AS TIMESTAMP)) FROM ${WALK_INS}) t(mobile, birth_time)`;
/** The clerk's mobile only inside a free-text note; no identifier column. */
const MEMO_SQL = `SELECT * FROM (
    SELECT '客户来电 ' || ${mobileSql('p', 3483)} || ' 咨询缴费', strftime(${BORN}, '%Y-%m-%d') FROM ${PEOPLE}
    UNION ALL SELECT '散客代缴，经办人电话 ${CLERK.memo}', strftime(${OWN}, '%Y-%m-%d') FROM ${WALK_INS}) t(备注, 出生日期)`;
/** Old 15-digit resident IDs (region, yymmdd, sequence). */
const id15 = (date: string, n: string) => `'110101' || strftime(${date}, '%y%m%d') || lpad(CAST(100 + ${n} AS VARCHAR), 3, '0')`;
const ID15_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3484)}, ${id15(BORN, 'p')} FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.id15}', ${id15(OWN, 'i')} FROM ${WALK_INS}) t(mobile, 身份证号)`;
/** 400 members, 20 of them named, and the 12 walk-ins by name: 32 names, 401 people. */
const SURNAME = (n: string) => `['张', '王', '李', '赵', '刘'][1 + ${n} % 5]`;
const MEMBERS_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3485)}, CASE WHEN p < 20 THEN ${SURNAME('p')} || ['伟', '芳', '娜', '敏', '静', '丽', '强', '磊'][1 + (p // 5) % 8] END
      FROM (SELECT range AS p FROM range(400))
    UNION ALL SELECT '${CLERK.names}', ['陈', '杨', '黄'][1 + i % 3] || ['建国', '秀英', '桂兰', '志强'][1 + i // 3] FROM ${WALK_INS}) t(mobile, 姓名)`;
/** Birth dates as TIMESTAMP WITH TIME ZONE, in a dataset withdrawn after release. */
const GONE_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3486)}, CAST(CAST(${BORN} AS TIMESTAMP) AS TIMESTAMPTZ) FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.gone}', CAST(CAST(${OWN} AS TIMESTAMP) AS TIMESTAMPTZ) FROM ${WALK_INS}) t(mobile, birth_date)`;
/** Birth dates as INTEGER yyyymmdd under \`csrq\`, hidden by the supervisor's policy after the first build. */
const yyyymmdd = (date: string) => `CAST(strftime(${date}, '%Y%m%d') AS INTEGER)`;
const HIDDEN_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3487)}, ${yyyymmdd(BORN)} FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.hidden}', ${yyyymmdd(OWN)} FROM ${WALK_INS}) t(mobile, csrq)`;
/** Entity declared the passport; the clerk's e-mail written two other ways in `email`. */
const MAILBOOK_SQL = `SELECT * FROM (
    SELECT ${passportOf('E', 'p')}, 'member' || p || '@qq.com', strftime(${BORN}, '%Y-%m-%d') FROM ${PEOPLE}
    UNION ALL SELECT ${passportOf('G', 'i')}, CASE WHEN i % 2 = 0 THEN 'WANGFANG@GMAIL.COM' ELSE 'wang.fang@googlemail.com' END, strftime(${OWN}, '%Y-%m-%d') FROM ${WALK_INS}) t(passport, email, 出生日期)`;

describe('red team 34d: typed, free-text, withdrawn, 15-digit and few-named witnesses', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 34d');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt34d_pay', PAY_SQL, { entity: 'mobile' });
    await domain.ingest('rt34d_mailpay', MAILPAY_SQL, { entity: 'email' });
    for (const [id, sql] of [['rt34d_epoch', EPOCH_SQL], ['rt34d_memo', MEMO_SQL], ['rt34d_members', MEMBERS_SQL], ['rt34d_gone', GONE_SQL], ['rt34d_hidden', HIDDEN_SQL]] as const) await domain.ingest(id, sql);
    await domain.ingest('rt34d_id15', ID15_SQL, { entity: 'mobile' });
    await domain.ingest('rt34d_mailbook', MAILBOOK_SQL, { entity: 'passport' });
    await domain.refresh();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/datasets/rt34d_gone/withdraw', { reason: '数据提供单位要求暂停使用' }), 200);
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/rt34d_hidden/policy', { columns: { csrq: { kind: 'hidden' } } }), 200);
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const subtract = subtractionProbes(prod, exportProbes(() => t, OPERATOR, LAB.id, 'red team 34d'));
  const kindsOf = async (dataset: string) => Object.fromEntries((await domain.profileOf(dataset)).columns.map((c) => [c.name, `${c.type}:${c.pii?.kind ?? null}`]));

  it('control: the 中区 totals of 25 honest payers answer, and a walk-in\'s payment is what the subtraction would give', async () => {
    for (const table of ['rt34d_pay', 'rt34d_mailpay']) {
      const body = await prod(districtTotal(table, '中区'));
      expect(firstCell(body), body).not.toBeNull();
    }
    expect(Number((await real(`SELECT amount FROM (${PAY_SQL}) WHERE ref_no = 'A000000'`))[0]!.amount)).toBe(781);
  }, 600_000);

  it('was a hole (fix: `birth_time` is a birth date\'s header, and epochs of seconds or milliseconds are read): a clerk\'s mobile beside 12 walk-ins\' birth times stored as BIGINT epoch milliseconds under `birth_time`: her 12 walk-ins count as one person', async () => {
    // Seen: 东区 total minus the total without A000000 gives 781 in prod; the export passes its cell
    // threshold. `birth_time` (BIGINT, no recognized kind) is no witness: it is not a birth date's
    // header (BIRTH_DATE_HEADER, desensitize/doubtful-keys.ts:105, knows `出生时间` and `dob` but not
    // `birth_time`/`birth_ts`), and a header that only mentions birth needs a profiled value that
    // reads as a date (:99), which epoch milliseconds (`487296000000`) never do (readsAsBirthDate,
    // :117). `rt34d_epoch` then has no witness and canShowDoubt drops it (tenants/refinery.ts:281).
    // SAFE: the cell leaving out one walk-in is withheld and the export fails.
    // Fix: read a whole number of 9–13 digits under a birth header as epoch seconds/milliseconds in
    // readsAsBirthDate and birthDateReading (and add `birth_?time|birth_?ts` to BIRTH_DATE_HEADER).
    const { seen, safe } = await subtract('rt34d_pay', 'ref_no', 'A000000', '东区');
    expect(safe, JSON.stringify({ seen, kinds: await kindsOf('rt34d_epoch') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: the mobiles and resident IDs free text holds are judged as the row\'s): a clerk\'s mobile written only inside a free-text note (`备注`), beside 12 walk-ins\' birth dates: her 12 walk-ins count as one person', async () => {
    // Seen: 西区 total minus the total without B000000 gives 782 in prod; the export passes. The
    // memo dataset shows the clerk's mobile on 12 rows beside 12 different `出生日期`, but `备注` is
    // recognized as free_text, and doubtSource judges only entity candidates and fixed-line columns
    // (tenants/refinery.ts:271-273), so the source has no identifier and canShowDoubt drops it
    // (:281; desensitize/doubtful-keys.ts canShowDoubt). (A neighbour of the documented blind spot
    // "no dataset shows": here a dataset does, in free text.)
    // SAFE: withheld / export fails.
    // Fix: judge identifiers found in free_text columns too (regexp_extract_all of mobile, resident-ID
    // and e-mail shapes, unnested as extra identifier values of the row in compileDoubtfulKeys).
    const { seen, safe } = await subtract('rt34d_pay', 'ref_no', 'B000000', '西区');
    expect(safe, JSON.stringify({ seen, kinds: await kindsOf('rt34d_memo') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: a clerk\'s mobile beside 12 walk-ins\' 15-digit resident IDs (`身份证号`, entity declared the mobile)', async () => {
    // Recognized as resident_id; documentWitness upgrades 15 digits to 18: 12 different witnesses.
    const { seen, safe } = await subtract('rt34d_pay', 'ref_no', 'C000000', '南区');
    expect(safe, JSON.stringify({ seen, kinds: await kindsOf('rt34d_id15') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: few names are counted against the people who have a name): a clerk\'s mobile beside 12 walk-ins\' names in a member list where most members have no name: `fewNames` drops the names, her 12 walk-ins count as one person', async () => {
    // Seen: 北区 total minus the total without D000000 gives 784 in prod; the export passes. `姓名`
    // (recognized `name`) holds 32 distinct names (20 members, 12 walk-ins), NULL on 380 of 412 rows;
    // `people` is the entity column's distinct count over every row, named or not (401,
    // tenants/refinery.ts:275), so 32 < 401 / 5 and witnessKindOf's `fewNames`
    // (desensitize/doubtful-keys.ts:94) takes the column for someone else's: no witness left. The
    // documented blind spot is a column of names mostly `散客`; here every name present is a
    // different person's, only missing on most rows.
    // SAFE: withheld / export fails.
    // Fix: compare with the people on rows that carry a name: pass the column's nullShare and use
    // `column.distinct < people * (1 - nullShare) / 5` (or profile the entity's distinct count where the name is not NULL).
    const { seen, safe } = await subtract('rt34d_pay', 'ref_no', 'D000000', '北区');
    expect(safe, JSON.stringify({ seen, kinds: await kindsOf('rt34d_members') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: TIMESTAMPTZ birth dates in a dataset withdrawn after release; INTEGER yyyymmdd `csrq` hidden by policy after the first build', async () => {
    // Every version of every dataset is judged, withdrawn or not, from its profile's columns whatever
    // the policy shows; TIMESTAMPTZ and yyyymmdd integers read as dates once cast to text.
    const gone = await subtract('rt34d_pay', 'ref_no', 'E000000', '新区');
    expect(gone.safe, JSON.stringify({ seen: gone.seen, kinds: await kindsOf('rt34d_gone') })).toEqual(SUBTRACTION_SAFE);
    const hidden = await subtract('rt34d_pay', 'ref_no', 'G000000', '高新区');
    expect(hidden.safe, JSON.stringify({ seen: hidden.seen, kinds: await kindsOf('rt34d_hidden') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: a clerk\'s Gmail (dots, +tag, upper case, googlemail) beside 12 walk-ins\' birth dates, in a dataset whose entity is declared the passport', async () => {
    // The e-mail column is judged as another identifier of people; emailAddressSql/gmailMailboxSql fold
    // every spelling into one address; the passports and the dates disagree.
    const { seen, safe } = await subtract('rt34d_mailpay', 'ref_no', 'F000000', '东区');
    expect(safe, JSON.stringify({ seen, kinds: await kindsOf('rt34d_mailbook') })).toEqual(SUBTRACTION_SAFE);
  }, 600_000);
});
