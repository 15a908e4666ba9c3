/**
 * The trusted DuckDB wrapper. Guards a DuckDB 1.5.6 defect found while building the control store:
 * a prepared Top-N query (ORDER BY … LIMIT) first run on an empty table returns garbage when run
 * again after rows arrive. `all()` must never serve reads from a reused prepared statement.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../../../sandbox/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

describe('openDatabase', () => {
  it('reads fresh rows with a repeated Top-N query after the table changes', async () => {
    const temp = makeTempDir();
    const db = await openDatabase(path.join(temp.dir, 'x.duckdb'));
    const writer = await db.connect();
    const reader = await db.connect();
    try {
      await writer.run('CREATE TABLE t (seq BIGINT PRIMARY KEY, h VARCHAR)');
      const head = () => reader.all('SELECT seq, h FROM t ORDER BY seq DESC LIMIT 1');
      expect(await head()).toEqual([]);
      for (let seq = 1; seq <= 3; seq++) {
        await writer.run('INSERT INTO t VALUES ($1, $2)', [seq, `hash-${seq}`]);
        expect(await head()).toEqual([{ seq, h: `hash-${seq}` }]);
      }
    } finally {
      writer.close();
      reader.close();
      db.close();
      temp.remove();
    }
  });

  it('reuses prepared writes correctly across many executions', async () => {
    const temp = makeTempDir();
    const db = await openDatabase(path.join(temp.dir, 'y.duckdb'));
    const session = await db.connect();
    try {
      await session.run('CREATE TABLE t (id VARCHAR, n BIGINT)');
      for (let i = 0; i < 200; i++) await session.run('INSERT INTO t VALUES ($1, $2)', [`row-${i}`, i]);
      const rows = await session.all<{ id: string; n: number }>('SELECT id, n FROM t ORDER BY n');
      expect(rows).toEqual(Array.from({ length: 200 }, (_, i) => ({ id: `row-${i}`, n: i })));
    } finally {
      session.close();
      db.close();
      temp.remove();
    }
  });
});
