import { randomBytes } from 'node:crypto';
import path from 'node:path';
// The leaf module, not the folder's index: the token CLI imports this file and must start light
// (docs/decisions.md, "The CLIs start light").
import { loadOrCreateSecretFile, SecretFileError } from '../sandbox/secret-file.js';
import type { Config } from './config.js';

export const JWT_SECRET_FILE = path.join('secrets', 'jwt-secret');

/** The shortest HS256 secret accepted, from the file as from `INDOMAIN_JWT_SECRET` (config). */
const MIN_SECRET_CHARS = 32;

/**
 * The HS256 secret for development: `INDOMAIN_JWT_SECRET` when set, else a random secret generated
 * into the data dir on first use and reused after, so the server and the token CLI agree. Throws
 * SecretFileError when the file is short or readable by others.
 */
export function resolveDevJwtSecret(config: Config): string {
  if (config.auth.mode !== 'development') throw new Error('HS256 secrets exist only in development mode');
  if (config.auth.jwtSecret) return config.auth.jwtSecret;
  const content = loadOrCreateSecretFile(path.join(config.dataDir, JWT_SECRET_FILE), {
    generate: () => randomBytes(48).toString('base64url'),
    // SECURITY: a short or empty HS256 secret lets anyone who guesses it mint tokens for any role.
    check: (bytes) => {
      const length = bytes.toString('utf8').trim().length;
      return length < MIN_SECRET_CHARS ? `holds ${length} characters, expected at least ${MIN_SECRET_CHARS}` : undefined;
    },
    remedy: 'delete it to have a new one generated (development tokens signed with the old one stop working), or set INDOMAIN_JWT_SECRET',
  });
  return content.toString('utf8').trim();
}

/**
 * For entry points (server, CLIs): a bad secret is the operator's to fix, so its one-line message
 * and exit status 2 (as for bad configuration), not a stack trace. Anything else is rethrown.
 */
export function exitOnSecretFileError(error: unknown): never {
  if (!(error instanceof SecretFileError)) throw error;
  process.stderr.write(`indomain: ${error.message}\n`);
  process.exit(2);
}
