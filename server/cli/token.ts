/**
 * `npm run -s token -- --role <role> --org <org> --sub <sub> [--ttl <duration>]`
 * Prints only a development token signed with the same secret the server uses (INDOMAIN_JWT_SECRET,
 * or the one the server generated into the data dir). It never generates a secret itself: a token
 * signed with a secret no server holds would be refused, and the secret it made would become the
 * server's (see docs/operations.md).
 *
 * Imports are leaf modules, not the folders' index (docs/decisions.md, "The CLIs start light"): the
 * index loads DuckDB and piscina, which alone took longer than this CLI may.
 */
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ClaimsSchema } from '../../tenants/model.js';
import { durationMs } from '../config.js';
import { restrictDataDir } from '../data-dir.js';
import { signDevToken } from '../dev-tokens.js';
import { configFromProcessEnv } from '../env.js';
import { exitOnSecretFileError, JWT_SECRET_FILE, resolveDevJwtSecret } from '../secrets.js';
import { parseCliArgs, USAGE_ERROR_EXIT, usageError } from './args.js';

const USAGE = `usage: npm run -s token -- --role <role> --org <org> --sub <sub> [--ttl <duration>]

Prints a development token (only the token) signed with the server's secret.

  --role   supervisor, operator or applicant
  --org    the organization: the tenant id for operators, the applicant id for applicants
  --sub    who the token is for
  --ttl    lifetime such as 30m, 8h or 7d (default INDOMAIN_DEV_TOKEN_TTL, at most INDOMAIN_JWT_MAX_TTL)
  --help   this text

The secret is INDOMAIN_JWT_SECRET, or <INDOMAIN_DATA_DIR>/${JWT_SECRET_FILE} (default data dir ./data),
which the server generates on its first start. Development mode only.`;

const values = parseCliArgs('token', USAGE, { role: { type: 'string' }, org: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' } });
const parsed = ClaimsSchema.extend({ ttl: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30m, 12h or 7d').optional() }).safeParse(values);
if (!parsed.success) {
  usageError('token', USAGE, parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.path.length === 1 && values[i.path[0] as keyof typeof values] === undefined ? 'missing' : i.message}`).join('\n'));
}
const config = configFromProcessEnv();
if (config.auth.mode !== 'development') {
  process.stderr.write('token: tokens are issued by the identity provider in production mode\n');
  process.exit(USAGE_ERROR_EXIT);
}
const { ttl, ...claims } = parsed.data;
if (ttl && durationMs(ttl) > config.auth.maxTokenTtlMs) usageError('token', USAGE, `--ttl: at most ${config.auth.maxTokenTtl} (INDOMAIN_JWT_MAX_TTL): the server refuses tokens that live longer`);
const dataDir = path.resolve(config.dataDir);
if (!config.auth.jwtSecret && !fs.existsSync(path.join(dataDir, JWT_SECRET_FILE))) {
  // SECURITY: never invent a secret: the server would then adopt one minted by a CLI run against the wrong dir.
  process.stderr.write(`token: no development secret in the data dir ${dataDir} (${path.join(dataDir, JWT_SECRET_FILE)} does not exist).\n`
    + 'Start the server once with this INDOMAIN_DATA_DIR (it generates the secret), point INDOMAIN_DATA_DIR at the data dir of the running server, or set INDOMAIN_JWT_SECRET to the server\'s.\n');
  process.exit(USAGE_ERROR_EXIT);
}
// SECURITY: owner-only, as the server makes it (the secret is only read here, never created).
restrictDataDir(dataDir);
let secret: string;
try {
  secret = resolveDevJwtSecret(config);
} catch (error) {
  exitOnSecretFileError(error);
}
process.stdout.write(`${signDevToken(secret, claims, ttl ?? config.auth.devTokenTtl)}\n`);
