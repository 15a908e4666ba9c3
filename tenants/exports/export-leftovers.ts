import fs from 'node:fs';
import path from 'node:path';
import { listDir, listReleaseFiles, PACKAGE_DIR } from '../../sandbox/index.js';
import type { ControlStore } from '../store/control-store.js';

/**
 * Removes what a crash left under `exports/` (only for a start, before any request): temp files of
 * snapshots and packages being written, version directories whose version never committed (the
 * snapshot is written before its record), and packages whose approval never committed. All of them
 * hold rows of prod outputs that no record accounts for; and release-store files of approvals that
 * never committed (they would fail later exports for a release that did not happen). Returns what
 * it removed.
 */
export async function removeExportLeftovers(dataDir: string, store: ControlStore): Promise<string[]> {
  const root = path.join(dataDir, 'exports');
  const removed: string[] = [];
  const remove = (target: string) => {
    fs.rmSync(target, { recursive: true, force: true });
    removed.push(target);
  };
  for (const id of listDir(root)) {
    const dir = path.join(root, id);
    const record = await store.reader.getExport(id);
    if (!record) {
      remove(dir);
      continue;
    }
    const versions = new Set((await store.reader.exportVersions(id)).map((v) => `v${v.version}`));
    for (const name of listDir(dir)) {
      const versionDir = path.join(dir, name);
      if (!versions.has(name)) {
        remove(versionDir);
        continue;
      }
      for (const file of listDir(versionDir).filter((f) => f.endsWith('.tmp'))) remove(path.join(versionDir, file));
      const packageDir = path.join(versionDir, PACKAGE_DIR);
      if (!fs.existsSync(packageDir)) continue;
      if (record.package?.version !== Number(name.slice(1))) remove(packageDir);
      else for (const file of listDir(packageDir).filter((f) => f.endsWith('.tmp'))) remove(path.join(packageDir, file));
    }
  }
  // The release store: cells added by an approval that never committed (and temp files). A
  // committed approval keeps its cells for as long as the store exists, withdrawn or expired since.
  for (const entry of listReleaseFiles(dataDir)) {
    const record = entry.exportId === null ? undefined : await store.reader.getExport(entry.exportId);
    if (!record || record.package?.version !== entry.version) remove(entry.file);
  }
  return removed;
}

