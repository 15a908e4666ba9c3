import { z } from 'zod';
import { DISPLAY_CONTROLS } from '../core/text.js';
import { calendarDateProblem } from './calendar.js';

/**
 * The control plane's records and the shapes callers send. These zod schemas are the single source
 * of truth for validation, TypeScript types and the OpenAPI document.
 */

/** Ids of tenants and applicants: they become path segments and JWT `org` claims, so stay strict. */
export const ORG_ID_PATTERN = /^[a-z][a-z0-9-]{1,39}$/;
export const OrgIdSchema = z
  .string()
  .regex(ORG_ID_PATTERN, 'must be 2–40 characters: lowercase letters, digits and "-", starting with a letter');


/**
 * Characters that show nothing on their own: white space, control and format characters,
 * combining marks, default-ignorable code points (Hangul fillers among them) and the blank braille
 * pattern.
 */
const INVISIBLE = /[\p{White_Space}\p{Cc}\p{Cf}\p{M}\p{Default_Ignorable_Code_Point}\u2800]/gu;

/** Whether `text` shows anything a reader can see (a comment of U+2800 alone says nothing). */
export function hasVisibleText(text: string): boolean {
  return text.replace(INVISIBLE, '').length > 0;
}

/**
 * Free text people write and others read (names, purposes, justifications, comments, reasons):
 * trimmed, `min`..`max` long, no display controls, and when not empty something visible.
 */
export function humanText(min: number, max: number) {
  // SECURITY: what reviewers, recipients and auditors read is what it holds.
  return z.string().trim().min(min).max(max)
    .refine((text) => !DISPLAY_CONTROLS.test(text), 'must not contain control characters, bidirectional marks or zero-width characters')
    // SECURITY: a required reason or comment says something (pass 17b: U+2800 and U+3164 alone met "say why").
    .refine((text) => text === '' || hasVisibleText(text), 'must contain visible text');
}

export const RoleSchema = z.enum(['supervisor', 'operator', 'applicant']);
export type Role = z.infer<typeof RoleSchema>;

/** The claims every token must carry; anything else in the token is ignored. */
export const ClaimsSchema = z.object({
  // SECURITY: subjects and organizations are shown to reviewers, recipients and auditors (manifests, the audit): plain text only.
  sub: z.string().min(1).max(128).refine((text) => !DISPLAY_CONTROLS.test(text), 'must not contain control, format or invisible characters'),
  role: RoleSchema,
  org: z.string().min(1).max(64).refine((text) => !DISPLAY_CONTROLS.test(text), 'must not contain control, format or invisible characters'),
});
export type Claims = z.infer<typeof ClaimsSchema>;

/**
 * A calendar date in the platform's time zone, `YYYY-MM-DD`, checked to exist: a date in the right
 * form that names no day (2026-02-30) says so, rather than that it is not written YYYY-MM-DD.
 */
export const CalendarDateSchema = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, { error: 'must be a date written YYYY-MM-DD', abort: true })
  .check((ctx) => {
    const problem = calendarDateProblem(ctx.value);
    if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
  })
  .meta({ format: 'date' });

export const TenantStatusSchema = z.enum(['active', 'suspended', 'revoked']);
export type TenantStatus = z.infer<typeof TenantStatusSchema>;

/** Where today falls relative to the license window. */
export const LicenseStateSchema = z.enum(['pending', 'valid', 'expired']);
export type LicenseState = z.infer<typeof LicenseStateSchema>;

export const TenantRecordSchema = z.object({
  id: OrgIdSchema,
  name: z.string(),
  status: TenantStatusSchema,
  licenseFrom: CalendarDateSchema,
  licenseTo: CalendarDateSchema,
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type TenantRecord = z.infer<typeof TenantRecordSchema>;

export const TenantSchema = TenantRecordSchema.extend({ licenseState: LicenseStateSchema });
export type Tenant = z.infer<typeof TenantSchema>;

// Request bodies are strict: a misspelt field is an error, not silently dropped.
export const CreateTenantSchema = z.strictObject({
  id: OrgIdSchema,
  name: humanText(1, 200),
  licenseFrom: CalendarDateSchema,
  licenseTo: CalendarDateSchema,
});
export type CreateTenant = z.infer<typeof CreateTenantSchema>;

export const ApplicantRecordSchema = z.object({
  id: OrgIdSchema,
  name: z.string(),
  createdAt: z.string(),
});
export type ApplicantRecord = z.infer<typeof ApplicantRecordSchema>;

export const CreateApplicantSchema = z.strictObject({
  id: OrgIdSchema,
  name: humanText(1, 200),
});
export type CreateApplicant = z.infer<typeof CreateApplicantSchema>;

/** Lineage of a workspace table: what it was built from, for exports, products and withdrawal. */
export const WorkspaceTableLineageSchema = z.object({
  tenantId: z.string(),
  name: z.string(),
  /** The env the defining SELECT ran in, or `upload` for external data. */
  env: z.enum(['dev', 'prod', 'upload']),
  /** The defining SELECT; for an upload, a comment naming the file. */
  sql: z.string(),
  /** Tables the plan read, as `catalog.table` (`granted.residents`, `workspace.mine`). */
  sourceTables: z.array(z.string()),
  /** Granted datasets it derives from, directly or through other workspace tables. */
  datasets: z.array(z.string()),
  /** The same, with the dataset version and the policy fingerprint each was read under. */
  sources: z.array(z.object({ dataset: z.string(), version: z.number().int(), policy: z.string() })),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type WorkspaceTableLineage = z.infer<typeof WorkspaceTableLineageSchema>;

/** Dataset ids become table names in tenants' files: lowercase identifiers. */
export const DatasetIdSchema = z.string().regex(/^[a-z][a-z0-9_]{1,62}$/, 'must be 2–63 characters: lowercase letters, digits and "_", starting with a letter');

const ShareSchema = z.enum(['unconditional', 'conditional', 'none']);

/** Catalog metadata a supervisor gives with an ingest (DESIGN.md §3, the seeds' catalog fields). */
export const DatasetMetaSchema = z.strictObject({
  id: DatasetIdSchema,
  name: humanText(1, 200),
  provider: humanText(1, 200).describe('the providing institution'),
  grade: z.enum(['general', 'important', 'core']).describe('GB/T 43697: core data is refused'),
  level: z.number().int().min(1).max(5).optional().describe('sensitivity level within the grade'),
  shareAttribute: ShareSchema.describe('共享属性: 无条件 / 有条件 / 不予共享'),
  openAttribute: ShareSchema.describe('开放属性: 无条件 / 有条件 / 不予开放'),
  updateFrequency: humanText(1, 50),
  acquiredAt: CalendarDateSchema,
  description: humanText(0, 2000).optional(),
  entity: z.string().min(1).max(200).optional()
    .describe('the column naming the person or enterprise each row is about (not names, addresses, notes or birth dates; an unrecognized one becomes an identifier, subject_id): people are counted on it. Optional when the previous version\'s column is still there, or recognition finds one identifier, or several that pair one to one on every row'),
});
export type DatasetMeta = z.infer<typeof DatasetMetaSchema>;

export const PiiSchema = z.object({ kind: z.string(), confidence: z.number(), matchShare: z.number() });

export const DatasetColumnSchema = z.object({
  /** The column's effective policy (set by the supervisor, else the default); supervisors only. */
  policy: z.object({ kind: z.string(), rule: z.string().optional(), reason: z.string().optional(), derive: z.array(z.string()).optional() }).optional(),
  name: z.string(),
  type: z.string(),
  nullShare: z.number(),
  distinctEstimate: z.number(),
  min: z.string().nullable(),
  max: z.string().nullable(),
  topValues: z.array(z.object({ value: z.string(), count: z.number(), people: z.number().optional().describe('distinct people or enterprises holding it (datasets with an identifier)') })).nullable(),
  /** Deciles of numbers and dates without personal data (profiles from before they were kept have none). */
  quantiles: z.array(z.string()).nullable().optional(),
  /** The fewest distinct people or enterprises in any tenth the deciles cut (datasets with an identifier). */
  quantilePeople: z.number().optional(),
  /** Numbers and dates: the values 10 people reach at either end (the dev twin's range; null with fewer). */
  ends: z.object({ low: z.string(), high: z.string() }).nullable().optional(),
  pii: PiiSchema.nullable(),
  /** Columns with some nulls, in a dataset with people: distinct people with a value and with a null (the dev twin copies the null share only where both are 10 or more). */
  nullPeople: z.object({ valued: z.number(), nulls: z.number() }).optional(),
  /** Identifier columns (join kinds): distinct count and rows-per-key histogram, for the dev twin (issue #10). */
  keys: z.object({
    distinct: z.number(),
    rowsPerKey: z.array(z.object({ upTo: z.number(), share: z.number(), mean: z.number() })),
  }).optional().describe('distinct identifiers and the share of them with up to 1, 2, 4, 8, … rows (no value)'),
  /** Overlap rates with same-kind columns of the other datasets' versions current at ingest. */
  links: z.array(z.object({
    dataset: z.string(), version: z.number().int(), column: z.string(),
    distinctHere: z.number(), distinctThere: z.number(), rowsHere: z.number(), rowsThere: z.number(),
    withheld: z.boolean().optional(),
  })).optional().describe('shares of distinct values and of rows found in the other column, each way (no value)'),
});
export type DatasetColumn = z.infer<typeof DatasetColumnSchema>;

export const DatasetRecordSchema = DatasetMetaSchema.extend({
  /** The column this version's people or enterprises are counted on, as ingest settled it; null: none (absent in records from before). */
  entity: z.string().nullable().optional().describe('the column people or enterprises are counted on (declared, or settled from recognition); null: none'),
  version: z.number().int(),
  rows: z.number().int(),
  file: z.string(),
  sha256: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type DatasetRecord = z.infer<typeof DatasetRecordSchema>;

/**
 * A dataset's withdrawal by a supervisor (DESIGN.md §5): while it stands, nothing reads the dataset
 * (queries, workspace tables built from it, exports), and no grant of it is made; reinstating undoes it.
 */
export const WithdrawalSchema = z.object({ reason: z.string(), at: z.string(), by: z.string() });
export type Withdrawal = z.infer<typeof WithdrawalSchema>;
export const WithdrawDatasetSchema = z.strictObject({ reason: humanText(1, 500).describe('why the dataset is withdrawn (shown to supervisors, audited)') });
export type WithdrawDataset = z.infer<typeof WithdrawDatasetSchema>;
export const ReinstateDatasetSchema = z.strictObject({ reason: humanText(1, 500).optional() });
export type ReinstateDataset = z.infer<typeof ReinstateDatasetSchema>;

/** A version being ingested, as its supervisor sees it while it loads. */
export const IngestProgressSchema = z.object({
  version: z.number().int(),
  filename: z.string(),
  startedAt: z.string(),
  stage: z.enum(['checking', 'loading', 'profiling']).describe('checking: hash and encoding; loading: parsing into the raw domain; profiling: statistics and PII recognition'),
  percent: z.number().nullable().describe("DuckDB's estimate for the running step, 0–100"),
});
export type IngestProgress = z.infer<typeof IngestProgressSchema>;

export const ColumnPolicySchema = z.strictObject({
  kind: z.enum(['plain', 'mask', 'token', 'generalize', 'hidden']),
  rule: z.string().max(40).optional(),
  reason: humanText(0, 500).optional(),
  derive: z.array(z.enum(['birth_year', 'gender', 'region'])).max(3).optional(),
});

export const SetPoliciesSchema = z.strictObject({
  columns: z.record(z.string().min(1).max(200), ColumnPolicySchema).refine((c) => Object.keys(c).length > 0, 'name at least one column'),
});
export type SetPolicies = z.infer<typeof SetPoliciesSchema>;

/** Values of a preview, as text (NULL: null): what a tenant's file would hold, written out. */
const PreviewValuesSchema = z.array(z.string().nullable());

/** What a proposed policy would make of a handful of synthetic values (POST /v1/datasets/:id/policy/preview). */
export const PolicyPreviewSchema = z.object({
  dataset: z.string(),
  version: z.number().int().describe('the dataset version whose column types and recognized kinds the preview used'),
  columns: z.array(z.object({
    name: z.string(),
    type: z.string(),
    pii: z.string().nullable().describe('the kind recognition found in the column (its synthetic values are of this kind), null: none'),
    policy: ColumnPolicySchema,
    before: PreviewValuesSchema.describe('synthetic values in the column\'s type, never values of the dataset'),
    after: PreviewValuesSchema.nullable().describe('what the policy makes of them (the refinery\'s SQL, a throwaway token key); null: hidden'),
    derived: z.array(z.object({ name: z.string(), values: PreviewValuesSchema })).describe('columns `derive` adds, named as the tenant sees them'),
  })),
});
export type PolicyPreview = z.infer<typeof PolicyPreviewSchema>;

export const CreateGrantSchema = z.strictObject({
  dataset: DatasetIdSchema,
  columns: z.array(z.string().min(1).max(200)).min(1).max(500).optional().describe('raw columns granted; all when absent'),
  purpose: humanText(1, 500),
  until: CalendarDateSchema.describe('last day of the grant, within the tenant license'),
});
export type CreateGrant = z.infer<typeof CreateGrantSchema>;

export const GrantRecordSchema = z.object({
  tenantId: z.string(),
  dataset: z.string(),
  columns: z.array(z.string()).nullable(),
  purpose: z.string(),
  until: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type GrantRecord = z.infer<typeof GrantRecordSchema>;
