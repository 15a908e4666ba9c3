/**
 * Invariant 9: no tenant can degrade another. Tenant A sends crash, memory and CPU bombs in a loop
 * for 60 s (a deeply nested JSON string that crashes DuckDB natively during planning, lists and
 * string widths that ignore DuckDB's memory_limit, uninterruptible function calls, plain runaway
 * scans) while tenant B runs ordinary queries at a steady rate. B must lose none of its queries;
 * each of A's bombs must end within its limit plus the kill grace (plus slack for a loaded CI
 * machine) with a clear code; and the supervisor must see A's engine failures in the audit.
 * B's latency during the bombs, against B alone, is a figure of `npm run bench`, not asserted here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const A = { role: 'operator', org: 'bomber', sub: 'mallory' } as const;
const B = { role: 'operator', org: 'bystander', sub: 'bob' } as const;
const TIMEOUT_MS = 3_000;
const KILL_GRACE_MS = 1_500;
/**
 * Time a loaded machine may add on top of the limit and grace: starting the bomber's next engine
 * process after a kill (seconds when the load average is 4× the cores) and scheduling. The figure
 * on a quiet machine is in `npm run bench`.
 */
const CI_SLACK_MS = 10_000;
const BOMBING_MS = 60_000;

const BOMBS: [label: string, sql: string][] = [
  ['deep JSON (native crash in planning)', "SELECT json_structure(lpad('', 100000, '['))"],
  ['deep JSON merge', "SELECT json_merge_patch(lpad('', 100000, '['), '{}')"],
  ['a billion-element list', 'SELECT list_sum(range(1000000000))'],
  ['unnest of a billion', 'SELECT count(*) FROM (SELECT unnest(range(1000000000)))'],
  ['printf with a huge width', "SELECT length(printf('%2000000000d', 1))"],
  ['levenshtein on long strings', "SELECT levenshtein(lpad('', 40000, 'a'), lpad('', 40000, 'b'))"],
  ['lpad to 500M', "SELECT length(lpad('', 500000000, 'x'))"],
  ['runaway scan', 'SELECT count(*) FROM range(1000000000000) r WHERE r.range % 7 = 3'],
];

const CLEAR_CODES = new Set([
  'SBX_ERR_QUERY_TIMEOUT', 'SBX_ERR_ENGINE_MEMORY', 'SBX_ERR_ENGINE_RESTARTED', 'SBX_ERR_ENGINE_UNAVAILABLE', 'SBX_ERR_QUERY_FAILED',
]);

describe('a noisy neighbour', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      env: {
        INDOMAIN_QUERY_TIMEOUT_MS: String(TIMEOUT_MS),
        INDOMAIN_ENGINE_KILL_GRACE_MS: String(KILL_GRACE_MS),
        INDOMAIN_ENGINE_PROCESS_MEMORY_LIMIT_MB: '1500',
        INDOMAIN_ENGINE_MEMORY_LIMIT_MB: '1024',
      },
    });
    await licenseTenantWithData(t, 'bomber', [residents('BOMBER', 100, 'bomber_residents')]);
    await licenseTenantWithData(t, 'bystander', [residents('BYSTANDER', 1000)]);
  });
  afterAll(() => t.close({ remove: true }));

  it('fails only its own work while another tenant keeps being answered', async () => {
    const started = Date.now();
    const bombOutcomes: { label: string; code: string; ms: number }[] = [];
    const bystander: { status: number; ms: number }[] = [];

    let bombingDone = false;
    const bombing = (async () => {
      // At least BOMBING_MS, and every bomb at least once however slow the machine is.
      for (let i = 0; Date.now() - started < BOMBING_MS || i < BOMBS.length; i++) {
        const [label, sql] = BOMBS[i % BOMBS.length]!;
        const sent = Date.now();
        const res = await t.call(A, 'POST', '/v1/query', { sql, env: 'prod' });
        bombOutcomes.push({ label, code: res.json().code ?? `answered ${res.statusCode}`, ms: Date.now() - sent });
      }
      bombingDone = true;
    })();
    const steady = (async () => {
      while (!bombingDone) {
        const sent = Date.now();
        const res = await t.call(B, 'POST', '/v1/query', { sql: 'SELECT district, count(*) AS n FROM residents GROUP BY district ORDER BY district', env: 'prod' });
        bystander.push({ status: res.statusCode, ms: Date.now() - sent });
        expect(res.statusCode, res.body).toBe(200);
        expect(res.json().rows).toHaveLength(7);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
    await Promise.all([bombing, steady]);

    // B lost nothing.
    expect(bystander.length).toBeGreaterThan(50);
    expect(bystander.filter((q) => q.status !== 200)).toEqual([]);
    // Every bomb ended, in time, with a clear code; none was answered.
    expect(new Set(bombOutcomes.map((o) => o.label)).size).toBe(BOMBS.length);
    for (const outcome of bombOutcomes) {
      expect(CLEAR_CODES.has(outcome.code), `${outcome.label}: ${outcome.code}`).toBe(true);
      expect(outcome.ms, `${outcome.label} took ${outcome.ms} ms`).toBeLessThan(TIMEOUT_MS + KILL_GRACE_MS + CI_SLACK_MS);
    }
    // The engine really was killed and crashed (these bombs are not refused by the gate)...
    // A memory bomb ends by the memory bound or, on a machine too busy to allocate that fast within
    // this file's 3 s limit, by the timeout's kill (a busy CI run, load 7.6 on 2 cores, saw only
    // timeouts); the memory bound itself is tested with a 60 s limit in engine-resilience.test.ts.
    const memoryBombs = new Set(['a billion-element list', 'unnest of a billion', 'lpad to 500M']);
    expect(bombOutcomes.filter((o) => memoryBombs.has(o.label)).some((o) => o.code === 'SBX_ERR_ENGINE_MEMORY' || o.code === 'SBX_ERR_QUERY_TIMEOUT')).toBe(true);
    expect(bombOutcomes.some((o) => o.code === 'SBX_ERR_ENGINE_RESTARTED' || o.code === 'SBX_ERR_ENGINE_UNAVAILABLE')).toBe(true);
    // ...and the supervisor was told, naming the tenant.
    const audit = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=engine.stopped&limit=500'), 200).json();
    const targets = new Set((audit.entries as { target: string }[]).map((e) => e.target));
    expect([...targets]).toEqual(['tenant:bomber']);
    // B's engine never stopped; after the bombs, A is slowed down but answers an ordinary query again.
    const again = await t.call(A, 'POST', '/v1/query', { sql: 'SELECT count(*) AS n FROM bomber_residents', env: 'prod' });
    expect(['200', 'SBX_ERR_ENGINE_UNAVAILABLE']).toContain(again.statusCode === 200 ? '200' : again.json().code);
  }, BOMBING_MS + 120_000);
});
