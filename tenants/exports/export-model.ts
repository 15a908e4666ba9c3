import { z } from 'zod';
import { ExportFormatSchema, ExportIdSchema, TableNameSchema } from '../../sandbox/index.js';
import { humanText, OrgIdSchema } from '../model.js';

/**
 * Exports (出域审核, DESIGN.md §3.5): the records the control store keeps and the shapes callers send.
 * An export has immutable versions (each a snapshot with its checks); reviews and downloads name the
 * version they are about.
 */

export const CheckStatusSchema = z.enum(['pass', 'review', 'fail']);
export type CheckStatus = z.infer<typeof CheckStatusSchema>;

/** One automated disclosure check of an output. */
export const CheckSchema = z.object({
  name: z.string(),
  status: CheckStatusSchema,
  reason: z.string().describe('in plain words, e.g. "3 cells describe fewer than 10 people"'),
  cells: z.array(z.record(z.string(), z.unknown())).optional().describe('the affected cells'),
  rows: z.number().int().optional().describe('how many rows are affected'),
});
export type Check = z.infer<typeof CheckSchema>;

export const ExportStatusSchema = z.enum(['draft', 'submitted', 'approved', 'changes_requested', 'rejected', 'withdrawn', 'released', 'expired']);
export type ExportStatus = z.infer<typeof ExportStatusSchema>;

export const ExportSourceSchema = z.union([
  z.strictObject({ table: TableNameSchema.describe('a workspace table of the caller built in prod') }),
  z.strictObject({ sql: z.string().min(1).max(20_000).describe('one SELECT over prod and the workspace (the query gate applies)') }),
]);
export type ExportSource = z.infer<typeof ExportSourceSchema>;

export const CreateExportSchema = z.strictObject({
  source: ExportSourceSchema,
  recipient: OrgIdSchema.describe('an application entity registered by a supervisor'),
  purpose: humanText(1, 1_000),
  format: ExportFormatSchema,
});
export type CreateExport = z.infer<typeof CreateExportSchema>;

/**
 * What suppression has withheld from a version's data file, over every mitigation that led to it:
 * rows removed and cells shown as null, on their own account (they failed a check) and to protect
 * them (secondary suppression). Stated in the checks, the detail and the manifest: never silent.
 */
export const WithheldSchema = z.object({
  /** Rows of the first version not in this one. */
  rows: z.number().int(),
  /** Cells of this version shown as null. */
  cells: z.number().int(),
  primaryRows: z.number().int(),
  secondaryRows: z.number().int(),
  primaryCells: z.number().int(),
  secondaryCells: z.number().int(),
});
export type Withheld = z.infer<typeof WithheldSchema>;

/** How a version was made from the one before, when it was not from new SQL. */
export const MitigationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('round5'), columns: z.array(z.string()), fromVersion: z.number().int(), withheld: WithheldSchema.nullable().optional() }),
  z.object({
    kind: z.literal('suppress'),
    fromVersion: z.number().int(),
    /** Rows of `fromVersion` removed (0-based, ascending): row i of this version is the i-th row of `fromVersion` not listed. */
    removedRows: z.array(z.number().int()),
    withheld: WithheldSchema,
  }),
]);
export type Mitigation = z.infer<typeof MitigationSchema>;

export const NewVersionSchema = z.union([
  z.strictObject({ source: ExportSourceSchema }),
  z.strictObject({ mitigation: z.literal('round5'), columns: z.array(z.string().min(1).max(200)).min(1).max(500).describe('integer count columns to round to base 5') }),
  z.strictObject({ mitigation: z.literal('suppress') }),
]);
export type NewVersion = z.infer<typeof NewVersionSchema>;

export const SubmitExportSchema = z.strictObject({
  justifications: z.record(z.string().max(200), humanText(1, 2_000)).optional().describe('one per check with status review, keyed by check name'),
});

export const ReviewDecisionSchema = z.enum(['approve', 'reject', 'request_changes']);
export type ReviewDecision = z.infer<typeof ReviewDecisionSchema>;

export const CreateReviewSchema = z.strictObject({
  version: z.number().int().positive().describe('the version reviewed: refused (409) if the export has changed since'),
  decision: ReviewDecisionSchema,
  comment: humanText(0, 4_000).optional().describe('required to reject or request changes'),
});
export type CreateReview = z.infer<typeof CreateReviewSchema>;

export const SourceLineageSchema = z.object({ dataset: z.string(), version: z.number().int(), policy: z.string() });

export const ExportVersionRecordSchema = z.object({
  exportId: ExportIdSchema,
  version: z.number().int(),
  source: ExportSourceSchema,
  /** The SQL that ran (a table source is `SELECT * FROM <table>`). */
  sql: z.string(),
  snapshot: z.object({ file: z.string(), sha256: z.string(), bytes: z.number().int() }),
  rowCount: z.number().int(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  /** Tables the plan read, and the dataset versions behind them. */
  tables: z.array(z.string()),
  sources: z.array(SourceLineageSchema),
  checks: z.array(CheckSchema),
  outcome: CheckStatusSchema,
  mitigation: MitigationSchema.nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
});
export type ExportVersionRecord = z.infer<typeof ExportVersionRecordSchema>;

export const SubmissionSchema = z.object({ version: z.number().int(), justifications: z.record(z.string(), z.string()), submittedAt: z.string(), submittedBy: z.string() });

export const PackageSchema = z.object({
  version: z.number().int(),
  file: z.string(),
  sha256: z.string(),
  bytes: z.number().int(),
  builtAt: z.string(),
  validUntil: z.string(),
  maxDownloads: z.number().int(),
});
export type ExportPackage = z.infer<typeof PackageSchema>;

export const ExportRecordSchema = z.object({
  id: ExportIdSchema,
  tenantId: z.string(),
  recipient: z.string(),
  purpose: z.string(),
  format: ExportFormatSchema,
  status: ExportStatusSchema,
  currentVersion: z.number().int(),
  submission: SubmissionSchema.nullable(),
  package: PackageSchema.nullable(),
  createdAt: z.string(),
  createdBy: z.string(),
  updatedAt: z.string(),
});
export type ExportRecord = z.infer<typeof ExportRecordSchema>;

export const ReviewRecordSchema = z.object({
  exportId: z.string(),
  version: z.number().int(),
  reviewerSub: z.string(),
  reviewerOrg: z.string(),
  decision: ReviewDecisionSchema,
  comment: z.string().nullable(),
  createdAt: z.string(),
});
export type ReviewRecord = z.infer<typeof ReviewRecordSchema>;

export const DownloadRecordSchema = z.object({
  exportId: z.string(),
  version: z.number().int(),
  recipient: z.string(),
  sub: z.string(),
  /** 1 for the first download, and so on. */
  count: z.number().int(),
  createdAt: z.string(),
});
export type DownloadRecord = z.infer<typeof DownloadRecordSchema>;
