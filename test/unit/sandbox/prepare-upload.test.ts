/**
 * Upload preparation reads a file once for its hash and its UTF-8 check, in 1 MiB chunks: a
 * character cut by a chunk boundary must not make a valid file look mis-encoded, and a file cut in
 * the middle of a character must not pass.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { incompleteTail, prepareUpload } from '../../../sandbox/upload/prepare-upload.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const temp = makeTempDir();
afterAll(() => temp.remove());

function write(name: string, content: Buffer): string {
  const file = path.join(temp.dir, name);
  fs.writeFileSync(file, content);
  return file;
}

describe('prepareUpload', () => {
  it('accepts UTF-8 whose characters straddle the 1 MiB chunk boundaries, and hashes the whole file', async () => {
    // 3-byte characters: 2^20 is not a multiple of 3, so chunk boundaries cut characters.
    const content = Buffer.from(`名称\n${'张'.repeat(900_000)}\n`);
    const file = write('straddle.csv', content);
    const prepared = await prepareUpload(file, `${file}.utf8.csv`, { owner: 'test' });
    expect(prepared).toMatchObject({ format: 'csv', encoding: 'utf-8', columns: ['名称'], bytes: content.length });
    expect(prepared.sha256).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('takes a file cut inside its last character as GB18030 or refuses it, never as UTF-8', async () => {
    const cut = Buffer.from(`a\n${'张'.repeat(10)}`).subarray(0, -1);
    const file = write('cut.csv', cut);
    await expect(prepareUpload(file, `${file}.utf8.csv`, { owner: 'test' })).rejects.toMatchObject({ code: 'UPL_ERR_ENCODING' });
  });

  it('finds the start of an incomplete character at the end of a chunk', () => {
    const zhang = Buffer.from('张'); // e5 bc a0
    const emoji = Buffer.from('😀'); // f0 9f 98 80
    expect(incompleteTail(Buffer.from('ab'))).toBe(0);
    expect(incompleteTail(Buffer.concat([Buffer.from('a'), zhang]))).toBe(0);
    expect(incompleteTail(Buffer.concat([Buffer.from('a'), zhang.subarray(0, 1)]))).toBe(1);
    expect(incompleteTail(Buffer.concat([Buffer.from('a'), zhang.subarray(0, 2)]))).toBe(2);
    expect(incompleteTail(emoji.subarray(0, 3))).toBe(3);
    expect(incompleteTail(emoji)).toBe(0);
  });
});
