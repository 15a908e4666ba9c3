/**
 * Red-team attacks, pass 19a (invariant 8 "usable but invisible"), from outside (HTTP only, as
 * operators of org `p19a`): after pass 18a (the workspace quota decided by one person's rows, now
 * PROD_WORKSPACE_FULL), the same class exhaustively: every limit, cap, error or refusal whose outcome
 * one person's rows can decide, in a prod answer, a prod workspace table or an export, that is not
 * counted towards the probing budget or that shows in ONE request. Each attack asks the same
 * question twice (person 7 paid above 145: yes, 4 payments 146..149; above 149: no); the SAFE
 * expectation is that the two look the same, or that each try counts as probing (more tries by one
 * operator than the burst, 20, plus what refills meanwhile, meet 429 SBX_ERR_REJECTIONS_RATE_LIMITED).
 * `HOLE:` fails (the comment says what each world showed); `STOPPED:` held when written.
 *
 * Setup: the `pay` dataset (test/helpers/pay-fixture.ts): 400 people, 20 payments each; person 7
 * (四区) pays 140..149 then 100..109. The policy change of the rebuild test is a supervisor's, over HTTP.
 */
import { describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownAs, knownPerson } from '../helpers/pay-fixture.js';
import { SUPERVISOR } from '../helpers/test-app.js';
import { payRedTeam } from '../helpers/two-worlds.js';

const { app, operator, bothWorlds, exportSeen } = payRedTeam('p19a');

const person7 = (table = '') => knownAs(7, table);

/** "Person 7 paid above x" (yes at 145, no at 149). */
const paidAbove = async (x: number, table = '') => `${await person7(table)} AND ${table}amount > ${x}`;

/** HUGEINT's smallest value: it sums (alone) without overflow, but has no absolute value. */
const HUGEINT_MIN = "(CAST('-170141183460469231731687303715884105727' AS HUGEINT) - 1)";

describe('hole: a prod workspace table rebuilt after a policy change answers, uncounted, at rebuild', () => {
  it('was a hole (the clock, random values and sequences are refused in prod workspace tables over personal data: rebuilt from their SQL, they must compute the same rows): whether person 7 paid above x, from a prod workspace table that a policy change rebuilds: withdrawn (its rebuild failed on that person\'s row) or kept; no probing budget is spent, and one rebuild answers as many such questions as the tenant has tables', async () => {
    // A prod table over personal data is built unchecked; only a failure of the build counts
    // (DSC_ERR_RUNTIME_ERROR). But when a policy of a dataset it reads changes, `reconcile`
    // (tenants/table-service.ts:112-137) rebuilds it from its SQL as SYSTEM_ACTOR through `save` (:129),
    // outside any probe admission, and a rebuild that fails for any reason (here
    // DSC_ERR_RUNTIME_ERROR; the workspace quota, TBL_ERR_WORKSPACE_FULL, likewise) withdraws the table
    // (:133, audited `table.withdraw`), which then leaves the operator's listing. The SQL arms
    // itself after its build with the clock (`now()` is allowed in a table; the build runs at
    // creation with the clock before the mark): at the next rebuild, a cast fails exactly on person
    // 7's payments above x. Any number of such tables (one question each) are created without a
    // refusal, and the next policy change answers them all at once, never counted.
    // Seen: yes table withdrawn (GET /v1/tables no longer lists it; audit: table.withdraw "it could
    // not be rebuilt under the new policy (DSC_ERR_RUNTIME_ERROR)"); no table kept and rebuilt.
    const armAt = Date.now() + 3_000;
    const tableSql = async (x: number) => `SELECT district, CASE WHEN epoch_ms(now()) > ${armAt} AND ${await paidAbove(x)} THEN CAST(district AS INTEGER) ELSE 0 END AS v FROM pay`;
    const who = operator();
    // Since the fix, such a table is not built: a prod table over personal data must compute the same rows at every rebuild.
    for (const x of [145, 149]) {
      const created = await app().call(who, 'POST', '/v1/tables', { name: `armed_${x}`, env: 'prod', sql: await tableSql(x) });
      expect(created.statusCode).toBe(422);
      expect(created.json().code).toBe('DSC_ERR_UNCHECKABLE');
    }
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, armAt - Date.now()) + 500));
    // The supervisor changes a policy of `pay` (keeping the columns the tables read): routine.
    expectStatus(await app().call(SUPERVISOR, 'PUT', '/v1/datasets/pay/policy', { columns: { id_card: { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender'] } } }), 200);
    await app().app.controlPlane.refinery.refresh('p19a');
    const names = (expectStatus(await app().call(who, 'GET', '/v1/tables'), 200).json() as { tables: { name: string }[] }).tables.map((t) => t.name);
    const yes = names.includes('armed_145');
    const no = names.includes('armed_149');
    // SAFE: the two tables fare alike.
    expect(yes).toBe(no);
  }, 300_000);
});

describe('stopped (nineteenth pass, 19a)', () => {
  it('STOPPED: a sum that is HUGEINT\'s smallest value on person 7\'s payment (so that the checks\' companion, which takes `abs` of each person\'s contribution, fails only then) cannot be written: a sum must aggregate a plain column chosen by nothing else; refused for its shape, in a prod answer and an export alike in both worlds', async () => {
    // The companion's `max(abs(__c), 2)` (check-answer.ts:663) fails on a contribution of
    // -2^127 while the answer itself computes; had such a sum passed, an export would have been
    // refused by `companionTable` (review-output.ts:167) with a THROWN DSC_ERR_UNCHECKABLE, which the
    // export service settles uncounted (see the report). The shape rules (answer-shape.ts:234-249)
    // leave no way to put a chosen value on one person's row into a sum.
    for (const sql of [
      async (x: number) => `SELECT district, count(*) AS n, sum(CASE WHEN ${await paidAbove(x)} AND amount = 149 THEN ${HUGEINT_MIN} ELSE CAST(0 AS HUGEINT) END) AS s FROM pay WHERE district = '四区' GROUP BY district`,
      async (x: number) => `SELECT district, count(*) AS n, sum(${HUGEINT_MIN}) FILTER (WHERE ${await paidAbove(x)} AND amount = 149) AS s FROM pay WHERE district = '四区' GROUP BY district`,
    ]) {
      const { yes, no } = await bothWorlds(sql);
      expect(yes.body.code).toBe('DSC_ERR_UNCHECKABLE');
      expect(yes).toEqual(no);
      const exported = await Promise.all([145, 149].map(async (x) => ({ ...(await exportSeen(await sql(x))), snapshotSha256: undefined })));
      expect(exported[0]!.outcome).toBe('review');
      expect(exported[0]).toEqual(exported[1]);
    }
  }, 300_000);

  it('STOPPED: a prod table build and an export that fail on a cast of the masked mobile show neither the value nor the engine\'s message, in the answer or the audit', async () => {
    const who = operator();
    const masked = (await knownPerson(7)).mobile;
    const sql = `SELECT CAST(mobile AS INTEGER) AS m FROM pay WHERE ${await person7()}`;
    const table = await app().call(who, 'POST', '/v1/tables', { name: 'cast_mobile', env: 'prod', sql });
    const exported = await app().call(who, 'POST', '/v1/exports', { source: { sql: `SELECT district, count(*) AS n FROM pay WHERE CAST(mobile AS INTEGER) > 0 GROUP BY district` }, recipient: 'city-lab', purpose: 'red team p19a', format: 'csv' });
    expect([table.json().code, exported.json().code]).toEqual(['DSC_ERR_RUNTIME_ERROR', 'DSC_ERR_RUNTIME_ERROR']);
    const audit = JSON.stringify((await app().call(SUPERVISOR, 'GET', `/v1/audit?actor=${who.sub}`)).json());
    expect(audit).toContain('DSC_ERR_RUNTIME_ERROR');
    for (const text of [table.body, exported.body, audit.replaceAll(sql, '')]) {
      expect(text).not.toContain(masked);
      expect(text).not.toMatch(/Could not convert|Conversion Error/);
    }
  }, 300_000);
});
