import { z } from 'zod';
import { ERROR_CODES } from '../../core/errors.js';
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

export const QueryTaskSchema = z.object({
  kind: z.literal('query'),
  tenantId: TenantIdSchema,
  sql: z.string(),
  env: EnvSchema,
  maxRows: z.number().int().positive(),
  maxBytes: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
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

/** A table for the publish interface: trusted SQL run in a build instance (never tenant SQL). */
export const TableDefinitionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  sql: z.string(),
  /** Its lineage, kept in the tenant's catalog and reported with every answer read from it. */
  source: SourceRefSchema,
});
export type TableDefinition = z.infer<typeof TableDefinitionSchema>;

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
});
export type CreateTableTask = z.infer<typeof CreateTableTaskSchema>;

export const DropTableTaskSchema = z.object({ kind: z.literal('drop-table'), tenantId: TenantIdSchema, name: TableNameSchema });
export const ListTablesTaskSchema = z.object({ kind: z.literal('list-tables'), tenantId: TenantIdSchema });

const PreparedUploadSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('parquet'), path: z.string(), bytes: z.number(), sha256: z.string() }),
  z.object({ format: z.literal('csv'), path: z.string(), bytes: z.number(), sha256: z.string(), encoding: z.enum(['utf-8', 'gb18030']), columns: z.array(z.string()) }),
]);

export const ImportTableTaskSchema = z.object({ kind: z.literal('import-table'), tenantId: TenantIdSchema, name: TableNameSchema, upload: PreparedUploadSchema });
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
});
export type IngestDatasetTask = z.infer<typeof IngestDatasetTaskSchema>;

export const EngineTaskSchema = z.discriminatedUnion('kind', [OpenTaskSchema, IngestDatasetTaskSchema, ImportTableTaskSchema, QueryTaskSchema, BuildTaskSchema, SwapTaskSchema, CloseAllTaskSchema, CreateTableTaskSchema, DropTableTaskSchema, ListTablesTaskSchema]);
export type EngineTask = z.infer<typeof EngineTaskSchema>;

export const ColumnSchema = z.object({ name: z.string(), type: z.string() });

/** Where a workspace table's rows come from: the env its SELECT ran in (or an upload), and its sources. */
export const WorkspaceTagSchema = z.object({ env: z.enum(['dev', 'prod', 'upload']), sources: z.array(SourceRefSchema) });
export type WorkspaceTag = z.infer<typeof WorkspaceTagSchema>;

export const QueryResultSchema = z.object({
  columns: z.array(ColumnSchema),
  rows: z.array(z.array(z.unknown())),
  truncated: z.boolean(),
  /** Tables the bound plan reads, as `catalog.table` (e.g. `granted.residents`, `workspace.mine`). */
  tables: z.array(z.string()),
  /** The datasets (versions, policies) behind every table read, followed through workspace tables. */
  sources: z.array(SourceRefSchema),
  ms: z.number(),
});
export type QueryResult = z.infer<typeof QueryResultSchema>;

export const WorkspaceTableSchema = z.object({ name: z.string(), rows: z.number().int(), columns: z.array(ColumnSchema) });
export type WorkspaceTableInfo = z.infer<typeof WorkspaceTableSchema> & { tag: WorkspaceTag | null };
export type CreatedTable = WorkspaceTableInfo & { tables: string[]; sources: SourceRef[] };

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

export const TaskFailureSchema = z.object({ ok: z.literal(false), code: z.enum(ERROR_CODES), message: z.string() });
export type TaskFailure = z.infer<typeof TaskFailureSchema>;

export type TaskOutcome<T> = { ok: true; value: T } | TaskFailure;

/** Server → host. */
export type HostRequest = { id: number; task: EngineTask } | { id: number; cancel: true };
/** Host → server. */
export type HostReply = { id: number; outcome: TaskOutcome<unknown> } | { ready: true };
