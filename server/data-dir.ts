import fs from 'node:fs';

/**
 * Makes the data dir, and everything created in it from now on, owner-only. The data dir holds the
 * raw domain data (`domain/<id>/v<n>.duckdb`), every tenant's files, the control store and the
 * secrets. Call before anything is created there. Returns the dir's former mode when it had to be
 * narrowed (to log it), else undefined.
 */
export function restrictDataDir(dataDir: string): number | undefined {
  // SECURITY: files 0600 and dirs 0700 for everything this process and the engine processes it starts (which inherit
  // the umask) create: DuckDB and our own writers would otherwise leave raw data 0644 in 0755 dirs.
  process.umask(0o077);
  let mode: number;
  try {
    mode = fs.statSync(dataDir).mode & 0o777;
  } catch (error) {
    // Not there yet: whoever creates it does so under the umask above.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  if ((mode & 0o077) === 0) return undefined;
  // SECURITY: a data dir created by an earlier version (0755) is closed to group and others; that also closes the
  // files inside it that were created 0644 then.
  fs.chmodSync(dataDir, 0o700);
  return mode;
}
