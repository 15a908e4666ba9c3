/** Irreversible wiping of a tenant directory. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { wipeDirectory } from '../../../sandbox/index.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

describe('wipeDirectory', () => {
  it('overwrites each file before unlinking it, and records what it held', async () => {
    const temp = makeTempDir();
    const root = path.join(temp.dir, 'tenant');
    fs.mkdirSync(path.join(root, 'a'), { recursive: true });
    fs.writeFileSync(path.join(root, 'a', 'big.bin'), Buffer.alloc(3 * 1024 * 1024 + 7, 0x41));
    fs.writeFileSync(path.join(root, 'empty'), '');
    // Keep a handle open to the inode, so we can read what is on disk after the unlink.
    const fd = fs.openSync(path.join(root, 'a', 'big.bin'), 'r');
    const record = await wipeDirectory(root);
    const after = Buffer.alloc(3 * 1024 * 1024 + 7);
    fs.readSync(fd, after, 0, after.length, 0);
    fs.closeSync(fd);
    expect(after.includes(Buffer.alloc(64, 0x41))).toBe(false);
    expect(fs.existsSync(root)).toBe(false);
    expect(record.totalBytes).toBe(3 * 1024 * 1024 + 7);
    expect(record.files.map((f) => f.path)).toEqual([path.join('a', 'big.bin'), 'empty']);
    expect(record.files[1]!.sha256).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    temp.remove();
  });

  it('removes a symlink without following it', async () => {
    const temp = makeTempDir();
    const outside = path.join(temp.dir, 'outside.txt');
    fs.writeFileSync(outside, 'keep me');
    const root = path.join(temp.dir, 'tenant');
    fs.mkdirSync(root);
    fs.symlinkSync(outside, path.join(root, 'link'));
    await wipeDirectory(root);
    expect(fs.readFileSync(outside, 'utf8')).toBe('keep me');
    expect(fs.existsSync(root)).toBe(false);
    temp.remove();
  });

  it('is a no-op on a missing directory', async () => {
    expect(await wipeDirectory('/nonexistent/indomain/tenant')).toEqual({ files: [], totalBytes: 0 });
  });
});
