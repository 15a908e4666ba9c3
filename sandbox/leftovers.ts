import fs from 'node:fs';
import path from 'node:path';

/**
 * What a build leaves while it runs (the file being built, its WAL, and ingest progress notes), and
 * the differencing history being written afresh (`history-file.ts`: renamed over `history.bin`
 * once whole).
 */
const UNFINISHED = /\.(building|building\.wal|progress\.json|progress\.json\.tmp)$|^history\.bin\.\d+\.tmp$/;

/**
 * Removes what work interrupted by a crash left in the data dir: request temp files (uploads and
 * ingests being received, which hold raw data) under `tmp/`, staged builds under `builds/` (never
 * adopted by their tenant), and unfinished builds and history rewrites in `domain/<id>/` and
 * `tenants/<id>/`. Only for a start, before any request or build runs. Returns what it removed.
 */
export function removeLeftovers(dataDir: string): string[] {
  const removed: string[] = [];
  for (const area of ['tmp', 'builds']) {
    for (const entry of listDir(path.join(dataDir, area))) {
      const full = path.join(dataDir, area, entry);
      fs.rmSync(full, { recursive: true, force: true });
      removed.push(full);
    }
  }
  for (const area of ['domain', 'tenants']) {
    for (const owner of listDir(path.join(dataDir, area))) {
      const dir = path.join(dataDir, area, owner);
      for (const file of listDir(dir).filter((name) => UNFINISHED.test(name))) {
        fs.rmSync(path.join(dir, file), { force: true });
        removed.push(path.join(dir, file));
      }
    }
  }
  return removed;
}

/** A directory's entries, or none when it does not exist (or cannot be read). */
export function listDir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}
