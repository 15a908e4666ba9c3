/**
 * The incremental build of a tenant's published file (sandbox/engine/publish.ts), on real DuckDB
 * files: a definition whose key is unchanged is carried over with the tables building it created
 * (internal `__` side tables included); a changed definition is rebuilt from the domain and its old
 * side tables go with it; a withdrawn definition's tables and any table no definition owns are not
 * carried; `incremental: false` builds everything.
 */
import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetDirectory, tenantDirectory } from '../../../sandbox/index.js';
import { adoptStagedFile, buildStagedFile, definitionKey } from '../../../sandbox/engine/publish.js';
import type { BuildTask, TableDefinition } from '../../../sandbox/engine/protocol.js';
import { readTenantCatalog, writeTenantCatalog } from '../../../sandbox/engine/tenant-files.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const TENANT = 'acme';
const source = (dataset: string, policy: string) => ({ dataset, version: 1, policy });
const people = (policy = 'p1'): TableDefinition => ({ name: 'people', sql: 'SELECT id, name FROM d_people.data', source: source('people', policy) });
const hiddenName = (): TableDefinition => ({ name: 'people', sql: 'SELECT id FROM d_people.data', source: source('people', 'p2') });
const other = (): TableDefinition => ({ name: 'other', sql: 'SELECT 42 AS answer', source: source('other', 'o1') });
const attach = { d_people: { dataset: 'people', file: 'v1.duckdb' } };

async function withFile<T>(file: string, work: (run: (sql: string) => Promise<unknown[][]>) => Promise<T>): Promise<T> {
  const instance = await DuckDBInstance.create(file);
  const connection = await instance.connect();
  try {
    return await work(async (sql) => (await connection.runAndReadAll(sql)).getRows());
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

describe('incremental builds of published files', () => {
  const temp = makeTempDir();
  const dataDir = temp.dir;
  const dir = tenantDirectory(dataDir, TENANT);
  beforeAll(async () => {
    fs.mkdirSync(datasetDirectory(dataDir, 'people'), { recursive: true });
    await withFile(path.join(datasetDirectory(dataDir, 'people'), 'v1.duckdb'), (run) => run("CREATE TABLE data AS SELECT range AS id, 'name-' || range AS name FROM range(1000)"));
  });
  afterAll(() => temp.remove());

  /** Builds and publishes (build, adopt, catalog), as the engine does; returns the published file's tables. */
  async function publish(tables: TableDefinition[], incremental = true) {
    const task: BuildTask = { kind: 'build', tenantId: TENANT, target: 'granted', tables, attach, incremental };
    const built = await buildStagedFile(dataDir, task);
    const { catalog } = adoptStagedFile(dataDir, { tenantId: TENANT, target: 'granted', staged: built.staged!, sources: Object.fromEntries(tables.map((t) => [t.name, t.source])), builds: built.builds });
    writeTenantCatalog(dir, catalog);
    const file = path.join(dir, catalog.granted!.file);
    const present = await withFile(file, async (run) => (await run("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' ORDER BY 1")).map((r) => String(r[0])));
    return { built, file, present };
  }

  it('builds everything the first time, then carries an unchanged table with its side tables', async () => {
    const first = await publish([people(), other()]);
    expect(first.built.rebuilt.sort()).toEqual(['other', 'people']);
    expect(first.built.carried).toEqual([]);
    expect(first.built.builds.people!.key).toBe(definitionKey(people(), { attach }));

    // A side table built with `people` (as a disclosure check's entity table is) and a stray one no
    // definition owns: added to the published file, the catalog recording the side table's owner.
    await withFile(first.file, async (run) => {
      await run('CREATE TABLE __entities_people AS SELECT id FROM people');
      await run('CREATE TABLE __stray AS SELECT 1 AS x');
      await run('CHECKPOINT');
    });
    const catalog = readTenantCatalog(dir);
    catalog.granted!.builds.people!.tables.push('__entities_people');
    writeTenantCatalog(dir, catalog);

    // `other` changes: `people` and its side table are carried, the stray table is not.
    const changedOther = { ...other(), sql: 'SELECT 43 AS answer', source: source('other', 'o2') };
    const second = await publish([people(), changedOther]);
    expect(second.built.carried).toEqual(['people']);
    expect(second.built.rebuilt).toEqual(['other']);
    expect(second.present).toEqual(['__entities_people', 'other', 'people']);
    expect(second.built.builds.people!.tables).toEqual(['people', '__entities_people']);
    await withFile(second.file, async (run) => {
      expect(await run('SELECT count(*), sum(id) FROM people')).toEqual([[1000n, 499500n]]);
      expect(await run('SELECT answer FROM other')).toEqual([[43]]);
    });
  });

  it('rebuilds a table whose source changed, and its old side tables go with it', async () => {
    const third = await publish([hiddenName(), other()]);
    expect(third.built.rebuilt.sort()).toEqual(['other', 'people']);
    expect(third.built.carried).toEqual([]);
    expect(third.present).toEqual(['other', 'people']);
    await withFile(third.file, async (run) => {
      expect((await run("SELECT column_name FROM duckdb_columns() WHERE table_name = 'people'")).map((r) => r[0])).toEqual(['id']);
    });
  });

  it('carries nothing whose key differs, even with the same source triple (e.g. a rule that depends on the day)', async () => {
    const sameSourceOtherSql = { ...hiddenName(), sql: 'SELECT id, id * 2 AS doubled FROM d_people.data' };
    const fourth = await publish([sameSourceOtherSql, other()]);
    expect(fourth.built.rebuilt).toEqual(['people']);
    expect(fourth.built.carried).toEqual(['other']);
  });

  it('drops a withdrawn definition, and builds everything when not incremental', async () => {
    const withdrawn = await publish([other()]);
    expect(withdrawn.built.carried).toEqual(['other']);
    expect(withdrawn.present).toEqual(['other']);
    const full = await publish([other(), people()], false);
    expect(full.built.carried).toEqual([]);
    expect(full.built.rebuilt.sort()).toEqual(['other', 'people']);
    // Old versions are left to the tenant's engine to remove; staged files never linger.
    expect(fs.readdirSync(path.join(dataDir, 'builds', TENANT))).toEqual([]);
  });

  it('does not reuse a file holding anything but tables in main (a view, another schema)', async () => {
    const current = readTenantCatalog(dir).granted!;
    await withFile(path.join(dir, current.file), async (run) => {
      await run('CREATE VIEW leak AS SELECT * FROM other');
      await run('CHECKPOINT');
    });
    // The same definitions: without the view the file would be kept as it is; with it, it is rebuilt.
    const rebuilt = await publish([other(), people()]);
    expect(rebuilt.built.carried).toEqual([]);
    expect(rebuilt.present).toEqual(['other', 'people']);
    await withFile(rebuilt.file, async (run) => {
      await run('CREATE SCHEMA side');
      await run('CREATE TABLE side.copy AS SELECT * FROM people');
      await run('CHECKPOINT');
    });
    expect((await publish([other(), people()])).built.carried).toEqual([]);
  });

  it('publishes nothing when the current file already is what the task defines', async () => {
    const again = await buildStagedFile(dataDir, { kind: 'build', tenantId: TENANT, target: 'granted', tables: [people(), other()], attach, incremental: true });
    expect(again.staged).toBeNull();
    expect(again.rebuilt).toEqual([]);
    expect(again.carried.sort()).toEqual(['other', 'people']);
    // One definition fewer is a change (the withdrawn table must go).
    const fewer = await buildStagedFile(dataDir, { kind: 'build', tenantId: TENANT, target: 'granted', tables: [other()], attach, incremental: true });
    expect(fewer.staged).not.toBeNull();
    fs.rmSync(path.join(dataDir, 'builds', TENANT, fewer.staged!));
  });
});
