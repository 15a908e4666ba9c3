import { createHash, randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/** What was destroyed: enough to prove later which bytes existed, not their content. */
export interface WipeRecord {
  files: { path: string; bytes: number; sha256: string }[];
  totalBytes: number;
}

const OVERWRITE_CHUNK_BYTES = 1 << 20;

/**
 * Irreversibly destroys a directory: each file is hashed, overwritten in place with random bytes,
 * flushed to disk, then unlinked; finally the directory tree is removed. Symlinks are removed, never
 * followed. Idempotent: a missing directory yields an empty record.
 *
 * Overwriting defeats recovery from the file system's free blocks on ordinary disks; on copy-on-write
 * or wear-levelled storage only encryption-at-rest with key destruction is a real guarantee (see
 * docs/operations.md).
 */
export async function wipeDirectory(root: string): Promise<WipeRecord> {
  const files: WipeRecord['files'] = [];
  let entries: string[];
  try {
    entries = await listFiles(root);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { files, totalBytes: 0 };
    throw error;
  }
  for (const file of entries) {
    const stat = await fs.lstat(file);
    const relative = path.relative(root, file);
    if (stat.isSymbolicLink()) {
      // SECURITY: never follow a link out of the directory being wiped.
      await fs.unlink(file);
      continue;
    }
    const sha256 = await hashFile(file);
    await overwriteFile(file, stat.size);
    await fs.unlink(file);
    files.push({ path: relative, bytes: stat.size, sha256 });
  }
  await fs.rm(root, { recursive: true, force: true });
  return { files, totalBytes: files.reduce((sum, f) => sum + f.bytes, 0) };
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else out.push(full);
  }
  return out.sort();
}

async function hashFile(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function overwriteFile(file: string, size: number): Promise<void> {
  const handle = await fs.open(file, 'r+');
  try {
    const buffer = Buffer.alloc(Math.min(OVERWRITE_CHUNK_BYTES, Math.max(size, 1)));
    for (let offset = 0; offset < size; offset += buffer.length) {
      randomFillSync(buffer);
      await handle.write(buffer, 0, Math.min(buffer.length, size - offset), offset);
    }
    await handle.sync();
  } finally {
    await handle.close();
  }
}
