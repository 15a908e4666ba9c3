/**
 * Red-team attacks, pass 30a: the newest defences, attacked from outside (HTTP only, as an operator
 * of org `rt30a-org`, supervisors, and the application entities `rt30a-lab` and `rt30a-lab2`):
 * - shared keys: a key whose rows disagree on a birth date is made keyless (`splitEntityKeys`,
 *   sandbox/engine/publish.ts; the witnesses chosen in tenants/refinery.ts; docs/sandbox.md "Rows
 *   without a key"); attacked with birth dates that cannot disagree (not recorded: NULL; the
 *   form's default 1900-01-01 for everyone), a birth-date column recognition does not name, and a
 *   clerk who reuses one real resident ID;
 * - e-mail keys as the mailbox (`emailAddress`/`emailAddressSql`, desensitize/identifiers.ts):
 *   two different people's addresses made one key;
 * - `trace` (tenants/exports/trace-leak.ts, `shownNumber` in desensitize/fingerprint.ts): a
 *   recipient's own copy rewritten in every form now read as numbers, turned round, and padded,
 *   to frame another recipient.
 * `was a hole` tests failed when written (they assert the SAFE outcome; the comment says what was seen, which
 * file:line lets it through, and what SAFE means); `STOPPED:` tests held.
 *
 * Setup (test/helpers/crafted-domain.ts: datasets ingested through the trusted pipeline, personal
 * columns set plain with a reason as the supervisor's choice, granted to rt30a-org):
 * - `rt30a_pay`: 150 payers keyed by their own mobile (one online payment each, birth date
 *   recorded) in 一区/二区/三区; in 一区 a clerk's own real mobile written for 12 walk-in payers
 *   whose birth dates were not recorded (NULL) and for the clerk's own payment (birth date
 *   recorded); in 二区 another clerk's mobile for 12 walk-ins written with the form's default
 *   birth date 1900-01-01. The first walk-in of each (T1 777, T2 778) is the victim.
 * - `rt30a_pay2`: the same 150 payers, the birth date in a column named `chusheng_riqi` (出生日期
 *   in pinyin), and in 三区 a clerk's mobile for 12 walk-ins with 12 different birth dates (T3 779).
 * - `rt30a_visit`: 150 patients keyed by resident ID with a birth date; in 三区 a clerk reuses one
 *   real resident ID (a patient's own) for 12 walk-ins with their own birth dates (T4 780).
 * - `rt30a_shop`: 200 customers keyed by e-mail (no birth dates); in 一区 two different customers
 *   `andré.martin@free.fr` (order A000001, 912) and `rené.martin@free.fr` (order B000001, 95).
 * - `rt30a_rain`: no personal data, 400 readings of 40 stations (red-team-29a's table) for trace.
 */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emailSql, mobileSql, residentIdSql } from '../../desensitize/index.js';
import { loadOrCreateTokenMaster } from '../../tenants/token-keys.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { subtractionProbes, SUBTRACTION_SAFE } from '../helpers/subtraction-probes.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { traceProbes } from '../helpers/trace-probes.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt30a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { role: 'applicant', org: 'rt30a-lab', sub: 'rita' } as const;
const LAB2 = { role: 'applicant', org: 'rt30a-lab2', sub: 'lars' } as const;

/** Real-looking mobiles of no placeholder's shape: each clerk's own, written for walk-in payers. */
const CLERK_NULL = '13957318246';
const CLERK_DEFAULT = '15823697410';
const CLERK_PINYIN = '13706548291';

const payers = (birth: string) => `SELECT ${mobileSql('p', 3001)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS ${birth}, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))`;
const PAY_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    ${payers('birth_date')}
    UNION ALL
    SELECT '${CLERK_NULL}', 'N' || lpad(CAST(i AS VARCHAR), 6, '0'), '一区', CASE WHEN i = 12 THEN DATE '1979-04-18' ELSE NULL END,
      CAST(CASE WHEN i = 0 THEN 777 ELSE 80 + i END AS DECIMAL(10,2)) FROM (SELECT range AS i FROM range(13))
    UNION ALL
    SELECT '${CLERK_DEFAULT}', 'D' || lpad(CAST(i AS VARCHAR), 6, '0'), '二区', DATE '1900-01-01',
      CAST(CASE WHEN i = 0 THEN 778 ELSE 80 + i END AS DECIMAL(10,2)) FROM (SELECT range AS i FROM range(12)))`;
const PAY2_SQL = `SELECT mobile, ref_no, district, chusheng_riqi, amount FROM (
    ${payers('chusheng_riqi')}
    UNION ALL
    SELECT '${CLERK_PINYIN}', 'C' || lpad(CAST(i AS VARCHAR), 6, '0'), '三区', DATE '1952-01-01' + CAST(i * 29 AS INTEGER),
      CAST(CASE WHEN i = 0 THEN 779 ELSE 80 + i END AS DECIMAL(10,2)) FROM (SELECT range AS i FROM range(12)))`;
/** Patient 7's own resident ID, reused by a clerk for 12 walk-ins (patient 7 is in 二区: p % 3 = 1). */
const VISIT_SQL = `SELECT resident_id, ref_no, district, birth_date, amount FROM (
    SELECT ${residentIdSql('p', 3002)} AS resident_id, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))
    UNION ALL
    SELECT ${residentIdSql('7', 3002)}, 'W' || lpad(CAST(i AS VARCHAR), 6, '0'), '三区', DATE '1952-01-01' + CAST(i * 29 AS INTEGER),
      CAST(CASE WHEN i = 0 THEN 780 ELSE 80 + i END AS DECIMAL(10,2)) FROM (SELECT range AS i FROM range(12)))`;
const A_MAIL = 'andré.martin@free.fr';
const B_MAIL = 'rené.martin@free.fr';
const SHOP_SQL = `SELECT email, order_no, district, amount FROM (
    SELECT ${emailSql('p', 3003)} AS email, 'O' || lpad(CAST(p AS VARCHAR), 6, '0') AS order_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(200))
    UNION ALL SELECT '${A_MAIL}', 'A000001', '一区', CAST(912 AS DECIMAL(10,2))
    UNION ALL SELECT '${B_MAIL}', 'B000001', '一区', CAST(95 AS DECIMAL(10,2)))`;
const RAIN_SQL = `SELECT ['一区', '二区', '三区', '四区', '五区'][1 + range % 5] || '-' || lpad(CAST(range % 40 AS VARCHAR), 2, '0') AS station, range AS day,
    CAST(((range * 7919) % 100000) / 100.0 + 1000 AS DOUBLE) AS rain FROM range(400)`;
const RAIN_PER_STATION = 'SELECT station, sum(rain) AS rain FROM rt30a_rain GROUP BY station';

describe('red team 30a: shared keys and their witnesses, e-mail mailboxes, trace', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, { id: LAB.org, name: 'RT30a Lab' }, 'red team 30a');
  let t: TestApp;
  let master: Buffer;
  const leaks = makeTempDir('rt30a-leaks-');

  beforeAll(async () => {
    t = await domain.start();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: LAB2.org, name: 'RT30a Lab Two' }), 201);
    for (const [id, sql] of [['rt30a_pay', PAY_SQL], ['rt30a_pay2', PAY2_SQL], ['rt30a_visit', VISIT_SQL], ['rt30a_shop', SHOP_SQL], ['rt30a_rain', RAIN_SQL]] as const) await domain.ingest(id, sql);
    await domain.refresh();
    master = loadOrCreateTokenMaster(path.join(t.dataDir, 'secrets'));
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
    leaks.remove();
  });

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const exports = exportProbes(() => t, OPERATOR, LAB.org, 'red team 30a');
  const subtract = subtractionProbes(prod, exports);

  // ---------------------------------------------------------------------------------------------
  // 1. Shared keys whose witnesses cannot disagree, or are not read.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a key of several rows that lack a birth date is no key): a clerk\'s own mobile written for 12 walk-in payers whose birth dates were not recorded (NULL; the clerk\'s own payment dated) stays one person: the district total minus a total leaving out one walk-in gives that payer\'s amount, in prod and as an export', async () => {
    const [truth] = await real(`SELECT count(*) FILTER (WHERE ref_no LIKE 'N%' AND birth_date IS NULL) AS undated, count(DISTINCT ref_no) FILTER (WHERE mobile = '${CLERK_NULL}') AS payments,
        max(amount) FILTER (WHERE ref_no = 'N000000') AS t_amount FROM (${PAY_SQL})`);
    // Truth: 12 walk-ins (13 payments, 12 undated) under one mobile; T1's payment is 777.
    expect([Number(truth!.undated), Number(truth!.payments), Number(truth!.t_amount)]).toEqual([12, 13, 777]);
    expect((await domain.profileOf('rt30a_pay')).columns.find((c) => c.name === 'birth_date')?.pii?.kind).toBe('birth_date');
    const { seen, safe } = await subtract('rt30a_pay', 'ref_no', 'N000000', '一区');
    // Seen (when written): the cell leaving out N000000 is shown, learned = 777 (T1's payment), and
    // the export passes its cell threshold. Why: splitEntityKeys (sandbox/engine/publish.ts:226)
    // makes a key keyless when `min(w) <> max(w)`: min and max skip NULLs, so a key whose rows have
    // one recorded birth date and 12 NULLs "agrees" (and so would 13 NULLs: min = max = NULL, the
    // comparison NULL, the key kept). Walk-ins are exactly the rows whose birth date nobody
    // recorded. The key stays one person, present on both sides, so check-answer.ts:667-670
    // counts nobody left out. SAFE: a missing witness proves nothing: a key with more than one row
    // whose witness is NULL on some of them (count(w) < count(*), or more than one NULL) is keyless,
    // as are disagreeing ones; the cell is withheld and the export fails its cell threshold.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: a form\'s default birth date (any 1 January, 1970-01-01, before 1900) is no birth date): a clerk\'s own mobile written for 12 walk-in payers with the form\'s default birth date 1900-01-01 stays one person: the subtraction gives that payer\'s amount', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS payers, count(DISTINCT birth_date) AS dates, max(amount) FILTER (WHERE ref_no = 'D000000') AS t_amount FROM (${PAY_SQL}) WHERE mobile = '${CLERK_DEFAULT}'`);
    expect([Number(truth!.payers), Number(truth!.dates), Number(truth!.t_amount)]).toEqual([12, 1, 778]);
    const { seen, safe } = await subtract('rt30a_pay', 'ref_no', 'D000000', '二区');
    // Seen (when written): shown, learned = 778. Why: publish.ts:226 compares the witnesses as
    // written; a placeholder birth date (1900-01-01, the default of many forms, like 13800138000
    // for mobiles, which isEntityKey in desensitize/tokens.ts rejects by shape) is the same for
    // every walk-in, so 12 people agree. SAFE: placeholder birth dates (1900-01-01, 1900-01-00,
    // 1970-01-01, the first of a year repeated across a key's rows…) are no witness, read as NULL
    // and so (see the test above) the key is keyless; withheld, the export fails.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  it('was a hole (fix: pinyin and short headers name a birth-date column): the birth-date column named in pinyin (`chusheng_riqi`, 出生日期) is not recognized, so there is no witness: a clerk\'s mobile for 12 walk-ins with 12 different birth dates stays one person and the subtraction gives a payer\'s amount', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS payers, count(DISTINCT chusheng_riqi) AS dates, max(amount) FILTER (WHERE ref_no = 'C000000') AS t_amount FROM (${PAY2_SQL}) WHERE mobile = '${CLERK_PINYIN}'`);
    // Truth: 12 walk-ins, 12 birth dates (as rt30a_pay and shared-keys.test.ts, where the fix holds).
    expect([Number(truth!.payers), Number(truth!.dates), Number(truth!.t_amount)]).toEqual([12, 12, 779]);
    const profile = await domain.profileOf('rt30a_pay2');
    expect(profile.entity).toBe('mobile');
    const { seen, safe } = await subtract('rt30a_pay2', 'ref_no', 'C000000', '三区');
    // Seen (when written): the column's pii is null; the cell shown, learned = 779. Why: the
    // witnesses are the columns recognition named birth_date (tenants/refinery.ts:97), and a date
    // column is a birth date only with a header hint (desensitize/recognize.ts:41, 91:
    // 出生|生日|birth|dob|csrq|born): `chusheng_riqi`, `shengri`, `csny` (出生年月), `bday`,
    // `brthdt` have none, and the provider's column of exact birth dates is no witness (and is
    // shown plain as an ordinary date). docs/catalog.md's limit speaks of "a dataset without birth
    // dates"; this one has them. SAFE: pinyin and abbreviated headers are hints too (chusheng,
    // shengri, csny, bday, brth), or every DATE column whose values look like birth dates and are
    // constant per key in almost all keys serves as a witness; withheld, the export fails.
    expect({ pii: profile.columns.find((c) => c.name === 'chusheng_riqi')?.pii?.kind ?? null, ...safe }, JSON.stringify(seen)).toEqual({ pii: 'birth_date', ...SUBTRACTION_SAFE });
  }, 600_000);

  it('STOPPED: a clerk reusing one patient\'s real resident ID for 12 walk-ins with their own birth dates: the key is keyless, the cell leaving out one walk-in is withheld in prod and fails the export\'s cell threshold', async () => {
    const [truth] = await real(`SELECT count(DISTINCT ref_no) AS visits, count(DISTINCT birth_date) AS dates FROM (${VISIT_SQL}) WHERE resident_id = ${residentIdSql('7', 3002)}`);
    expect([Number(truth!.visits), Number(truth!.dates)]).toEqual([13, 13]);
    expect((await domain.profileOf('rt30a_visit')).entity).toBe('resident_id');
    const { seen, safe } = await subtract('rt30a_visit', 'ref_no', 'W000000', '三区');
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 2. E-mail mailboxes: two people made one.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: an address stands whole: never the ASCII tail of a word in another script): two different customers `andré.martin@free.fr` and `rené.martin@free.fr` are one key (`.MARTIN@FREE.FR`): the 一区 total minus a total leaving out André\'s order gives his amount', async () => {
    const [truth] = await real(`SELECT count(DISTINCT email) FILTER (WHERE order_no IN ('A000001', 'B000001')) AS addresses, max(amount) FILTER (WHERE order_no = 'A000001') AS a_amount,
        count(*) FILTER (WHERE email ILIKE '%martin@free.fr') AS rows FROM (${SHOP_SQL})`);
    // Truth: two addresses (two mailboxes, two people), two rows; André's order is 912.
    expect([Number(truth!.addresses), Number(truth!.a_amount), Number(truth!.rows)]).toEqual([2, 912, 2]);
    expect((await domain.profileOf('rt30a_shop')).entity).toBe('email');
    const { seen, safe } = await subtract('rt30a_shop', 'order_no', 'A000001', '一区');
    // Seen (when written): shown, learned = 912. Why: emailAddressSql (desensitize/identifiers.ts:
    // 186-191) takes the first match of ADDRESS_PATTERN (:163, `[0-9A-Za-z._%+-]+@…`), unanchored:
    // é is not folded to ASCII (compactFold, :48-66, folds compatibility forms only), so the match
    // starts after it: both addresses become `.MARTIN@FREE.FR` (also `müller.hans@` and
    // `möller.hans@` → `LLER.HANS@`, `josé.li@` → `.LI@`), a key of e-mail shape. The doc
    // (identifiers.ts:161, docs/catalog.md) says addresses in other scripts are no keys; cut, they
    // are someone else's. Two people as one key: leaving out one of them leaves out "no one". SAFE:
    // the address must stand whole (a letter, digit or any non-separator character right before the
    // match makes the value no key: keyless), or non-ASCII local parts are kept whole and compared as
    // written; withheld, the export fails.
    expect(safe, JSON.stringify(seen)).toEqual(SUBTRACTION_SAFE);
  }, 600_000);

  // ---------------------------------------------------------------------------------------------
  // 3. Trace: a recipient's own copy made to name another.
  // ---------------------------------------------------------------------------------------------

  const create = async (sql: string, recipient: string) =>
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'red team 30a', format: 'csv' }), 201).json() as { id: string; outcome: string; checks: { name: string; status: string }[] };
  async function approved(sql: string, recipient: string): Promise<string> {
    const created = await create(sql, recipient);
    expect(created.outcome, JSON.stringify(created.checks)).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
    return created.id;
  }
  const download = async (id: string, who: typeof LAB | typeof LAB2) => expectStatus(await t.call(who, 'GET', `/v1/exports/${id}/download`), 200).rawPayload;
  const { trace, named, leak, csvText, csvRows } = traceProbes(() => t, () => master, () => leaks.dir);

  it('STOPPED: rt30a-lab2\'s own copy of an output both labs received, every value written in each form trace now reads (German, French, 毫米, %, ¥) in a transposed file, names rt30a-lab2 only; padded with 400 ambiguous number texts ("1.234", "12,5", "3 456") it names nobody, never rt30a-lab', async () => {
    const mine = await approved(RAIN_PER_STATION, LAB.org);
    const theirs = await approved(RAIN_PER_STATION, LAB2.org);
    await download(mine, LAB);
    const rows = csvRows(csvText(await download(theirs, LAB2)));
    expect(rows).toHaveLength(40);
    const forms = (rain: string) => {
      const [whole, fraction = ''] = rain.split('.');
      const de = `${whole!.replace(/\B(?=(\d{3})+$)/g, '.')}${fraction ? `,${fraction}` : ''}`;
      const fr = `${whole!.replace(/\B(?=(\d{3})+$)/g, '\u202f')}${fraction ? `,${fraction}` : ''}`;
      return [de, fr, `${rain}毫米`, `${rain}%`, `¥${rain}`];
    };
    const lines = [['station', ...rows.map(([s]) => s!)], ...[0, 1, 2, 3, 4].map((k) => [`rain${k}`, ...rows.map(([, r]) => forms(r!)[k]!)])];
    const asFile = (all: string[][]) => all.map((line) => line.join(';')).join('\r\n');
    // Padding: numbers that read both ways or with a decimal comma, unrelated to any package.
    const padding = Array.from({ length: 10 }, (_, k) => [`pad${k}`, ...Array.from({ length: 40 }, (_, j) => [`${1 + ((j * 7 + k) % 9)}.${String(100 + j * 13 + k).slice(-3)}`, `${j + k},${(j * k) % 10}`, `${j + 1} ${String(456 + k).padStart(3, '0')}`][j % 3]!)]);
    // Truth: each of rt30a-lab2's values is in both files, digit for digit, in every form.
    for (const [, r] of rows) expect(asFile(lines).includes(`${r}毫米`) && asFile([...lines, ...padding]).includes(`${r}%`)).toBe(true);
    const reports = { forms: await trace(leak('lab2-forms.csv', asFile(lines))), padded: await trace(leak('lab2-padded.csv', asFile([...lines, ...padding]))) };
    // The padded file names nobody (seen when written: found false; 40 marked trials among some 440
    // of chance 1/2 in the whole file's series, and 15 values per column): hiding one's own marks in
    // noise is evasion, not framing; what matters here is that rt30a-lab is never named.
    const framed = Object.values(reports).some((r) => named(r).some((m) => m.startsWith(`${LAB.org}:`)));
    expect({ forms: named(reports.forms), framed }, JSON.stringify(reports)).toEqual({ forms: [`${LAB2.org}:${theirs}:marks`], framed: false });
  }, 600_000);
});
