import fs from 'node:fs';
import path from 'node:path';

/**
 * Replaces a file so that readers, and a crash, see either the old content or the new one: write a
 * temp file, flush it, rename it over the target, flush the directory.
 */
export function writeFileAtomic(target: string, content: string, mode = 0o600): void {
  const temp = `${target}.${process.pid}.tmp`;
  const fd = fs.openSync(temp, 'w', mode);
  try {
    fs.writeSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temp, target);
  const dir = fs.openSync(path.dirname(target), 'r');
  try {
    fs.fsyncSync(dir);
  } finally {
    fs.closeSync(dir);
  }
}
