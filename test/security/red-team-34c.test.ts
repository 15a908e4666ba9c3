/**
 * Red-team pass 34c: the doubt rewritten for speed (desensitize/doubtful-keys.ts,
 * compileDoubtfulKeys: (1) the identifiers on two rows or more across the judged sources,
 * `repeated`; (2) witnesses read on those rows only; (3) one struct per identifier per row, grouped
 * by identifier with a HAVING per kind) against the plain rule (docs/sandbox.md, "Rows without a
 * key": an identifier beside witnesses of one kind that disagree or lack one, "whose rows carry two
 * birth-date columns that differ (a mother's and her child's) ... is keyless"). The attack is pass
 * 28a's subtraction: a district's total minus the same total leaving out one walk-in's row gives that
 * walk-in's payment when the walk-ins' shared key is one person.
 *
 * Setup (test/helpers/crafted-domain.ts; personal columns plain, all granted to `rt34c-org`):
 * - `rt34c_pay`: counter payments keyed by mobile, no witness at all (mobile, reference, district,
 *   amount): 150 payers in six districts (25 each), and in 东区, 西区, 南区 a clerk's own mobile written
 *   for 12 walk-ins (nothing here can show it is shared: the proof is elsewhere in the domain). The
 *   first walk-in of each paid 781–783. 中区 is the control.
 * - `rt34c_family`: a family register (another population: parent's mobile, `出生日期` the parent's,
 *   `子女出生日期` the child's), with clerk A's mobile on ONE row: her own and her child's dates.
 * - `rt34c_bigint` (mobile as BIGINT) and `rt34c_plus` (mobile as `+86 158-2743-9061`): clerk B's
 *   mobile on one row of each, with different birth dates (two datasets, two column types, two
 *   writings of one key, each dataset a single row of the clerk).
 * - `rt34c_contact`: clerk C's mobile on one row in two identifier columns (`mobile` and
 *   `contact_mobile`), beside a parent's and a child's birth dates.
 * `was a hole` tests failed when written (they assert the SAFE outcome; the comment says what was seen, which
 * file:line lets it through and a fix); `STOPPED:` tests held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { districtTotal, firstCell, subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { type TestApp } from '../helpers/test-app.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { AMOUNT, BORN, PEOPLE, ref, victimAmount, WALK_INS } from '../helpers/walk-in-sql.js';

const ORG = 'rt34c-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'otto' } as const;
const LAB = { id: 'rt34c-lab', name: 'Red team 34c lab' };

/** Each clerk's own mobile, written for walk-ins: real-looking, of no placeholder's shape. */
const CLERK = { family: '13958207146', typed: '15827439061', twice: '18629347015' } as const;
const DISTRICT = `['东区', '西区', '南区', '北区', '中区', '新区'][1 + p % 6]`;

/** Walk-ins under a clerk's mobile, without any witness: (mobile, reference, district, amount). */
const walkIns = (clerk: string, letter: string, district: string, amount: number) =>
  `SELECT '${clerk}', ${ref(letter, 'i')}, '${district}', ${victimAmount(amount)} FROM ${WALK_INS}`;
const PAY_SQL = `SELECT mobile, ref_no, district, amount FROM (
    SELECT ${mobileSql('p', 3471)} AS mobile, ${ref('R', 'p')} AS ref_no, ${DISTRICT} AS district, ${AMOUNT} AS amount FROM ${PEOPLE}
    UNION ALL ${walkIns(CLERK.family, 'C', '东区', 781)}
    UNION ALL ${walkIns(CLERK.typed, 'D', '西区', 782)}
    UNION ALL ${walkIns(CLERK.twice, 'E', '南区', 783)})`;

/** A child's birth date, some years after the parent's. */
const CHILD = `DATE '2008-03-05' + CAST((p * 53) % 3000 AS INTEGER)`;
/** A family register (another population): the parent's mobile, the parent's and the child's birth dates; clerk A once. */
const FAMILY_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3472)}, strftime(${BORN}, '%Y-%m-%d'), strftime(${CHILD}, '%Y-%m-%d') FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.family}', '1985-06-23', '2012-04-05') t(mobile, 出生日期, 子女出生日期)`;
/** Clerk B once in a dataset of BIGINT mobiles, once in one of `+86 ` mobiles, with different birth dates. */
const BIGINT_SQL = `SELECT * FROM (
    SELECT CAST(${mobileSql('p', 3473)} AS BIGINT), ${BORN} FROM ${PEOPLE}
    UNION ALL SELECT ${CLERK.typed}::BIGINT, DATE '1983-09-17') t(mobile, birth_date)`;
const plus86 = (m: string) => `'+86 ' || substr(${m}, 1, 3) || '-' || substr(${m}, 4, 4) || '-' || substr(${m}, 8)`;
const PLUS_SQL = `SELECT * FROM (
    SELECT ${plus86(mobileSql('p', 3474))}, ${BORN} FROM ${PEOPLE}
    UNION ALL SELECT ${plus86(`'${CLERK.typed}'`)}, DATE '1991-12-08') t(mobile, birth_date)`;
/** Clerk C once, in two identifier columns of one row, beside a parent's and a child's birth dates. */
const CONTACT_SQL = `SELECT * FROM (
    SELECT ${mobileSql('p', 3475)}, ${mobileSql('p', 3476)}, strftime(${BORN}, '%Y-%m-%d'), strftime(${CHILD}, '%Y-%m-%d') FROM ${PEOPLE}
    UNION ALL SELECT '${CLERK.twice}', '${CLERK.twice}', '1979-04-18', '2010-07-21') t(mobile, contact_mobile, 出生日期, 子女出生日期)`;

describe('red team 34c: the rewritten doubt against the plain rule', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 34c');
  let t: TestApp;

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('rt34c_pay', PAY_SQL, { entity: 'mobile' });
    for (const [id, sql] of [['rt34c_family', FAMILY_SQL], ['rt34c_bigint', BIGINT_SQL], ['rt34c_plus', PLUS_SQL], ['rt34c_contact', CONTACT_SQL]] as const) await domain.ingest(id, sql);
    await domain.refresh();
  }, 900_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const subtract = subtractionProbes(prod, exportProbes(() => t, OPERATOR, LAB.id, 'red team 34c'));
  const { kindsOf } = domain;

  it('control: the 中区 total of 25 honest payers answers, and a walk-in\'s payment is what the subtraction would give', async () => {
    const body = await prod(districtTotal('rt34c_pay', '中区'));
    expect(firstCell(body), body).not.toBeNull();
    expect(Number((await real(`SELECT amount FROM (${PAY_SQL}) WHERE ref_no = 'C000000'`))[0]!.amount)).toBe(781);
  }, 600_000);

  it('was a hole (fix: the doubt\'s first phase counts a row once per struct it makes): a clerk\'s mobile on ONE row of a family register, beside her own and her child\'s birth dates, is not doubtful: her 12 walk-ins count as one person', async () => {
    // Seen: 东区 total minus the total without C000000 gives 781 in prod, and the export passes its
    // cell threshold. The only judged row of the clerk's mobile carries two birth-date columns that
    // differ (`出生日期` 1985-06-23, `子女出生日期` 2012-04-05), which docs/sandbox.md says makes a key
    // keyless, and which the doubt before the rewrite (HEAD~1: structs grouped by (e, kind), count(*)
    // = 2) made doubtful. The rewrite's first phase keeps only identifiers on two rows or more,
    // counting one per identifier column of a row: `HAVING count(*) > 1` in `repeated`
    // (desensitize/doubtful-keys.ts:149), so the row is never read (:153, :168 filter on `repeated`)
    // and its two structs (:156-167) never meet the per-kind HAVING (:172-176). The walk-ins' rows in
    // `rt34c_pay` have no witness and are judged nowhere.
    // SAFE: the cell leaving out one walk-in is withheld and the export fails. Fix: in `repeated`,
    // count an identifier once per witness column of its most numerous kind in its source
    // (unnest the identifier max(ofKind.length) times), or exempt sources with two witness columns of
    // a kind from the filter.
    expect(await kindsOf('rt34c_family')).toMatchObject({ mobile: 'mobile' });
    const { seen, safe } = await subtract('rt34c_pay', 'ref_no', 'C000000', '东区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: a clerk\'s mobile once in a dataset of BIGINT mobiles and once as `+86 158-2743-9061` in another, with different birth dates', async () => {
    // Phase 1 normalizes both the same way (`CAST(... AS VARCHAR)`, then the mobile rule) as the
    // WHERE filter does: two occurrences, read, and their dates disagree.
    expect(await kindsOf('rt34c_bigint')).toMatchObject({ mobile: 'mobile' });
    const { seen, safe } = await subtract('rt34c_pay', 'ref_no', 'D000000', '西区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('STOPPED: a clerk\'s mobile once, in two identifier columns of one row, beside a parent\'s and a child\'s birth dates', async () => {
    // Two identifier columns of one row count two in `repeated`, so the row is read and its dates disagree.
    expect(await kindsOf('rt34c_contact')).toMatchObject({ mobile: 'mobile', contact_mobile: 'mobile' });
    const { seen, safe } = await subtract('rt34c_pay', 'ref_no', 'E000000', '南区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);
});
