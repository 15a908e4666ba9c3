import fs from 'node:fs';
import path from 'node:path';

/**
 * Replaces a file so that readers, and a crash, see either the old content or the new one: write a
 * temp file, flush it, rename it over the target, flush the directory.
 */
export function writeFileAtomic(target: string, content: string, mode = 0o600): void {
  const temp = `${target}.${process.pid}.tmp`;
  writeFlushed(temp, content, mode, 'w');
  fs.renameSync(temp, target);
  flushDirectory(path.dirname(target));
}

/** Writes a new file (`flag` as for fs.openSync) and flushes it to disk before returning. */
export function writeFlushed(file: string, content: string | Buffer, mode: number, flag: 'w' | 'wx'): void {
  const fd = fs.openSync(file, flag, mode);
  try {
    fs.writeFileSync(fd, content);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Flushes a directory, so that a rename or link in it survives a crash. */
export function flushDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
