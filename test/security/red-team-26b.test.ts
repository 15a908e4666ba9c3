/**
 * Red-team attacks, pass 26b: rows without an entity key, attacked everywhere (prod answers, the
 * prod-answer history, exports, the dev twin), from outside (HTTP only, as an operator of org
 * `rt26b-org`). The platform's rules: the checks count people by keys only (keyless rows are never
 * counted as people); in differencing and the history a cell's keyless rows are one member with
 * their own contribution. Each test compares what prod, dev and exports show with the real rows
 * (`real()`, the generating SQL). `was a hole` tests failed when written (the comment says what was seen
 * and why; the test name, what fixed it); `STOPPED:` tests held when written.
 *
 * Setup (crafted datasets, ingested through the trusted pipeline, personal columns set plain with a
 * reason as the supervisor's choice, as in red-team-25b):
 * - `rt26b_ph`: 200 patients keyed by mobile, and T (born 1961-07-23, 三区) whose 24 visits carry a
 *   rare diagnosis, an income of 9,999,999 and no mobile: the clerks wrote a placeholder instead,
 *   12 different ones ('未登记', '无', 'NULL', '0', 18 zeros, 'N/A', '不详', ...).
 * - `rt26b_blank`: the same, but T's placeholders are punctuation and blanks only ('-', '—', '/',
 *   '   ', ...): each compacts to the empty string.
 * - `rt26b_pay`: 150 payers keyed by mobile, one online payment each (each payment with a reference
 *   number, `ref_no`: 'R' and the payer online, 'C' at the counter); 12 payers of 三区 also paid at
 *   the counter (no mobile recorded); 孤岛区: 10 payers, and U (born 1958-03-14, no mobile on any
 *   row) with 12 overseas transfers of 99,999. T is payer 2 (三区, keyed), C payer 1 (二区: no
 *   counter payments there).
 * - `rt26b_phpay`: 150 payers keyed by mobile, and T2 (born 1961-07-23, 三区) whose 12 payments of
 *   137 carry the 12 placeholders of `rt26b_ph` instead of a mobile.
 *
 * Two causes, six holes: (1) a placeholder that keeps a letter, digit or Chinese character
 * ('未登记', 'NULL', '0') is a key like any real identifier, so one unrecorded person written 12 ways
 * is 12 people (prod, dev, export differencing); (2) a cell's entities count the keyless member as
 * one while its group's count keys only, so a cell of 9 people plus keyless rows passes the
 * threshold, and a FILTER leaving out one keyed person in a group with keyless rows leaves out "0"
 * (prod and exports).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const ORG = 'rt26b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'rt26b-lab', name: 'RT26b Lab' } as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const DISTRICTS = `['一区', '二区', '三区']`;
const T_BIRTH = '1961-07-23';

// ---------------------------------------------------------------------------------------------
// Identifiers that are placeholders.
// ---------------------------------------------------------------------------------------------

/** What clerks write where a mobile was not recorded: 12 spellings, 12 different normalized keys. */
const PLACEHOLDERS = ['未登记', '无', 'NULL', '0', '000000000000000000', 'N/A', '不详', '未知', '暂无', '空', '待补录', '缺失'];
/** Blanks and punctuation: each compacts to the empty string (one key). */
const BLANKS = ['-', '—', '/', '   ', '.', '--', '*', '()', '_', '?', '#', '、'];
const sqlList = (values: string[]) => `[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}]`;
const RARE_PH = '肺动脉高压';
const RARE_BLANK = '渐冻症';
const T_INCOME = 9_999_999;

/** 200 patients keyed by mobile, and T's 24 visits (rare diagnosis, income 9,999,999) under `spellings` instead of a mobile. */
const placeholderSql = (spellings: string[], rare: string, seed: number) => `SELECT mobile, district, birth_date, diagnosis, income FROM (
    SELECT ${mobileSql('p', seed)} AS mobile, ${DISTRICTS}[1 + p % 3] AS district, DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date,
      ['高血压', '糖尿病', '哮喘'][1 + p % 3] AS diagnosis, CAST(3000 + (p * 37) % 5000 AS INTEGER) AS income
    FROM (SELECT range AS p FROM range(200))
    UNION ALL
    SELECT ${sqlList(spellings)}[1 + i % 12], '三区', DATE '${T_BIRTH}', '${rare}', ${T_INCOME} FROM (SELECT range AS i FROM range(24)))`;

// ---------------------------------------------------------------------------------------------
// Rows without a mobile (NULL).
// ---------------------------------------------------------------------------------------------

const U_BIRTH = '1958-03-14';
const U_AMOUNT = 99_999;
const U_CHANNEL = '海外汇款';
/**
 * 150 payers (district by p % 3; T is payer 2 in 三区, born 1961-07-23; C payer 1 in 二区), one online
 * payment each; payers p % 12 = 8 (all in 三区) also paid at the counter, with no mobile; 孤岛区:
 * payers 150..159 (one payment of 100) and U, 12 overseas transfers of 99,999 and no mobile.
 */
const PAY_SQL = `SELECT mobile, ref_no, district, birth_date, channel, amount FROM (
    SELECT ${mobileSql('p', 403)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, CASE WHEN p >= 150 THEN '孤岛区' ELSE ${DISTRICTS}[1 + p % 3] END AS district,
      CASE WHEN p = 2 THEN DATE '${T_BIRTH}' ELSE DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) END AS birth_date,
      '网上' AS channel, CAST(CASE WHEN p >= 150 THEN 100 ELSE 100 + (p * 37) % 50 END AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(160))
    UNION ALL
    SELECT NULL, 'C' || lpad(CAST(p AS VARCHAR), 6, '0'), '三区', DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER), '柜台', CAST(80 + p % 7 AS DECIMAL(10,2))
    FROM (SELECT range AS p FROM range(150)) WHERE p % 12 = 8
    UNION ALL
    SELECT NULL, 'U' || lpad(CAST(range AS VARCHAR), 6, '0'), '孤岛区', DATE '${U_BIRTH}', '${U_CHANNEL}', CAST(${U_AMOUNT} AS DECIMAL(10,2)) FROM range(12))`;

/** 150 payers keyed by mobile, and T2 (三区, born 1961-07-23) with 12 payments of 137 under the 12 placeholders. */
const T2_AMOUNT = 137;
const PHPAY_SQL = `SELECT mobile, district, birth_date, amount FROM (
    SELECT ${mobileSql('p', 405)} AS mobile, ${DISTRICTS}[1 + p % 3] AS district, DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date,
      CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount FROM (SELECT range AS p FROM range(150))
    UNION ALL
    SELECT ${sqlList(PLACEHOLDERS)}[1 + i], '三区', DATE '${T_BIRTH}', CAST(${T2_AMOUNT} AS DECIMAL(10,2)) FROM (SELECT range AS i FROM range(12)))`;

describe('red team 26b: rows without an entity key', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 26b');
  let t: TestApp;
  beforeAll(async () => {
    t = await domain.start();
    for (const [id, sql] of [['rt26b_ph', placeholderSql(PLACEHOLDERS, RARE_PH, 401)], ['rt26b_blank', placeholderSql(BLANKS, RARE_BLANK, 407)], ['rt26b_pay', PAY_SQL], ['rt26b_phpay', PHPAY_SQL]] as const) {
      await ingest(id, sql);
    }
    await domain.refresh();
  }, 600_000);
  afterAll(() => t.close({ remove: true }));

  const { dev, prod, real } = twinProbes(() => t, memory, OPERATOR);
  const { ingest, profileOf } = domain;
  const { create: createExport, differencing, release } = exportProbes(() => t, OPERATOR, LAB.id, 'red team 26b');
  /** A prod answer's rows (null when refused). */
  const rowsOf = (body: string): (string | null)[][] | null => (body.startsWith('[') ? JSON.parse(body) as (string | null)[][] : null);
  /** The row of `district` in a prod answer keyed by district first, or undefined. */
  const rowOf = (body: string, district: string) => rowsOf(body)?.find((r) => r[0] === district);
  const oneValue = async (sql: string) => (Object.values((await real(sql))[0]!)[0]);

  // ---------------------------------------------------------------------------------------------
  // 1. Identifiers that normalize to placeholders, or to nothing.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a value of no identifier\'s shape is no entity key: its row is keyless): one person whose identifier was never recorded, written with 12 placeholders (\'未登记\', \'无\', \'NULL\', \'0\', 18 zeros, \'N/A\', \'不详\', …), counts as 12 people: prod shows the diagnosis of the one patient born in 1961, and a row-level answer their district', async () => {
    const truth = await real(`SELECT count(*) AS rows, count(DISTINCT diagnosis) AS diagnoses, max(diagnosis) AS diagnosis, count(DISTINCT mobile) AS spellings FROM (${placeholderSql(PLACEHOLDERS, RARE_PH, 401)}) WHERE birth_date = DATE '${T_BIRTH}'`);
    expect([Number(truth[0]!.rows), Number(truth[0]!.diagnoses), truth[0]!.diagnosis, Number(truth[0]!.spellings)]).toEqual([24, 1, RARE_PH, 12]);
    // Nobody else has the diagnosis: it is one person's, and nobody else was born that day.
    expect(Number(await oneValue(`SELECT count(*) FROM (${placeholderSql(PLACEHOLDERS, RARE_PH, 401)}) WHERE diagnosis = '${RARE_PH}' AND birth_date <> DATE '${T_BIRTH}'`))).toBe(0);
    expect((await profileOf('rt26b_ph')).entity).toBe('mobile');
    // Seen: [["肺动脉高压","24"]] for those born in 1961, the diagnosis over all patients listed
    // with 24, and the row-level answer [["三区"]]. Why: a placeholder is an identifier like any other: the entity
    // key is the HMAC of the normalized value (desensitize/policy.ts:123 onText(tokenRule(...)),
    // tokens.ts:60 the mobile form keeps what compaction keeps: Chinese characters, digits, capitals,
    // identifiers.ts:77 COMPACT_DROP), NULL only when the raw value is NULL, so '未登记' and '无' and
    // 'NULL' are 12 different keys; the checks count count(__e) (check-answer.ts:674) and, row-level,
    // count(DISTINCT __e): 12 ≥ 10 and ≥ 5. SAFE: values that are no identifier (a placeholder, no
    // digit of an identifier's form) are keyless, or one shared key: T is at most one person, and the
    // answers are withheld as for rt26b_blank.
    const seen = {
      byBirth: await prod(`SELECT diagnosis, count(*) AS n FROM rt26b_ph WHERE year(birth_date) = 1961 GROUP BY diagnosis`),
      all: await prod('SELECT diagnosis, count(*) AS n FROM rt26b_ph GROUP BY diagnosis'),
      rowLevel: await prod(`SELECT DISTINCT district FROM rt26b_ph WHERE diagnosis = '${RARE_PH}'`),
    };
    expect({ byBirth: seen.byBirth.includes(RARE_PH), all: seen.all.includes(RARE_PH), rowLevel: seen.rowLevel.includes('三区') }, JSON.stringify(seen)).toEqual({ byBirth: false, all: false, rowLevel: false });
  });

  it('was a hole (same fix, at ingest): the same 12 placeholders in dev: the twin copies the one patient\'s rare diagnosis (held by "12 people") and draws incomes up to their 9,999,999 (the 10th-largest person\'s income is theirs)', async () => {
    const [{ top, tenth }] = await real(`SELECT max(income) AS top, (SELECT hi FROM (SELECT mobile, max(income) AS hi FROM (${placeholderSql(PLACEHOLDERS, RARE_PH, 401)}) WHERE birth_date <> DATE '${T_BIRTH}' GROUP BY 1) ORDER BY hi DESC LIMIT 1 OFFSET 9) AS tenth FROM (${placeholderSql(PLACEHOLDERS, RARE_PH, 401)})`) as [{ top: number; tenth: number }];
    expect(Number(top)).toBe(T_INCOME);
    expect(Number(tenth)).toBeLessThan(8000);
    // Seen: 肺动脉高压 among dev's diagnoses and a maximum income in the millions. Why: the profile
    // counts people on the normalized key (ingest-people.ts:67 personKeys, ingest-dataset.ts:252
    // topValues' count(DISTINCT key): 12 for the placeholders; :265 endsOfTen groups by the key, so
    // T's 12 "people" are the 10 largest incomes), and the twin copies a value held by 10 people
    // (desensitize/twin.ts:182) and draws up to the ends. SAFE: as for rt26b_blank below, nothing of
    // T in dev.
    const diagnoses = (await dev('SELECT DISTINCT diagnosis FROM rt26b_ph')).map((r) => r[0]);
    const [[maxIncome]] = (await dev('SELECT max(income) FROM rt26b_ph')) as [[string]];
    expect({ rare: diagnoses.includes(RARE_PH), maxIncome: Number(maxIncome) <= 10_000 }, JSON.stringify({ diagnoses, maxIncome })).toEqual({ rare: false, maxIncome: true });
  });

  it('STOPPED: one person\'s identifier written as 12 kinds of blanks and punctuation (\'-\', \'—\', \'/\', \'   \', \'.\', \'()\', \'、\', …) is one key (the empty string): prod withholds their diagnosis and birth date, and dev copies neither the diagnosis nor the income', async () => {
    const truth = await real(`SELECT count(*) AS rows, max(diagnosis) AS diagnosis, count(DISTINCT mobile) AS spellings FROM (${placeholderSql(BLANKS, RARE_BLANK, 407)}) WHERE birth_date = DATE '${T_BIRTH}'`);
    expect([Number(truth[0]!.rows), truth[0]!.diagnosis, Number(truth[0]!.spellings)]).toEqual([24, RARE_BLANK, 12]);
    expect((await profileOf('rt26b_blank')).entity).toBe('mobile');
    const seen = {
      byBirth: await prod(`SELECT diagnosis, count(*) AS n FROM rt26b_blank WHERE year(birth_date) = 1961 GROUP BY diagnosis`),
      all: await prod('SELECT diagnosis, count(*) AS n FROM rt26b_blank GROUP BY diagnosis'),
      rowLevel: await prod(`SELECT DISTINCT district FROM rt26b_blank WHERE diagnosis = '${RARE_BLANK}'`),
      dev: (await dev('SELECT DISTINCT diagnosis FROM rt26b_blank')).map((r) => r[0]),
      devIncome: Number((await dev('SELECT max(income) FROM rt26b_blank'))[0]![0]),
    };
    // The control: the common diagnoses are shown.
    expect(seen.all).toContain('高血压');
    expect({ byBirth: seen.byBirth.includes(RARE_BLANK), all: seen.all.includes(RARE_BLANK), rowLevel: seen.rowLevel.includes('三区'), dev: seen.dev.includes(RARE_BLANK), devIncome: seen.devIncome <= 10_000 }, JSON.stringify(seen))
      .toEqual({ byBirth: false, all: false, rowLevel: false, dev: false, devIncome: true });
  });

  it('was a hole (same fix): export differencing: a per-district release, then the same breakdown without the one payer born in 1961 (T2, whose 12 payments carry 12 placeholders instead of a mobile): the second passes differencing (12 members apart) and gives T2\'s total by subtraction; a keyed payer left out fails', async () => {
    const [{ everyone, without }] = await real(`SELECT sum(amount) FILTER (WHERE district = '三区') AS everyone, sum(amount) FILTER (WHERE district = '三区' AND year(birth_date) <> 1961) AS without FROM (${PHPAY_SQL})`) as [{ everyone: number; without: number }];
    expect(Number(everyone) - Number(without)).toBe(12 * T2_AMOUNT);
    expect(Number(await oneValue(`SELECT count(*) FROM (${PHPAY_SQL}) WHERE year(birth_date) = 1961`))).toBe(12);
    expect((await profileOf('rt26b_phpay')).entity).toBe('mobile');
    await release('SELECT district, count(*) AS n, sum(amount) AS total FROM rt26b_phpay GROUP BY district ORDER BY district');
    // The control: one keyed payer of 三区 left out fails differencing.
    const [{ m }] = await real(`SELECT ${mobileSql('2', 405)} AS m`) as [{ m: string }];
    expect(differencing(await createExport(`SELECT district, count(*) AS n, sum(amount) AS total FROM rt26b_phpay WHERE mobile <> '${m}' GROUP BY district ORDER BY district`))).toBe('fail');
    const again = await createExport('SELECT district, count(*) AS n, sum(amount) AS total FROM rt26b_phpay WHERE year(birth_date) <> 1961 GROUP BY district ORDER BY district');
    // Seen: differencing 'pass' (outcome pass). Why: T2's 12 payments are 12 entity keys (see the
    // first test), so the released 三区 cell and this one are 12 members apart, past the threshold
    // (release-store.ts: 1 ≤ Δ < 10 fails); the difference of the totals is T2's 1,644. SAFE: T2's
    // placeholder rows one member (keyless), so the second export fails differencing.
    expect(differencing(again), JSON.stringify(again.checks)).toBe('fail');
  });

  // ---------------------------------------------------------------------------------------------
  // 2. Rows without a key (NULL) in prod answers.
  // ---------------------------------------------------------------------------------------------

  /** Per district, the sum of payments but those of one payment reference (a column that is no identifier: a FILTER on the mobile is uncheckable). */
  const leavingOut = (ref: string) => `SELECT district, sum(amount) FILTER (WHERE ref_no <> '${ref}') AS total FROM rt26b_pay WHERE district <> '孤岛区' GROUP BY district ORDER BY district`;
  const T_REF = 'R000002';
  const C_REF = 'R000001';

  it('was a hole (fix: cells count keys only, and one that leaves out some keyless rows but no keyed person counts one fewer than its group): a cell that leaves out one keyed payer\'s payment (FILTER (WHERE ref_no <> T\'s)) is withheld in 二区 but shown in 三区, whose counter payments have no mobile: the keyless member fills the place of the one left out, and the district totals then give T\'s payment', async () => {
    const [truth] = await real(`SELECT count(*) FILTER (WHERE ref_no = '${T_REF}') AS t_rows, max(amount) FILTER (WHERE ref_no = '${T_REF}') AS t_amount, count(DISTINCT mobile) FILTER (WHERE ref_no = '${T_REF}') AS t_people,
        count(*) FILTER (WHERE birth_date = DATE '${T_BIRTH}') AS t_all_rows, count(*) FILTER (WHERE district = '三区' AND mobile IS NULL) AS keyless3, count(*) FILTER (WHERE district = '二区' AND mobile IS NULL) AS keyless2 FROM (${PAY_SQL})`);
    expect([truth!.t_rows, truth!.t_amount, truth!.t_people, truth!.t_all_rows, truth!.keyless3, truth!.keyless2].map(Number)).toEqual([1, 124, 1, 1, 12, 0]);
    const profile = await profileOf('rt26b_pay');
    expect([profile.entity, profile.columns.find((c) => c.name === 'ref_no')?.pii ?? null]).toEqual(['mobile', null]);
    // The control: C's payment (二区, no keyless rows there) left out of 二区's cell: withheld.
    const control = await prod(leavingOut(C_REF));
    expect(rowOf(control, '二区'), control).toBeDefined();
    expect(rowOf(control, '二区')![1], control).toBeNull();
    const withoutT = await prod(leavingOut(T_REF));
    const totals = await prod("SELECT district, sum(amount) AS total FROM rt26b_pay WHERE district <> '孤岛区' GROUP BY district ORDER BY district");
    const [a, b] = [rowOf(totals, '三区')?.[1], rowOf(withoutT, '三区')?.[1]];
    const leaked = a != null && b != null ? Number(a) - Number(b) : null;
    // Seen: 三区's cell shown, and the totals minus it 124, T's payment. Why: a cell's entities
    // (check-answer.ts:661 count(*) FILTER (WHERE __r > 0) over the inner companion grouped by entity)
    // count the keyless group (__e NULL) as one, while the group's entities are count(__e), keys only
    // (:674); failedRules (desensitize/disclosure.ts:122) takes leftOut = group − cell = 50 − (49 + 1)
    // = 0, so "a cell over part of its group that leaves out 1 to 9 entities is withheld" does not
    // fire. SAFE: the cell's entities counted on keys, as the group's are: leftOut 1, withheld as in 二区.
    expect({ cell: b ?? null, leaked }, `${withoutT} / ${totals}`).toEqual({ cell: null, leaked: null });
  });

  it('was a hole (same fix, for exports): the same cell in an export passes every check (the export for the 二区 payer fails cell-threshold), so the 三区 total leaves the domain without T, and T\'s payment is the prod total minus it', async () => {
    const control = await createExport(leavingOut(C_REF));
    expect(control.outcome, JSON.stringify(control.checks)).toBe('fail');
    expect(control.checks.find((c) => c.name === 'cell-threshold')?.status).toBe('fail');
    const created = await createExport(leavingOut(T_REF));
    // Seen: outcome 'pass'. Why: review-output.ts:294 calls the same failedRules with the same cell
    // entities (keyless counted as one, the group's not), and no release over rt26b_pay exists to
    // difference against; a prod answer of the totals is never compared with exports (docs/sandbox.md).
    // SAFE: cell-threshold fails the 三区 cell, as it fails 二区's for C.
    expect(created.checks.find((c) => c.name === 'cell-threshold')?.status, JSON.stringify(created.checks)).toBe('fail');
  });

  it('was a hole (fix: cells count keys only): a cell of nine payers\' payments, online and at the counter, counts ten members (nine keys and the keyless member) and is shown, though it describes nine people', async () => {
    const payers = [8, 20, 32, 44, 56, 68, 80, 92, 104];
    const refs = payers.flatMap((p) => [`'R${String(p).padStart(6, '0')}'`, `'C${String(p).padStart(6, '0')}'`]).join(', ');
    // The cell's rows are those nine payers' (each an online and a counter payment): nine people, 18 rows.
    const [truth] = await real(`SELECT count(*) AS n, count(DISTINCT birth_date) AS people, count(mobile) AS keyed, count(DISTINCT mobile) AS keys FROM (${PAY_SQL}) WHERE district = '三区' AND ref_no IN (${refs})`);
    expect([truth!.n, truth!.people, truth!.keyed, truth!.keys].map(Number)).toEqual([18, 9, 9, 9]);
    // The cell alone in its row (beside count(*), the row's own rules withhold it: the nine are a small atom).
    const body = await prod(`SELECT district, count(*) FILTER (WHERE ref_no IN (${refs})) AS nine FROM rt26b_pay WHERE district = '三区' GROUP BY district`);
    expect(rowOf(body, '三区'), body).toBeDefined();
    // Seen: [["三区","18"]]. Why: the cell's entities count the keyless group as one
    // (check-answer.ts:661), 9 + 1 = 10 passes the threshold (desensitize/disclosure.ts:121). SAFE:
    // counted on keys, 9: withheld.
    expect(rowOf(body, '三区')![1], body).toBeNull();
  });

  it('STOPPED: rows isolated by WHERE mobile IS NULL (U\'s overseas transfers, the counter payments), in a group, a row-level answer, a self-join of keyed and keyless rows, and a UNION ALL: nothing of them is shown', async () => {
    const [truth] = await real(`SELECT count(*) FILTER (WHERE mobile IS NULL AND district = '孤岛区') AS u_rows, sum(amount) FILTER (WHERE mobile IS NULL AND district = '孤岛区') AS u_total FROM (${PAY_SQL})`);
    expect([Number(truth!.u_rows), Number(truth!.u_total)]).toEqual([12, 12 * U_AMOUNT]);
    const grouped = await prod('SELECT district, count(*) AS n, sum(amount) AS total FROM rt26b_pay WHERE mobile IS NULL GROUP BY district');
    const single = await prod(`SELECT count(*) AS n, sum(amount) AS total FROM rt26b_pay WHERE mobile IS NULL AND birth_date = DATE '${U_BIRTH}'`);
    const byChannel = await prod(`SELECT channel, count(*) AS n FROM rt26b_pay WHERE district = '孤岛区' GROUP BY channel`);
    const rowLevel = await prod('SELECT DISTINCT district, birth_date FROM rt26b_pay WHERE mobile IS NULL');
    const selfJoin = await prod('SELECT a.district, count(*) AS n, sum(a.amount) AS total FROM rt26b_pay a JOIN rt26b_pay b ON a.birth_date = b.birth_date WHERE a.mobile IS NOT NULL AND b.mobile IS NULL GROUP BY a.district');
    const union = await prod('SELECT district, count(*) AS n FROM (SELECT district FROM rt26b_pay WHERE mobile IS NULL UNION ALL SELECT district FROM rt26b_pay WHERE mobile IS NOT NULL) GROUP BY district');
    const shownNumbers = (body: string) => (rowsOf(body) ?? []).flatMap((r) => r.slice(1)).filter((v) => v !== null);
    const seen = { grouped, single, byChannel, rowLevel, selfJoin, union };
    expect({
      grouped: shownNumbers(grouped), single: (rowsOf(single) ?? []).flat().filter((v) => v !== null),
      byChannel: byChannel.includes(U_CHANNEL), rowLevel: rowsOf(rowLevel) ?? [], selfJoin: shownNumbers(selfJoin), union: union.startsWith('422'),
    }, JSON.stringify(seen)).toEqual({ grouped: [], single: [], byChannel: false, rowLevel: [], selfJoin: [], union: true });
  });

  it('STOPPED: a cell of 10 keyed payers and one keyless payer (U, 12 transfers of 99,999): the sum and mean are withheld (the keyless member dominates), the maximum and median too; count(*) beside count(mobile) shows one of the two', async () => {
    const body = await prod("SELECT district, sum(amount) AS total, avg(amount) AS mean, max(amount) AS top, median(amount) AS mid FROM rt26b_pay WHERE district = '孤岛区' GROUP BY district");
    const row = rowOf(body, '孤岛区');
    expect(row === undefined ? [null, null, null, null] : row.slice(1), body).toEqual([null, null, null, null]);
    const counts = await prod("SELECT district, count(*) AS rows_all, count(mobile) AS rows_keyed FROM rt26b_pay WHERE district = '三区' GROUP BY district");
    const shown = rowOf(counts, '三区')?.slice(1).filter((v) => v !== null) ?? [];
    expect(shown.length, counts).toBeLessThanOrEqual(1);
  });

  it('STOPPED: the prod history: 三区\'s total, then 三区\'s total of keyed payments only (the counter payments left out): both shown, and the pair (the keyless member apart) is reported to supervisors', async () => {
    const everyone = "SELECT district, sum(amount) AS total FROM rt26b_pay WHERE district = '三区' GROUP BY district";
    const keyed = "SELECT district, sum(amount) AS total FROM rt26b_pay WHERE district = '三区' AND mobile IS NOT NULL GROUP BY district";
    const [a, b] = [await prod(everyone), await prod(keyed)];
    expect([rowOf(a, '三区')?.[1] ?? null, rowOf(b, '三区')?.[1] ?? null].every((v) => v !== null), `${a} / ${b}`).toBe(true);
    type Entry = { details: { sqlSha256: string; smallestDifference: number; examples: { earlier: string }[] } };
    const pairs = async (): Promise<Entry[]> => (expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.differencing&limit=1000'), 200).json().entries as Entry[])
      .filter((e) => e.details.sqlSha256 === sha256(keyed) && e.details.examples.some((x) => x.earlier === sha256(everyone)));
    await waitUntil('the keyless pair in the audit', async () => (await pairs()).length > 0, { deadlineMs: 120_000, intervalMs: 250 });
    expect((await pairs())[0]!.details.smallestDifference).toBeLessThan(10);
  });

  it('STOPPED: the dev twin holds nothing of the keyless payer U: not the channel only U used, not an amount near 99,999', async () => {
    const channels = (await dev('SELECT DISTINCT channel FROM rt26b_pay')).map((r) => r[0]);
    const [[top]] = (await dev('SELECT max(amount) FROM rt26b_pay')) as [[string]];
    const summary = JSON.stringify(await dev('SUMMARIZE rt26b_pay'));
    expect({ channel: channels.includes(U_CHANNEL), top: Number(top) < 10_000, summary: /99999|9\.9999|1\.0e\+?0?5|100000/.test(summary) }, JSON.stringify({ channels, top })).toEqual({ channel: false, top: true, summary: false });
  });
});
