/**
 * What witnesses a shared entity key (red-team pass 33a; desensitize/doubtful-keys.ts, `doubtSource`
 * in tenants/refinery.ts; docs/sandbox.md, "Rows without a key"). A clerk's own identifier written for
 * 12 walk-in payers counts as one person unless some dataset of the domain shows that its rows are
 * several people's; then the total of a district minus a total leaving out one walk-in gives that
 * payer's amount (the subtraction of red-team pass 28a). Each test puts the proof where pass 33a
 * found it unread, and asserts the subtraction is withheld in prod and fails the export's threshold.
 *
 * Setup (test/helpers/crafted-domain.ts; personal columns plain, all granted to `sk-org`):
 * - `sk_card`: payments keyed by mobile with birth dates: 150 payers in 东区/西区/南区/北区/中区, and in
 *   each of the first four districts a clerk's mobile written for 12 walk-ins, dated from the
 *   mobile's account (the same date for all 12: they agree here). The first walk-in of each paid
 *   781–784, the others 81–91.
 * - one dataset per test that shows the clerk's mobile beside the walk-ins' own passports, their own
 *   birth dates in a column of landlines, as year and month (`csny`), or as Oracle writes dates; the
 *   payers beside their own, agreeing with `sk_card`.
 * - `sk_fees`: fees keyed by resident ID with names and genders: the payers, and a clerk's own
 *   resident ID written for 12 walk-ins of other names (the first paid 785).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, nameSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { districtTotal, subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { twinProbes } from '../helpers/twin-probes.js';
import type { TestApp } from '../helpers/test-app.js';
import { AMOUNT, BORN, clerkWalkIns, OWN, passportOf, PEOPLE, ref, victimAmount, WALK_INS, beside as besideOf, distinctUnder as distinctUnderOf } from '../helpers/walk-in-sql.js';

const ORG = 'sk-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'sk-lab', name: 'Shared keys lab' };

/** Each clerk's own mobile, written for walk-ins: real-looking, of no placeholder's shape. */
const CLERK = { passport: '13864207519', tel: '15937042816', month: '18726053194', oracle: '13571948260' } as const;
const DISTRICT = `['东区', '西区', '南区', '北区', '中区'][1 + p % 5]`;
const PAYER_MOBILE = mobileSql('p', 3301);

const CARD_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${PAYER_MOBILE} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${BORN} AS birth_date, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${clerkWalkIns(CLERK.passport, 'C', '东区', '1985-06-23', 781)}
    UNION ALL ${clerkWalkIns(CLERK.tel, 'D', '西区', '1983-09-17', 782)}
    UNION ALL ${clerkWalkIns(CLERK.month, 'E', '南区', '1979-04-18', 783)}
    UNION ALL ${clerkWalkIns(CLERK.oracle, 'F', '北区', '1988-11-05', 784)})`;

/** A dataset beside `sk_card`: the payers' mobiles with `payers`, the clerk's mobile 12 times with `walkIns` (SQL over `p` and `i`). */
const beside = (columns: string, payers: string, clerk: string, walkInValues: string, payerMobile = PAYER_MOBILE): string => besideOf(columns, payers, clerk, walkInValues, payerMobile);
const TRAVEL_SQL = beside('mobile, passport_no', passportOf('E', 'p'), CLERK.passport, passportOf('G', 'i'));
/** A contact-number column of landlines (recognized as fixed lines: no entity), where the clerk wrote its own mobile for 12 walk-ins. */
const HOTLINE_SQL = `SELECT tel, birth_date FROM (
    SELECT '0571-8' || lpad(CAST((p * 7919) % 9999999 AS VARCHAR), 7, '0') AS tel, ${BORN} AS birth_date FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.tel}', ${OWN} FROM ${WALK_INS})`;
const CENSUS_SQL = beside('mobile, csny', `strftime(${BORN}, '%Y-%m')`, CLERK.month, `strftime(${OWN}, '%Y-%m')`);
const LEGACY_SQL = beside('mobile, birth', `upper(strftime(${BORN}, '%d-%b-%y'))`, CLERK.oracle, `upper(strftime(${OWN}, '%d-%b-%y'))`);

const CLERK_ID = residentIdSql('0', 3309);
const FEES_SQL = `SELECT resident_id, name, gender, ref_no, district, amount FROM (
    SELECT ${residentIdSql('p', 3302)} AS resident_id, ${nameSql('p', 3302)} AS name, ['男', '女'][1 + p % 2] AS gender, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL SELECT ${CLERK_ID}, ${nameSql('i', 3303)}, ['男', '女'][1 + i % 2], ${ref('H', 'i')}, '西区', ${victimAmount(785)} FROM ${WALK_INS})`;

describe('shared keys: what witnesses several people behind one identifier (red-team pass 33a)', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'shared keys');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('sk_card', CARD_SQL);
    await domain.ingest('sk_travel', TRAVEL_SQL, { entity: 'mobile' });
    for (const [id, sql] of [['sk_hotline', HOTLINE_SQL], ['sk_census', CENSUS_SQL], ['sk_legacy', LEGACY_SQL], ['sk_fees', FEES_SQL]] as const) await domain.ingest(id, sql);
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const subtract = subtractionProbes(prod, exportProbes(() => t, OPERATOR, LAB.id, 'shared keys'));
  /** The distinct values of `column` under the clerk's identifier in `sql` (the truth the domain holds). */
  const distinctUnder = (sql: string, key: string, value: string, column: string) => distinctUnderOf(real, sql, key, value, column);
  const { kindsOf } = domain;

  it('control: payers whose own witnesses agree across the datasets stay people (the 中区 total of 30 payers answers), and a walk-in\'s payment is what the subtraction would give', async () => {
    const body = await prod(districtTotal('sk_card', '中区'));
    expect(JSON.parse(body)[0]?.[1], body).not.toBeNull();
    expect(Number((await real(`SELECT amount FROM (${CARD_SQL}) WHERE ref_no = 'C000000'`))[0]!.amount)).toBe(781);
  }, 600_000);

  it('passports beside the clerk\'s mobile (no birth date in that dataset) make it several people\'s', async () => {
    expect(await distinctUnder(TRAVEL_SQL, 'mobile', `'${CLERK.passport}'`, 'passport_no')).toBe(12);
    expect((await kindsOf('sk_travel')).passport_no).toBe('passport');
    const { seen, safe } = await subtract('sk_card', 'ref_no', 'C000000', '东区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('the clerk\'s mobile in a column of landlines (a fixed line to recognition) beside 12 birth dates, in a dataset with no entity column, makes it several people\'s', async () => {
    expect(await distinctUnder(HOTLINE_SQL, 'tel', `'${CLERK.tel}'`, 'birth_date')).toBe(12);
    expect([(await kindsOf('sk_hotline')).tel, (await domain.profileOf('sk_hotline')).entity]).toEqual(['fixed_line', null]);
    const { seen, safe } = await subtract('sk_card', 'ref_no', 'D000000', '西区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('birth dates written as year and month (`csny` 1985-06), which recognition does not take for dates, make the clerk\'s mobile several people\'s', async () => {
    expect(await distinctUnder(CENSUS_SQL, 'mobile', `'${CLERK.month}'`, 'csny')).toBeGreaterThan(1);
    const { seen, safe } = await subtract('sk_card', 'ref_no', 'E000000', '南区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('birth dates as Oracle writes them (23-JUN-85) make the clerk\'s mobile several people\'s', async () => {
    expect(await distinctUnder(LEGACY_SQL, 'mobile', `'${CLERK.oracle}'`, 'birth')).toBe(12);
    const { seen, safe } = await subtract('sk_card', 'ref_no', 'F000000', '北区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('a resident ID written for 12 walk-ins of other names and genders is several people\'s (the ID\'s own birth date agrees with itself)', async () => {
    expect(await distinctUnder(FEES_SQL, 'resident_id', CLERK_ID, 'name')).toBeGreaterThan(1);
    expect((await kindsOf('sk_fees')).name).toBe('name');
    const { seen, safe } = await subtract('sk_fees', 'ref_no', 'H000000', '西区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
    // The payers keyed by their own IDs still answer.
    const body = await prod(districtTotal('sk_fees', '中区'));
    expect(JSON.parse(body)[0]?.[1], body).not.toBeNull();
  }, 600_000);
});
