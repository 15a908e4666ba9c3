import type { SqlSession } from '../../sandbox/index.js';

/**
 * Versioned schema migrations for the control store. Append only: a released migration is never
 * edited, a change is a new version. Each runs in its own transaction with its version row.
 */
export interface Migration {
  version: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants, applicants and the audit chain',
    statements: [
      `CREATE TABLE tenants (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('active', 'suspended', 'revoked')),
        license_from VARCHAR NOT NULL,
        license_to VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL
      )`,
      `CREATE TABLE applicants (
        id VARCHAR PRIMARY KEY,
        name VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL
      )`,
      // Timestamps and details are stored as the exact strings that were hashed.
      `CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        ts VARCHAR NOT NULL,
        actor_sub VARCHAR NOT NULL,
        actor_role VARCHAR NOT NULL,
        actor_org VARCHAR NOT NULL,
        action VARCHAR NOT NULL,
        target VARCHAR NOT NULL,
        details VARCHAR NOT NULL,
        prev_hash VARCHAR NOT NULL,
        hash VARCHAR NOT NULL
      )`,
    ],
  },
  {
    version: 2,
    name: 'workspace table lineage',
    statements: [
      `CREATE TABLE workspace_tables (
        tenant_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        env VARCHAR NOT NULL,
        sql VARCHAR NOT NULL,
        source_tables VARCHAR NOT NULL,
        datasets VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        PRIMARY KEY (tenant_id, name)
      )`,
    ],
  },
  {
    version: 3,
    name: 'dataset catalog with versions and column profiles',
    statements: [
      // One row per ingested version; the record's metadata and its columns' profiles as JSON.
      `CREATE TABLE datasets (
        id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        record VARCHAR NOT NULL,
        columns VARCHAR NOT NULL,
        created_at VARCHAR NOT NULL,
        PRIMARY KEY (id, version)
      )`,
    ],
  },
  {
    version: 4,
    name: 'column policies',
    statements: [
      `CREATE TABLE dataset_policies (
        dataset_id VARCHAR NOT NULL,
        column_name VARCHAR NOT NULL,
        policy VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL,
        updated_by VARCHAR NOT NULL,
        PRIMARY KEY (dataset_id, column_name)
      )`,
    ],
  },
  {
    version: 5,
    name: 'grants of datasets to tenants',
    statements: [
      `CREATE TABLE grants (
        tenant_id VARCHAR NOT NULL,
        dataset_id VARCHAR NOT NULL,
        grant_record VARCHAR NOT NULL,
        PRIMARY KEY (tenant_id, dataset_id)
      )`,
    ],
  },
  {
    version: 6,
    name: 'workspace table sources: dataset versions and policy fingerprints',
    statements: [
      // Tables from before are unreadable until re-created (their engine tag is missing too).
      `ALTER TABLE workspace_tables ADD COLUMN sources VARCHAR DEFAULT '[]'`,
    ],
  },
  {
    version: 7,
    name: 'exports: requests, immutable versions, reviews and downloads',
    statements: [
      // The export's mutable state (status, current version, submission, package) as columns and JSON.
      `CREATE TABLE exports (
        id VARCHAR PRIMARY KEY,
        tenant_id VARCHAR NOT NULL,
        recipient VARCHAR NOT NULL,
        purpose VARCHAR NOT NULL,
        format VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        current_version INTEGER NOT NULL,
        submission VARCHAR,
        package VARCHAR,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        updated_at VARCHAR NOT NULL
      )`,
      // Immutable: inserted once, never updated (the store has no update for it).
      `CREATE TABLE export_versions (
        export_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        source VARCHAR NOT NULL,
        sql VARCHAR NOT NULL,
        snapshot_file VARCHAR NOT NULL,
        snapshot_sha256 VARCHAR NOT NULL,
        snapshot_bytes BIGINT NOT NULL,
        row_count BIGINT NOT NULL,
        columns VARCHAR NOT NULL,
        tables VARCHAR NOT NULL,
        sources VARCHAR NOT NULL,
        checks VARCHAR NOT NULL,
        outcome VARCHAR NOT NULL,
        mitigation VARCHAR,
        created_at VARCHAR NOT NULL,
        created_by VARCHAR NOT NULL,
        PRIMARY KEY (export_id, version)
      )`,
      `CREATE TABLE export_reviews (
        export_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        reviewer_sub VARCHAR NOT NULL,
        reviewer_org VARCHAR NOT NULL,
        decision VARCHAR NOT NULL,
        comment VARCHAR,
        created_at VARCHAR NOT NULL
      )`,
      `CREATE TABLE export_downloads (
        export_id VARCHAR NOT NULL,
        version INTEGER NOT NULL,
        recipient VARCHAR NOT NULL,
        sub VARCHAR NOT NULL,
        count INTEGER NOT NULL,
        created_at VARCHAR NOT NULL,
        PRIMARY KEY (export_id, count)
      )`,
    ],
  },
  {
    version: 8,
    name: 'dataset withdrawals',
    statements: [
      // One row per dataset withdrawn now (reinstating deletes it); the withdrawal as JSON.
      `CREATE TABLE dataset_withdrawals (
        dataset_id VARCHAR PRIMARY KEY,
        withdrawal VARCHAR NOT NULL
      )`,
    ],
  },
];

export async function applyMigrations(session: SqlSession, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  await session.run(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at VARCHAR NOT NULL)`);
  const applied = new Set((await session.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
  const ran: number[] = [];
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    if (applied.has(migration.version)) continue;
    await session.run('BEGIN TRANSACTION');
    try {
      for (const statement of migration.statements) await session.run(statement);
      await session.run('INSERT INTO schema_migrations VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()]);
      await session.run('COMMIT');
    } catch (error) {
      await session.run('ROLLBACK');
      throw error;
    }
    ran.push(migration.version);
  }
  return ran;
}
