/**
 * Red-team attacks, pass 42b: the DIFFERENCING of exports (docs/exports.md, "Differencing against
 * every earlier release"; sandbox/engine/release-store.ts, closePairs) and the release path,
 * attacked with fresh eyes over HTTP only, as the operator of `rt42b-org`, supervisors and the
 * application entity `rt42b-lab` (the operator's accomplice, say: it receives every release):
 * - a sum of released cells against one new cell, when one person's SHARE changed rather than
 *   their presence (a filter on the measure's rows: `NOT (<person> AND amount > x)`), both ways:
 *   a new total after a released breakdown, a new breakdown after a released total;
 * - a sum of released cells whose groups are NOT a partition of people (a breakdown per month:
 *   every person pays in ten months of twelve), against a new total without one person;
 * - cells of different aggregates over the same people (sum against avg), and a rounding
 *   mitigation of a version that fails differencing.
 * `was a hole` tests assert the SAFE outcome and failed when written (the comment says what was
 * seen, which file:line let it through, what SAFE means and a suggested fix); `STOPPED:` tests hold now and
 * would fail if the defence broke; `control:` shows the method sees what it should.
 *
 * Setup (test/helpers/crafted-domain.ts): `rt42b_pay`, 1,000 people x 10 payments (resident IDs kept
 * plain by the supervisor, so the operator names a person by `id_card`), four districts (person p
 * in p % 4), a month per payment (each person pays in 10 distinct months of 12) and an integer
 * amount 100..149. People are split into five cohorts of 200 (`cohort` a..e, p // 200) so that the
 * attacks, which share one release store, never share a person: cells of different cohorts have
 * no common entity and are never compared. The truth is computed from the generating SQL in an
 * in-memory DuckDB.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { residentIdSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { expectStatus } from '../helpers/expect-status.js';
import { exportProbes, type CreatedExport } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const ORG = 'rt42b-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olaf' } as const;
const LAB = { id: 'rt42b-lab', name: 'RT42b Lab' };
const LAB_USER = { role: 'applicant', org: LAB.id, sub: 'lena' } as const;

const TABLE = 'rt42b_pay';
/** 1,000 people x 10 payments: cohort p // 200, district p % 4, month 1..12 (10 distinct per person), amount 100..149. */
const PAY_SQL = `SELECT ${residentIdSql('p', 4207)} AS id_card, ['a', 'b', 'c', 'd', 'e'][1 + p // 200] AS cohort,
    ['一区', '二区', '三区', '四区'][1 + p % 4] AS district, CAST(1 + (i * 7) % 12 AS INTEGER) AS month,
    CAST(100 + (i * 37) % 50 AS INTEGER) AS amount
  FROM (SELECT range AS i, range // 10 AS p FROM range(10000))`;

/** The two worlds of the share attacks: the target paid above X_YES (some payments) / above X_NO (none: 149 is the top amount). */
const X_YES = 140;
const X_NO = 149;

describe('red team 42b: differencing of exports, with fresh eyes', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'red team 42b');
  let t: TestApp;
  /** Per cohort, the target: the first person of the cohort with 1..9 payments above X_YES. */
  const target: Record<string, { id: string; above: number; payments: number; paid: number; district: string }> = {};

  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest(TABLE, PAY_SQL);
    await domain.refresh();
    const [distinct] = await memory.connection.all(`SELECT count(DISTINCT id_card) AS n FROM (${PAY_SQL})`);
    expect(Number(distinct!.n), 'the generator gives 1,000 distinct people').toBe(1000);
    for (const cohort of ['a', 'b', 'c', 'd', 'e']) {
      const [row] = await memory.connection.all(`SELECT id_card, district, count(*) FILTER (WHERE amount > ${X_YES}) AS above, count(*) AS payments, sum(amount) AS paid
        FROM (${PAY_SQL}) WHERE cohort = '${cohort}' GROUP BY id_card, district HAVING count(*) FILTER (WHERE amount > ${X_YES}) BETWEEN 1 AND 9
          AND count(*) FILTER (WHERE amount > ${X_NO}) = 0 ORDER BY min(month), id_card LIMIT 1`);
      target[cohort] = { id: String(row!.id_card), above: Number(row!.above), payments: Number(row!.payments), paid: Number(row!.paid), district: String(row!.district) };
    }
  }, 600_000);
  afterAll(async () => {
    await t.close({ remove: true });
  });

  const exports = exportProbes(() => t, OPERATOR, LAB.id, 'red team 42b');
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const approve = async (created: CreatedExport): Promise<void> => {
    expect(created.outcome, JSON.stringify(created.checks)).toBe('pass');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
    expect(expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200).json().status).toBe('approved');
  };
  /** The recipient's download as rows of cells (header dropped); integer columns carry no marks. */
  const downloaded = async (id: string): Promise<string[][]> =>
    expectStatus(await t.call(LAB_USER, 'GET', `/v1/exports/${id}/download`), 200).body.replace(/^\uFEFF/, '').split('\r\n').filter(Boolean).slice(1).map((line) => line.split(','));
  /** Sum of column `c` over the rows of a downloaded file. */
  const columnSum = (rows: string[][], c: number) => rows.reduce((s, r) => s + Number(r[c]), 0);
  /** "Leave out the target's payments above x" (x = X_NO leaves out nothing). */
  const withoutShare = (cohort: string, x: number) => `NOT (id_card = '${target[cohort]!.id}' AND amount > ${x})`;

  // ---------------------------------------------------------------------------------------------
  // 1. A sum of released cells against a new cell: one person's share changed, not their presence.
  // ---------------------------------------------------------------------------------------------

  const perDistrictA = `SELECT district, count(*) AS payments FROM ${TABLE} WHERE cohort = 'a' GROUP BY district`;
  let releasedA: string | undefined;

  it('control: the method sees what it should: the target of cohort a has 1..9 payments above 140 and none above 149; after a per-district release of cohort a, the cohort total without the target, and the breakdown without the target\'s payments above 140, both fail differencing', async () => {
    const a = target.a!;
    const [truth] = await memory.connection.all(`SELECT count(*) FILTER (WHERE amount > ${X_YES}) AS yes, count(*) FILTER (WHERE amount > ${X_NO}) AS no FROM (${PAY_SQL}) WHERE id_card = '${a.id}'`);
    expect({ yes: Number(truth!.yes), no: Number(truth!.no) }).toEqual({ yes: a.above, no: 0 });
    expect(a.above).toBeGreaterThan(0);
    releasedA = await exports.release(perDistrictA);
    // A person left out of a total: the sum of the released column is one person away (summed: earlier).
    const without = await exports.create(`SELECT count(*) AS payments FROM ${TABLE} WHERE cohort = 'a' AND id_card <> '${a.id}'`);
    expect(check(without, 'differencing'), JSON.stringify(without.checks)).toBe('fail');
    // A person's share changed in one cell: the cell pair compares contributions (2 apart).
    const share = await exports.create(`SELECT district, count(*) AS payments FROM ${TABLE} WHERE cohort = 'a' AND ${withoutShare('a', X_YES)} GROUP BY district`);
    expect(check(share, 'differencing'), JSON.stringify(share.checks)).toBe('fail');
  });

  it('was a hole (fix: the sum rules also count the members whose contribution is the same on both sides, as the one-cell rule does): a sum of released cells is compared on who is in them, never on what each contributes: after "payments per district" of cohort a, the cohort total leaving out the target\'s payments above x passes in both worlds, and the recipient\'s sum of the breakdown minus the total is how many payments above x the target made (and the mirror: a released total, then the breakdown without that share)', async () => {
    // Seen: after the per-district release (4 cells of ~50 people), `count(*)` over cohort a WHERE
    // NOT (id_card = T AND amount > x) is one cell of the same 200 people: against each district
    // it is ~150 apart, against the sum of the released column 0 apart (the same entities), so it
    // passes at x = 140 (yes: T made payments above 140) as at x = 149 (no). One supervisor
    // approves it, the recipient downloads both files: 一区+二区+三区+四区 − total = T's number
    // of payments above 140 (the truth). The mirror in cohort c: a released cohort total, then the
    // per-district breakdown without T's payments above 140, passes too (released total − sum of
    // the new column = the same share of T).
    // Lets it through: sandbox/engine/release-store.ts:169-184: the `earlier_sum` and `new_sum`
    // rules compute Δ = |N| − Σ max(0, 2|N∩B| − |B|) on `k` (shared entities) only; the
    // contribution fingerprints (`ks`, :155) are used by the cell pair (:165-168) and nowhere in
    // the sums. docs/exports.md says a share changed is caught ("四区's total without one person's
    // payments above 140 counts the same people ... so it fails"), which holds for one released
    // cell, not for the sum of a released column (or a new column against a released cell).
    // SAFE: the yes-world export fails differencing (the no-world one, identical to the sum, may
    // pass): what the recipient receives is the same in both worlds, or nothing.
    // Fix: compare the sums on contributions too: Δ over members whose contribution to N equals
    // their contribution to the union (for a partition, a person's one cell's fingerprint), e.g.
    // `greatest(an - Σ max(0, 2·ks − bn), …)` beside the entity Δ, as the pair rule does.
    const a = target.a!;
    expect(releasedA, 'the control released the breakdown').toBeDefined();
    const totalA = (x: number) => `SELECT count(*) AS payments FROM ${TABLE} WHERE cohort = 'a' AND ${withoutShare('a', x)}`;
    const yesA = await exports.create(totalA(X_YES));
    const noA = await exports.create(totalA(X_NO));
    // The mirror, cohort c: a total released first, then the breakdown without T_c's share.
    const c = target.c!;
    await exports.release(`SELECT count(*) AS payments FROM ${TABLE} WHERE cohort = 'c'`);
    const breakdownC = (x: number) => `SELECT district, count(*) AS payments FROM ${TABLE} WHERE cohort = 'c' AND ${withoutShare('c', x)} GROUP BY district`;
    const yesC = await exports.create(breakdownC(X_YES));
    const noC = await exports.create(breakdownC(X_NO));
    const seen = { earlierSum: check(yesA, 'differencing'), newSum: check(yesC, 'differencing') };
    if (yesA.outcome === 'pass') {
      // End to end: approved, downloaded by the recipient, subtracted.
      await approve(yesA);
      const learned = columnSum(await downloaded(releasedA!), 1) - columnSum(await downloaded(yesA.id), 0);
      expect(learned, 'the recipient learned how many payments above 140 T made').toBe(a.above);
      expect({ yes: yesA.outcome, no: noA.outcome }, 'both worlds pass today').toEqual({ yes: 'pass', no: 'pass' });
    }
    if (yesC.outcome === 'pass') expect(noC.outcome).toBe('pass');
    expect(c.above).toBeGreaterThan(0);
    expect(seen, 'the yes-world export is flagged, in both directions').toEqual({ earlierSum: 'fail', newSum: 'fail' });
  });

  // ---------------------------------------------------------------------------------------------
  // 2. A sum of released cells whose groups are not a partition of people.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (fix: a sum of cells is also compared as the union of their people, which holds whether or not the cells share people): the "sum of cells" rule assumes a released column\'s cells are disjoint in people, but groups partition rows, not people: after "payments and amount per month" of cohort b (each person pays in 10 of 12 months), the cohort total without one person passes, and the recipient subtracts that person\'s exact total', async () => {
    // Seen: the per-month release (12 cells of ~167 people, every person in 10 of them) passes;
    // `count(*), sum(amount)` over cohort b WHERE id_card <> T (199 people) is 32..34 people from
    // each month's cell (no pair), and against the sum of the released column the rule computes
    // Δ = |N| − Σ max(0, 2|N∩B| − |B|) = 199 − (about 12 × 165) < 0, "not close", so it passes;
    // one supervisor approves and the recipient gets, by Σ months − total, T's 10 payments and
    // their sum exactly (integer columns carry no marks). Leaving T out wholly is the cruder
    // form; it needs no change of share, so comparing contributions (the fix above) does not close it.
    // Lets it through: sandbox/engine/release-store.ts:169-174 (`earlier_sum`; `new_sum` at
    // :175-184 for a released total against a new per-month column): the union formula counts
    // each released cell's overlap with N as if no person were in two cells, so with overlapping
    // cells Σ (2|N∩B| − |B|) exceeds |N| and the result is negative, never 1..9. The docs' premise
    // ("the groups of one output partition its rows, so a sum of cells of one column is the
    // aggregate over the union of their groups") is right for rows, not for the people the Δ counts.
    // The mirror in cohort e: a released cohort total, then "per month without T_e": each month's
    // cell (about 167 people) is about 33 from the total, and the released total against the sum of the new column
    // is again "negative", so it passes, and total − Σ months = T_e's payments and total.
    // SAFE: the total without T fails differencing against the sum of the per-month column (and
    // the per-month breakdown without T_e, summed, against the released total).
    // Fix: compare per person, not per cell: for the released column, each entity's summed
    // contribution over the cells taken (rows and sum, kept as numbers in the trusted store rather
    // than only a hash), against their contribution to N; Δ = the people whose totals differ. Or,
    // failing that, treat a column whose cells share entities as not summable by this rule and
    // compare N with the union of all its cells by per-person row counts (|rows in N| vs |rows in
    // the union|), failing closed (`review`) when that cannot be computed.
    const b = target.b!;
    const released = await exports.release(`SELECT month, count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'b' GROUP BY month`);
    const [shape] = await memory.connection.all(`SELECT min(n) AS smallest, max(m) AS most FROM (SELECT month, count(DISTINCT id_card) AS n FROM (${PAY_SQL}) WHERE cohort = 'b' GROUP BY month), (SELECT max(k) AS m FROM (SELECT id_card, count(DISTINCT month) AS k FROM (${PAY_SQL}) WHERE cohort = 'b' GROUP BY id_card))`);
    expect(Number(shape!.most), 'each person is in 10 of the 12 released cells').toBe(10);
    expect(Number(shape!.smallest)).toBeGreaterThanOrEqual(100);
    const without = await exports.create(`SELECT count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'b' AND id_card <> '${b.id}'`);
    // The mirror, cohort e: the cohort total released first, then the per-month breakdown without T_e.
    const e = target.e!;
    const totalE = await exports.release(`SELECT count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'e'`);
    const monthsWithout = await exports.create(`SELECT month, count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'e' AND id_card <> '${e.id}' GROUP BY month`);
    const seen = { earlierSum: check(without, 'differencing'), newSum: check(monthsWithout, 'differencing') };
    if (without.outcome === 'pass') {
      await approve(without);
      const [months, total] = [await downloaded(released), await downloaded(without.id)];
      const learned = { payments: columnSum(months, 1) - Number(total[0]![0]), paid: columnSum(months, 2) - Number(total[0]![1]) };
      expect(learned, 'the recipient rebuilt T\'s payments and their total').toEqual({ payments: b.payments, paid: b.paid });
    }
    if (monthsWithout.outcome === 'pass') {
      await approve(monthsWithout);
      const [total, months] = [await downloaded(totalE), await downloaded(monthsWithout.id)];
      const learned = { payments: Number(total[0]![0]) - columnSum(months, 1), paid: Number(total[0]![1]) - columnSum(months, 2) };
      expect(learned, 'the recipient rebuilt T_e\'s payments and their total').toEqual({ payments: e.payments, paid: e.paid });
    }
    expect(seen, `${JSON.stringify(without.checks)} ${JSON.stringify(monthsWithout.checks)}`).toEqual({ earlierSum: 'fail', newSum: 'fail' });
  });

  // ---------------------------------------------------------------------------------------------
  // 3. Different aggregates over the same people; a rounding mitigation.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: cells of different aggregates over the same people: after "payments and amount per district" of cohort d, the average per district without the target\'s payments of months 7..12 (the people unchanged, one share changed) fails differencing against the released sum (sum and avg share one contribution per person)', async () => {
    const d = target.d!;
    await exports.release(`SELECT district, count(*) AS payments, sum(amount) AS paid FROM ${TABLE} WHERE cohort = 'd' GROUP BY district`);
    const [truth] = await memory.connection.all(`SELECT count(*) FILTER (WHERE month > 6) AS later FROM (${PAY_SQL}) WHERE id_card = '${d.id}'`);
    expect(Number(truth!.later), 'the target has payments in months 7..12 and others').toBeGreaterThan(0);
    const avg = await exports.create(`SELECT district, avg(amount) AS mean FROM ${TABLE} WHERE cohort = 'd' AND NOT (id_card = '${d.id}' AND month > 6) GROUP BY district`);
    expect(check(avg, 'differencing'), JSON.stringify(avg.checks)).toBe('fail');
    expect(avg.outcome).toBe('fail');
  });

  it('STOPPED: rounding cures no differencing: the per-district count of cohort d without the target fails differencing, and its round5 version (same cells, same people) fails it too; the export cannot be submitted', async () => {
    const d = target.d!;
    const created = await exports.create(`SELECT district, count(*) AS payments FROM ${TABLE} WHERE cohort = 'd' AND id_card <> '${d.id}' GROUP BY district`);
    expect(check(created, 'differencing'), JSON.stringify(created.checks)).toBe('fail');
    const rounded = expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'round5', columns: ['payments'] }), 201).json() as CreatedExport & { version: number };
    expect(rounded.version).toBe(2);
    expect(check(rounded, 'differencing'), JSON.stringify(rounded.checks)).toBe('fail');
    expect(rounded.outcome).toBe('fail');
    expect(expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${created.id}/submit`, {}), 409).json().code).toBe('EXP_ERR_OUTCOME_FAIL');
  });
});
