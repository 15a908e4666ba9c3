import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { Config } from './config.js';

export const JWT_SECRET_FILE = path.join('secrets', 'jwt-secret');

/**
 * The HS256 secret for development: `INDOMAIN_JWT_SECRET` when set, else a random secret generated
 * into the data dir on first use and reused after, so the server and the token CLI agree.
 */
export function resolveDevJwtSecret(config: Config): string {
  if (config.auth.mode !== 'development') throw new Error('HS256 secrets exist only in development mode');
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  const file = path.join(config.dataDir, JWT_SECRET_FILE);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  try {
    // `wx` fails if another process created it first; then both use that one.
    fs.writeFileSync(file, randomBytes(48).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  return fs.readFileSync(file, 'utf8').trim();
}
