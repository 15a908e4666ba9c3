/**
 * Red-team pass 19b: the export approval path after passes 17d and 18b (export-service.ts `review`,
 * `release`, `sendBack`; sandbox/engine/release-store.ts), attacked from outside over HTTP. The
 * promise (docs/exports.md, "Approval re-checks"): at a final approval the trusted process checks
 * the version's cells against every release and adds them to the release store, one approval at a
 * time; if packaging or the commit fails after that "they are taken out again"; every approval
 * checks its sources before and again inside its commit; "a tenant suspended or revoked since …
 * none is approved meanwhile"; a version whose dataset has a newer version is sent back.
 *
 * Setup: `pay` (400 people, the pay fixture) granted to three tenants; an approval is made slow
 * (~3 s) by a 30 MB text column beside the counts (`lpad(district, 30000000, 'y')`: four rows, a
 * 120 MB package) so that something can happen between its release and its commit. Each test is a
 * safe expectation: it passes when the platform holds and fails on a hole.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayGrantee, licensePayTenant, PAYMENTS_SQL, paymentsPerDistrict, uniqueMaskedMobiles } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const ALPHA = { role: 'operator', org: 'alpha', sub: 'alice' } as const;
const BETA = { role: 'operator', org: 'beta', sub: 'bob' } as const;
const GAMMA = { role: 'operator', org: 'gamma', sub: 'gil' } as const;
const CITY = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const RIVER = { role: 'applicant', org: 'river-lab', sub: 'rick' } as const;
const SAM = { role: 'supervisor', org: 'authority', sub: 'sam' } as const;
type Operator = typeof ALPHA | typeof BETA | typeof GAMMA;
type Caller = Operator | typeof CITY | typeof RIVER | typeof SAM | typeof SUPERVISOR;

/** A 30 MB text column beside the counts: the package build takes seconds, the checks still pass. */
const padded = (sql: string) => sql.replace('AS payments', "AS payments, lpad(district, 30000000, 'y') AS pad");
/** Payments per district over some districts only (cells equal to, or disjoint from, the others'). */
const inDistricts = (districts: string[]) => `SELECT district, count(*) AS payments FROM pay WHERE district IN (${districts.map((d) => `'${d}'`).join(', ')}) GROUP BY district ORDER BY district`;

interface AuditEntry { seq: number; action: string; target: string; actor: { sub: string }; details: Record<string, unknown> }

describe('red-team 19b: the approval path, its release and its rollback', () => {
  let t: TestApp;
  let three: string[];
  let payUntil: string;
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'alpha');
    await licensePayGrantee(t, 'beta');
    await licensePayGrantee(t, 'gamma');
    for (const [id, name] of [['city-lab', 'City Lab'], ['river-lab', 'River Lab']]) expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id, name }), 201);
    three = await uniqueMaskedMobiles(3);
    payUntil = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/alpha/grants'), 200).json().grants.find((g: { dataset: string }) => g.dataset === 'pay').until;
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const releaseFiles = () => {
    const dir = path.join(t.dataDir, 'releases');
    return fs.existsSync(dir) ? fs.readdirSync(dir, { recursive: true }).map(String).filter((f) => f.endsWith('.parquet')) : [];
  };
  const inReleaseStore = (id: string) => releaseFiles().some((f) => f.includes(id));
  const packageDir = (id: string) => path.join(t.dataDir, 'exports', id, 'v1', 'package');
  const create = async (claims: Operator, sql: string, recipient: string) => {
    const body = expectStatus(await t.call(claims, 'POST', '/v1/exports', { source: { sql }, recipient, purpose: 'red team 19b', format: 'csv' }), 201).json();
    expect(body.outcome, `${sql.slice(0, 120)}: ${JSON.stringify(body.checks)}`).toBe('pass');
    expectStatus(await t.call(claims, 'POST', `/v1/exports/${body.id}/submit`, {}), 200);
    return body.id as string;
  };
  const approve = (claims: typeof SAM | typeof SUPERVISOR, id: string, version = 1) => t.call(claims, 'POST', `/v1/exports/${id}/reviews`, { version, decision: 'approve' });
  const detail = async (claims: Caller, id: string) => t.call(claims, 'GET', `/v1/exports/${id}`);
  const statusOf = async (id: string) => expectStatus(await detail(SUPERVISOR, id), 200).json().status as string;
  const audit = async (query: string): Promise<AuditEntry[]> => expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?limit=1000&${query}`), 200).json().entries;
  const answer = (res: LightMyRequestResponse) => `${res.statusCode} ${res.json().status ?? res.json().code}`;
  const approvedEntry = async (id: string) => (await audit(`action=export.review&target=export:${id}`)).find((e) => e.details.outcome === 'ok' && e.details.status === 'approved');

  // ---------------------------------------------------------------------------------------------
  // Holes.
  // ---------------------------------------------------------------------------------------------

  it('was a hole (final approvals run one at a time from their release to their commit or undo): an approval that rolls back leaves its cells in the release store long enough to send another tenant\'s honest export back for a release that never happened', async () => {
    // What happens: `release` (tenants/exports/export-service.ts:337-338) adds A's cells to the store
    // (engine exportRelease) and the `releasing` chain lets the next approval run as soon as that
    // task returns, not when A's approval commits; A then builds its package (~3 s) and commits
    // (:551). B (another tenant, 3 people fewer in 二区) is approved in that window: its
    // differencing at approval (:337) finds A's cells, and `sendBack` (:359) commits B as
    // `changes_requested`, with the platform's review "too close to an earlier release" and an
    // `export.check` stale fail. A's commit is then refused (its tenant's grant narrowed meanwhile,
    // assertSourcesCurrent in the commit, :555) and `exportUnrelease` takes A's cells out (:573).
    // Nothing was ever released, yet B was sent back; a new version of B with the same SQL passes.
    // Seen: A 503 SBX_ERR_REBUILDING, release store empty; B 409 EXP_ERR_CHECKS_STALE "row 2, payments
    // against an earlier release", B changes_requested with the platform's request_changes review, and B's
    // same SQL as a new version: differencing pass. A later export by anyone over the same data in
    // that window is failed the same way (a fail outcome also counts as probing for its tenant).
    const a = await create(ALPHA, padded(paymentsPerDistrict([])), 'city-lab');
    const b = await create(BETA, paymentsPerDistrict(three), 'river-lab');
    const approvalA = approve(SUPERVISOR, a);
    await waitUntil("A's cells in the release store", () => inReleaseStore(a), { intervalMs: 1 });
    const [approvalB, narrowed] = await Promise.all([
      approve(SAM, b),
      t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/grants', { dataset: 'pay', purpose: 'narrowed', until: payUntil, columns: ['id_card', 'mobile', 'district'] }),
    ]);
    expectStatus(narrowed, 201);
    const resA = await approvalA;
    const seenByBeta = expectStatus(await detail(BETA, b), 200).json();
    const why = `A: ${answer(resA)}; B: ${answer(approvalB)} ${approvalB.json().message ?? ''}; B now ${seenByBeta.status}, told ${JSON.stringify(seenByBeta.reviews)}; release files: ${JSON.stringify(releaseFiles())}`;
    // Since the fix A's release comes right before its commit, on the one turn B waits for: the
    // narrowing lands before A's commit (A refused, its cells gone) or after it (A released).
    // SAFE: B is sent back exactly when A's cells were really released.
    if (resA.statusCode === 200) {
      expect(inReleaseStore(a), why).toBe(true);
      expect(approvalB.json().code, why).toBe('EXP_ERR_CHECKS_STALE');
      return;
    }
    // A refused in its commit (its grant changed while it waited sends it back as stale), its
    // package and its cells gone, and nobody sees it approved (operator, second supervisor, recipient).
    expect(resA.statusCode, why).toBe(409);
    expect(resA.json().code).toBe('EXP_ERR_CHECKS_STALE');
    expect(fs.existsSync(packageDir(a))).toBe(false);
    expect(inReleaseStore(a)).toBe(false);
    expect(expectStatus(await detail(ALPHA, a), 200).json().status).toBe('changes_requested');
    expect((await detail(CITY, a)).statusCode).toBe(404);
    expect(await audit(`action=export.package&target=export:${a}`)).toEqual([]);
    expect(approvalB.statusCode, why).toBe(200);
    expect(seenByBeta.status).toBe('approved');
  }, 180_000);

  it('was a hole (the tenant is checked again in the approval\'s commit): a tenant suspended while its export\'s package is built gets the approval, after the suspension, and the package is delivered once it resumes', async () => {
    // What happens: `review` checks `assertTenantActive` once, before the package build
    // (export-service.ts:528); the commit re-checks only the sources (`assertSourcesCurrent` or
    // `assertGrantsLive`, :555-556), not the tenant. docs/exports.md (download): "a tenant suspended
    // or revoked since … its exports are withheld, approved or not, and none is approved meanwhile".
    // Seen: suspend answers 200 while the package is written; the approval then answers 200
    // `approved`, audited `export.review` ok and `export.package` after `tenant.suspend`; the
    // recipient is refused while suspended and downloads the package after the resume, on an
    // approval given to a suspended tenant.
    const g = await create(GAMMA, padded(inDistricts(['一区', '三区'])), 'city-lab');
    const approval = approve(SUPERVISOR, g);
    await waitUntil('the package build to start', () => fs.existsSync(packageDir(g)), { intervalMs: 1 });
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/gamma/suspend'), 200);
    const res = await approval;
    const [suspension] = await audit('action=tenant.suspend&target=tenant:gamma');
    const approved = await approvedEntry(g);
    const whileSuspended = await t.call(CITY, 'GET', `/v1/exports/${g}/download`);
    expect(whileSuspended.statusCode, 'no delivery while suspended').not.toBe(200);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/gamma/resume'), 200);
    const afterResume = await t.call(CITY, 'GET', `/v1/exports/${g}/download`);
    expect(
      res.statusCode === 200 && approved !== undefined && approved.seq > suspension!.seq,
      `approval answered ${answer(res)}; export.review ok #${approved?.seq} after tenant.suspend #${suspension!.seq}; status ${await statusOf(g)}; download after resume ${afterResume.statusCode}`,
    ).toBe(false);
  }, 180_000);

  // ---------------------------------------------------------------------------------------------
  // What held.
  // ---------------------------------------------------------------------------------------------

  it('STOPPED: a new version and a withdrawal of the export sent while it is being approved wait for it: refused / withdrawn after, package data removed, nothing for the recipient', async () => {
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/alpha/grants', { dataset: 'pay', purpose: 'restored', until: payUntil }), 201);
    await t.app.controlPlane.refinery.refresh('alpha');
    const w = await create(ALPHA, padded(inDistricts(['四区'])), 'city-lab');
    const approval = approve(SUPERVISOR, w);
    await waitUntil('the package build to start', () => fs.existsSync(packageDir(w)), { intervalMs: 1 });
    const mitigation = t.call(ALPHA, 'POST', `/v1/exports/${w}/versions`, { mitigation: 'round5', columns: ['payments'] });
    const withdrawal = t.call(ALPHA, 'POST', `/v1/exports/${w}/withdraw`);
    const [approved, mitigated, withdrawn] = await Promise.all([approval, mitigation, withdrawal]);
    expect(answer(approved)).toBe('200 approved');
    expect(answer(mitigated)).toBe('409 EXP_ERR_INVALID_STATE');
    expect(answer(withdrawn)).toBe('200 withdrawn');
    // The refused version is audited; the withdrawal comes after the approval and its package.
    const entries = (await audit(`target=export:${w}`)).filter((e) => ['export.review', 'export.package', 'export.version', 'export.withdraw'].includes(e.action));
    const spelled = entries.map((e) => `${e.action}:${e.details.outcome ?? ''}`);
    expect(spelled.slice(0, 2)).toEqual(['export.review:ok', 'export.package:']);
    expect(spelled.slice(2).sort()).toEqual(['export.version:EXP_ERR_INVALID_STATE', 'export.withdraw:']);
    // The data file is gone, the manifest stays as the record; the recipient sees nothing.
    expect(fs.readdirSync(packageDir(w))).toEqual(['manifest.json']);
    for (const url of [`/v1/exports/${w}`, `/v1/exports/${w}/manifest`]) expect((await t.call(CITY, 'GET', url)).statusCode, url).toBe(404);
    // The download refuses it as not approved (docs/exports.md), audited.
    expect(answer(await t.call(CITY, 'GET', `/v1/exports/${w}/download`))).toBe('409 EXP_ERR_NOT_APPROVED');
    expect((await audit(`action=export.download&target=export:${w}`)).map((e) => e.details.outcome)).toEqual(['EXP_ERR_NOT_APPROVED']);
    expect(expectStatus(await detail(ALPHA, w), 200).json().status).toBe('withdrawn');
    // A committed approval keeps its cells (docs/exports.md): later exports are compared with it.
    expect(inReleaseStore(w)).toBe(true);
  }, 180_000);

  it('STOPPED: an approval sent while a mitigation is being made is refused as VERSION_CHANGED (audited), or comes first and the mitigation is refused', async () => {
    const x = await create(BETA, padded(inDistricts(['三区'])), 'river-lab');
    const mitigation = t.call(BETA, 'POST', `/v1/exports/${x}/versions`, { mitigation: 'round5', columns: ['payments'] });
    const approval = approve(SUPERVISOR, x);
    const [mitigated, approved] = await Promise.all([mitigation, approval]);
    const status = await statusOf(x);
    if (mitigated.statusCode === 201) {
      expect(answer(approved)).toBe('409 EXP_ERR_VERSION_CHANGED');
      expect(status).toBe('draft');
      expect((await audit(`action=export.review&target=export:${x}`)).map((e) => e.details.outcome)).toEqual(['EXP_ERR_VERSION_CHANGED']);
      expect(fs.existsSync(packageDir(x))).toBe(false);
      expect(inReleaseStore(x)).toBe(false);
    } else {
      expect(answer(mitigated)).toBe('409 EXP_ERR_INVALID_STATE');
      expect(answer(approved)).toBe('200 approved');
      expect(status).toBe('approved');
    }
  }, 180_000);

  it('was a hole (a policy or data version changed while the package was built sends the export back in its commit): a new version of the dataset published while the package is built does not stop the approval: the older data (a person who objected included) is released after it', async () => {
    // What happens: `assertSourcesUnchanged` (export-service.ts:382, called at :540), which sends an export back
    // when a source dataset has a newer version ("one without a data subject who objected, say"),
    // runs once, before `release` and the package build; the commit re-checks only grants,
    // withdrawals and policies (`assertSourcesCurrent`, :555; lineage.ts:93), which a new version of
    // the data does not change. Seen: the supervisor ingests `pay` v2 without person 7 (四区) while
    // the package is built; the approval answers 200 `approved` (`export.review` ok after
    // `dataset.ingest` of v2), its manifest names pay v1, and the recipient downloads the 四区 count
    // with person 7's 20 payments. An approval started after the ingest is sent back as stale.
    const h = await create(GAMMA, padded(inDistricts(['四区'])), 'river-lab');
    const control = await create(BETA, inDistricts(['四区']), 'city-lab');
    const approval = approve(SUPERVISOR, h);
    await waitUntil('the package build to start', () => fs.existsSync(packageDir(h)), { intervalMs: 1 });
    await t.app.controlPlane.catalog.ingestGenerated(SUPERVISOR, {
      id: 'pay', name: 'pay', provider: 'test', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: '2026-11-30',
    }, PAYMENTS_SQL.replace('FROM range(8000))', 'FROM range(8000) WHERE range // 20 <> 7)'));
    const res = await approval;
    const ingest = (await audit('action=dataset.ingest&target=dataset:pay')).at(-1)!;
    const approved = await approvedEntry(h);
    // The same question asked after the ingest: sent back (the rule exists, outside the commit).
    const later = await approve(SUPERVISOR, control);
    expect(answer(later)).toBe('409 EXP_ERR_CHECKS_STALE');
    const manifest = res.statusCode === 200 ? expectStatus(await t.call(RIVER, 'GET', `/v1/exports/${h}/manifest`), 200).json() : null;
    const download = res.statusCode === 200 ? await t.call(RIVER, 'GET', `/v1/exports/${h}/download`) : null;
    expect(
      res.statusCode === 200 && approved !== undefined && approved.seq > ingest.seq,
      `approval answered ${answer(res)}; export.review ok #${approved?.seq} after dataset.ingest #${ingest.seq}; manifest sources ${JSON.stringify(manifest?.sources)}; download ${download?.statusCode} ${download?.body.slice(0, 40)}`,
    ).toBe(false);
  }, 180_000);
});
