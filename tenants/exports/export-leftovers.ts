import fs from 'node:fs';
import path from 'node:path';
import { listDir, PACKAGE_DIR } from '../../sandbox/index.js';
import type { ControlStore } from '../store/control-store.js';

/**
 * Removes what a crash left under `exports/` (only for a start, before any request): temp files of
 * snapshots and packages being written, version directories whose version never committed (the
 * snapshot is written before its record), and packages whose approval never committed. All of them
 * hold rows of prod outputs that no record accounts for. Returns what it removed.
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
  return removed;
}

