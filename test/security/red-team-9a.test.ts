/**
 * Red-team attacks, ninth pass (part a; issue #11 item 3, invariant 8 "usable but invisible"), from
 * outside (HTTP only, as an operator of org `p9`): learn whether one known person matches a
 * condition, or one person's value, with no `query.differencing` entry and no refusal counted
 * towards the probing budget. This pass aims at exports (their checks, refusals and mitigations),
 * prod workspace tables and row-level answers. Each attack asks the same question twice (person 7
 * paid above 145: yes, 4 payments 146..149; above 149: no), and the SAFE expectation is that the
 * two look the same (or that each try counts as probing). `was a hole` failed until the fix it
 * names; `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people x 20 payments; person p lives
 * in district p % 4 (一区, 二区, 三区, 四区); person 7 (四区) pays 100..109 and 140..149. In 四区,
 * 40 payments are exactly 100 (person 7's among them).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownPerson, paidAbove as paidAboveOf, startPayApp } from '../helpers/pay-fixture.js';
import type { TestApp } from '../helpers/test-app.js';
import { operatorSight } from '../helpers/two-worlds.js';

let t: TestApp;
const { seen, exportSeen, operator } = operatorSight(() => t, 'p9');

beforeAll(async () => {
  t = await startPayApp('p9');
}, 300_000);
afterAll(() => t.close({ remove: true }));

/** "Person 7 paid more than x" (yes at 145, no at 149). */
const paidAbove = (x: number, table = '') => paidAboveOf(7, x, table);

/** Rows of 四区 whose amount everybody knows (exactly 100), plus person 7's payments above x. */
const crowd = async (x: number) => `district = '四区' AND (amount = 100 OR (${await paidAbove(x)}))`;

/** More tries than the probing burst (20) plus what it refills while they run, on any machine. */
const PROBING_TRIES = 60;

/**
 * Whether trying `attempt` again and again as one operator runs into the probing limit (burst 20,
 * then 10 a minute): it counts as probing. Up to 60 tries: on a loaded machine 21 tries take long
 * enough for the budget to refill a few tokens, and a 21st try was still let through.
 */
async function countsAsProbing(attempt: (who: ReturnType<typeof operator>) => Promise<{ statusCode: number; json(): { code?: string } }>): Promise<boolean> {
  const who = operator();
  for (let i = 0; i < PROBING_TRIES; i++) {
    const response = await attempt(who);
    if (response.statusCode === 429 && response.json().code === 'SBX_ERR_REJECTIONS_RATE_LIMITED') return true;
  }
  return false;
}

const createExport = (who: ReturnType<typeof operator>, sql: string) => t.call(who, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team 9a', format: 'csv' });

/** SAFE for an export of `sql(x)`: each try counts towards the probing budget, or the two worlds look the same to the operator. */
async function expectExportAlikeOrCounted(sql: (x: number) => Promise<string>): Promise<void> {
  const yes = await exportSeen(await sql(145));
  const no = await exportSeen(await sql(149));
  const [yesSql, noSql] = [await sql(145), await sql(149)];
  const counted = await countsAsProbing((who) => createExport(who, yesSql)) && await countsAsProbing((who) => createExport(who, noSql));
  if (!counted) expect(yes).toEqual(no);
}

describe('holes found by the ninth pass (a)', () => {
  it('was a hole (a mean of a column that also chooses the rows is refused): one prod answer, no pair: the mean over a crowd whose value everybody knows (payments of exactly 100) plus person 7\'s payments above x is 100 exactly, or not', async () => {
    // The crowd is about 40 people of 四区 (one payment of 100 each; person 7 is one of them), so
    // every check passes: 40 entities, no dominance (person 7 adds 590 to 4,590), one cell. No
    // earlier answer is needed as the baseline: the WHERE fixes it (every crowd row is 100).
    // Seen: avg 104.318..., n 44 (yes) against avg 100, n 40 (no): (104.318 x 44 - 100 x 40) = 590
    // = 146 + 147 + 148 + 149, person 7's payments above 145 themselves.
    const sql = async (x: number) => `SELECT avg(amount) AS a, count(*) AS n FROM pay WHERE ${await crowd(x)}`;
    const yes = await seen(await sql(145));
    const no = await seen(await sql(149));
    // Refused for its shape (the WHERE chooses rows by the column averaged), the same in both worlds.
    expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
    // SAFE: the two look the same (the mean withheld, or the answer refused).
    expect(yes).toEqual(no);
  });

  it('was a hole (as above: the spread is refused, the same in both worlds): an export\'s `zeros` check (review, never counted) says whether a spread over the known crowd plus person 7\'s payments above x is zero', async () => {
    // The operator never sees an export's values, but sees its checks. stddev_pop over payments of
    // exactly 100 is 0 unless person 7 adds another amount. Every person-level check passes in both
    // worlds; `zeros` is `review`, which is not a failing check: nothing is counted.
    // Seen: outcome pass, zeros pass (yes) against outcome review, zeros review "1 cells are zero",
    // cells [{row 0, s}] (no). Twenty-one tries by one operator meet no probing limit.
    await expectExportAlikeOrCounted(async (x) => `SELECT stddev_pop(amount) AS s FROM pay WHERE ${await crowd(x)}`);
  });

  it('was a hole (row-cap reviews either way when the checks cannot be derived): an export\'s `row-cap` check (review, never counted) counts person 7\'s payments above x: 100,000 constant rows beside them, in a set operation (uncheckable, so no person-level check fails)', async () => {
    // A personal table inside UNION ALL makes the person-level checks underivable for the query's
    // shape (not for its data): `review`, not counted, and `empty-output` is `review` either way.
    // But the row cap is judged on the real row count: over 100,000 exactly when person 7 has a
    // payment above x. No crowd needed. Seen: row-cap review "the output has more than the 100000
    // rows ..." (yes) against row-cap pass (no); every other check alike.
    await expectExportAlikeOrCounted(async (x) => `SELECT district FROM pay WHERE ${await paidAbove(x)} UNION ALL SELECT 'x' FROM range(100000)`);
  });

  it('was a hole (EXP_ERR_TOO_MANY_ROWS counts as probing): 413 EXP_ERR_TOO_MANY_ROWS (a refusal never counted) against 201: 1,000,000 constant rows beside person 7\'s payments above x', async () => {
    // The export's hard row limit (INDOMAIN_EXPORT_MAX_ROWS, 1,000,000) is a second boundary on a
    // count no check has seen; its refusal is not among the probing codes. Seen: 413
    // EXP_ERR_TOO_MANY_ROWS "the output has more than 1000000 rows" (yes) against 201 (no).
    const sql = async (x: number) => `SELECT district FROM pay WHERE ${await paidAbove(x)} UNION ALL SELECT 'x' FROM range(1000000)`;
    const sight = async (text: string) => {
      const response = await createExport(operator(), text);
      return { status: response.statusCode, code: response.json().code, outcome: response.json().outcome };
    };
    const yes = await sight(await sql(145));
    const no = await sight(await sql(149));
    const yesSql = await sql(145);
    const counted = await countsAsProbing((who) => createExport(who, yesSql));
    // SAFE: each try counts towards the probing budget, or the two look the same.
    if (!counted) expect(yes).toEqual(no);
  });

  it('was a hole (DSC_ERR_RUNTIME_ERROR, counted, as for prod answers): a prod workspace table whose SELECT fails only on person 7\'s payments above x: 422 SBX_ERR_QUERY_FAILED "(Conversion Error)" against 201, never counted', async () => {
    // Prod queries over personal data turn a runtime failure into DSC_ERR_RUNTIME_ERROR (one fixed
    // message, counted as probing: `overPersonalData` in tenant-engine.ts); creating a table in prod
    // from the same SELECT does not: the code is SBX_ERR_QUERY_FAILED, which is not counted, and the
    // message names the engine's error class. Seen: 422 SBX_ERR_QUERY_FAILED "the query failed
    // while running (Conversion Error): ..." (yes) against 201 (no).
    let n = 0;
    const create = async (who: ReturnType<typeof operator>, x: number) => t.call(who, 'POST', '/v1/tables', {
      name: `probe_${x}_${n++}`, env: 'prod', sql: `SELECT CASE WHEN ${await paidAbove(x)} THEN CAST('x' || amount AS INTEGER) ELSE 1 END AS v FROM pay`,
    });
    const sight = async (x: number) => {
      const response = await create(operator(), x);
      return { status: response.statusCode, code: response.json().code, message: response.json().message, rows: response.json().rows };
    };
    const yes = await sight(145);
    const no = await sight(149);
    const counted = await countsAsProbing((who) => create(who, 145));
    // SAFE: each try counts towards the probing budget, or the two look the same.
    if (!counted) expect(yes).toEqual(no);
  });

  it('was a hole (secondary suppression takes the first passing row): suppression picked the secondary row by hidden entity counts: which row goes with 孤岛区 says whether person 7 is in 四区\'s group (removedRows [0, 2] or [1, 2])', async () => {
    // Rows: 三区 (100 people), 四区 without person 7 unless they paid above x (100 or 99), 孤岛区 (1
    // person: fails minimum-entities in both worlds alike). Suppression removes 孤岛区 and, as
    // secondary, the passing row with the fewest entities, the earlier on a tie: 三区 when 四区
    // has 100, 四区 when it has 99. The operator reads `mitigation.removedRows` of the new version.
    // Version 1 fails, and counts as probing, the same way in both worlds; the mitigation that
    // answers is not counted. Seen: removedRows [0, 2] (yes) against [1, 2] (no).
    const person = await knownPerson(7);
    const sql = (x: number) => `SELECT district, count(*) AS n FROM pay WHERE district IN ('孤岛区', '三区', '四区') AND NOT (mobile = '${person.mobile}' AND id_card_birth_year = ${person.year} AND amount <= ${x}) GROUP BY district ORDER BY district`;
    const suppressed = async (x: number) => {
      const who = operator();
      const created = expectStatus(await createExport(who, sql(x)), 201).json();
      const first = { outcome: created.outcome, checks: created.checks };
      const version = expectStatus(await t.call(who, 'POST', `/v1/exports/${created.id}/versions`, { mitigation: 'suppress' }), 201).json();
      const detail = expectStatus(await t.call(who, 'GET', `/v1/exports/${created.id}`), 200).json();
      return { first, outcome: version.outcome, checks: version.checks, mitigation: detail.mitigation, withheld: detail.withheld };
    };
    const yes = await suppressed(145);
    const no = await suppressed(149);
    // The first versions look the same (and are counted alike): only the mitigation differs.
    expect(yes.first).toEqual(no.first);
    // SAFE: the two look the same.
    expect(yes).toEqual(no);
  });
});

describe('attacks stopped in the ninth pass (a)', () => {
  it('STOPPED: a prod workspace table built from the crowd plus person 7\'s payments above x, exported by {table}, looks the same (rows null, review)', async () => {
    const sight = async (x: number) => {
      const who = operator();
      const table = expectStatus(await t.call(who, 'POST', '/v1/tables', { name: `crowd_${x}`, env: 'prod', sql: `SELECT district FROM pay WHERE ${await crowd(x)}` }), 201).json();
      const e = expectStatus(await t.call(who, 'POST', '/v1/exports', { source: { table: `crowd_${x}` }, recipient: 'city-lab', purpose: 'red team 9a', format: 'csv' }), 201).json();
      const detail = expectStatus(await t.call(who, 'GET', `/v1/exports/${e.id}`), 200).json();
      const listed = expectStatus(await t.call(who, 'GET', '/v1/tables'), 200).json();
      const row = (Array.isArray(listed) ? listed : listed.tables).find((r: { name: string }) => r.name === `crowd_${x}`);
      return { rows: table.rows, listedRows: row?.rows, outcome: e.outcome, checks: e.checks, rowCount: detail.rowCount };
    };
    const yes = await sight(145);
    const no = await sight(149);
    expect(yes).toEqual(no);
  });

  it('STOPPED: row-level answers whose "quasi-identifier" is steered by a hidden value, or ordered and limited, look the same whoever matches', async () => {
    const attempts: ((x: number) => Promise<string>)[] = [
      // A quasi-identifier computed from the amount and the person.
      async (x) => `SELECT DISTINCT CASE WHEN ${await paidAbove(x)} THEN '一区' ELSE district END AS d FROM pay WHERE district = '四区'`,
      // The birth year shifted on person 7's rows only.
      async (x) => `SELECT DISTINCT district, id_card_birth_year + CAST(${await paidAbove(x)} AS INTEGER) AS y FROM pay WHERE district = '四区' ORDER BY y DESC LIMIT 1`,
      // GROUP BY without aggregates over the crowd.
      async (x) => `SELECT district, id_card_gender FROM pay WHERE ${await crowd(x)} GROUP BY district, id_card_gender ORDER BY 1, 2`,
    ];
    for (const sql of attempts) {
      expect(await seen(await sql(145)), await sql(145)).toEqual(await seen(await sql(149)));
    }
  });

  it('STOPPED (control for the holes above): an export with a failing person-level check counts as probing, and the helper sees it', async () => {
    // Run last: it spends 21 of the tenant's probing tokens.
    expect(await countsAsProbing((who) => createExport(who, "SELECT district, count(*) AS n FROM pay WHERE district = '孤岛区' GROUP BY district"))).toBe(true);
  });
});
