import { expect } from 'vitest';
import type { Claims } from '../../tenants/index.js';
import type { Connection } from '../../sandbox/index.js';
import type { TestApp } from './test-app.js';

/**
 * The three readings of an attack on the dev twin: what an operator's dev query shows (it must
 * answer), what the same question shows in prod (rows as JSON, or the status and code of a
 * refusal: the control, since prod withholds what describes fewer than 10 people), and the real
 * rows (the fixture's generating SQL run in memory, to prove the secret is there). `app` and
 * `memory` are read when a probe runs (they are set in beforeAll).
 */
export function twinProbes(app: () => TestApp, memory: { readonly connection: Connection }, operator: Claims) {
  return {
    async dev(sql: string, as: Claims = operator): Promise<string[][]> {
      const res = await app().call(as, 'POST', '/v1/query', { sql, env: 'dev', maxRows: 10_000 });
      expect(res.statusCode, res.body).toBe(200);
      return (res.json() as { rows: string[][] }).rows;
    },
    async prod(sql: string, as: Claims = operator): Promise<string> {
      const res = await app().call(as, 'POST', '/v1/query', { sql, env: 'prod' });
      return res.statusCode === 200 ? JSON.stringify((res.json() as { rows: unknown[][] }).rows) : `${res.statusCode} ${res.json().code}`;
    },
    real: (sql: string): Promise<Record<string, unknown>[]> => memory.connection.all(sql),
  };
}
