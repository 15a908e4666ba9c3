/**
 * Query admission and cancellation: a tenant's concurrency cap answers 429 with Retry-After, and a
 * client that disconnects has its query interrupted (not left running to its time limit).
 */
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;
const RUNAWAY = 'SELECT count(*) FROM range(1000000000000)';

describe('query admission and cancellation', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_CONCURRENCY_PER_TENANT: '1', INDOMAIN_QUERY_TIMEOUT_MS: '20000' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
    await t.app.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(() => t.close({ remove: true }));

  /** Waits until the engine reports `count` tasks in flight (no sleeping to order events). */
  const inFlight = (count: number) => waitUntil(`${count} engine tasks in flight`, () => t.app.engine.status.inFlight >= count);
  const url = () => `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}/v1/query`;
  const post = (sql: string, signal?: AbortSignal) =>
    fetch(url(), { method: 'POST', headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': 'application/json' }, body: JSON.stringify({ sql, env: 'dev' }), ...(signal ? { signal } : {}) });

  it('interrupts the query of a client that went away, long before its limit', async () => {
    const abort = new AbortController();
    const started = Date.now();
    const pending = post(RUNAWAY, abort.signal).catch(() => undefined);
    await inFlight(1);
    abort.abort();
    await pending;
    // The engine frees the tenant's only slot once the query is interrupted. The poll is bounded
    // (past the 20 s limit, a slot still taken would be the limit's doing, not the cancellation's).
    let res = await post('SELECT 1 AS ok');
    while (res.status === 429 && Date.now() - started < 30_000) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      res = await post('SELECT 1 AS ok');
    }
    expect(res.status).toBe(200);
    expect(Date.now() - started).toBeLessThan(10_000);
    const entries = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.run&limit=100')).json().entries;
    expect(entries.some((e: { details: { sql: string; outcome: string } }) => e.details.sql === RUNAWAY && e.details.outcome === 'SBX_ERR_QUERY_CANCELLED')).toBe(true);
  });

  it("refuses a tenant's query beyond its concurrency cap with 429 and Retry-After", async () => {
    const abort = new AbortController();
    const first = post(RUNAWAY, abort.signal).catch(() => undefined);
    await inFlight(1);
    const second = await post('SELECT 1 AS ok');
    expect(second.status).toBe(429);
    expect(((await second.json()) as { code: string }).code).toBe('SBX_ERR_TENANT_BUSY');
    expect(second.headers.get('retry-after')).toBe('1');
    abort.abort();
    await first;
  });
});
