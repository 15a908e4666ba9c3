import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, tenantDirectory, type Row } from '../../sandbox/index.js';
import type { TestApp } from './test-app.js';

/**
 * Reads a tenant's published granted or dev file directly, read-only, as trusted code would: what
 * the refinery wrote at rest. For tests that check masks, tokens and twins value by value, which
 * prod answers no longer show row by row (person-level checks, docs/sandbox.md).
 */
export async function readPublished(t: TestApp, tenantId: string, target: 'granted' | 'dev', sql: string): Promise<Row[]> {
  const dir = tenantDirectory(t.dataDir, tenantId);
  const catalog = JSON.parse(fs.readFileSync(path.join(dir, 'catalog.json'), 'utf8')) as Record<string, { file: string } | undefined>;
  const published = catalog[target];
  if (!published) throw new Error(`tenant ${tenantId} has no ${target} file`);
  const db = await openDatabase(path.join(dir, published.file), { readOnly: true });
  const connection = await db.connect();
  try {
    return await connection.all(sql);
  } finally {
    connection.close();
    db.close();
  }
}
