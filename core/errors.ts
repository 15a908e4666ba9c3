/**
 * Every stable error code the service can return, in one list.
 *
 * Codes are part of the public contract (clients branch on them): never rename or reuse one.
 * `server/errors.ts` maps each code to an HTTP status with a table typed over `ErrorCode`, so a code
 * added here without a status fails the type check; `docs/errors.md` documents each code and a test
 * fails when one is missing there.
 */
export const ERROR_CODES = [
  // Requests that never reach a handler's logic.
  'REQ_ERR_VALIDATION',
  'REQ_ERR_BAD_JSON',
  'REQ_ERR_BODY_TOO_LARGE',
  'REQ_ERR_UNSUPPORTED_MEDIA_TYPE',
  'REQ_ERR_NOT_FOUND',
  // Identity and access.
  'AUTH_ERR_MISSING_TOKEN',
  'AUTH_ERR_INVALID_TOKEN',
  'AUTH_ERR_TOKEN_EXPIRED',
  'AUTH_ERR_TOKEN_NOT_ACTIVE',
  'AUTH_ERR_TOKEN_LIFETIME',
  'AUTH_ERR_BAD_CLAIMS',
  'AUTH_ERR_ROLE_FORBIDDEN',
  'AUTH_ERR_SUPERVISOR_ORG',
  'AUTH_ERR_ORG_MISMATCH',
  'AUTH_ERR_ORG_UNKNOWN',
  'AUTH_ERR_TENANT_SUSPENDED',
  'AUTH_ERR_TENANT_REVOKED',
  'AUTH_ERR_LICENSE_NOT_STARTED',
  'AUTH_ERR_LICENSE_EXPIRED',
  // Tenants (operating entities) and applicants (application entities).
  'TNT_ERR_NOT_FOUND',
  'TNT_ERR_ALREADY_EXISTS',
  'TNT_ERR_LICENSE_RANGE',
  'TNT_ERR_LICENSE_TOO_LONG',
  'TNT_ERR_LICENSE_ENDED',
  'TNT_ERR_INVALID_TRANSITION',
  'APP_ERR_NOT_FOUND',
  'APP_ERR_ALREADY_EXISTS',
  // The SQL gate: why a tenant query was refused before it ran.
  'SBX_ERR_SQL_EMPTY',
  'SBX_ERR_SQL_TOO_LONG',
  'SBX_ERR_SQL_HIDDEN_TEXT',
  'SBX_ERR_SQL_SYNTAX',
  'SBX_ERR_SQL_MULTIPLE_STATEMENTS',
  'SBX_ERR_SQL_NOT_SELECT',
  'SBX_ERR_SQL_FORBIDDEN_FUNCTION',
  'SBX_ERR_SQL_FORBIDDEN_CONSTRUCT',
  'SBX_ERR_SQL_FORBIDDEN_TABLE',
  'SBX_ERR_SQL_TOO_COMPLEX',
  // Not a refusal: the query names a column, table, function or type that does not exist where it runs.
  'SBX_ERR_SQL_UNKNOWN_NAME',
  // Running tenant queries.
  'SBX_ERR_QUERY_FAILED',
  'SBX_ERR_QUERY_TIMEOUT',
  'SBX_ERR_QUERY_CANCELLED',
  'SBX_ERR_TENANT_BUSY',
  'SBX_ERR_QUEUE_FULL',
  'SBX_ERR_REJECTIONS_RATE_LIMITED',
  'SBX_ERR_ENGINE_RESTARTED',
  'SBX_ERR_ENGINE_UNAVAILABLE',
  'SBX_ERR_ENGINE_MEMORY',
  'SBX_ERR_REBUILDING',
  // Person-level disclosure control of prod answers (desensitize/disclosure.ts).
  'DSC_ERR_IDENTIFIERS',
  'DSC_ERR_NOT_K_ANONYMOUS',
  'DSC_ERR_REPEATED_ROWS',
  'DSC_ERR_RUNTIME_ERROR',
  'DSC_ERR_UNCHECKABLE',
  // Workspace tables.
  'TBL_ERR_EXISTS',
  'TBL_ERR_NAME_TAKEN',
  'TBL_ERR_NOT_FOUND',
  'TBL_ERR_WORKSPACE_FULL',
  // Uploads of external data.
  'UPL_ERR_NO_FILE',
  'UPL_ERR_TOO_LARGE',
  'UPL_ERR_EMPTY',
  'UPL_ERR_ENCODING',
  'UPL_ERR_BAD_HEADER',
  'UPL_ERR_TOO_MANY_COLUMNS',
  'UPL_ERR_MALFORMED',
  'UPL_ERR_TOO_MANY_ROWS',
  'UPL_ERR_XLSX_TOO_LARGE',
  'UPL_ERR_SHEET_NOT_FOUND',
  'UPL_ERR_UNSUPPORTED_FORMAT',
  // The dataset catalog.
  'CAT_ERR_CORE_DATA',
  'CAT_ERR_NOT_FOUND',
  'CAT_ERR_BAD_POLICY',
  'CAT_ERR_POLICY_MISFIT',
  'CAT_ERR_DATASET_WITHDRAWN',
  'CAT_ERR_WITHDRAWAL_STATE',
  'CAT_ERR_ENTITY_COLUMN',
  'CAT_ERR_ENTITY_AMBIGUOUS',
  'CAT_ERR_ENTITY_CHANGED',
  // Grants.
  'GRT_ERR_NOT_SHAREABLE',
  'GRT_ERR_BAD_COLUMNS',
  'GRT_ERR_BAD_UNTIL',
  'GRT_ERR_EXPIRED',
  // Audit chain.
  'AUD_ERR_BAD_FILTER',
  // Exports (出域审核): requests, reviews, delivery.
  'EXP_ERR_NOT_FOUND',
  'EXP_ERR_RECIPIENT_UNKNOWN',
  'EXP_ERR_SOURCE_NOT_FOUND',
  'EXP_ERR_SOURCE_NOT_PROD',
  'EXP_ERR_TOO_MANY_ROWS',
  'EXP_ERR_XLSX_CELL_TOO_LONG',
  'EXP_ERR_BAD_COLUMNS',
  'EXP_ERR_INVALID_STATE',
  'EXP_ERR_VERSION_CHANGED',
  'EXP_ERR_JUSTIFICATION_MISSING',
  'EXP_ERR_OUTCOME_FAIL',
  'EXP_ERR_COMMENT_REQUIRED',
  'EXP_ERR_ALREADY_REVIEWED',
  'EXP_ERR_OWN_EXPORT',
  'EXP_ERR_COLUMN_NAME',
  'EXP_ERR_NOT_APPROVED',
  'EXP_ERR_VERSION_SUPERSEDED',
  'EXP_ERR_EXPIRED',
  'EXP_ERR_DOWNLOAD_LIMIT',
  'EXP_ERR_BAD_MITIGATION',
  'EXP_ERR_MITIGATION_UNAVAILABLE',
  'EXP_ERR_PACKAGE_DAMAGED',
  'EXP_ERR_CHECKS_STALE',
  'EXP_ERR_TRACE_UNREADABLE',
  // Service health.
  'SRV_ERR_OVERLOADED',
  'SRV_ERR_UNAVAILABLE',
  'SRV_ERR_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * A failure the caller can act on. Carries a stable code and a message that is safe to show the
 * caller (no row values, no paths, no keys). The HTTP status is decided in `server/`, not here.
 */
export class DomainError extends Error {
  readonly code: ErrorCode;
  /** Structured facts for the caller, e.g. which field was wrong. Must be safe to expose. */
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'DomainError';
    this.code = code;
    this.details = details;
  }
}

export function isDomainError(value: unknown): value is DomainError {
  return value instanceof DomainError;
}
