/**
 * The data plane's public face. Other folders import only from here.
 */
export { openDatabase, type Database, type Connection, type OpenDatabaseOptions, type SqlSession, type SqlValue, type Row } from './duckdb.js';
export { wipeDirectory, type WipeRecord } from './wipe-directory.js';
export { listDir, removeLeftovers } from './leftovers.js';
export { tenantDirectory, datasetDirectory, exportVersionDirectory } from './data-paths.js';
export { hashFile, PACKAGE_DIR, SNAPSHOT_FILE } from './engine/export-files.js';
export { listReleaseFiles } from './engine/release-store.js';
export { readTableText, sniffTableFormat, TRACE_MAX_ROWS, type TextTable } from './engine/read-table-text.js';
export { EngineClient, type AnswerPairsEvent, type EngineClientOptions, type EngineStopped } from './engine/engine-client.js';
export { DEFAULT_ENGINE_OPTIONS, type EngineOptions } from './engine/engine-options.js';
export {
  EnvSchema, FingerprintSchema, SourceRefSchema, QueryResultSchema, TableNameSchema, WorkspaceTableSchema, ExportFormatSchema, ExportIdSchema,
  type ExportFormat, type ExportSnapshot, type ExportSnapshotResult, type ExportRows, type DeliveredFile, type Fingerprint, type PersonLevel, type DifferencingResult, type DifferencingPair,
  type DerivedSnapshot, type SuppressionSummary, type ExportMitigation,
  type Admissible, type Env, type ListedTable, type QueryResult, type TableDefinition, type PublishResult, type CreatedTable, type WorkspaceTableInfo, type SourceRef, type WorkspaceTag,
} from './engine/protocol.js';
export { GATE_LIMITS } from './gate/limits.js';
export { prepareUpload, UPLOAD_LIMITS, type PreparedUpload } from './upload/prepare-upload.js';
export { writeFileAtomic } from './atomic-write.js';
export { createFileOnce, loadOrCreateSecretFile, SecretFileError, type SecretFileSpec } from './secret-file.js';
export type { ColumnProfile, IngestResult } from './engine/ingest-dataset.js';
