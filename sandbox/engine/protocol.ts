import { z } from 'zod';
import { ERROR_CODES } from '../../core/errors.js';

/**
 * The contract between the API server (controller) and the engine host (executor): the only module
 * both sides share. Messages cross a process boundary (IPC) and then a thread boundary (piscina), so
 * they are plain data; errors travel as `{ok: false, code, message}` and are rebuilt on arrival.
 */

export const EnvSchema = z.enum(['dev', 'prod']);
export type Env = z.infer<typeof EnvSchema>;

export const QueryTaskSchema = z.object({
  kind: z.literal('query'),
  tenantId: z.string(),
  tenantDir: z.string(),
  sql: z.string(),
  env: EnvSchema,
  maxRows: z.number().int().positive(),
  maxBytes: z.number().int().positive(),
  timeoutMs: z.number().int().positive(),
});
export type QueryTask = z.infer<typeof QueryTaskSchema>;

/** A table for the publish interface: trusted SQL run in a build instance (never tenant SQL). */
export const TableDefinitionSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_]{0,62}$/),
  sql: z.string(),
});
export type TableDefinition = z.infer<typeof TableDefinitionSchema>;

export const PublishTaskSchema = z.object({
  kind: z.literal('publish'),
  tenantId: z.string(),
  tenantDir: z.string(),
  target: z.enum(['granted', 'dev']),
  tables: z.array(TableDefinitionSchema),
  /** Read-only files the trusted SQL may read, by alias (e.g. a domain dataset). */
  attach: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), z.string()).default({}),
});
export type PublishTask = z.infer<typeof PublishTaskSchema>;

export const CloseTenantTaskSchema = z.object({ kind: z.literal('close-tenant'), tenantId: z.string() });
/** Host-internal: sent to every worker before shutdown. */
export const CloseAllTaskSchema = z.object({ kind: z.literal('close-all'), tenantId: z.literal('*') });

export const TableNameSchema = z.string().regex(/^[a-z][a-z0-9_]{0,62}$/, 'must be 1–63 characters: lowercase letters, digits and "_", starting with a letter');

export const CreateTableTaskSchema = z.object({
  kind: z.literal('create-table'),
  tenantId: z.string(),
  tenantDir: z.string(),
  name: TableNameSchema,
  sql: z.string(),
  env: EnvSchema,
  timeoutMs: z.number().int().positive(),
});
export type CreateTableTask = z.infer<typeof CreateTableTaskSchema>;

export const DropTableTaskSchema = z.object({ kind: z.literal('drop-table'), tenantId: z.string(), tenantDir: z.string(), name: TableNameSchema });
export const ListTablesTaskSchema = z.object({ kind: z.literal('list-tables'), tenantId: z.string(), tenantDir: z.string() });

const PreparedUploadSchema = z.discriminatedUnion('format', [
  z.object({ format: z.literal('parquet'), path: z.string(), bytes: z.number(), sha256: z.string() }),
  z.object({ format: z.literal('csv'), path: z.string(), bytes: z.number(), sha256: z.string(), encoding: z.enum(['utf-8', 'gb18030']), columns: z.array(z.string()) }),
]);

export const ImportTableTaskSchema = z.object({ kind: z.literal('import-table'), tenantId: z.string(), tenantDir: z.string(), name: TableNameSchema, upload: PreparedUploadSchema });
export type ImportTableTask = z.infer<typeof ImportTableTaskSchema>;

/** Trusted ingest of a raw dataset; `tenantId` is the affinity key `domain:<dataset>`. */
export const IngestDatasetTaskSchema = z.object({
  kind: z.literal('ingest-dataset'),
  tenantId: z.string().startsWith('domain:'),
  datasetDir: z.string(),
  version: z.number().int().positive(),
  /** An uploaded file, or trusted generating SQL (never tenant input). */
  upload: PreparedUploadSchema.optional(),
  sql: z.string().optional(),
  today: z.string(),
  sampleSize: z.number().int().positive(),
});
export type IngestDatasetTask = z.infer<typeof IngestDatasetTaskSchema>;

export const EngineTaskSchema = z.discriminatedUnion('kind', [IngestDatasetTaskSchema, ImportTableTaskSchema, QueryTaskSchema, PublishTaskSchema, CloseTenantTaskSchema, CloseAllTaskSchema, CreateTableTaskSchema, DropTableTaskSchema, ListTablesTaskSchema]);
export type EngineTask = z.infer<typeof EngineTaskSchema>;

export const ColumnSchema = z.object({ name: z.string(), type: z.string() });

export const QueryResultSchema = z.object({
  columns: z.array(ColumnSchema),
  rows: z.array(z.array(z.unknown())),
  truncated: z.boolean(),
  /** Tables the plan scanned, as `catalog.table` (e.g. `granted.residents`, `workspace.mine`). */
  tables: z.array(z.string()),
  ms: z.number(),
});
export type QueryResult = z.infer<typeof QueryResultSchema>;

export const WorkspaceTableSchema = z.object({ name: z.string(), rows: z.number().int(), columns: z.array(ColumnSchema) });
export type WorkspaceTableInfo = z.infer<typeof WorkspaceTableSchema>;
export type CreatedTable = WorkspaceTableInfo & { tables: string[] };

export const PublishResultSchema = z.object({ target: z.enum(['granted', 'dev']), version: z.number().int(), tables: z.array(z.string()) });
export type PublishResult = z.infer<typeof PublishResultSchema>;

export const TaskFailureSchema = z.object({ ok: z.literal(false), code: z.enum(ERROR_CODES), message: z.string() });
export type TaskFailure = z.infer<typeof TaskFailureSchema>;

export type TaskOutcome<T> = { ok: true; value: T } | TaskFailure;

/** Server → host. */
export type HostRequest = { id: number; task: EngineTask } | { id: number; cancel: true };
/** Host → server. */
export type HostReply = { id: number; outcome: TaskOutcome<unknown> } | { ready: true };
