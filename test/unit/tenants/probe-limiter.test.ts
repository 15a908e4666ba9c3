/**
 * The probe limiter's token buckets, on a hand-moved clock: what counts, how fast a spent budget
 * refills, and that concurrent queries cannot overspend it.
 */
import { describe, expect, it } from 'vitest';
import { isDomainError } from '../../../core/errors.js';
import { ProbeLimiter, probeLimitsFor, probingOutcome } from '../../../tenants/probe-limiter.js';

function limiterAt(perMinute = 30) {
  const clock = { ms: 0 };
  return { clock, limiter: new ProbeLimiter(probeLimitsFor(perMinute), () => new Date(clock.ms)) };
}

/** Admits and settles `count` queries with `code`; how many were admitted. */
function send(limiter: ProbeLimiter, sub: string, code: string, count: number, tenant = 'acme'): number {
  let admitted = 0;
  for (let i = 0; i < count; i++) {
    try {
      limiter.admit(tenant, sub).settle(code);
      admitted += 1;
    } catch (error) {
      if (!(isDomainError(error) && error.code === 'SBX_ERR_REJECTIONS_RATE_LIMITED')) throw error;
    }
  }
  return admitted;
}

describe('ProbeLimiter', () => {
  it('derives the budgets from the tenant-wide rate', () => {
    expect(probeLimitsFor(30)).toEqual({ tenant: { burst: 60, perMinute: 30 }, operator: { burst: 20, perMinute: 10 } });
    expect(probeLimitsFor(1).operator.burst).toBe(1);
  });

  it('never counts errors in the SQL, answers, or failures of queries the gate let through', () => {
    const { limiter } = limiterAt();
    for (const code of ['ok', 'SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_UNKNOWN_NAME', 'SBX_ERR_SQL_TOO_LONG', 'SBX_ERR_SQL_EMPTY', 'SBX_ERR_QUERY_FAILED', 'SBX_ERR_QUERY_TIMEOUT']) {
      expect(send(limiter, 'ana', code, 500), code).toBe(500);
    }
  });

  it('counts timeouts and memory kills in prod (how long and how much can depend on one person); own timeouts never in dev', () => {
    for (const code of ['SBX_ERR_QUERY_TIMEOUT', 'SBX_ERR_ENGINE_MEMORY']) expect(send(limiterAt().limiter, 'mallory', probingOutcome(code, 'prod'), 100), code).toBe(20);
    expect(send(limiterAt().limiter, 'ana', probingOutcome('SBX_ERR_QUERY_TIMEOUT', 'dev'), 100)).toBe(100);
  });

  it('counts an engine stopped under a task in every env: another task of the tenant may have stopped it on one person\'s rows (red-team pass 41a)', () => {
    for (const code of ['SBX_ERR_ENGINE_MEMORY', 'SBX_ERR_ENGINE_RESTARTED']) expect(send(limiterAt().limiter, 'mallory', probingOutcome(code, 'dev'), 100), code).toBe(20);
  });

  it('counts table builds and uploads over the workspace quota in every env (prod tables in the workspace can be of one person\'s size, red-team passes 18a, 39b)', () => {
    for (const env of ['prod', 'dev', 'upload']) expect(send(limiterAt().limiter, 'mallory', probingOutcome('TBL_ERR_WORKSPACE_FULL', env), 100), env).toBe(20);
  });

  it('counts every security refusal of the gate', () => {
    for (const code of ['SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'SBX_ERR_SQL_NOT_SELECT', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS', 'SBX_ERR_SQL_TOO_COMPLEX']) {
      const { limiter } = limiterAt();
      expect(send(limiter, 'mallory', code, 100), code).toBe(20);
    }
  });

  it('refills at the operator rate and says when the next query is accepted', () => {
    const { clock, limiter } = limiterAt();
    expect(send(limiter, 'mallory', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100)).toBe(20);
    let error: unknown;
    try {
      limiter.admit('acme', 'mallory');
    } catch (caught) {
      error = caught;
    }
    expect(isDomainError(error) && error.details).toEqual({ retryAfterSeconds: 6 });
    clock.ms += 5_999;
    expect(send(limiter, 'mallory', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 1)).toBe(0);
    clock.ms += 1;
    expect(send(limiter, 'mallory', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 5)).toBe(1);
    // Ten minutes on: a full burst again, never more.
    clock.ms += 600_000;
    expect(send(limiter, 'mallory', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100)).toBe(20);
  });

  it('holds a token while a query runs, so concurrent probes cannot overspend', () => {
    const { limiter } = limiterAt();
    const running = Array.from({ length: 20 }, () => limiter.admit('acme', 'mallory'));
    expect(() => limiter.admit('acme', 'mallory')).toThrow(/next one is accepted/);
    for (const admission of running) admission.settle('SBX_ERR_SQL_FORBIDDEN_TABLE');
    expect(() => limiter.admit('acme', 'mallory')).toThrow();
  });

  it("gives an operator's token back when the query was not refused", () => {
    const { limiter } = limiterAt();
    const running = Array.from({ length: 20 }, () => limiter.admit('acme', 'ana'));
    for (const admission of running) admission.settle('ok');
    expect(send(limiter, 'ana', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 100)).toBe(20);
  });

  it('throttles each operator first, then the tenant as a whole; other tenants are apart', () => {
    const { limiter } = limiterAt();
    expect(send(limiter, 'a', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100)).toBe(20);
    expect(send(limiter, 'b', 'ok', 5)).toBe(5);
    expect(send(limiter, 'b', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100)).toBe(20);
    expect(send(limiter, 'c', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100)).toBe(20);
    // The tenant's 60 are spent: a fourth operator is slowed too, with the tenant named.
    expect(() => limiter.admit('acme', 'd')).toThrow(/^your organization has sent many queries/);
    expect(send(limiter, 'a', 'ok', 1, 'rival')).toBe(1);
  });

  it('forgets buckets that refilled when it holds many', () => {
    const { clock, limiter } = limiterAt();
    // 4,999 tenants with one operator each: 9,998 buckets, each one refusal short of full.
    for (let i = 0; i < 4_999; i++) send(limiter, 'sub', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 1, `t${i}`);
    const buckets = (limiter as unknown as { buckets: Map<string, unknown> }).buckets;
    expect(buckets.size).toBe(9_998);
    clock.ms += 600_000;
    // The 10,000th bucket triggers a sweep: the refilled ones go, the spent one of `fresh` stays.
    send(limiter, 'sub', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 1, 'fresh');
    send(limiter, 'sub', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 1, 'fresher');
    expect(buckets.size).toBeLessThan(10);
    expect(send(limiter, 'sub', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 100, 'fresh')).toBe(19);
  });
});
