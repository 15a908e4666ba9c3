import { DomainError } from '../core/errors.js';

/** Codes that mean the gate refused the SQL: a stream of them is how a tenant probes. */
export const GATE_REFUSALS: ReadonlySet<string> = new Set([
  'SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS', 'SBX_ERR_SQL_NOT_SELECT', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION',
  'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_TOO_COMPLEX', 'SBX_ERR_SQL_TOO_LONG',
]);

/**
 * Per-tenant budget of refused SQL in a sliding window. Past it, the tenant's SQL is refused
 * outright until the window passes, which slows down binary-search and differencing probes
 * (reference/duckdb-sandbox.md). In memory: a restart resets budgets, which only helps briefly.
 */
export class ProbeLimiter {
  private readonly refusals = new Map<string, number[]>();

  constructor(
    private readonly maxPerWindow: number,
    private readonly windowMs: number,
    private readonly now: () => Date,
  ) {}

  /** Throws SBX_ERR_REJECTIONS_RATE_LIMITED when the tenant's budget is spent. */
  check(tenantId: string): void {
    const recent = this.recent(tenantId);
    // SECURITY: probing is slowed down: past the budget of refusals, nothing runs until the window passes.
    if (recent.length >= this.maxPerWindow) {
      const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + this.windowMs - this.now().getTime()) / 1000));
      throw new DomainError('SBX_ERR_REJECTIONS_RATE_LIMITED', `too many refused queries: wait ${retryAfterSeconds} s`, { retryAfterSeconds });
    }
  }

  /** Counts the outcome if it was a gate refusal. */
  record(tenantId: string, code: string): void {
    if (GATE_REFUSALS.has(code)) this.recent(tenantId).push(this.now().getTime());
  }

  private recent(tenantId: string): number[] {
    const since = this.now().getTime() - this.windowMs;
    const kept = (this.refusals.get(tenantId) ?? []).filter((t) => t > since);
    this.refusals.set(tenantId, kept);
    return kept;
  }
}
