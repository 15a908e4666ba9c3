/**
 * The secret-file helper every secret in `<dataDir>/secrets/` goes through: created once, owner-only,
 * atomically and without a racing creator overwriting the winner; refused at load when its directory
 * or itself is open to group or others, or its content fails the caller's check. Cases: creation and
 * reuse with modes, bad content, bad file and dir modes, a non-file, a race inside one process
 * (deterministic) and across processes, and createFileOnce keeping an existing file.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createFileOnce, loadOrCreateSecretFile, SecretFileError, type SecretFileSpec } from '../../../sandbox/secret-file.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

const run = promisify(execFile);
const mode = (file: string) => fs.statSync(file).mode & 0o777;

/** A 16-character secret, checked for exactly that length. */
const spec = (generate: () => string = () => 'abcdefghijklmnop'): SecretFileSpec => ({
  generate,
  check: (content) => (content.length === 16 ? undefined : `is ${content.length} bytes, expected 16`),
  remedy: 'restore it',
});

describe('loadOrCreateSecretFile', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let secrets: string;
  let file: string;
  beforeEach(() => {
    temp = makeTempDir();
    secrets = path.join(temp.dir, 'data', 'secrets');
    file = path.join(secrets, 'key');
  });
  afterEach(() => temp.remove());

  it('creates the secret 0600 in a 0700 dir, then reuses it without generating again', () => {
    expect(loadOrCreateSecretFile(file, spec()).toString()).toBe('abcdefghijklmnop');
    expect(mode(file)).toBe(0o600);
    expect(mode(secrets)).toBe(0o700);
    expect(mode(path.dirname(secrets))).toBe(0o700);
    const again = loadOrCreateSecretFile(file, spec(() => { throw new Error('generated twice'); }));
    expect(again.toString()).toBe('abcdefghijklmnop');
    // Only the secret is left: no temp file holding a candidate key.
    expect(fs.readdirSync(secrets)).toEqual(['key']);
  });

  it('refuses an empty or short secret, naming the file, the problem and the remedy', () => {
    fs.mkdirSync(secrets, { recursive: true, mode: 0o700 });
    for (const content of ['', 'short']) {
      fs.writeFileSync(file, content, { mode: 0o600 });
      const error = catchError(() => loadOrCreateSecretFile(file, spec()));
      expect(error).toBeInstanceOf(SecretFileError);
      expect(error.message).toBe(`${file} is ${content.length} bytes, expected 16: restore it`);
      // Refused, not replaced: the file is as it was.
      expect(fs.readFileSync(file, 'utf8')).toBe(content);
    }
  });

  it('refuses a secret readable by group or others, and accepts one stricter than 0600', () => {
    loadOrCreateSecretFile(file, spec());
    for (const loose of [0o644, 0o640, 0o604]) {
      fs.chmodSync(file, loose);
      expect(() => loadOrCreateSecretFile(file, spec())).toThrow(`${file} has mode 0${loose.toString(8)}, readable by group or others: run chmod 600 ${file}`);
    }
    fs.chmodSync(file, 0o400);
    expect(loadOrCreateSecretFile(file, spec()).toString()).toBe('abcdefghijklmnop');
  });

  it('refuses a secrets dir open to group or others', () => {
    loadOrCreateSecretFile(file, spec());
    fs.chmodSync(secrets, 0o755);
    expect(() => loadOrCreateSecretFile(file, spec())).toThrow(`${secrets} has mode 0755, open to group or others: run chmod 700 ${secrets}`);
  });

  it('refuses something that is not a regular file', () => {
    fs.mkdirSync(file, { recursive: true, mode: 0o700 });
    expect(() => loadOrCreateSecretFile(file, spec())).toThrow(`${file} is not a regular file: restore it`);
  });

  it('gives two racing creators the same secret: the first to link wins, the other uses its file', () => {
    // A generates, and before A can link its file, B creates the secret: A must not overwrite it.
    let fromB: Buffer | undefined;
    const fromA = loadOrCreateSecretFile(file, spec(() => {
      fromB = loadOrCreateSecretFile(file, spec(() => 'BBBBBBBBBBBBBBBB'));
      return 'AAAAAAAAAAAAAAAA';
    }));
    expect(fromB?.toString()).toBe('BBBBBBBBBBBBBBBB');
    expect(fromA.toString()).toBe('BBBBBBBBBBBBBBBB');
    expect(fs.readdirSync(secrets)).toEqual(['key']);
  });

  it('gives processes starting at once the same secret', async () => {
    // The built module (npm run build), as the server and the CLIs load it.
    const module = path.resolve('dist/sandbox/secret-file.js');
    const script = `
      import { randomBytes } from 'node:crypto';
      import { loadOrCreateSecretFile } from ${JSON.stringify(module)};
      const key = loadOrCreateSecretFile(process.argv[1], { generate: () => randomBytes(32), check: (c) => (c.length === 32 ? undefined : 'short'), remedy: '' });
      process.stdout.write(key.toString('hex'));`;
    const outputs = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['--input-type=module', '-e', script, file])));
    const keys = new Set(outputs.map((output) => output.stdout));
    expect(keys.size).toBe(1);
    expect([...keys][0]).toBe(fs.readFileSync(file).toString('hex'));
    expect(fs.readdirSync(secrets)).toEqual(['key']);
  });
});

describe('createFileOnce', () => {
  it('creates a file, and leaves an existing one as it is', () => {
    const temp = makeTempDir();
    try {
      const file = path.join(temp.dir, 'public.pem');
      expect(createFileOnce(file, 'first', 0o644)).toBe(true);
      expect(createFileOnce(file, 'second', 0o644)).toBe(false);
      expect(fs.readFileSync(file, 'utf8')).toBe('first');
      expect(fs.readdirSync(temp.dir)).toEqual(['public.pem']);
    } finally {
      temp.remove();
    }
  });
});

function catchError(action: () => unknown): Error {
  try {
    action();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}
