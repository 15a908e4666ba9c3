/**
 * The gate's plan check runs once per query shape: queries that differ only in literals share it,
 * anything else (a table, a column, a function, a literal's type, the env) gets its own, and each
 * text still runs as its own checked statement.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { astShapeKey } from '../../../sandbox/gate/ast-shape.js';
import type { Json } from '../../../sandbox/gate/ast-walk.js';
import { buildPublishedFile } from '../../../sandbox/engine/publish.js';
import { TenantEngine } from '../../../sandbox/engine/tenant-engine.js';
import { readTenantCatalog, writeTenantCatalog } from '../../../sandbox/engine/tenant-files.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const db = useMemoryConnection();

async function shapeOf(sql: string): Promise<string> {
  const [row] = await db.connection.all<{ ast: string }>('SELECT json_serialize_sql($1::VARCHAR) AS ast', [sql]);
  return astShapeKey((JSON.parse(row!.ast) as { statements: { node: Json }[] }).statements[0]!.node);
}

describe('query shapes', () => {
  it('are equal for queries that differ only in literal values and spacing', async () => {
    const base = await shapeOf("SELECT name FROM residents WHERE id = 42 AND district IN ('a', 'b')");
    expect(await shapeOf("SELECT name FROM residents WHERE id = 7 AND district IN ('xyz', 'b')")).toBe(base);
    expect(await shapeOf("SELECT  name FROM residents\nWHERE id = 1000 AND district IN ('', 'q')")).toBe(base);
  });

  it('differ in anything that can change what is bound', async () => {
    const base = await shapeOf("SELECT name FROM residents WHERE id = 42 AND district IN ('a', 'b')");
    for (const other of [
      "SELECT name FROM rivals WHERE id = 42 AND district IN ('a', 'b')",
      "SELECT name FROM granted.main.residents WHERE id = 42 AND district IN ('a', 'b')",
      "SELECT mobile FROM residents WHERE id = 42 AND district IN ('a', 'b')",
      "SELECT upper(name) FROM residents WHERE id = 42 AND district IN ('a', 'b')",
      "SELECT name FROM residents WHERE id = '42' AND district IN ('a', 'b')",
      "SELECT name FROM residents WHERE id = NULL AND district IN ('a', 'b')",
      "SELECT name FROM residents WHERE id = 42 AND district IN ('a', 'b', 'c')",
      "SELECT name AS n FROM residents WHERE id = 42 AND district IN ('a', 'b')",
      "SELECT name FROM 'residents.csv' WHERE id = 42 AND district IN ('a', 'b')",
    ]) expect(await shapeOf(other), other).not.toBe(base);
  });
});

describe('plan checks per shape', () => {
  const temp = makeTempDir();
  let engine: TenantEngine;
  beforeAll(async () => {
    for (const target of ['granted', 'dev'] as const) {
      const { catalog } = await buildPublishedFile({
        kind: 'publish', tenantId: 't', tenantDir: temp.dir, target, attach: {},
        tables: [
          { name: 'residents', sql: `SELECT range AS id, '${target}-' || range AS name FROM range(100)` },
          { name: 'other', sql: 'SELECT 1 AS x' },
        ],
      }, readTenantCatalog(temp.dir));
      writeTenantCatalog(temp.dir, catalog);
    }
    engine = await TenantEngine.open(temp.dir, { threads: 1, memoryLimitMb: 256 });
  });
  afterAll(() => {
    engine.close();
    temp.remove();
  });

  const run = (sql: string, env: 'prod' | 'dev' = 'prod') => engine.query(sql, env, { maxRows: 100, maxBytes: 1 << 20, timeoutMs: 5_000 });

  it('checks the plan once for queries that differ only in literals, and answers each with its own', async () => {
    const before = engine.planChecks;
    expect((await run('SELECT name FROM residents WHERE id = 1')).rows).toEqual([['granted-1']]);
    expect((await run('SELECT name FROM residents WHERE id = 2')).rows).toEqual([['granted-2']]);
    expect((await run('SELECT name FROM residents WHERE id = 99')).rows).toEqual([['granted-99']]);
    expect(engine.planChecks - before).toBe(1);
    expect((await run('SELECT name FROM residents WHERE id = 3')).tables).toEqual(['granted.residents']);
  });

  it('checks again for another table, another literal type or another env', async () => {
    await run('SELECT name FROM residents WHERE id = 5');
    const before = engine.planChecks;
    await run('SELECT x FROM other WHERE x = 5');
    await run("SELECT name FROM residents WHERE name = '5'");
    expect((await run('SELECT name FROM residents WHERE id = 5', 'dev')).rows).toEqual([['dev-5']]);
    expect(engine.planChecks - before).toBe(3);
  });

  it('still refuses what the plan check refuses, shape or no shape', async () => {
    await run('SELECT name FROM residents WHERE id = 6');
    await expect(run('SELECT name FROM dev.main.residents WHERE id = 6')).rejects.toMatchObject({ code: 'SBX_ERR_SQL_FORBIDDEN_TABLE' });
  });
});
