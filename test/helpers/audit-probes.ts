import { expectStatus } from './expect-status.js';
import { SUPERVISOR, type TestApp } from './test-app.js';

/** An audit entry as the red-team files read it. */
export type AuditRow = { seq: number; action: string; target: string; details: Record<string, unknown> };

/**
 * The audit chain as a supervisor reads it: `audit` the entries matching a query string (up to
 * 1,000), `lastSeq` the newest entry's sequence number (paging through the whole chain), for the
 * race tests that order what happened by the chain.
 */
export function auditProbes(app: () => TestApp) {
  return {
    audit: async (query: string) => expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/audit?limit=1000&${query}`), 200).json().entries as AuditRow[],
    async lastSeq(): Promise<number> {
      let after = 0;
      for (;;) {
        const page = expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/audit?limit=1000&after=${after}`), 200).json() as { entries: AuditRow[]; next: number | null };
        after = page.entries.at(-1)?.seq ?? after;
        if (page.next === null) return after;
      }
    },
  };
}
