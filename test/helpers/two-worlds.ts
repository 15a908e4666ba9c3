import { expectStatus } from './expect-status.js';
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
