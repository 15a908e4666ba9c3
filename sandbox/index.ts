/**
 * The data plane's public face. Other folders import only from here.
 */
export { openDatabase, type Database, type Connection, type SqlSession, type SqlValue, type Row } from './duckdb.js';
export { wipeDirectory, type WipeRecord } from './wipe-directory.js';
export { tenantDirectory } from './tenant-paths.js';
export { probeEngine } from './engine-probe.js';
