import { DomainError } from '../core/errors.js';

/**
 * Codes that mean the gate's security checks refused the SQL: what a prober collects while looking
 * for a way past them. Only these count towards probing:
 * - FORBIDDEN_FUNCTION, FORBIDDEN_TABLE, FORBIDDEN_CONSTRUCT: the query reached for something the
 *   sandbox withholds (files, settings, metadata, dynamic SQL, another environment's catalog);
 * - NOT_SELECT, MULTIPLE_STATEMENTS: DDL, ATTACH, COPY, SET or stacked statements, the usual ways out;
 * - TOO_COMPLEX: shapes sized to exhaust the planner, which cannot be interrupted.
 * - and DSC_ERR_RUNTIME_ERROR: a prod query over personal data that failed while running. Such a
 *   failure may depend on one person's value (a cast that fails only on their row), one bit per
 *   query: counted, an oracle of that kind gets one bit per refill.
 * - and DSC_ERR_REPEATED_ROWS: a prod query whose join repeated rows of a personal table. Whether
 *   it does can depend on one person (`JOIN range(2) r ON r.range = 0 OR <this person paid above X>`).
 * - and PROD_TIMEOUT (not an error code: a timeout in prod settles with it). How long a query runs
 *   can depend on one person (`range(10000000000) JOIN pay ON <this person paid above X>` runs long
 *   exactly when they did): timing is not hidden, but each timeout in prod counts.
 * - and PROD_MEMORY (a prod query whose engine was stopped past its memory limit): how much memory
 *   a query takes can depend on one person too (`len(range(CASE WHEN <this person paid above X>
 *   THEN 400000000 ELSE 1 END))`, red-team pass 15a): each such kill in prod counts.
 * - and FAILED_PERSON_CHECKS (not an error: the outcome an admission is settled with when an export
 *   was made but one of its person-level checks fails, or could not be derived for a reason the data
 *   decided, such as a join repeating rows). Whether a row or cell fails can depend on one
 *   person ("一区, and person 1 if they paid above X" fails k-anonymity exactly when they did), and
 *   the operator sees the outcome at once: counted like a refusal, such an oracle is slowed to the
 *   probing rate and every attempt stays in the audit (`export.check`).
 * - and UNCHECKABLE_BY_DATA (the outcome of a prod answer found uncheckable while it ran: keys that
 *   print alike, too large to check whole, a companion that would not run). Such a refusal can
 *   depend on the rows; one refused for its shape alone, before it ran, is not counted.
 * - and EXP_ERR_TOO_MANY_ROWS: an export past the most rows one may hold (a row count can be one
 *   person's).
 * Never counted: a query written wrong (SYNTAX, UNKNOWN_NAME: an unqualified name resolves only in the
 * query's own environment, and the answer is the same whether it exists elsewhere or not), EMPTY and
 * TOO_LONG (refused on the text alone, before anything is parsed), and other failures while running
 * (QUERY_FAILED in dev or over data without people in it, TIMEOUT, ...), which the gate had let through.
 */
/** The outcome a prod query's admission is settled with when it timed out (counted as probing). */
export const PROD_TIMEOUT = 'PROD_TIMEOUT';

/** The outcome a prod query's admission is settled with when its engine was stopped for memory (counted as probing). */
export const PROD_MEMORY = 'PROD_MEMORY';

/** The outcome an export's admission is settled with when its data decided it in a way one person can (counted as probing). */
export const FAILED_PERSON_CHECKS = 'FAILED_PERSON_CHECKS';

/** The outcome a prod answer's admission is settled with when it was found uncheckable while it ran (counted as probing). */
export const UNCHECKABLE_BY_DATA = 'UNCHECKABLE_BY_DATA';

export const PROBING_CODES: ReadonlySet<string> = new Set([
  'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT',
  'SBX_ERR_SQL_NOT_SELECT', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS', 'SBX_ERR_SQL_TOO_COMPLEX',
  'DSC_ERR_RUNTIME_ERROR', 'DSC_ERR_REPEATED_ROWS', FAILED_PERSON_CHECKS, PROD_TIMEOUT, PROD_MEMORY, UNCHECKABLE_BY_DATA,
  // SECURITY: invariant 8: an engine stopped for memory or past a deadline fails every task of the
  // tenant in flight, in any env: a task that did not cause it learns that another did (a probe over
  // a withdrawn dataset's rows, told CAT_ERR_DATASET_WITHDRAWN itself, killed the engine or not on
  // one person's value, and a dev query beside it said which: red-team pass 41a). Slowed, not closed.
  'SBX_ERR_ENGINE_MEMORY', 'SBX_ERR_ENGINE_RESTARTED',
  // SECURITY: invariant 8: the workspace holds prod tables whose size one person's rows can decide
  // (a string of 800 kB on person 7's rows above x): a table build or upload the quota refuses, in
  // any env, says whether they fit (red-team passes 18a, 39b: a dev build after a prod one).
  'TBL_ERR_WORKSPACE_FULL',
  'EXP_ERR_TOO_MANY_ROWS',
]);

/**
 * The outcome to settle a run's admission with: its code, or PROD_TIMEOUT (PROD_MEMORY) for a
 * timeout (memory kill) in prod.
 */
export function probingOutcome(code: string, env: string): string {
  if (env !== 'prod') return code;
  // SECURITY: invariant 8: how long a prod query runs and how much memory it takes can depend on one
  // person's rows: counted as probing.
  if (code === 'SBX_ERR_QUERY_TIMEOUT') return PROD_TIMEOUT;
  return code === 'SBX_ERR_ENGINE_MEMORY' ? PROD_MEMORY : code;
}

/** A token bucket's shape: `burst` refused queries at once, then `perMinute` (fractions allowed). */
export interface ProbeBudget {
  burst: number;
  perMinute: number;
}

export interface ProbeLimits {
  /** Each operator (`sub`) of a tenant, on its own. */
  operator: ProbeBudget;
  /** The tenant as a whole: every operator's refusals together. */
  tenant: ProbeBudget;
}

/**
 * The budgets derived from one setting, the tenant-wide rate R per minute
 * (`INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE`): the tenant may burst 2R, each operator a third of
 * that (so one operator alone cannot spend the tenant's budget) and is then slowed to R/3 a minute.
 */
export function probeLimitsFor(perMinute: number): ProbeLimits {
  return {
    tenant: { burst: 2 * perMinute, perMinute },
    operator: { burst: Math.max(1, Math.ceil((2 * perMinute) / 3)), perMinute: perMinute / 3 },
  };
}

/** A query admitted by the limiter; `settle` with its outcome code ('ok' when it answered). */
export interface ProbeAdmission {
  settle(code: string): void;
}

interface Bucket {
  tokens: number;
  atMs: number;
}

const SWEEP_AT_BUCKETS = 10_000;

/**
 * Slows probing without locking anyone out: refused queries spend tokens of two buckets, the
 * operator's and its tenant's, which refill at a steady rate. A query is admitted while both hold a
 * token; it holds one of each while it runs (so concurrent probes cannot overspend) and gives them
 * back unless the gate refused it. Past the budget, every query of that operator (or, once the
 * tenant's bucket is empty, of the tenant) waits for the next token: refused with
 * SBX_ERR_REJECTIONS_RATE_LIMITED and Retry-After until then, so a prober gets one attempt per
 * refill, whether its next query would pass or not (otherwise passing and 429 would still tell it
 * apart at full speed). Errors in the operator's SQL (syntax, unknown names) spend nothing.
 * In memory: a restart refills every bucket, which only helps briefly.
 */
export class ProbeLimiter {
  private readonly buckets = new Map<string, Bucket>();
  /** Size at which the next sweep runs: doubles past what a sweep could not free (amortized O(1)). */
  private sweepAtSize = SWEEP_AT_BUCKETS;

  constructor(
    private readonly limits: ProbeLimits,
    private readonly now: () => Date,
  ) {}

  /** Admits one query, or throws SBX_ERR_REJECTIONS_RATE_LIMITED with `retryAfterSeconds`. */
  admit(tenantId: string, sub: string): ProbeAdmission {
    const nowMs = this.now().getTime();
    const held = [
      { key: `tenant\u0000${tenantId}`, budget: this.limits.tenant },
      { key: `operator\u0000${tenantId}\u0000${sub}`, budget: this.limits.operator },
    ].map(({ key, budget }) => ({ key, budget, bucket: this.refilled(key, budget, nowMs) }));
    const short = held.filter((h) => h.bucket.tokens < 1);
    if (short.length > 0) {
      const waitMs = Math.max(...short.map((h) => ((1 - h.bucket.tokens) * 60_000) / h.budget.perMinute));
      const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
      const whose = short.some((h) => h.key.startsWith('operator')) ? 'you have' : 'your organization has';
      // SECURITY: probing is slowed: past the budget of refused queries, one query per refill.
      throw new DomainError('SBX_ERR_REJECTIONS_RATE_LIMITED', `${whose} sent many queries the sandbox refused: the next one is accepted in ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
    for (const h of held) h.bucket.tokens -= 1;
    let settled = false;
    return {
      settle: (code: string) => {
        if (settled) return;
        settled = true;
        if (PROBING_CODES.has(code)) return;
        for (const h of held) h.bucket.tokens = Math.min(h.budget.burst, h.bucket.tokens + 1);
      },
    };
  }

  /** The bucket under `key`, refilled up to now (a new one is full). */
  private refilled(key: string, budget: ProbeBudget, nowMs: number): Bucket {
    if (this.buckets.size >= this.sweepAtSize && !this.buckets.has(key)) this.sweep(nowMs);
    const bucket = this.buckets.get(key) ?? { tokens: budget.burst, atMs: nowMs };
    const elapsedMs = Math.max(0, nowMs - bucket.atMs);
    bucket.tokens = Math.min(budget.burst, bucket.tokens + (elapsedMs * budget.perMinute) / 60_000);
    bucket.atMs = Math.max(bucket.atMs, nowMs);
    this.buckets.set(key, bucket);
    return bucket;
  }

  /** Forgets buckets that have refilled completely (a new one would be the same). */
  private sweep(nowMs: number): void {
    for (const [key, bucket] of this.buckets) {
      const budget = key.startsWith('tenant') ? this.limits.tenant : this.limits.operator;
      if (bucket.tokens + ((nowMs - bucket.atMs) * budget.perMinute) / 60_000 >= budget.burst) this.buckets.delete(key);
    }
    this.sweepAtSize = Math.max(SWEEP_AT_BUCKETS, this.buckets.size * 2);
  }
}
