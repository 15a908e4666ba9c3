/**
 * `npm run -s token -- --role <role> --org <org> --sub <sub> [--ttl <duration>]`
 * Prints only a development token signed with the same secret the server uses (INDOMAIN_JWT_SECRET,
 * or the one generated into the data dir).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ClaimsSchema } from '../../tenants/index.js';
import { signDevToken } from '../dev-tokens.js';
import { durationMs } from '../config.js';
import { restrictDataDir } from '../data-dir.js';
import { configFromProcessEnv } from '../env.js';
import { exitOnSecretFileError, resolveDevJwtSecret } from '../secrets.js';

const USAGE = 'usage: npm run -s token -- --role supervisor|operator|applicant --org <org> --sub <sub> [--ttl 12h]';

const { values } = parseArgs({
  options: { role: { type: 'string' }, org: { type: 'string' }, sub: { type: 'string' }, ttl: { type: 'string' }, help: { type: 'boolean' } },
  strict: true,
});
if (values.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
const parsed = ClaimsSchema.extend({ ttl: z.string().regex(/^\d+(ms|s|m|h|d)$/, 'must be a duration such as 30m, 12h or 7d').optional() }).safeParse(values);
if (!parsed.success) {
  process.stderr.write(`${parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('\n')}\n${USAGE}\n`);
  process.exit(2);
}
const config = configFromProcessEnv();
if (config.auth.mode !== 'development') {
  process.stderr.write('tokens are issued by the identity provider in production mode\n');
  process.exit(2);
}
const { ttl, ...claims } = parsed.data;
if (ttl && durationMs(ttl) > config.auth.maxTokenTtlMs) {
  process.stderr.write(`--ttl: at most ${config.auth.maxTokenTtl} (INDOMAIN_JWT_MAX_TTL): the server refuses tokens that live longer\n${USAGE}\n`);
  process.exit(2);
}
// SECURITY: this CLI may be the first to create the data dir and its secret: owner-only, as the server makes it.
restrictDataDir(config.dataDir);
let secret: string;
try {
  secret = resolveDevJwtSecret(config);
} catch (error) {
  exitOnSecretFileError(error);
}
process.stdout.write(`${signDevToken(secret, claims, ttl ?? config.auth.devTokenTtl)}\n`);
