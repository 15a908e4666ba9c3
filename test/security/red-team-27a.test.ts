/**
 * Red-team attacks, pass 27a: the fixes of pass 26 (a value of no identifier's shape is no entity
 * key; cells count keyed people only, and one that leaves out keyless rows but no keyed person counts
 * one fewer than its group; the release store compares keyless members apart from keys), attacked
 * from outside (HTTP only, as an operator of org `rt27a-org`). Each test compares what prod, dev and
 * exports show with the real rows (`real()`, the generating SQL). `was a hole` tests failed when written (the
 * comment says what was seen and why; they assert the safe outcome); `STOPPED:` tests held.
 *
 * Setup (crafted datasets, ingested through the trusted pipeline, personal columns set plain with a
 * reason as the supervisor's choice, as in red-team-26b):
 * - `rt27a_mph`: 200 patients keyed by mobile, and T (born 1961-07-23, 三区) whose 24 visits carry a
 *   rare diagnosis and no mobile: the clerks wrote placeholders that have a mobile's shape
 *   ('13800000000', '13900000000', '18888888888', '13800138000', …), 12 different ones.
 * - `rt27a_nph`: the same, T's placeholders digits of no mobile's shape ('11111111111', '1',
 *   '100000000000000000', '10000000000', '12345678901', …).
 * - `rt27a_idph`: 200 patients keyed by resident ID, and T whose 24 visits carry 12 placeholders
 *   of a resident ID's shape ('100000000000000000', '111111111111111111', '11010100000000000X', …).
 * - `rt27a_pay`: 150 payers keyed by mobile, one online payment each ('R' refs); in 二区 the ten
 *   payers p = 1, 4, …, 28 paid at branch 西站, all others at 东站. 二区 also has 12 counter payments
 *   with no mobile ('K' refs; K000000 is V's, 555); 三区 has 12 counter payments of 12 different
 *   people all written with the clerk's default mobile '13800000000' ('C' refs; C000000 is T's, 777).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql, residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt27a-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'rt27a-lab', name: 'RT27a Lab' } as const;
const DISTRICTS = `['一区', '二区', '三区']`;
const T_BIRTH = '1961-07-23';

const sqlList = (values: string[]) => `[${values.map((v) => `'${v.replaceAll("'", "''")}'`).join(', ')}]`;
/** Placeholders of a mobile's shape: 1[3-9] and nine digits. */
const MOBILE_LIKE = ['13800000000', '13900000000', '13000000000', '15000000000', '18000000000', '13333333333', '13888888888', '18888888888', '13800138000', '13999999999', '15555555555', '17777777777'];
/** Placeholders of digits, of no mobile's shape. */
const NEAR_MOBILE = ['11111111111', '1', '100000000000000000', '10000000000', '12345678901', '12000000000', '10086', '110', '01380013800', '0013800000000', '99999999999', '11000000000'];
/** Placeholders of a resident ID's shape ([1-9], 16 digits, a digit or X): no real check digit needed. */
const ID_LIKE = ['100000000000000000', '111111111111111111', '11010100000000000X', '123456789012345678', '999999999999999999', '110000000000000000', '100000000000000001', '222222222222222222', '110101190001010000', '888888888888888888', '120000000000000000', '330000000000000000'];
const RARE_M = '肺动脉高压';
const RARE_N = '渐冻症';
const RARE_ID = '法布雷病';

/** 200 patients keyed by `key(p)`, and T's 24 visits (rare diagnosis) under `spellings` instead. */
const placeholderSql = (column: string, key: (p: string) => string, spellings: string[], rare: string) => `SELECT ${column}, district, birth_date, diagnosis FROM (
    SELECT ${key('p')} AS ${column}, ${DISTRICTS}[1 + p % 3] AS district, DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date,
      ['高血压', '糖尿病', '哮喘'][1 + p % 3] AS diagnosis
    FROM (SELECT range AS p FROM range(200))
    UNION ALL
    SELECT ${sqlList(spellings)}[1 + i % 12], '三区', DATE '${T_BIRTH}', '${rare}' FROM (SELECT range AS i FROM range(24)))`;
const MPH_SQL = placeholderSql('mobile', (p) => mobileSql(p, 2701), MOBILE_LIKE, RARE_M);
const NPH_SQL = placeholderSql('mobile', (p) => mobileSql(p, 2703), NEAR_MOBILE, RARE_N);
const IDPH_SQL = placeholderSql('id_card', (p) => residentIdSql(p, 2705), ID_LIKE, RARE_ID);

const V_AMOUNT = 555;
const T_AMOUNT = 777;
const PAY_SQL = `SELECT mobile, ref_no, district, branch, birth_date, amount FROM (
    SELECT ${mobileSql('p', 2707)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ${DISTRICTS}[1 + p % 3] AS district,
      CASE WHEN p % 3 = 1 AND p < 30 THEN '西站' ELSE '东站' END AS branch,
      DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))
    UNION ALL
    SELECT NULL, 'K' || lpad(CAST(i AS VARCHAR), 6, '0'), '二区', '东站', DATE '1950-01-01' + CAST(i * 31 AS INTEGER), CAST(CASE WHEN i = 0 THEN ${V_AMOUNT} ELSE 80 + i END AS DECIMAL(10,2))
    FROM (SELECT range AS i FROM range(12))
    UNION ALL
    SELECT '13800000000', 'C' || lpad(CAST(i AS VARCHAR), 6, '0'), '三区', '东站', CASE WHEN i = 0 THEN DATE '${T_BIRTH}' ELSE DATE '1952-01-01' + CAST(i * 29 AS INTEGER) END, CAST(CASE WHEN i = 0 THEN ${T_AMOUNT} ELSE 80 + i END AS DECIMAL(10,2))
    FROM (SELECT range AS i FROM range(12)))`;

describe('red team 27a: entity keys of an identifier\'s shape, keyless cells, keyless differencing', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 27a');
  let t: TestApp;
  beforeAll(async () => {
    t = await domain.start();
    for (const [id, sql] of [['rt27a_mph', MPH_SQL], ['rt27a_nph', NPH_SQL], ['rt27a_idph', IDPH_SQL], ['rt27a_pay', PAY_SQL]] as const) await ingest(id, sql);
    await domain.refresh();
  }, 600_000);
  afterAll(() => t.close({ remove: true }));

  const { dev, prod, real } = twinProbes(() => t, memory, OPERATOR);
  const { ingest, profileOf } = domain;
  const createExport = async (sql: string) =>
    expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql }, recipient: LAB.id, purpose: 'red team 27a', format: 'csv' }), 201).json() as { id: string; outcome: string; checks: { name: string; status: string; reason?: string }[] };
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const release = async (sql: string) => {
    const created = await createExport(sql);
    expect(created.outcome, JSON.stringify(created.checks)).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200);
  };
  const rowsOf = (body: string): (string | null)[][] | null => (body.startsWith('[') ? JSON.parse(body) as (string | null)[][] : null);
  const rowOf = (body: string, district: string) => rowsOf(body)?.find((r) => r[0] === district);
  const oneValue = async (sql: string) => Object.values((await real(sql))[0]!)[0];

  // ---------------------------------------------------------------------------------------------
  // 1. Placeholders of an identifier's shape.
  // ---------------------------------------------------------------------------------------------

  /** What prod shows of T's rare diagnosis: by birth year, over all patients, and row-level. */
  const rareSeen = async (table: string, rare: string) => {
    const seen = {
      byBirth: await prod(`SELECT diagnosis, count(*) AS n FROM ${table} WHERE year(birth_date) = 1961 GROUP BY diagnosis`),
      all: await prod(`SELECT diagnosis, count(*) AS n FROM ${table} GROUP BY diagnosis`),
      rowLevel: await prod(`SELECT DISTINCT district FROM ${table} WHERE diagnosis = '${rare}'`),
    };
    return { seen, leaks: { byBirth: seen.byBirth.includes(rare), all: seen.all.includes(rare), rowLevel: seen.rowLevel.includes('三区') } };
  };
  const truthOf = async (sql: string, key: string) => {
    const [row] = await real(`SELECT count(*) AS rows, count(DISTINCT diagnosis) AS diagnoses, count(DISTINCT ${key}) AS spellings FROM (${sql}) WHERE birth_date = DATE '${T_BIRTH}'`);
    const others = await oneValue(`SELECT count(*) FROM (${sql}) WHERE birth_date <> DATE '${T_BIRTH}' AND diagnosis NOT IN ('高血压', '糖尿病', '哮喘')`);
    return [Number(row!.rows), Number(row!.diagnoses), Number(row!.spellings), Number(others)];
  };

  it('was a hole (fix: a mobile whose subscriber number is one repeated digit is no key): one person whose mobile was never recorded, written with 12 placeholders that have a mobile\'s shape (\'13800000000\', \'13900000000\', \'18888888888\', \'13800138000\', …), counts as 12 people: prod shows the one patient\'s rare diagnosis, by birth year and row-level', async () => {
    expect(await truthOf(MPH_SQL, 'mobile')).toEqual([24, 1, 12, 0]);
    expect((await profileOf('rt27a_mph')).entity).toBe('mobile');
    const { seen, leaks } = await rareSeen('rt27a_mph', RARE_M);
    // Seen (when written): the rare diagnosis shown. Why: desensitize/tokens.ts:49 ENTITY_KEY_SHAPE
    // accepts any 1[3-9] and nine digits, so each placeholder is an entity key of its own (the
    // shape says nothing of whether a number is a placeholder: repeated digits, a run of zeros,
    // 138-0013-8000); 12 keys ≥ 10 (seen: [["肺动脉高压","24"]] for 1961, and [["三区"]] row-level). SAFE: T at most one person (placeholders keyless, or keys shared
    // by one birth date and diagnosis seen as one person): withheld, as for rt27a_nph below.
    expect(leaks, JSON.stringify(seen)).toEqual({ byBirth: false, all: false, rowLevel: false });
  });

  it('was a hole (fix: a resident ID is a key only with a real birth date and a correct check character): the same with 12 placeholders of a resident ID\'s shape (\'100000000000000000\', \'111111111111111111\', \'11010100000000000X\', …, none with a valid check digit or birth date): 12 people in prod', async () => {
    expect(await truthOf(IDPH_SQL, 'id_card')).toEqual([24, 1, 12, 0]);
    expect((await profileOf('rt27a_idph')).entity).toBe('id_card');
    const { seen, leaks } = await rareSeen('rt27a_idph', RARE_ID);
    // Seen (when written): shown. Why: tokens.ts:48 resident_id shape [1-9][0-9]{16}[0-9X] takes
    // no check digit, no calendar date in digits 7-14; each placeholder is a key. SAFE: withheld.
    expect(leaks, JSON.stringify(seen)).toEqual({ byBirth: false, all: false, rowLevel: false });
  });

  it('STOPPED: 12 digit placeholders of no mobile\'s shape (\'11111111111\', \'1\', 18 digits \'100000000000000000\', \'10000000000\', \'12345678901\', \'10086\', \'0013800000000\', …) are keyless: prod withholds the diagnosis, dev does not copy it', async () => {
    expect(await truthOf(NPH_SQL, 'mobile')).toEqual([24, 1, 12, 0]);
    expect((await profileOf('rt27a_nph')).entity).toBe('mobile');
    const { seen, leaks } = await rareSeen('rt27a_nph', RARE_N);
    expect(seen.all).toContain('高血压');
    const devDiagnoses = (await dev('SELECT DISTINCT diagnosis FROM rt27a_nph')).map((r) => r[0]);
    expect({ ...leaks, dev: devDiagnoses.includes(RARE_N) }, JSON.stringify({ seen, devDiagnoses })).toEqual({ byBirth: false, all: false, rowLevel: false, dev: false });
  });

  // ---------------------------------------------------------------------------------------------
  // 2. Prod cells over keyless rows and a merged key.
  // ---------------------------------------------------------------------------------------------

  const districtTotals = "SELECT district, sum(amount) AS total FROM rt27a_pay GROUP BY district ORDER BY district";
  const leavingOut = (ref: string) => `SELECT district, sum(amount) FILTER (WHERE ref_no <> '${ref}') AS total FROM rt27a_pay GROUP BY district ORDER BY district`;

  it('was a hole (fix: the clerk\'s default mobile is no key; a key partly left out across queries remains the documented pair of answers, reported to supervisors): 12 counter payers of 三区 written with one clerk\'s default mobile (\'13800000000\') are one key: a cell that leaves out one of them (FILTER (WHERE ref_no <> T\'s)) leaves out "no one" and is shown; the totals minus it give T\'s payment of 777 (the same cell for a keyless payer of 二区 is withheld)', async () => {
    const [truth] = await real(`SELECT max(amount) FILTER (WHERE ref_no = 'C000000') AS t_amount, count(DISTINCT birth_date) FILTER (WHERE mobile = '13800000000') AS people,
        count(*) FILTER (WHERE birth_date = DATE '${T_BIRTH}') AS t_rows, max(amount) FILTER (WHERE ref_no = 'K000000') AS v_amount FROM (${PAY_SQL})`);
    expect([truth!.t_amount, truth!.people, truth!.t_rows, truth!.v_amount].map(Number)).toEqual([T_AMOUNT, 12, 1, V_AMOUNT]);
    // The control: the keyless payer V of 二区 left out: withheld (the fix of pass 26b).
    const control = await prod(leavingOut('K000000'));
    expect(rowOf(control, '二区'), control).toBeDefined();
    expect(rowOf(control, '二区')![1], control).toBeNull();
    const totals = await prod(districtTotals);
    const withoutT = await prod(leavingOut('C000000'));
    const [a, b] = [rowOf(totals, '三区')?.[1], rowOf(withoutT, '三区')?.[1]];
    const leaked = a != null && b != null ? Number(a) - Number(b) : null;
    // Seen (when written): 三区 shown, the difference 777. Why: check-answer.ts:669 counts one fewer
    // only for the keyless rows (__e IS NULL); a key that stands for several people (a placeholder
    // of a mobile's shape, tokens.ts:49) left out in part (__r < __n) counts as present, so
    // leftOut = 0 (desensitize/disclosure.ts:122). The same holds for any key with several rows
    // (a real payer's second payment left out by its reference): a placeholder shared by 12 people
    // makes the rows of 12 people. SAFE: a cell that leaves out part of a key's rows counts one fewer, as for the
    // keyless rows (or that key is no key).
    expect({ cell: b ?? null, leaked }, `${withoutT} / ${totals}`).toEqual({ cell: null, leaked: null });
  });

  it('STOPPED: one answer over 二区: sum FILTER leaving out 西站\'s ten keyed payers beside the same also leaving out keyless V; count(DISTINCT ref_no) and avg with and without V; two cells each leaving out a different keyless payer: no V amount can be derived', async () => {
    const ten = await oneValue(`SELECT count(DISTINCT mobile) FROM (${PAY_SQL}) WHERE branch = '西站'`);
    expect(Number(ten)).toBe(10);
    const notV = "ref_no <> 'K000000'";
    const q = (cells: string) => prod(`SELECT district, ${cells} FROM rt27a_pay WHERE district = '二区' GROUP BY district`);
    const bodies = {
      ab: await q(`sum(amount) FILTER (WHERE branch <> '西站') AS a, sum(amount) FILTER (WHERE branch <> '西站' AND ${notV}) AS b`),
      distinct: await q(`count(DISTINCT ref_no) AS d_all, count(DISTINCT ref_no) FILTER (WHERE ${notV}) AS d_w`),
      avg: await q(`count(*) AS n_all, count(*) FILTER (WHERE ${notV}) AS n_w, avg(amount) AS m_all, avg(amount) FILTER (WHERE ${notV}) AS m_w`),
      two: await q(`sum(amount) FILTER (WHERE ${notV}) AS s_w0, sum(amount) FILTER (WHERE ref_no <> 'K000001') AS s_w1`),
      totals: await prod(districtTotals),
    };
    const cells = (body: string) => (rowOf(body, '二区') ?? []).slice(1).map((v) => (v === null || v === undefined ? null : Number(v)));
    const [a, b] = cells(bodies.ab);
    const [dAll, dW] = cells(bodies.distinct);
    const [nAll, nW, mAll, mW] = cells(bodies.avg);
    const [s0, s1] = cells(bodies.two);
    const total = cells(bodies.totals)[0] ?? null;
    // The controls: the answers are checkable and show the cells that describe enough people.
    expect(bodies.ab.startsWith('['), bodies.ab).toBe(true);
    expect(total, bodies.totals).not.toBeNull();
    const has = (...v: (number | null | undefined)[]) => v.every((x) => x !== null && x !== undefined);
    const derived = {
      ab: has(a, b) ? a! - b! : null,
      distinct: has(dAll, dW) ? dAll! - dW! : null,
      avg: has(mAll, mW, nAll) ? Math.round(mAll! * nAll! - mW! * (nAll! - 1)) : null,
      counts: has(nAll, nW) ? nAll! - nW! : null,
      totalMinus: has(total, s0) ? total! - s0! : null,
      twoCells: has(s0, s1) ? s1! - s0! : null,
    };
    expect(derived, JSON.stringify(bodies)).toEqual({ ab: null, distinct: null, avg: null, counts: null, totalMinus: null, twoCells: null });
  });

  // ---------------------------------------------------------------------------------------------
  // 3. Export differencing with keyless rows.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (same fix, for exports; a prod answer beside an export remains a documented limit): before any release over rt27a_pay, an export of the 三区 total without T\'s counter payment (one of the 12 payers behind \'13800000000\') passes cell-threshold; the prod total minus it is T\'s 777 (V\'s keyless payment left out of 二区 fails)', async () => {
    const control = await createExport(leavingOut('K000000'));
    expect(check(control, 'cell-threshold'), JSON.stringify(control.checks)).toBe('fail');
    const created = await createExport("SELECT district, sum(amount) FILTER (WHERE ref_no <> 'C000000') AS total FROM rt27a_pay WHERE district = '三区' GROUP BY district");
    // Seen (when written): cell-threshold pass (every check passes). Why: the export's review uses
    // the same cell counts (check-answer.ts:669: only __e IS NULL rows count one fewer when left out
    // in part; desensitize/disclosure.ts:122 leftOut = 0). SAFE: fail, as for V.
    expect(check(created, 'cell-threshold'), JSON.stringify(created.checks)).toBe('fail');
  });

  it('STOPPED: exports: a per-district release, the same without 西站\'s ten keyed payers (10 apart: passes), then the same without them and without keyless V: differencing fails (the keyless member differs from the second release)', async () => {
    await release('SELECT district, sum(amount) AS total FROM rt27a_pay GROUP BY district ORDER BY district');
    await release("SELECT district, sum(amount) AS total FROM rt27a_pay WHERE branch <> '西站' GROUP BY district ORDER BY district");
    const again = await createExport("SELECT district, sum(amount) AS total FROM rt27a_pay WHERE branch <> '西站' AND ref_no <> 'K000000' GROUP BY district ORDER BY district");
    expect(check(again, 'differencing'), JSON.stringify(again.checks)).toBe('fail');
    // And T's counter payment (behind the shared '13800000000') left out after the release: its
    // member's contribution changed, one apart: fails.
    const merged = await createExport("SELECT district, sum(amount) AS total FROM rt27a_pay WHERE ref_no <> 'C000000' GROUP BY district ORDER BY district");
    expect(check(merged, 'differencing'), JSON.stringify(merged.checks)).toBe('fail');
  });
});
