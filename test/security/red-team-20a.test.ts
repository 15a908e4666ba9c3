/**
 * Red-team pass 20a: the serialized approvals of pass 19b (export-service.ts `oneApprovalAtATime`,
 * the `releasing` chain) and the early withdrawal mark of pass 17d (catalog-service.ts
 * `setWithdrawal`), attacked from outside over HTTP.
 *
 * Promises: docs/exports.md ("Approval re-checks": one approval at a time, from the release
 * comparison to the commit or undo) and docs/catalog.md ("Withdrawing a dataset": from the commit of
 * a withdrawal nothing reads the dataset until it is reinstated).
 *
 * Setup: `pay` (400 people, the pay fixture) granted to alpha and beta; an approval is made slow
 * (~3 s) by a 30 MB text column beside the counts (`lpad(district, 30000000, 'y')`, as in pass 19b).
 * Each test is a safe expectation: it passes when the platform holds and fails on a hole.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayGrantee, licensePayTenant, paymentsPerDistrict } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
type Operator = typeof ALPHA | typeof BETA;

/** A 30 MB text column beside the counts: the package build takes seconds, the checks still pass. */
const padded = (sql: string) => sql.replace('AS payments', "AS payments, lpad(district, 30000000, 'y') AS pad");
const inDistricts = (districts: string[]) => `SELECT district, count(*) AS payments FROM pay WHERE district IN (${districts.map((d) => `'${d}'`).join(', ')}) GROUP BY district ORDER BY district`;

interface AuditEntry { seq: number; action: string; target: string; details: Record<string, unknown> }

describe('red-team 20a: one approval at a time, and the early withdrawal mark', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licensePayTenant(t, 'alpha');
    await licensePayGrantee(t, 'beta');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const answer = (res: LightMyRequestResponse) => `${res.statusCode} ${res.json().status ?? res.json().code}`;
  const audit = async (query: string): Promise<AuditEntry[]> => expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?limit=1000&${query}`), 200).json().entries;
  const packageDir = (id: string) => path.join(t.dataDir, 'exports', id, 'v1', 'package');
  const create = async (claims: Operator, sql: string) => {
    const body = expectStatus(await t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'red team 20a', format: 'csv' }), 201).json();
    expect(body.outcome, `${sql.slice(0, 120)}: ${JSON.stringify(body.checks)}`).toBe('pass');
    expectStatus(await t.call(claims, 'POST', `/v1/exports/${body.id}/submit`, {}), 200);
    return body.id as string;
  };
  const approve = (claims: typeof SAM | typeof SUPERVISOR, id: string) => t.call(claims, 'POST', `/v1/exports/${id}/reviews`, { version: 1, decision: 'approve' });

  // ---------------------------------------------------------------------------------------------
  // Denial of service across tenants.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (the package is built before the approval takes the platform\'s turn): one tenant\'s slow package build holds every other tenant\'s final approval (bounded only by the engine\'s 15-minute task limit); a refused approval does not break the chain', async () => {
    // What happens: `review` runs the whole final approval, its release comparison, its package build
    // (engine exportDeliver) and its commit, inside `oneApprovalAtATime` (export-service.ts:408-412,
    // called at :611), one turn for every export of every tenant. The package build has no bound of
    // its own: only the engine client's task limit, TASK_LIMIT_MS.import = 15 min
    // (sandbox/engine/engine-client.ts:59, :148), past which the trusted process shared by every
    // tenant is killed; exportRelease has the same 15 min (:158). So alpha's export whose package is
    // large (here 120 MB in four rows, ~3 s; an XLSX or Parquet of a million wide rows takes far
    // longer) holds beta's approval of a two-cell CSV for as long as alpha's build runs: the
    // serialization needs only the release comparison and its commit to be exclusive, not the build.
    // Seen: beta's approval, sent once alpha's package build has started, answers only after alpha's
    // (alpha 403 AUTH_ERR_TENANT_SUSPENDED in its commit, audit #30; beta 200 approved, #31): the
    // two-cell approval of another tenant waited the whole build. Nothing bounds the turn in the
    // export service; a supervisor's approval of one big export stalls every approval platform-wide.
    // Held: alpha's approval, refused in its commit (tenant suspended during the build, a rejected
    // turn), does not break the chain: beta's approval then runs and is approved.
    const slow = await create(ALPHA, padded(paymentsPerDistrict([])));
    const quick = await create(BETA, inDistricts(['二区', '三区']));
    const order: string[] = [];
    const slowApproval = approve(SUPERVISOR, slow).then((res) => { order.push('alpha'); return res; });
    await waitUntil("alpha's package build to start", () => fs.existsSync(packageDir(slow)), { intervalMs: 1 });
    const quickApproval = approve(SAM, quick).then((res) => { order.push('beta'); return res; });
    // A rejected turn: alpha is suspended while its package is built (its commit refuses it).
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/suspend'), 200);
    const [slowRes, quickRes] = await Promise.all([slowApproval, quickApproval]);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/resume'), 200);
    // What held: the refused turn did not break the chain; beta is approved, alpha is not.
    expect(answer(slowRes)).not.toBe('200 approved');
    expect(answer(quickRes)).toBe('200 approved');
    expect(fs.existsSync(path.join(packageDir(slow), 'manifest.json'))).toBe(false);
    const reviewed = (await audit('action=export.review')).filter((e) => [slow, quick].some((id) => e.target === `export:${id}`));
    // The hole: beta's approval waited for alpha's build.
    expect(order, `answers in order ${order.join(', ')}; alpha ${answer(slowRes)}, beta ${answer(quickRes)}; reviews ${JSON.stringify(reviewed.map((e) => [e.target === `export:${slow}` ? 'alpha' : 'beta', e.seq, e.details.outcome]))}`).toEqual(['beta', 'alpha']);
  }, 180_000);

  it('STOPPED: no deadlock between the turn and an export\'s queue: a withdrawal and a second approval of an export waiting for the turn complete once the turn is free', async () => {
    const slow = await create(ALPHA, padded(inDistricts(['一区'])));
    const waiting = await create(BETA, inDistricts(['四区']));
    const slowApproval = approve(SUPERVISOR, slow);
    await waitUntil("alpha's package build to start", () => fs.existsSync(packageDir(slow)), { intervalMs: 1 });
    // beta's approval waits for the turn while holding beta's export queue; its withdrawal and a
    // second approval queue behind it on that export; none of them is needed by the turn's holder.
    const first = approve(SAM, waiting);
    const second = approve(SUPERVISOR, waiting);
    const withdrawal = t.call(BETA, 'POST', `/v1/exports/${waiting}/withdraw`);
    const [a, b, c, w] = await Promise.all([slowApproval, first, second, withdrawal]);
    // Everything answered (no cycle); the export's own requests ran one after another in some order.
    expect(answer(a)).toBe('200 approved');
    expect(answer(w)).toBe('200 withdrawn');
    const reviews = [answer(b), answer(c)];
    expect(reviews.filter((x) => x === '200 approved').length, reviews.join(', ')).toBeLessThanOrEqual(1);
    expect(reviews.every((x) => x === '200 approved' || x.startsWith('409 ')), reviews.join(', ')).toBe(true);
  }, 180_000);

  // ---------------------------------------------------------------------------------------------
  // The early withdrawal mark.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: two concurrent withdrawals: the one refused as CAT_ERR_WITHDRAWAL_STATE does not unmark the one that committed (its state check comes before its mark)', async () => {
    const [one, two] = await Promise.all([
      t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: 'objection' }),
      t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: 'objection again' }),
    ]);
    expect([one.statusCode, two.statusCode].sort()).toEqual([200, 409]);
    const query = await t.call(BETA, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM pay', env: 'dev' });
    expect(answer(query)).toBe('403 CAT_ERR_DATASET_WITHDRAWN');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/reinstate', { reason: 'checked' }), 200);
  }, 60_000);

  it('was a hole (both actions set the access directory in their after-commit step, in commit order): a reinstatement and a withdrawal committed in one store batch leave the dataset withdrawn in the store and answering every tenant', async () => {
    // What happens: the control store commits every mutation queued while a commit is in flight in
    // one transaction (tenants/store/duckdb-control-store.ts:99-113, 140-233), each job's work run in
    // turn, its `afterCommit` callbacks run after the whole batch commits (:225-231). `setWithdrawal`
    // (tenants/catalog-service.ts:221-250) marks a withdrawal in the access directory during its
    // work, before the commit (:238-240), but unmarks a reinstatement in an afterCommit callback
    // (:241). A reinstatement R queued before a withdrawal W in the same batch: R deletes the
    // withdrawal row, W reads "not withdrawn" in the same transaction, inserts it again and marks
    // the directory; the batch commits; then R's callback runs `putWithdrawn(pay, false)`
    // (control-plane.ts:102-104): the store says withdrawn (W answered 200, audited after R), the
    // directory says not, and every copy of the dataset answers every tenant until a restart
    // reloads the directory from the store. Nothing a supervisor sees says so: the dataset is listed
    // as withdrawn. Fix direction: mark and unmark in the same place in order (a reinstatement's
    // unmark in its work as well, undone on failure), or re-read the store's state in the callback.
    // Seen (first round of four reinstatements and four withdrawals sent at once, the last a
    // withdrawal): all eight 200; GET /v1/datasets/pay shows the withdrawal; beta's dev and prod
    // `SELECT count(*) FROM pay` answer 200 (8000); a further withdrawal is refused 409
    // CAT_ERR_WITHDRAWAL_STATE "already withdrawn", so the supervisor cannot stop it without a
    // reinstatement first.
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: 'objection' }), 200);
    let seen = 'no round put both in one batch';
    let leaked = false;
    for (let round = 0; round < 6 && !leaked; round += 1) {
      // Reinstatements and withdrawals in turn, sent at once: those queued while a commit is in
      // flight share the next batch (each succeeds: the state alternates inside the transaction).
      const pairs = 4;
      const calls = Array.from({ length: pairs * 2 }, (_, i) => (i % 2 === 0
        ? t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/reinstate', { reason: `checked ${round}.${i}` })
        : t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: `objection ${round}.${i}` })));
      const answers = await Promise.all(calls);
      const r = answers.filter((_, i) => i % 2 === 0).map((res) => res.statusCode).join(',');
      const w = answers.filter((_, i) => i % 2 === 1).map((res) => res.statusCode).join(',');
      const listed = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/datasets/pay'), 200).json();
      const dev = await t.call(BETA, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM pay', env: 'dev' });
      const prod = await t.call(BETA, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM pay', env: 'prod' });
      seen = `round ${round}: reinstates ${r}, withdrawals ${w}; listed withdrawn: ${listed.withdrawal !== undefined}; beta dev ${dev.statusCode} ${dev.body.slice(0, 80)}, prod ${prod.statusCode} ${prod.body.slice(0, 80)}`;
      if (listed.withdrawal !== undefined) {
        leaked = dev.statusCode === 200 || prod.statusCode === 200;
        // The supervisor cannot withdraw it again: the store says it is withdrawn already.
        if (leaked) seen += `; withdraw again: ${answer(await t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: 'objection, third time' }))}`;
      } else {
        // Both committed in the other order: withdraw again for the next round.
        expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/datasets/pay/withdraw', { reason: 'objection' }), 200);
      }
    }
    expect(leaked, seen).toBe(false);
  }, 180_000);
});
