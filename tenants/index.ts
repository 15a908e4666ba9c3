/**
 * The control plane's public face: tenants and licenses, applicants, the audit chain and the
 * control store. Runs in the API server's process; the store file is opened only there.
 */
export { openControlPlane, CONTROL_DB_FILE, SECRETS_DIR, type ControlPlane, type ControlPlaneLog, type ControlPlaneOptions } from './control-plane.js';
export { seedDemoDomain, DEMO_APPLICANT_ID, DEMO_SUPERVISOR_ORG, DEMO_TENANT_ID } from './demo-seed.js';
export * from './model.js';
export { AuditEntrySchema, SYSTEM_ACTOR, type AuditActor, type AuditEntry } from './audit/audit-entry.js';
export { VerifyReportSchema, type VerifyReport } from './audit/verify-chain.js';
export { verifyStoredChain } from './audit/audit-service.js';
export { loadAuditVerifier } from './audit/signing-key.js';
export { ensureControlPlaneSecrets } from './secrets.js';
export { openDuckDbControlStore } from './store/duckdb-control-store.js';
export type { AuditFilter, ControlStore } from './store/control-store.js';
export { MAX_LICENSE_YEARS } from './tenant-service.js';
export { DEFAULT_QUERY_LIMITS, type QueryLimits, type QueryEngine } from './query-service.js';
export { SchemaViewSchema, ColumnPolicyLabelSchema, type SchemaView } from './schema-service.js';
export { GrantSummarySchema } from './grant-service.js';
export { DEFAULT_EXPORT_LIMITS, type ExportLimits, type ExportService } from './exports/export-service.js';
export {
  CheckSchema, CreateExportSchema, CreateReviewSchema, ExportStatusSchema, NewVersionSchema, SubmitExportSchema, CheckStatusSchema, WithheldSchema,
  type Check, type ExportRecord, type ExportStatus,
} from './exports/export-model.js';
export { ManifestSchema, ManifestViewSchema, type Manifest } from './exports/package-builder.js';
export { traceLeak, TraceReportSchema, type TraceReport } from './exports/trace-leak.js';
export { loadOrCreateTokenMaster, TOKEN_MASTER_FILE } from './token-keys.js';
export { createExportChecks, PERSON_LEVEL_CHECK, type ExportCheckInput, type ExportChecks } from './exports/export-checks.js';
export { addDays, calendarDateProblem, looksLikeCalendarDate, startOfDay } from './calendar.js';
