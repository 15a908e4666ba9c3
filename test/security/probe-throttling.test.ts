/**
 * Fair throttling (issue 10, item 4): only the gate's security refusals count towards probing, never
 * errors in the operator's SQL; a prober is slowed to a steady rate, not locked out; each operator
 * (`sub`) has its own budget before the tenant's shared one. The app's clock is frozen and moved by
 * hand, so the counts are exact whatever the machine's speed. Default limits: the tenant bursts 60
 * refusals then 30 a minute; each operator bursts 20 then 10 a minute.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const operator = (sub: string) => ({ role: 'operator', org: 'acme', sub }) as const;
const PROBE = "SELECT * FROM read_csv('/etc/passwd')";

describe('probe throttling', () => {
  let t: TestApp;
  let nowMs = Date.now();
  beforeAll(async () => {
    t = await startTestApp({ clock: () => new Date(nowMs) });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sub: string, sql: string) => t.call(operator(sub), 'POST', '/v1/query', { sql, env: 'prod' });

  /** Sends `count` probes in a row; how many reached the gate (refused by it) and how many were held back. */
  async function probe(sub: string, count: number): Promise<{ refused: number; limited: number; retryAfter: number[] }> {
    const outcome = { refused: 0, limited: 0, retryAfter: [] as number[] };
    for (let i = 0; i < count; i++) {
      const res = await query(sub, PROBE);
      if (res.statusCode === 429) {
        expect(res.json().code).toBe('SBX_ERR_REJECTIONS_RATE_LIMITED');
        outcome.limited += 1;
        outcome.retryAfter.push(Number(res.headers['retry-after']));
      } else {
        expect(res.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
        outcome.refused += 1;
      }
    }
    return outcome;
  }

  it('never stops an analyst making thirty typos in a minute', async () => {
    const typos = [
      'SELECT * FORM residents', 'SELECT nme FROM residents', 'SELECT lenght(name) FROM residents', 'SELECT * FROM residnts',
      'SELECT name FROM residents WHERE', "SELECT 'unclosed FROM residents",
    ];
    for (let i = 0; i < 30; i++) {
      nowMs += 2_000;
      const res = await query('ana', typos[i % typos.length]!);
      expect(res.statusCode, `typo ${i}: ${res.body}`).toBe(400);
      expect(['SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_UNKNOWN_NAME']).toContain(res.json().code);
    }
    // Thirty more at once, without the clock moving: still never 429.
    for (let i = 0; i < 30; i++) expect((await query('ana', typos[i % typos.length]!)).statusCode).toBe(400);
    expect(expectStatus(await query('ana', 'SELECT count(*) AS n FROM residents'), 200).json().rows).toEqual([['50']]);
  });

  it('holds a prober sending a thousand refused queries to a slow rate, without locking it out', async () => {
    const burst = await probe('mallory', 1000);
    // The operator's burst reaches the gate; the rest is answered 429 with Retry-After.
    expect(burst.refused).toBe(20);
    expect(burst.limited).toBe(980);
    expect(Math.min(...burst.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(Math.max(...burst.retryAfter)).toBeLessThanOrEqual(6);
    // While slowed, its ordinary queries wait too (a pass and a 429 must not tell probes apart)...
    expect((await query('mallory', 'SELECT 1')).statusCode).toBe(429);
    // ...and after Retry-After the next one is accepted: slowed, not locked out.
    nowMs += 6_000;
    expectStatus(await query('mallory', 'SELECT 1 AS one'), 200);
    // A minute later: ten more probes (10 a minute; plus the token that answered SELECT 1, given back
    // since it was not refused) out of a hundred tries.
    nowMs += 60_000;
    const minute = await probe('mallory', 100);
    expect(minute.refused).toBe(11);
  });

  it("does not throttle another operator for one operator's probing until the tenant's budget is spent", async () => {
    nowMs += 10 * 60_000; // every bucket full again
    expect((await probe('mallory', 40)).refused).toBe(20);
    // Olga, of the same tenant, is unaffected: her queries run and her own refusals are answered.
    expectStatus(await query('olga', 'SELECT count(*) AS n FROM residents'), 200);
    expect((await probe('olga', 5)).refused).toBe(5);
    // Two more probing operators spend the tenant's burst of 60 (20 + 5 + 20 + 15).
    expect((await probe('eve', 40)).refused).toBe(20);
    expect((await probe('trent', 40)).refused).toBe(15);
    // Now the whole tenant is slowed, Olga included.
    const limited = await query('olga', 'SELECT 1');
    expect(limited.statusCode).toBe(429);
    expect(limited.json().message).toMatch(/^your organization has sent many queries the sandbox refused/);
    // Two seconds later (30 a minute for the tenant), one query gets through.
    nowMs += 2_000;
    expectStatus(await query('olga', 'SELECT 1 AS one'), 200);
  });

  it('audits every query held back', async () => {
    const { SUPERVISOR } = await import('../helpers/test-app.js');
    const entries = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.run&target=tenant:acme&limit=1000'), 200).json().entries as { actor: { sub: string }; details: { outcome: string } }[];
    expect(entries.some((e) => e.actor.sub === 'mallory' && e.details.outcome === 'SBX_ERR_REJECTIONS_RATE_LIMITED')).toBe(true);
  });
});

describe('prod timeouts count as probing', () => {
  // How long a prod query runs can depend on one person's rows (`range(10^10) JOIN pay ON <this
  // person paid above X>` runs long exactly when they did): each prod timeout spends the budget.
  // One refusal a minute: each operator bursts 1, so the second query says whether the first counted.
  let t: TestApp;
  const nowMs = Date.now();
  beforeAll(async () => {
    t = await startTestApp({ clock: () => new Date(nowMs), env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '1', INDOMAIN_QUERY_TIMEOUT_MS: '3000' } });
    await licenseTenantWithData(t, 'acme', [residents('ACME')]);
  });
  afterAll(() => t.close({ remove: true }));

  const query = (sub: string, sql: string, env: 'prod' | 'dev') => t.call(operator(sub), 'POST', '/v1/query', { sql, env });
  const SLOW = 'SELECT count(*) AS n FROM range(1000000000000) AS r WHERE r.range % 7 = 3';

  it('counts a timeout in prod, not in dev', async () => {
    expect((await query('dora', SLOW, 'dev')).json().code).toBe('SBX_ERR_QUERY_TIMEOUT');
    expectStatus(await query('dora', 'SELECT count(*) AS n FROM residents', 'dev'), 200);
    expect((await query('paul', SLOW, 'prod')).json().code).toBe('SBX_ERR_QUERY_TIMEOUT');
    expect((await query('paul', 'SELECT count(*) AS n FROM residents', 'prod')).json().code).toBe('SBX_ERR_REJECTIONS_RATE_LIMITED');
  }, 60_000);
});
