/**
 * What a crash leaves under exports/ holds rows of prod outputs: a snapshot written before its
 * version committed, a package built before its approval committed, temp files. At start they go;
 * what committed records account for stays. The same for the release store's cells of approvals
 * that never committed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SYSTEM_ACTOR } from '../../../tenants/audit/audit-entry.js';
import { removeExportLeftovers } from '../../../tenants/exports/export-leftovers.js';
import type { ExportRecord, ExportVersionRecord } from '../../../tenants/exports/export-model.js';
import { openDuckDbControlStore, type ControlStore } from '../../../tenants/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const KEPT = 'exp-00000000000000aa';
const ORPHAN = 'exp-00000000000000bb';

describe('export leftovers', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let store: ControlStore;
  beforeEach(async () => {
    temp = makeTempDir();
    store = await openDuckDbControlStore({ path: path.join(temp.dir, 'control.duckdb'), clock: () => new Date(), onCallbackError: (error) => { throw error; } });
  });
  afterEach(async () => {
    await store.close();
    temp.remove();
  });

  const file = (...parts: string[]) => placed('exports', ...parts);
  const placed = (...parts: string[]) => {
    const full = path.join(temp.dir, ...parts);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    fs.writeFileSync(full, 'rows');
    return full;
  };

  it('removes files no committed record accounts for, and keeps the rest', async () => {
    const at = new Date().toISOString();
    const record: ExportRecord = {
      id: KEPT, tenantId: 'acme', recipient: 'lab', purpose: 'p', format: 'csv', status: 'approved', currentVersion: 1,
      submission: null, package: { version: 1, file: 'package/data.csv', sha256: 'x', bytes: 4, builtAt: at, validUntil: at, maxDownloads: 3 },
      createdAt: at, createdBy: 'olga', updatedAt: at,
    };
    const version: ExportVersionRecord = {
      exportId: KEPT, version: 1, source: { sql: 'SELECT 1 AS x' }, sql: 'SELECT 1 AS x', snapshot: { file: 'snapshot.parquet', sha256: 'x', bytes: 4 },
      rowCount: 1, columns: [{ name: 'x', type: 'INTEGER' }], tables: [], sources: [], checks: [], outcome: 'review', mitigation: null, createdAt: at, createdBy: 'olga',
    };
    await store.mutate(async (tx) => {
      await tx.insertExport(record);
      await tx.insertExportVersion(version);
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'export.create', target: `export:${KEPT}` });
    });
    const kept = [
      file(KEPT, 'v1', 'snapshot.parquet'), file(KEPT, 'v1', 'cells.parquet'), file(KEPT, 'v1', 'package', 'data.csv'), file(KEPT, 'v1', 'package', 'manifest.json'),
      // The release store: the cells of the committed approval stay.
      placed('releases', 'abc', `${KEPT}-v1.parquet`),
    ];
    const gone = [
      file(ORPHAN, 'v1', 'snapshot.parquet'),
      file(KEPT, 'v2', 'snapshot.parquet'),
      file(KEPT, 'v1', 'snapshot.parquet.123.tmp'),
      file(KEPT, 'v1', 'package', 'data.csv.123.tmp'),
      // Cells added by approvals that never committed: another version, an unknown export, a temp file.
      placed('releases', 'abc', `${KEPT}-v2.parquet`),
      placed('releases', 'abc', `${ORPHAN}-v1.parquet`),
      placed('releases', 'abc', `.${KEPT}-v1.parquet.123.tmp`),
    ];
    const removed = await removeExportLeftovers(temp.dir, store);
    expect(removed.length).toBe(7);
    for (const f of kept) expect(fs.existsSync(f)).toBe(true);
    for (const f of gone) expect(fs.existsSync(f)).toBe(false);
    expect(fs.existsSync(path.join(temp.dir, 'exports', ORPHAN))).toBe(false);
  });
});
