/**
 * The development HS256 secret in `<dataDir>/secrets/jwt-secret` (the server and the token CLI read
 * the same one), and the data dir's own mode: the secret is generated long and owner-only, an empty
 * or short one (anyone could mint supervisor tokens with it) or one readable by others is refused;
 * `restrictDataDir` narrows an open data dir to 0700.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../../server/config.js';
import { restrictDataDir } from '../../../server/data-dir.js';
import { JWT_SECRET_FILE, resolveDevJwtSecret } from '../../../server/secrets.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

let temp: ReturnType<typeof makeTempDir>;
let config: Config;
let file: string;
beforeEach(() => {
  temp = makeTempDir();
  const result = loadConfig({ INDOMAIN_DATA_DIR: path.join(temp.dir, 'data') });
  if (!result.ok) throw new Error(result.errors.join());
  config = result.config;
  file = path.join(config.dataDir, JWT_SECRET_FILE);
});
afterEach(() => temp.remove());

describe('resolveDevJwtSecret', () => {
  it('generates a long secret, 0600, and reuses it', () => {
    const secret = resolveDevJwtSecret(config);
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveDevJwtSecret(config)).toBe(secret);
  });

  it('refuses an empty or short secret', () => {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    for (const content of ['', '\n', 'x'.repeat(31)]) {
      fs.writeFileSync(file, content, { mode: 0o600 });
      expect(() => resolveDevJwtSecret(config)).toThrow(`${file} holds ${content.trim().length} characters, expected at least 32: delete it to have a new one generated`);
    }
    fs.writeFileSync(file, `${'x'.repeat(32)}\n`);
    expect(resolveDevJwtSecret(config)).toBe('x'.repeat(32));
  });

  it('refuses a secret readable by others', () => {
    resolveDevJwtSecret(config);
    fs.chmodSync(file, 0o644);
    expect(() => resolveDevJwtSecret(config)).toThrow(`${file} has mode 0644, readable by group or others`);
  });
});

describe('restrictDataDir', () => {
  it('narrows an open data dir to 0700 and reports its former mode; leaves a closed or missing one', () => {
    fs.mkdirSync(config.dataDir, { mode: 0o755 });
    fs.chmodSync(config.dataDir, 0o755);
    expect(restrictDataDir(config.dataDir)).toBe(0o755);
    expect(fs.statSync(config.dataDir).mode & 0o777).toBe(0o700);
    expect(restrictDataDir(config.dataDir)).toBeUndefined();
    expect(restrictDataDir(path.join(temp.dir, 'not-yet'))).toBeUndefined();
    // From now on, what this process creates is owner-only.
    fs.writeFileSync(path.join(config.dataDir, 'f'), 'x');
    expect(fs.statSync(path.join(config.dataDir, 'f')).mode & 0o777).toBe(0o600);
  });
});
