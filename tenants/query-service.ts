import { createHash } from 'node:crypto';
import { DomainError, isDomainError } from '../core/errors.js';
import { tenantDirectory, type Env, type QueryResult } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { ControlStore } from './store/control-store.js';

/** What the query service needs of the engine (the sandbox's EngineClient). */
export interface QueryEngine {
  query(task: { tenantId: string; tenantDir: string; sql: string; env: Env; maxRows: number; maxBytes: number; timeoutMs: number }, signal?: AbortSignal): Promise<QueryResult>;
}

export interface QueryLimits {
  defaultRows: number;
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
  /** Refused queries a tenant may send per window before further queries are refused outright. */
  maxRejectionsPerWindow: number;
  rejectionWindowMs: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  defaultRows: 1_000,
  maxRows: 10_000,
  maxBytes: 8 * 1024 * 1024,
  timeoutMs: 10_000,
  maxRejectionsPerWindow: 30,
  rejectionWindowMs: 60_000,
};

/** Codes that mean the gate refused the query: counted as probing. */
const GATE_CODES = new Set(['SBX_ERR_SQL_SYNTAX', 'SBX_ERR_SQL_MULTIPLE_STATEMENTS', 'SBX_ERR_SQL_NOT_SELECT', 'SBX_ERR_SQL_FORBIDDEN_FUNCTION', 'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'SBX_ERR_SQL_FORBIDDEN_TABLE', 'SBX_ERR_SQL_TOO_COMPLEX', 'SBX_ERR_SQL_TOO_LONG']);

/**
 * Operators' queries: run through the engine (which gates them), audited whatever the outcome, with
 * refused queries rate-limited per tenant, since a stream of refusals is how a tenant probes for
 * what it should not see (reference/duckdb-sandbox.md).
 */
export function createQueryService(deps: { store: ControlStore; engine: QueryEngine; dataDir: string; limits: QueryLimits; now: () => Date }) {
  const rejections = new Map<string, number[]>();

  function recentRejections(tenantId: string): number[] {
    const since = deps.now().getTime() - deps.limits.rejectionWindowMs;
    const kept = (rejections.get(tenantId) ?? []).filter((t) => t > since);
    rejections.set(tenantId, kept);
    return kept;
  }

  async function audit(actor: AuditActor, tenantId: string, details: Record<string, unknown>): Promise<void> {
    await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'query.run', target: `tenant:${tenantId}`, details }));
  }

  return {
    async run(actor: AuditActor, tenantId: string, input: { sql: string; env: Env; maxRows?: number | undefined }, signal?: AbortSignal): Promise<QueryResult & { env: Env }> {
      const sqlSha256 = createHash('sha256').update(input.sql).digest('hex');
      const base = { env: input.env, sqlSha256, sql: input.sql };
      const recent = recentRejections(tenantId);
      // SECURITY: probing is slowed down: past the budget of refusals, nothing runs until the window passes.
      if (recent.length >= deps.limits.maxRejectionsPerWindow) {
        const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + deps.limits.rejectionWindowMs - deps.now().getTime()) / 1000));
        await audit(actor, tenantId, { ...base, outcome: 'SBX_ERR_REJECTIONS_RATE_LIMITED' });
        throw new DomainError('SBX_ERR_REJECTIONS_RATE_LIMITED', `too many refused queries: wait ${retryAfterSeconds} s`, { retryAfterSeconds });
      }
      const maxRows = Math.min(input.maxRows ?? deps.limits.defaultRows, deps.limits.maxRows);
      try {
        const result = await deps.engine.query({
          tenantId, tenantDir: tenantDirectory(deps.dataDir, tenantId), sql: input.sql, env: input.env,
          maxRows, maxBytes: deps.limits.maxBytes, timeoutMs: deps.limits.timeoutMs,
        }, signal);
        await audit(actor, tenantId, { ...base, outcome: 'ok', tables: result.tables, rows: result.rows.length, truncated: result.truncated, ms: result.ms });
        return { ...result, env: input.env };
      } catch (error) {
        const code = isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED';
        if (GATE_CODES.has(code)) recent.push(deps.now().getTime());
        await audit(actor, tenantId, { ...base, outcome: code });
        throw error;
      }
    },
  };
}

export type QueryService = ReturnType<typeof createQueryService>;
