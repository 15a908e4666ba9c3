/**
 * The service's entry point (`npm start`): load config, build the app, listen, print development
 * tokens, and shut down gracefully on SIGINT/SIGTERM (stop accepting, finish in-flight requests,
 * write a final audit checkpoint, close the store).
 */
import { DEMO_APPLICANT_ID, DEMO_SUPERVISOR_ORG, DEMO_TENANT_ID, type Claims } from '../tenants/index.js';
import { buildApp } from './app.js';
import { signDevToken } from './dev-tokens.js';
import { configFromProcessEnv } from './env.js';
import { exitOnSecretFileError, resolveDevJwtSecret } from './secrets.js';

const SHUTDOWN_GRACE_MS = 10_000;

const config = configFromProcessEnv();
// The first start generates the demo domain before listening: say what it is doing, on stdout.
const app = await buildApp(config, { onSeedProgress: (line) => process.stdout.write(`indomain: ${line}\n`) }).catch(exitOnSecretFileError);
const address = await app.listen({ host: config.host, port: config.port });

if (config.auth.mode === 'development') {
  const secret = resolveDevJwtSecret(config);
  const roles: Claims[] = [
    // With INDOMAIN_SUPERVISOR_ORGS set, a supervisor of another organization would be refused.
    { role: 'supervisor', org: config.auth.supervisorOrgs?.[0] ?? DEMO_SUPERVISOR_ORG, sub: 'supervisor' },
    { role: 'operator', org: DEMO_TENANT_ID, sub: 'operator' },
    { role: 'applicant', org: DEMO_APPLICANT_ID, sub: 'applicant' },
  ];
  const lines = roles.map((claims) => `  ${claims.role.padEnd(10)} (org ${claims.org}): ${signDevToken(secret, claims, config.auth.mode === 'development' ? config.auth.devTokenTtl : '1h')}`);
  process.stdout.write(`\nindomain listening on ${address}\nDevelopment tokens (valid ${config.auth.devTokenTtl}; new ones: npm run -s token -- --role <role> --org <org> --sub <sub>):\n${lines.join('\n')}\n\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    app.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      app.log.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
