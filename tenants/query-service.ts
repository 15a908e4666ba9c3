import { createHash } from 'node:crypto';
import { DomainError, isDomainError } from '../core/errors.js';
import { cutUtf8 } from '../core/text.js';
import { GATE_LIMITS, type Admissible, type Env, type QueryResult } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import { failureOf } from './access.js';
import { assertSourcesCurrent, runAdmitted, type AccessDirectory } from './lineage.js';
import { probingOutcome, UNCHECKABLE_BY_DATA, type ProbeAdmission, type ProbeLimiter } from './probe-limiter.js';
import type { ControlStore } from './store/control-store.js';

/** What the query service needs of the engine (the sandbox's EngineClient). */
export interface QueryEngine {
  query(task: { tenantId: string; sql: string; env: Env; maxRows: number; maxBytes: number; timeoutMs: number; admissible: Admissible }, signal?: AbortSignal): Promise<QueryResult>;
}

export interface QueryLimits {
  defaultRows: number;
  maxRows: number;
  maxBytes: number;
  timeoutMs: number;
  /** Refused queries per minute the tenant as a whole is slowed to (the budgets: `probeLimitsFor`). */
  maxRejectionsPerMinute: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  defaultRows: 1_000,
  maxRows: 10_000,
  maxBytes: 8 * 1024 * 1024,
  timeoutMs: 10_000,
  maxRejectionsPerMinute: 30,
};

/**
 * Operators' queries: run through the engine (which gates them), audited whatever the outcome, with
 * the gate's refusals slowed per operator and per tenant, since a stream of refusals is how a tenant
 * probes for what it should not see (reference/duckdb-sandbox.md; `probe-limiter.ts`).
 */
export function createQueryService(deps: {
  store: ControlStore;
  engine: QueryEngine;
  limits: QueryLimits;
  probes: ProbeLimiter;
  access: AccessDirectory;
  today: () => string;
  /** Throws when the tenant may not act now (suspended, revoked, license over). */
  assertTenantActive: (tenantId: string) => void;
  /** Asks for the tenant's files to be rebuilt (they still hold a copy that may no longer answer). */
  rebuild: (tenantId: string) => void;
}) {
  async function audit(actor: AuditActor, tenantId: string, details: Record<string, unknown>): Promise<void> {
    await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'query.run', target: `tenant:${tenantId}`, details }));
  }

  return {
    async run(actor: AuditActor, tenantId: string, input: { sql: string; env: Env; maxRows?: number | undefined }, signal?: AbortSignal): Promise<QueryResult & { env: Env }> {
      const base = { env: input.env, ...auditedSql(input.sql) };
      let admission: ProbeAdmission;
      try {
        admission = deps.probes.admit(tenantId, actor.sub);
      } catch (error) {
        await audit(actor, tenantId, { ...base, outcome: 'SBX_ERR_REJECTIONS_RATE_LIMITED' });
        throw error;
      }
      const maxRows = Math.min(input.maxRows ?? deps.limits.defaultRows, deps.limits.maxRows);
      let refusedByData = false;
      try {
        const result = await runAdmitted(deps.access, tenantId, deps.today, (admissible) => deps.engine.query({
          tenantId, sql: input.sql, env: input.env, maxRows, maxBytes: deps.limits.maxBytes, timeoutMs: deps.limits.timeoutMs, admissible,
        }, signal)).catch((error: unknown) => {
          // A copy refused for a grant or policy changed since: the refinery rebuilds (a withdrawn dataset's copies wait).
          if (isDomainError(error) && (error.code === 'SBX_ERR_REBUILDING' || error.code === 'GRT_ERR_EXPIRED')) deps.rebuild(tenantId);
          throw error;
        });
        // SECURITY: invariant 6: an answer of a tenant suspended or revoked while it ran is withheld.
        deps.assertTenantActive(tenantId);
        try {
          // SECURITY: invariants 6 and 9: an answer computed from a copy whose grant has ended or whose
          // policy has changed since (directly or through a workspace table) is withheld, even if the
          // refinery has not rebuilt the tenant's files yet; a rebuild is requested.
          assertSourcesCurrent(deps.access, tenantId, result.sources, deps.today());
        } catch (error) {
          // A withdrawn dataset's copies wait as they are: nothing to rebuild for it.
          if (!isDomainError(error) || error.code !== 'CAT_ERR_DATASET_WITHDRAWN') deps.rebuild(tenantId);
          throw error;
        }
        // SECURITY: invariant 8: what the person-level checks refused is not shown (lineage errors above take precedence).
        if (result.refusal) {
          refusedByData = result.refusal.byData === true;
          throw new DomainError(result.refusal.code, result.refusal.message);
        }
        await deps.store.mutate(async (tx) => {
          // SECURITY: invariants 6 and 9: checked again where the answer is recorded: a withdrawal
          // committed meanwhile (marked before its commit), a grant that ended or a suspension stops
          // it, so that no answer over a dataset is recorded after its withdrawal (pass 17d).
          deps.assertTenantActive(tenantId);
          assertSourcesCurrent(deps.access, tenantId, result.sources, deps.today());
          await tx.appendAudit({ actor, action: 'query.run', target: `tenant:${tenantId}`, details: { ...base, outcome: 'ok', tables: result.tables, sources: result.sources, rows: result.rows.length, truncated: result.truncated, ms: result.ms, ...(result.disclosure ? { withheldRows: result.disclosure.withheldRows, suppressedCells: result.disclosure.suppressedCells } : {}) } });
        });
        admission.settle('ok');
        return { ...result, env: input.env };
      } catch (failure) {
        const error = failureOf(failure, () => deps.assertTenantActive(tenantId));
        const code = isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED';
        // SECURITY: invariant 8: a refusal the rows may have decided counts as probing.
        admission.settle(refusedByData ? UNCHECKABLE_BY_DATA : probingOutcome(code, input.env));
        await audit(actor, tenantId, { ...base, outcome: code });
        throw error;
      }
    },
  };
}

export type QueryService = ReturnType<typeof createQueryService>;

/**
 * The SQL as the audit keeps it: its SHA-256 and the text, cut at the gate's limit (a longer text is
 * refused anyway; keeping it whole let one request write a megabyte into the audit chain).
 */
export function auditedSql(sql: string): { sqlSha256: string; sql: string; sqlTruncated?: true } {
  // Bytes, as the gate counts, and cut on a whole character: a CJK text cut by UTF-16 units kept three times the
  // limit, and a cut inside a surrogate pair would leave the audit a lone half.
  const cut = Buffer.byteLength(sql, 'utf8') > GATE_LIMITS.maxSqlBytes;
  return { sqlSha256: sha256(sql), sql: cut ? cutUtf8(sql, GATE_LIMITS.maxSqlBytes) : sql, ...(cut ? { sqlTruncated: true as const } : {}) };
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
