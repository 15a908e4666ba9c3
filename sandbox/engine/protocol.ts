import { z } from 'zod';
import { ERROR_CODES } from '../../core/errors.js';
import { PII_KINDS } from '../../desensitize/index.js';
import { MAX_PAIRS_PER_ANSWER } from '../disclosure/answer-history.js';
import type { EngineOptions } from './engine-options.js';

/**
 * The contract between the API server (controller) and the engine host (executor): the only module
 * both sides share. Messages cross a process boundary (IPC) and then a thread boundary (piscina), so
 * they are plain data; errors travel as `{ok: false, code, message}` and are rebuilt on arrival.
 */

export const EnvSchema = z.enum(['dev', 'prod']);
export type Env = z.infer<typeof EnvSchema>;

/**
 * How the server starts an engine process: the data dir (every path is derived from it and from the
 * ids in tasks), and whose process it is: a tenant id, or `trusted` for ingest and builds.
 */
export interface HostOptions {
  key: string;
  dataDir: string;
  engine: EngineOptions['engine'];
  /** Tasks the process's worker thread runs at once (they wait on DuckDB, not on the JS thread). */
  concurrentTasks: number;
}

/** The process that runs trusted platform work (ingest, builds), never tenant SQL. */
export const TRUSTED_PROCESS = 'trusted';

const TenantIdSchema = z.string().regex(/^[a-z][a-z0-9-]{1,39}$/);
const DatasetIdSchema = z.string().regex(/^[a-z][a-z0-9_]{1,62}$/);

/**
 * What the control plane accepts for the tenant now (tenants/lineage.ts `AccessDirectory.admissible`):
 * for each dataset with a live grant that is not withdrawn, the access fingerprint (SourceRef
 * `policy`) its copies must carry. Tenant SQL reading any other source is refused after the gate
 * and before it runs (`assertAdmissible`): a run over a withdrawn dataset's copy that failed told
 * one bit of its rows before the lineage check could refuse it (red-team pass 39b).
 */
export const AdmissibleSchema = z.record(z.string(), z.string());
export type Admissible = z.infer<typeof AdmissibleSchema>;

export const QueryTaskSchema = z.object({
  kind: z.literal('query'),
  tenantId: TenantIdSchema,
  sql: z.string(),
  env: EnvSchema,
  maxRows: z.number().int().positive(),
  maxBytes: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  admissible: AdmissibleSchema,
});
export type QueryTask = z.infer<typeof QueryTaskSchema>;

/**
 * What a published table or a workspace table was computed from: a dataset version under a policy.
 * `policy` fingerprints everything that decides what the tenant may see of the dataset (its
 * effective column policies and the grant's columns): when it no longer matches the control plane's
 * current one, the data is stale and must not answer (`tenants/lineage.ts`).
 */
export const SourceRefSchema = z.object({ dataset: z.string(), version: z.number().int(), policy: z.string() });
export type SourceRef = z.infer<typeof SourceRefSchema>;

/** What the disclosure checks know of a published table (desensitize/disclosure.ts TablePrivacy). */
export const TablePrivacySchema = z.object({ personal: z.boolean(), entity: z.boolean(), identifiers: z.array(z.string()), quasi: z.array(z.string()) });

/** A table for the publish interface: trusted SQL run in a build instance (never tenant SQL). */
export const TableDefinitionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  sql: z.string(),
  /** Its lineage, kept in the tenant's catalog and reported with every answer read from it. */
  source: SourceRefSchema,
  /** Whom its rows are about; absent means not personal (answers freely). */
  privacy: TablePrivacySchema.optional(),
});
export type TableDefinition = z.infer<typeof TableDefinitionSchema>;
export type TablePrivacy = z.infer<typeof TablePrivacySchema>;

/** A raw dataset version the trusted build SQL may read, attached read-only under an alias. */
const DatasetFileSchema = z.object({ dataset: DatasetIdSchema, file: z.string().regex(/^v\d+\.duckdb$/) });

/** Builds a tenant's next granted or dev file in the trusted process, into the staging area. */
export const BuildTaskSchema = z.object({
  kind: z.literal('build'),
  tenantId: TenantIdSchema,
  target: z.enum(['granted', 'dev']),
  tables: z.array(TableDefinitionSchema),
  attach: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), DatasetFileSchema).default({}),
  /**
   * The domain's corrections of entity keys: SQL over the attached datasets giving `entity` and
   * `person`: with `person` NULL, a key that is no one person's for sure (compileDoubtfulKeys),
   * whose rows are keyless in every table built with entity keys; else a key counted as `person`
   * (compileMergedKeys: one person's several identifiers), unless either is doubtful.
   */
  keyCorrections: z.string().optional(),
  /**
   * Whether tables whose definition is unchanged may be carried over from the tenant's current file
   * (`publish.ts`); false forces a build of every table from the domain (the bench's anchor).
   */
  incremental: z.boolean().default(true),
});
export type BuildTask = z.infer<typeof BuildTaskSchema>;
export type PublishTask = Omit<BuildTask, 'kind' | 'incremental'> & { incremental?: boolean };

/**
 * How one table definition was built into a published file: the key of its definition (its SQL, its
 * source and the raw files it reads: `publish.ts` definitionKey) and every table of the file that
 * building it created (itself and any internal `__` side table). The next build carries exactly
 * these tables when the key is unchanged, and rebuilds all of them otherwise.
 */
export const TableBuildSchema = z.object({ key: z.string().regex(/^[0-9a-f]{64}$/), tables: z.array(z.string()).min(1) });
export type TableBuild = z.infer<typeof TableBuildSchema>;

/** Moves a staged build into the tenant's directory and swaps its catalog, in the tenant's process. */
export const SwapTaskSchema = z.object({
  kind: z.literal('swap'),
  tenantId: TenantIdSchema,
  target: z.enum(['granted', 'dev']),
  staged: z.string().regex(/^(granted|dev)-[0-9a-f-]+\.duckdb$/),
  sources: z.record(z.string(), SourceRefSchema),
  privacy: z.record(z.string(), TablePrivacySchema).default({}),
  builds: z.record(z.string(), TableBuildSchema).default({}),
});

/** Host-internal: opens the tenant's engine before the first task. */
export const OpenTaskSchema = z.object({ kind: z.literal('open'), tenantId: TenantIdSchema });
/** Host-internal: sent to the worker before the process exits. */
export const CloseAllTaskSchema = z.object({ kind: z.literal('close-all'), tenantId: z.literal('*') });

export const TableNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be 1–63 characters: lowercase letters, digits and "_", starting with a letter');

export const CreateTableTaskSchema = z.object({
  kind: z.literal('create-table'),
  tenantId: TenantIdSchema,
  /** Rebuild: replace the table of this name (its dependents' rebuild under a new policy). */
  replace: z.boolean().default(false),
  name: TableNameSchema,
  sql: z.string(),
  env: EnvSchema,
  timeoutMs: z.number().int().positive(),
  admissible: AdmissibleSchema,
});
export type CreateTableTask = z.infer<typeof CreateTableTaskSchema>;

export const DropTableTaskSchema = z.object({ kind: z.literal('drop-table'), tenantId: TenantIdSchema, name: TableNameSchema });
export const ListTablesTaskSchema = z.object({ kind: z.literal('list-tables'), tenantId: TenantIdSchema });

const PreparedUploadSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('parquet'), path: z.string(), bytes: z.number(), sha256: z.string() }),
  z.object({
    format: z.literal('csv'), path: z.string(), bytes: z.number(), sha256: z.string(), encoding: z.enum(['utf-8', 'gb18030', 'utf-16le', 'utf-16be']), columns: z.array(z.string()),
    delimiter: z.enum([',', ';', '\t', '|']), escape: z.enum(['"', '\\']), source: z.enum(['csv', 'xlsx']),
  }),
]);

export const ImportTableTaskSchema = z.object({
  kind: z.literal('import-table'), tenantId: TenantIdSchema, name: TableNameSchema, upload: PreparedUploadSchema,
  /** For PII recognition of the uploaded columns: the day (resident IDs' birth dates) and the sample size. */
  today: z.string(), sampleSize: z.number().int().positive(),
});
export type ImportTableTask = z.infer<typeof ImportTableTaskSchema>;

/** Trusted ingest of a raw dataset into `domain/<datasetId>/`. */
export const IngestDatasetTaskSchema = z.object({
  kind: z.literal('ingest-dataset'),
  datasetId: DatasetIdSchema,
  version: z.number().int().positive(),
  /** An uploaded file, or trusted generating SQL (never tenant input). */
  upload: PreparedUploadSchema.optional(),
  sql: z.string().optional(),
  today: z.string(),
  sampleSize: z.number().int().positive(),
  /** The column the supervisor names as the person or enterprise each row is about (else settled from recognition). */
  entity: z.string().optional(),
  /** The column the dataset's previous version counted people on, and its kind: kept, or the kind kept. */
  previousEntity: z.object({ column: z.string(), kind: z.string() }).optional(),
  /** Other datasets' current versions and their identifier columns: overlaps with them are measured (issue #10). */
  linkTo: z.array(z.object({
    dataset: DatasetIdSchema, version: z.number().int().positive(), file: z.string().regex(/^v\d+\.duckdb$/), columns: z.array(z.object({ name: z.string(), kind: z.string() })),
    /** Links of a pair measured before (by an earlier version of either side), carried forward instead of measured again. */
    known: z.array(z.object({
      column: z.string(), kind: z.string(), other: z.string(),
      link: z.object({ distinctHere: z.number(), distinctThere: z.number(), rowsHere: z.number(), rowsThere: z.number(), withheld: z.boolean().optional() }),
    })).optional(),
  })).optional(),
});
export type IngestDatasetTask = z.infer<typeof IngestDatasetTaskSchema>;

/** Lists the env's readable tables and columns (GET /v1/schema), from the tenant's own engine. */
export const SchemaTaskSchema = z.object({ kind: z.literal('schema'), tenantId: TenantIdSchema, env: EnvSchema });


/** Export ids become a path segment under `exports/`: strict. */
export const ExportIdSchema = z.string().regex(/^exp-[0-9a-f]{16}$/);
export const ExportVersionSchema = z.number().int().positive().max(10_000);
export const ExportFormatSchema = z.enum(['csv', 'parquet', 'xlsx']);
export type ExportFormat = z.infer<typeof ExportFormatSchema>;

/**
 * Runs a gated SELECT over the tenant's prod data in the tenant's process and snapshots its result as
 * Parquet under `exports/<exportId>/v<version>/` (a path computed from the data dir and the ids,
 * never one from a request). The env is always prod: exports leave from the real data.
 */
export const ExportSnapshotTaskSchema = z.object({
  kind: z.literal('export-snapshot'),
  tenantId: TenantIdSchema,
  exportId: ExportIdSchema,
  version: ExportVersionSchema,
  sql: z.string(),
  maxRows: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
  admissible: AdmissibleSchema,
});
export type ExportSnapshotTask = z.infer<typeof ExportSnapshotTaskSchema>;

/** How a mitigated version is made from the one before (`export-files.ts` deriveSnapshot). */
export const ExportMitigationSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('round5'), columns: z.array(z.string()).min(1) }),
  z.object({
    kind: z.literal('suppress'),
    /** Failing cells named by checks other than the person-level ones (e.g. differencing). */
    cells: z.array(z.object({ row: z.number().int().nonnegative(), column: z.string() })),
  }),
]);
export type ExportMitigation = z.infer<typeof ExportMitigationSchema>;

/** Trusted: a mitigated version derived from an earlier snapshot and the statistics kept with it. */
export const ExportDeriveTaskSchema = z.object({
  kind: z.literal('export-derive'),
  exportId: ExportIdSchema,
  fromVersion: ExportVersionSchema,
  version: ExportVersionSchema,
  mitigation: ExportMitigationSchema,
});
export type ExportDeriveTask = z.infer<typeof ExportDeriveTaskSchema>;

/** Trusted: the first rows of a snapshot (reviewers' preview and the diff between versions). */
export const ExportReadTaskSchema = z.object({ kind: z.literal('export-read'), exportId: ExportIdSchema, version: ExportVersionSchema, limit: z.number().int().min(1).max(1_000) });
export type ExportReadTask = z.infer<typeof ExportReadTaskSchema>;

/** Trusted: the delivered data file of an approved version, for its recipient, under `package/`. */
export const ExportDeliverTaskSchema = z.object({
  kind: z.literal('export-deliver'), exportId: ExportIdSchema, version: ExportVersionSchema, format: ExportFormatSchema,
  /** The recipient's fingerprint key for this export (hex), derived domain-side; never written to the package. The recipient itself is not sent: the key alone marks the file. */
  fingerprintKey: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ExportDeliverTask = z.infer<typeof ExportDeliverTaskSchema>;

/** A released version's place in the release store: who released what to whom, over which datasets. */
export const ReleaseKeySchema = z.object({
  exportId: ExportIdSchema,
  version: ExportVersionSchema,
  tenantId: TenantIdSchema,
  /** The source dataset ids of the version (its lineage); cells are compared only over the same set. */
  datasets: z.array(DatasetIdSchema).min(1),
});
export type ReleaseKey = z.infer<typeof ReleaseKeySchema>;

/**
 * Trusted: the differencing check of a version's cells (`cells.parquet`) against every released
 * cell, across all datasets, tenants and recipients (`release-store.ts`).
 */
export const ExportDifferenceTaskSchema = ReleaseKeySchema.extend({
  kind: z.literal('export-difference'),
  minEntities: z.number().int().min(1),
  /** Cells the version withholds (suppression): neither compared nor, at release, kept. */
  suppressed: z.array(z.object({ row: z.number().int().min(0), column: z.string() })).max(1_000_000).default([]),
});
export type ExportDifferenceTask = z.infer<typeof ExportDifferenceTaskSchema>;

/**
 * Trusted: at approval, the differencing check again (releases made since included) and, when no
 * cell is too close, the version's cells added to the release store in the same step.
 */
export const ExportReleaseTaskSchema = ExportDifferenceTaskSchema.extend({
  kind: z.literal('export-release'),
  recipient: TenantIdSchema,
});
export type ExportReleaseTask = z.infer<typeof ExportReleaseTaskSchema>;

/** Trusted: takes a version's cells out of the release store again (its approval did not commit). */
export const ExportUnreleaseTaskSchema = ReleaseKeySchema.extend({ kind: z.literal('export-unrelease') });
export type ExportUnreleaseTask = z.infer<typeof ExportUnreleaseTaskSchema>;

/**
 * A new cell and an earlier released cell whose entity sets differ by at least one and fewer than
 * the minimum. `earlier` names the earlier export and cell only when it is the same tenant's; null
 * otherwise (another tenant's ids and recipients never leave the trusted process).
 */
export const DifferencingPairSchema = z.object({
  row: z.number().int(),
  column: z.string(),
  /** `row` null: the cells of that column summed (`summed: 'earlier'`). */
  earlier: z.object({ exportId: z.string(), version: z.number().int(), row: z.number().int().nullable(), column: z.string() }).nullable(),
  /** Absent: cell against cell. `earlier`: against a sum of a release's cells of one column; `new`: this cell summed with others of its column against a released cell. */
  summed: z.enum(['earlier', 'new']).optional(),
});
export type DifferencingPair = z.infer<typeof DifferencingPairSchema>;

/** What the differencing check found: `missing` when the version has no readable cell sets (fail closed). */
export const DifferencingResultSchema = z.union([
  z.object({ missing: z.string() }),
  z.object({ pairs: z.array(DifferencingPairSchema), cells: z.number().int(), releases: z.number().int(), released: z.boolean().optional() }),
]);
export type DifferencingResult = z.infer<typeof DifferencingResultSchema>;

export const EngineTaskSchema = z.discriminatedUnion('kind', [
  OpenTaskSchema, IngestDatasetTaskSchema, ImportTableTaskSchema, QueryTaskSchema, BuildTaskSchema, SwapTaskSchema, CloseAllTaskSchema, CreateTableTaskSchema, DropTableTaskSchema, ListTablesTaskSchema, SchemaTaskSchema,
  ExportSnapshotTaskSchema, ExportDeriveTaskSchema, ExportReadTaskSchema, ExportDeliverTaskSchema, ExportDifferenceTaskSchema, ExportReleaseTaskSchema, ExportUnreleaseTaskSchema,
]);
export type EngineTask = z.infer<typeof EngineTaskSchema>;

/**
 * Tasks of the trusted process: ingest and builds (raw data), and the export file work that runs
 * no tenant SQL (deriving, reading and delivering snapshots). Everything else is a tenant's.
 */
const TRUSTED_TASK_KINDS: ReadonlySet<EngineTask['kind']> = new Set(['build', 'ingest-dataset', 'export-derive', 'export-read', 'export-deliver', 'export-difference', 'export-release', 'export-unrelease']);

export function isTrustedTask(task: EngineTask): boolean {
  return TRUSTED_TASK_KINDS.has(task.kind);
}

export const ColumnSchema = z.object({ name: z.string(), type: z.string() });

export const PiiKindSchema = z.enum(PII_KINDS);

/**
 * Where a workspace table's rows come from: the env its SELECT ran in (or an upload), and its
 * sources. `pii` maps the columns recognized as personal data to their kind (uploads: recognized
 * when imported); absent in tags written before it was kept, and a reader that finds a tag without
 * it must treat the table's columns as unchecked, never as free of personal data. Unknown keys are
 * dropped when a tag is read, so older code still reads newer tags.
 */
export const WorkspaceTagSchema = z.object({
  env: z.enum(['dev', 'prod', 'upload']),
  sources: z.array(SourceRefSchema),
  pii: z.record(z.string(), PiiKindSchema).optional(),
});
export type WorkspaceTag = z.infer<typeof WorkspaceTagSchema>;

/** A table of an env as discovery lists it: readable there, with its lineage (`sandbox/engine/discovery.ts`). */
export const ListedTableSchema = z.object({
  catalog: z.enum(['granted', 'dev', 'workspace']),
  name: z.string(),
  columns: z.array(z.object({ name: z.string(), type: z.string(), nullable: z.boolean() })),
  sources: z.array(SourceRefSchema),
  /** `published`: the env's granted or twin file; otherwise the workspace table's tag env. */
  origin: z.enum(['published', 'dev', 'prod', 'upload']),
});
export type ListedTable = z.infer<typeof ListedTableSchema>;

export const QueryResultSchema = z.object({
  columns: z.array(ColumnSchema),
  rows: z.array(z.array(z.unknown())),
  truncated: z.boolean(),
  /** Tables the bound plan reads, as `catalog.table` (e.g. `granted.residents`, `workspace.mine`). */
  tables: z.array(z.string()),
  /** The datasets (versions, policies) behind every table read, followed through workspace tables. */
  sources: z.array(SourceRefSchema),
  ms: z.number(),
  /** Prod answers over personal data: what the person-level checks withheld and why (sandbox/disclosure). */
  disclosure: z.object({ kind: z.enum(['aggregate', 'rows']), withheldRows: z.number().int().nullable(), suppressedCells: z.number().int(), reasons: z.array(z.string()) }).optional(),
  /**
   * Refused by the person-level checks (no rows): the control plane raises it after its lineage
   * checks. `byData`: found uncheckable while it ran, so possibly by its rows (counted as probing).
   */
  refusal: z.object({ code: z.enum(ERROR_CODES), message: z.string(), byData: z.literal(true).optional() }).optional(),
  /**
   * Discovery answers only (SUMMARIZE): what the statistics were computed on. `table`: the table
   * itself; `twin`: its synthetic twin (prod); `suppressed`: withheld (a prod-built table).
   */
  basis: z.enum(['table', 'twin', 'suppressed']).optional(),
  /** Discovery answers only: what the answer shows, when it is not what the statement would show on raw data. */
  note: z.string().optional(),
});
export type QueryResult = z.infer<typeof QueryResultSchema>;

/** A workspace table's column; `pii` is the kind of personal data recognized in it (uploads). */
export const WorkspaceColumnSchema = ColumnSchema.extend({ pii: PiiKindSchema.optional() });
export const WorkspaceTableSchema = z.object({
  name: z.string(),
  rows: z.number().int().nullable().describe('null for a prod table derived from personal data: its row count would be an unchecked aggregate'),
  columns: z.array(WorkspaceColumnSchema),
});
export type WorkspaceTableInfo = z.infer<typeof WorkspaceTableSchema> & { tag: WorkspaceTag | null };
export type CreatedTable = WorkspaceTableInfo & { tables: string[]; sources: SourceRef[] };

/** An immutable snapshot of an export version's rows. */
export const ExportSnapshotSchema = z.object({
  file: z.string(),
  sha256: z.string(),
  bytes: z.number().int(),
  rowCount: z.number().int(),
  columns: z.array(ColumnSchema),
});
export type ExportSnapshot = z.infer<typeof ExportSnapshotSchema>;

/**
 * The person-level checks of a snapshot's query (sandbox/disclosure checkOutput), computed in the
 * tenant's process on its entity keys: `checks` when its shape is checkable, `uncheckable` with the
 * reason when it is not; absent when the query read no personal table.
 */
export const PersonLevelSchema = z.union([
  z.object({
    /** The output's shape: only `aggregate` outputs have cells, and their entity sets beside the snapshot (`cells.parquet`). */
    kind: z.enum(['aggregate', 'rows']).optional(),
    checks: z.array(z.object({
      name: z.string(),
      status: z.enum(['pass', 'review', 'fail']),
      reason: z.string(),
      cells: z.array(z.tuple([z.number().int(), z.number().int()])).optional(),
      rows: z.array(z.number().int()).optional(),
    })),
  }),
  /** `byData`: uncheckable for a reason the data decided (a join repeating rows), which one person can decide too. */
  z.object({ uncheckable: z.string(), byData: z.boolean().optional() }),
]);
export type PersonLevel = z.infer<typeof PersonLevelSchema>;
/** What one suppression withheld: rows removed and cells nulled, on their own account and to protect them. */
export const SuppressionSummarySchema = z.object({
  primaryRows: z.number().int(),
  secondaryRows: z.number().int(),
  primaryCells: z.number().int(),
  secondaryCells: z.number().int(),
  /** Rows of the earlier version removed (0-based, ascending): row i of the new version is the i-th row not listed. */
  removedRows: z.array(z.number().int()),
});
export type SuppressionSummary = z.infer<typeof SuppressionSummarySchema>;

/** A mitigated snapshot, with its person-level checks re-run on the same statistics. */
export type DerivedSnapshot = ExportSnapshot & {
  personLevel?: PersonLevel | undefined;
  /** What this step suppressed; null for rounding. */
  suppression: SuppressionSummary | null;
  /** Every cell of the new version shown as null by suppression (this step and earlier ones), as [row, column]. */
  suppressedCells: [number, number][];
};
/** A snapshot of a gated query, with what the query read. */
export type ExportSnapshotResult = ExportSnapshot & { tables: string[]; sources: SourceRef[]; personLevel?: PersonLevel | undefined };
export type ExportRows = { columns: { name: string; type: string }[]; rows: unknown[][] };
/** How a delivered file identifies its recipient (`desensitize/fingerprint.ts`); the manifest states it. */
export const FingerprintSchema = z.object({
  scheme: z.string(),
  /** Token columns, re-keyed for this recipient and export. */
  tokenColumns: z.array(z.string()),
  /** Numeric columns whose last kept decimal carries the keyed mark. */
  markedColumns: z.array(z.object({ column: z.string(), unit: z.string(), decimals: z.number().int(), rounded: z.boolean() })),
  tolerance: z.string(),
});
export type Fingerprint = z.infer<typeof FingerprintSchema>;
export type DeliveredFile = { file: string; sha256: string; bytes: number; fingerprint: Fingerprint };

export const BuildResultSchema = z.object({
  /** The staged file; null when the current file already is what the task defines (nothing to publish). */
  staged: z.string().nullable(),
  builds: z.record(z.string(), TableBuildSchema),
  /** Definitions built from the domain, and those carried over unchanged from the current file. */
  rebuilt: z.array(z.string()),
  carried: z.array(z.string()),
});
export type BuildResult = z.infer<typeof BuildResultSchema>;

export const PublishResultSchema = z.object({
  target: z.enum(['granted', 'dev']),
  version: z.number().int(),
  tables: z.array(z.string()),
  rebuilt: z.array(z.string()).default([]),
  carried: z.array(z.string()).default([]),
  /** True when nothing changed: no new version was published (`version` is the current one). */
  unchanged: z.boolean().default(false),
});
export type PublishResult = z.infer<typeof PublishResultSchema>;

export const TaskFailureSchema = z.object({
  ok: z.literal(false), code: z.enum(ERROR_CODES), message: z.string(),
  /** The DomainError's details (where a SQL error is, suggested names): built by the engine's own code, safe to show. */
  details: z.record(z.string(), z.unknown()).optional(),
});
export type TaskFailure = z.infer<typeof TaskFailureSchema>;

export type TaskOutcome<T> = { ok: true; value: T } | TaskFailure;

/** Server → host. */
export type HostRequest = { id: number; task: EngineTask } | { id: number; cancel: true };
/** Host → server. */
/**
 * What an engine process tells the server unasked: pairs of its tenant's prod answers whose cells
 * differ by fewer than the threshold entities (sandbox/disclosure/answer-history.ts). The server
 * takes the tenant from the process, never from the message.
 */
export const HostEventSchema = z.object({
  event: z.literal('answer-pairs'),
  sqlSha256: z.string().regex(/^[0-9a-f]{64}$/),
  pairs: z.array(z.object({ earlier: z.string().regex(/^[0-9a-f]{64}$/), cell: z.string().max(500), earlierCell: z.string().max(500), difference: z.number().int().positive() })).min(1).max(MAX_PAIRS_PER_ANSWER),
});
export type HostEvent = z.infer<typeof HostEventSchema>;

export type HostReply = { id: number; outcome: TaskOutcome<unknown> } | { ready: true } | HostEvent;
