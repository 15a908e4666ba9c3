import { afterAll, beforeAll } from 'vitest';
import { expectStatus } from './expect-status.js';
import { startPayApp } from './pay-fixture.js';
import type { TestApp } from './test-app.js';

/**
 * What an operator of `org` sees, for the red-team tests that ask one question in two worlds (the
 * person matches, or not): each call as a fresh operator, so that no probing budget is shared
 * between the two worlds. `app` is read at each call (the app starts in `beforeAll`).
 */
export function operatorSight(app: () => TestApp, org: string) {
  let operators = 0;
  const operator = () => ({ role: 'operator', org, sub: `op${operators++}` }) as const;
  /** A prod answer as the operator sees it (its time and request id left out). */
  const seen = async (sql: string) => {
    const response = await app().call(operator(), 'POST', '/v1/query', { sql, env: 'prod' });
    return { status: response.statusCode, body: { ...response.json(), ms: 0, requestId: undefined } };
  };
  /** An export as the operator sees it (POST and GET /v1/exports/:id), ids, SQL and times left out. */
  const exportSeen = async (sql: string) => {
    const who = operator();
    const e = expectStatus(await app().call(who, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: `red team ${org}`, format: 'csv' }), 201).json();
    const detail = expectStatus(await app().call(who, 'GET', `/v1/exports/${e.id}`), 200).json();
    return {
      outcome: e.outcome, checks: e.checks, rowCount: detail.rowCount, withheld: detail.withheld, columns: detail.columns,
      snapshotSha256: detail.snapshotSha256, approvalsNeeded: detail.approvalsNeeded,
      versions: detail.versions.map((v: Record<string, unknown>) => ({ ...v, createdAt: undefined, createdBy: undefined })),
    };
  };
  return { operator, seen, exportSeen };
}

/**
 * The setup the red-team files over `pay` share: the app of org `org` (test/helpers/pay-fixture.ts),
 * started before the file's tests and removed after them, the operator's sight of it, and
 * `bothWorlds`, which asks one question in the two worlds of the passes: person 7 paid above 145
 * (yes: 4 payments, 146..149) or above 149 (no).
 */
export function payRedTeam(org: string) {
  let t: TestApp | undefined;
  beforeAll(async () => {
    t = await startPayApp(org);
  }, 300_000);
  afterAll(() => t?.close({ remove: true }));
  const app = (): TestApp => t!;
  const sight = operatorSight(app, org);
  /** Asks `sql(x)` in both worlds (each as a fresh operator); returns both sights. */
  const bothWorlds = async (sql: (x: number) => Promise<string>) => ({ yes: await sight.seen(await sql(145)), no: await sight.seen(await sql(149)) });
  return { app, ...sight, bothWorlds };
}
