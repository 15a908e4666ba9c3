/**
 * Red-team attacks, pass 31a: the shared-key defence and entity keys, attacked from outside (HTTP
 * only, as an operator of org `rt31a-org`, with the application entity `rt31a-lab`):
 * - the birth-date witnesses of shared keys (`BIRTH_DATE_WITNESS`, desensitize/policy.ts;
 *   `splitEntityKeys`, sandbox/engine/publish.ts; the witnesses chosen in tenants/refinery.ts;
 *   docs/sandbox.md "Rows without a key"): a sentinel birth date no one is born on (9999-12-31),
 *   two birth-date columns of which one agrees, birth dates written as text the witness cannot read;
 * - one key across two datasets: the clerk's mobile shared in one dataset (its birth dates
 *   disagree) and "one person" in the other (its birth dates, filled from the account, agree);
 * - entity keys of enterprises (USCC): a placeholder written for unregistered sole traders;
 * - workspace tables built from prod data over shared keys, and prod answers singling out a
 *   keyless walk-in (a group of one, a maximum).
 * `was a hole` tests failed when written (they assert the SAFE outcome; the comment says what was seen, which
 * file:line lets it through, what SAFE means and a fix); `STOPPED:` tests held.
 *
 * Setup (test/helpers/crafted-domain.ts: datasets ingested through the trusted pipeline, personal
 * columns set plain with a reason as the supervisor's choice, granted to rt31a-org):
 * - `rt31a_pay`: 150 payers keyed by their own mobile, birth date recorded, in 一区/二区/三区; in
 *   一区 a clerk's own real mobile written for 12 walk-in payers whose birth date the form filled
 *   with its "unknown" default 9999-12-31. The first walk-in (S000000, 777) is the victim.
 * - `rt31a_pay2`: the same layout with TWO birth-date columns, `birth_date` (DATE) and `csrq`
 *   (VARCHAR, `1979年4月18日`); in 三区 a clerk's mobile for 12 walk-ins whose `birth_date` the
 *   system filled from the mobile's account (the clerk's own, 1979-04-18, for all 12) while `csrq`
 *   holds each walk-in's own date (T000000, 778).
 * - `rt31a_pay3`: birth dates as VARCHAR only (`csrq`, `1979年4月18日`); in 二区 a clerk's mobile for
 *   12 walk-ins whose dates were typed in full-width digits (`１９５２年２月３日`), which the witness
 *   cannot read (F000000, 779).
 * - `rt31a_card` (A) and `rt31a_reg` (B): the same 150 people keyed by mobile; in both, a clerk's
 *   mobile written for 12 walk-ins in 一区; B (registrations) holds each walk-in's own birth date,
 *   A (card payments) the account's birth date, the clerk's (1985-06-23), for all 12 (K000000, 781).
 * - `rt31a_tax`: 150 enterprises keyed by their USCC; in 二区 12 unregistered sole traders
 *   (个体工商户, natural persons) written `111111111111111111` (G000000, 782).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, usccSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { districtTotal, districtTotalWithout, firstCell, subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import type { TestApp } from '../helpers/test-app.js';
import { AMOUNT, BORN, OWN, PEOPLE, ref, victimAmount, WALK_INS } from '../helpers/walk-in-sql.js';

const ORG = 'rt31a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { role: 'applicant', org: 'rt31a-lab', sub: 'rita' } as const;

/** Real-looking mobiles of no placeholder's shape: each clerk's own, written for walk-in payers. */
const CLERK_SENTINEL = '13957318246';
const CLERK_TWO = '15823697410';
const CLERK_FORMS = '13706548291';
const CLERK_SHARED = '18625047913';
const USCC_PLACEHOLDER = '111111111111111111';

const DISTRICT = `['一区', '二区', '三区'][1 + p % 3]`;
/** A date as `1979年4月18日`, optionally in full-width digits. */
const chinese = (date: string, fullWidth = false) => {
  const text = `concat(year(${date}), '年', month(${date}), '月', day(${date}), '日')`;
  return fullWidth ? `translate(${text}, '0123456789', '０１２３４５６７８９')` : text;
};

const PAY_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${mobileSql('p', 3101)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL
    SELECT '${CLERK_SENTINEL}', ${ref('S', 'i')}, '一区', DATE '9999-12-31', ${victimAmount(777)} FROM ${WALK_INS})`;
const PAY2_SQL = `SELECT mobile, ref_no, district, birth_date, csrq, amount FROM (
    SELECT ${mobileSql('p', 3102)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${chinese(BORN)} AS csrq, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL
    SELECT '${CLERK_TWO}', ${ref('T', 'i')}, '三区', DATE '1979-04-18', ${chinese(OWN)}, ${victimAmount(778)} FROM ${WALK_INS})`;
const PAY3_SQL = `SELECT mobile, ref_no, district, csrq, amount FROM (
    SELECT ${mobileSql('p', 3103)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${chinese(BORN)} AS csrq, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL
    SELECT '${CLERK_FORMS}', ${ref('F', 'i')}, '二区', ${chinese(OWN, true)}, ${victimAmount(779)} FROM ${WALK_INS})`;
const CARD_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${mobileSql('p', 3104)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL
    SELECT '${CLERK_SHARED}', ${ref('K', 'i')}, '一区', DATE '1985-06-23', ${victimAmount(781)} FROM ${WALK_INS})`;
const REG_SQL = `SELECT mobile, reg_no, district, birth_date FROM (
    SELECT ${mobileSql('p', 3104)} AS mobile, ${ref('G', 'p')} AS reg_no, ${DISTRICT} AS district, ${BORN} AS birth_date FROM ${PEOPLE}
    UNION ALL
    SELECT '${CLERK_SHARED}', ${ref('W', 'i')}, '一区', ${OWN} FROM ${WALK_INS})`;
const TAX_SQL = `SELECT uscc, ref_no, district, amount FROM (
    SELECT ${usccSql('p', 3105)} AS uscc, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL
    SELECT '${USCC_PLACEHOLDER}', ${ref('G', 'i')}, '二区', ${victimAmount(782)} FROM ${WALK_INS})`;

describe('red team 31a: shared keys, their witnesses across columns and datasets, enterprise keys, workspace tables', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, { id: LAB.org, name: 'RT31a Lab' }, 'red team 31a');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    for (const [id, sql] of [['rt31a_pay', PAY_SQL], ['rt31a_pay2', PAY2_SQL], ['rt31a_pay3', PAY3_SQL], ['rt31a_card', CARD_SQL], ['rt31a_reg', REG_SQL], ['rt31a_tax', TAX_SQL]] as const) await domain.ingest(id, sql);
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const exports = exportProbes(() => t, OPERATOR, LAB.org, 'red team 31a');
  const subtract = subtractionProbes(prod, exports);
  const piiOf = async (dataset: string, column: string) => (await domain.profileOf(dataset)).columns.find((c) => c.name === column)?.pii?.kind ?? null;

  // ---------------------------------------------------------------------------------------------
  // 1. The witness: a sentinel date, two columns, text it cannot read.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a birth date after the day the version was ingested, or before 1901, is no birth date): a clerk\'s own mobile written for 12 walk-in payers whose birth date the form filled with its "unknown" default 9999-12-31 (a date no one is born on) stays one person: the district total minus a total leaving out one walk-in gives that payer\'s amount, in prod and as an export', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS payers, count(DISTINCT birth_date) AS dates, max(amount) FILTER (WHERE ref_no = 'S000000') AS t_amount,
        min(birth_date) > current_date AS future FROM (${PAY_SQL}) WHERE mobile = '${CLERK_SENTINEL}'`);
    // Truth: 12 walk-ins under one mobile, one birth date, in the future; the victim's payment is 777.
    expect([Number(truth!.payers), Number(truth!.dates), Number(truth!.t_amount), truth!.future]).toEqual([12, 1, 777, true]);
    expect((await domain.profileOf('rt31a_pay')).entity).toBe('mobile');
    expect(await piiOf('rt31a_pay', 'birth_date')).toBe('birth_date');
    const { seen, safe } = await subtract('rt31a_pay', 'ref_no', 'S000000', '一区');
    // Seen (when written): the cell leaving out S000000 is shown, learned = 777 (the victim's
    // payment), the export passes its cell threshold. Why: BIRTH_DATE_WITNESS (desensitize/
    // policy.ts:138-141) reads as "none" only dates before 1900, 1970-01-01 and any 1 January; a
    // birth date after today is kept as a witness, so 9999-12-31 (the "unknown"/"end of time"
    // default of SAP, Oracle and many forms; also 2099-12-31, 1900-12-31) makes 12 walk-ins agree,
    // and splitEntityKeys (sandbox/engine/publish.ts:228) keeps the key: one person, present on
    // both sides of the subtraction, so nobody is "left out". Recognition already refuses a date
    // after today as a birth date (isBirthDate/isPastDate, desensitize/identifiers.ts:305-308); the
    // witness does not. SAFE: a witness after the build's day (and the 12-31 sentinels) is none
    // (NULL), so the key of several rows is keyless; the cell withheld, the export fails. Fix: in
    // BIRTH_DATE_WITNESS.finish add `OR date > DATE '<today>'` (compilePolicySelect has
    // options.today), 1900-12-31 and 12-31 of years ≥ 2099; docs/sandbox.md "Rows without a key".
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: two birth-date columns, `birth_date` filled from the account (the clerk\'s own date for all 12 walk-ins: it agrees) and `csrq` as text with each walk-in\'s own date (`1952年2月3日`, …): the key is keyless, the cell leaving out one walk-in is withheld and fails the export\'s cell threshold', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS payers, count(DISTINCT birth_date) AS dates, count(DISTINCT csrq) AS own_dates FROM (${PAY2_SQL}) WHERE mobile = '${CLERK_TWO}'`);
    expect([Number(truth!.payers), Number(truth!.dates), Number(truth!.own_dates)]).toEqual([12, 1, 12]);
    // Both columns are birth dates to recognition, so both are witnesses (refinery.ts:97).
    expect([await piiOf('rt31a_pay2', 'birth_date'), await piiOf('rt31a_pay2', 'csrq')]).toEqual(['birth_date', 'birth_date']);
    const { seen, safe } = await subtract('rt31a_pay2', 'ref_no', 'T000000', '三区');
    // Fails if only the first witness were read, or the text one read as agreeing.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: birth dates as text only (`csrq`, `1979年4月18日`), the 12 walk-ins\' typed in full-width digits (`１９５２年２月３日`) that the witness cannot read: their rows lack a witness, the key is keyless, the subtraction is withheld and fails the export', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS payers, count(DISTINCT csrq) AS dates, bool_and(NOT regexp_matches(csrq, '[0-9]')) AS unreadable FROM (${PAY3_SQL}) WHERE mobile = '${CLERK_FORMS}'`);
    expect([Number(truth!.payers), Number(truth!.dates), truth!.unreadable]).toEqual([12, 12, true]);
    expect(await piiOf('rt31a_pay3', 'csrq')).toBe('birth_date');
    const { seen, safe } = await subtract('rt31a_pay3', 'ref_no', 'F000000', '二区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. One key, two datasets: shared in one, "one person" in the other.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a key shown shared in any dataset is keyless in every dataset of the domain): a clerk\'s mobile that the domain knows is shared (in rt31a_reg its 12 walk-ins have 12 birth dates: keyless there) is one person in rt31a_card, where the birth date was filled from the mobile\'s account (all 12 the clerk\'s): the subtraction on rt31a_card gives a walk-in\'s payment', async () => {
    const [truth] = await real(`SELECT (SELECT count(DISTINCT birth_date) FROM (${REG_SQL}) WHERE mobile = '${CLERK_SHARED}') AS reg_dates,
        (SELECT count(DISTINCT birth_date) FROM (${CARD_SQL}) WHERE mobile = '${CLERK_SHARED}') AS card_dates,
        (SELECT max(amount) FROM (${CARD_SQL}) WHERE ref_no = 'K000000') AS t_amount`);
    // Truth: 12 different people in B under the mobile; A has one date for the same walk-ins; the victim paid 781.
    expect([Number(truth!.reg_dates), Number(truth!.card_dates), Number(truth!.t_amount)]).toEqual([12, 1, 781]);
    expect([(await domain.profileOf('rt31a_card')).entity, (await domain.profileOf('rt31a_reg')).entity]).toEqual(['mobile', 'mobile']);
    // The control: in B the key is keyless (a count of walk-ins under that mobile is withheld: 0 people).
    expect(firstCell(await prod(`SELECT district, count(*) AS n FROM rt31a_reg WHERE mobile = '${CLERK_SHARED}' GROUP BY district`))).toBeNull();
    const { seen, safe } = await subtract('rt31a_card', 'ref_no', 'K000000', '一区');
    // Seen (when written): shown, learned = 781, the export passes its cell threshold. Why: the key
    // is judged per table: splitEntityKeys (sandbox/engine/publish.ts:215-232) reads only the
    // witnesses of the table it builds (refinery.ts:97, `columns` of one dataset), though entity
    // keys are one domain-wide key ("the same person counts once across datasets",
    // docs/sandbox.md): the domain has proof, in rt31a_reg, that this key is 12 people, and
    // rt31a_card counts it as one. Birth dates filled from an account (or a dataset without birth
    // dates, docs/catalog.md's known limit) agree for every walk-in. SAFE: a key doubtful in any
    // dataset of the domain is keyless in every table built on it; the cell is withheld, the
    // export fails. Fix: record each dataset version's doubtful keys at ingest (the same GROUP BY
    // HAVING as publish.ts:228, under the domain's entity key) and have the refinery pass the union
    // over the domain (or at least the tenant's granted datasets) to splitEntityKeys, which
    // NULLs those keys too.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Enterprise keys: a USCC placeholder.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a credit code needs its check character and three different characters to be a key): 12 unregistered sole traders (个体工商户, natural persons) written with the USCC placeholder 111111111111111111 are one enterprise: the 二区 total minus a total leaving out one of them gives that trader\'s amount', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS traders, max(amount) FILTER (WHERE ref_no = 'G000000') AS t_amount, count(DISTINCT uscc) AS codes FROM (${TAX_SQL}) WHERE district = '二区'`);
    // Truth: 50 registered enterprises and 12 traders under one placeholder in 二区; the victim's amount is 782.
    expect([Number(truth!.codes), Number(truth!.t_amount)]).toEqual([51, 782]);
    const profile = await domain.profileOf('rt31a_tax');
    expect([profile.entity, profile.columns.find((c) => c.name === 'uscc')?.pii?.kind]).toEqual(['uscc', 'uscc']);
    const { seen, safe } = await subtract('rt31a_tax', 'ref_no', 'G000000', '二区');
    // Seen (when written): shown, learned = 782, the export passes. Why: entityNormalization
    // (desensitize/tokens.ts:34-39) gives USCCs the `compact` normalization, whose entity-key shape
    // is any value with a digit other than 0 (tokens.ts:63, ENTITY_KEY_SHAPE.compact) and which has
    // no placeholder check (isPlaceholderSql, tokens.ts:125: `false`): 18 ones, 18 nines,
    // `123456789012345678`, `1`, a code with a wrong MOD-31 check character are all keys. The
    // resident-ID and mobile placeholders were closed in passes 27a/28a; the USCC's were not, and
    // no birth date witnesses an enterprise key. SAFE: a USCC key must be a USCC (isValidUscc:
    // USCC_PATTERN and its GB 32100 check character, desensitize/identifiers.ts:327-339) with at least three
    // different characters among its 8 registration-and-region characters and 9 organization
    // characters, else keyless; withheld, the export fails. Fix: an `uscc` TokenNormalization (or
    // kind-aware isEntityKey/isEntityKeySql) that checks pattern, check character and few
    // characters, as resident_id does; the same for bank cards (Luhn) and passports.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 4. Workspace tables and prod answers over a keyless walk-in.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: a prod workspace table copied from rt31a_pay2 (keyless walk-ins, the mobile kept as a column to rebuild a key from): its total minus the victim, and a join of the granted table back onto it by ref_no, are refused in prod; its export is not passed', async () => {
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/tables', { name: 'walkins', sql: `SELECT mobile, ref_no, district, amount FROM rt31a_pay2 WHERE district = '三区'`, env: 'prod' }), 201);
    const answers = {
      whole: await prod(districtTotal('walkins', '三区')),
      leavingOut: await prod(districtTotalWithout('walkins', 'ref_no', 'T000000', '三区')),
      joinedBack: await prod(`SELECT p.district, sum(p.amount) FILTER (WHERE w.ref_no <> 'T000000') AS total FROM rt31a_pay2 p JOIN walkins w ON w.ref_no = p.ref_no GROUP BY p.district`),
      rekeyed: await prod(`SELECT w.mobile, sum(w.amount) AS total FROM walkins w GROUP BY w.mobile HAVING count(*) > 1`),
    };
    const created = await exports.create(districtTotalWithout('walkins', 'ref_no', 'T000000', '三区'));
    const uncheckable = '422 DSC_ERR_UNCHECKABLE';
    expect({ ...answers, exported: created.outcome === 'pass' }, JSON.stringify(created.checks)).toEqual({
      whole: uncheckable, leavingOut: uncheckable, joinedBack: uncheckable, rekeyed: uncheckable, exported: false,
    });
  }, 600_000);

  it('STOPPED: the keyless walk-ins of rt31a_pay2 singled out in prod: a group of one (each walk-in\'s ref_no), the walk-ins\' mobile as a group, a maximum per district (778 is 三区\'s largest payment): every such cell is withheld', async () => {
    const [truth] = await real(`SELECT max(amount) FILTER (WHERE district = '三区') AS top FROM (${PAY2_SQL})`);
    expect(Number(truth!.top)).toBe(778);
    const groupOfOne = await prod(`SELECT ref_no, sum(amount) AS total FROM rt31a_pay2 WHERE mobile = '${CLERK_TWO}' GROUP BY ref_no`);
    const theMobile = await prod(`SELECT mobile, count(*) AS n, sum(amount) AS total FROM rt31a_pay2 WHERE district = '三区' GROUP BY mobile HAVING count(*) > 1`);
    const maxima = await prod(`SELECT district, max(amount) AS top, count(*) AS n FROM rt31a_pay2 GROUP BY district ORDER BY district`);
    const top = (JSON.parse(maxima) as unknown[][]).find((row) => row[0] === '三区')?.[1] ?? null;
    // The control: the query answered (三区 is shown) and its count is there.
    expect((JSON.parse(maxima) as unknown[][]).some((row) => row[0] === '三区' && row[2] !== null), maxima).toBe(true);
    expect({ groupOfOne: groupOfOne.includes('778'), theMobile: theMobile.includes('778') || theMobile.includes(CLERK_TWO), top }, JSON.stringify({ groupOfOne, theMobile, maxima })).toEqual({ groupOfOne: false, theMobile: false, top: null });
  }, 600_000);
});
