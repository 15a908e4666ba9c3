/**
 * `npm run -s token -- --role <role> --org <org> --sub <sub> [--ttl <duration>]`
 * Prints only a development token signed with the same secret the server uses (INDOMAIN_JWT_SECRET,
 * or the one generated into the data dir).
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { ClaimsSchema } from '../../tenants/index.js';
import { signDevToken } from '../dev-tokens.js';
import { configFromProcessEnv } from '../env.js';
import { resolveDevJwtSecret } from '../secrets.js';

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
process.stdout.write(`${signDevToken(resolveDevJwtSecret(config), claims, ttl ?? config.auth.devTokenTtl)}\n`);
