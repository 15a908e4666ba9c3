/**
 * Bounds on what a tenant query may be, checked before DuckDB plans it. Planning cannot be
 * interrupted (a 100-way join planned for 8.8 s, reference/duckdb-sandbox.md), so size and shape
 * are the only defence there.
 */
export const GATE_LIMITS = {
  maxSqlBytes: 20 * 1024,
  maxAstNodes: 4_000,
  maxAstDepth: 48,
  maxJoins: 16,
  /** Items in one IN list, VALUES list or list literal. */
  maxListItems: 1_000,
} as const;

export type GateLimits = typeof GATE_LIMITS;
