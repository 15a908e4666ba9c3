import { expect } from 'vitest';
import { expectStatus } from './expect-status.js';
import type { Claims } from '../../tenants/index.js';
import { SUPERVISOR, type TestApp } from './test-app.js';

/** What an export's creation answers, as the red-team files read it. */
export interface CreatedExport {
  id: string;
  outcome: string;
  checks: { name: string; status: string; reason?: string }[];
}

/**
 * Exports of a SQL text by `operator` (CSV, to `recipient` unless a call names another), for the
 * red-team files that compare a release with a later export: `create` checks the 201, `release`
 * requires a `pass`, submits it, has one supervisor approve it and answers its id, `differencing`
 * reads that check's status.
 */
export function exportProbes(app: () => TestApp, operator: Claims, recipient: string, purpose: string) {
  const create = async (sql: string, to: string = recipient): Promise<CreatedExport> =>
    expectStatus(await app().call(operator, 'POST', '/v1/exports', { source: { sql }, recipient: to, purpose, format: 'csv' }), 201).json() as CreatedExport;
  return {
    create,
    differencing: (created: CreatedExport): string | undefined => created.checks.find((c) => c.name === 'differencing')?.status,
    release: async (sql: string, to: string = recipient): Promise<string> => {
      const created = await create(sql, to);
      expect(created.outcome, JSON.stringify(created.checks)).toBe('pass');
      expectStatus(await app().call(operator, 'POST', `/v1/exports/${created.id}/submit`, {}), 200);
      const review = expectStatus(await app().call(SUPERVISOR, 'POST', `/v1/exports/${created.id}/reviews`, { version: 1, decision: 'approve' }), 200);
      expect(review.json().status).toBe('approved');
      return created.id;
    },
  };
}

/** Whether an export was ever downloaded, as a supervisor reads it (traceLeak's `downloaded`). */
export function downloadedVia(app: () => TestApp): (exportId: string) => Promise<boolean> {
  return async (exportId) => (expectStatus(await app().call(SUPERVISOR, 'GET', `/v1/exports/${exportId}`), 200).json() as { downloads: number }).downloads > 0;
}
