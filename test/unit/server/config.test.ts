/**
 * Configuration: defaults, every bad variable reported at once, the production rules (one key source,
 * https JWKS, audience and supervisor organizations required), and the token lifetime limit.
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, durationMs, loadConfig } from '../../../server/config.js';

/** A complete production configuration with a key file; tests remove or change one variable. */
const PRODUCTION = {
  INDOMAIN_AUTH_MODE: 'production',
  INDOMAIN_JWT_PUBLIC_KEY_FILE: '/k.pem',
  INDOMAIN_JWT_AUDIENCE: 'indomain',
  INDOMAIN_SUPERVISOR_ORGS: 'authority',
};

const errorsOf = (env: Record<string, string>) => {
  const result = loadConfig(env);
  return result.ok ? [] : result.errors;
};

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const result = loadConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: './data', demo: true, timeZone: 'Asia/Shanghai' });
    expect(result.config.auth).toEqual({ mode: 'development', jwtSecret: undefined, devTokenTtl: '12h', maxTokenTtl: '12h', maxTokenTtlMs: 12 * 3_600_000, supervisorOrgs: undefined });
  });

  it('reads booleans as words, not as JavaScript truthiness', () => {
    for (const [text, value] of [['false', false], ['0', false], ['no', false], ['true', true], ['1', true]] as const) {
      const result = loadConfig({ INDOMAIN_DEMO: text });
      expect(result.ok && result.config.demo).toBe(value);
    }
  });

  it('reports every bad variable at once, unknown names included', () => {
    const result = loadConfig({
      INDOMAIN_PORT: 'eighty',
      INDOMAIN_DEMO: 'maybe',
      INDOMAIN_JWT_SECRET: 'short',
      INDOMAIN_TIMEZONE: 'Mars/Olympus',
      INDOMAIN_PROT: '9090',
      PATH: '/usr/bin',
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const named = result.errors.map((e) => e.split(':')[0]);
    expect(named.sort()).toEqual(['INDOMAIN_DEMO', 'INDOMAIN_JWT_SECRET', 'INDOMAIN_PORT', 'INDOMAIN_PROT', 'INDOMAIN_TIMEZONE']);
  });

  it('treats an empty variable as unset', () => {
    const result = loadConfig({ INDOMAIN_PORT: '', INDOMAIN_JWT_SECRET: '' });
    expect(result.ok && result.config.port).toBe(8080);
  });

  it('requires exactly one key source in production and refuses HS256 there', () => {
    const none = loadConfig({ INDOMAIN_AUTH_MODE: 'production' });
    expect(!none.ok && none.errors.join()).toMatch(/INDOMAIN_JWT_PUBLIC_KEY_FILE/);
    const both = loadConfig({ INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_PUBLIC_KEY_FILE: '/k.pem', INDOMAIN_JWKS_URL: 'https://idp.test/jwks', INDOMAIN_JWT_ISSUER: 'x' });
    expect(both.ok).toBe(false);
    const secret = loadConfig({ INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_PUBLIC_KEY_FILE: '/k.pem', INDOMAIN_JWT_SECRET: 'x'.repeat(40) });
    expect(!secret.ok && secret.errors.join()).toMatch(/INDOMAIN_JWT_SECRET: HS256 is disabled/);
    const jwksWithoutIssuer = loadConfig({ INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWKS_URL: 'https://idp.test/jwks' });
    expect(!jwksWithoutIssuer.ok && jwksWithoutIssuer.errors.join()).toMatch(/INDOMAIN_JWT_ISSUER/);
    const good = loadConfig({ ...PRODUCTION, INDOMAIN_JWT_PUBLIC_KEY_FILE: '', INDOMAIN_JWKS_URL: 'https://idp.test/jwks', INDOMAIN_JWT_ISSUER: 'https://idp.test' });
    expect(good.ok && good.config.auth).toMatchObject({ mode: 'production', jwksUrl: 'https://idp.test/jwks', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
  });

  it('requires an audience and the supervisor organizations in production', () => {
    expect(loadConfig(PRODUCTION).ok).toBe(true);
    expect(errorsOf({ ...PRODUCTION, INDOMAIN_JWT_AUDIENCE: '' })).toEqual([expect.stringMatching(/^INDOMAIN_JWT_AUDIENCE: required in production/)]);
    expect(errorsOf({ ...PRODUCTION, INDOMAIN_SUPERVISOR_ORGS: '' })).toEqual([expect.stringMatching(/^INDOMAIN_SUPERVISOR_ORGS: required in production/)]);
  });

  it('refuses a JWKS URL that is not https', () => {
    const jwks = { ...PRODUCTION, INDOMAIN_JWT_PUBLIC_KEY_FILE: '', INDOMAIN_JWT_ISSUER: 'https://idp.test' };
    expect(loadConfig({ ...jwks, INDOMAIN_JWKS_URL: 'https://idp.test/jwks' }).ok).toBe(true);
    for (const url of ['http://idp.test/jwks', 'http://127.0.0.1:8081/jwks', 'ftp://idp.test/jwks']) {
      expect(errorsOf({ ...jwks, INDOMAIN_JWKS_URL: url }), url).toEqual(['INDOMAIN_JWKS_URL: must be an https URL']);
    }
  });

  it('reads the supervisor organizations as a trimmed list, in production and (optional) in development', () => {
    const production = loadConfig({ ...PRODUCTION, INDOMAIN_SUPERVISOR_ORGS: ' authority , ministry ' });
    expect(production.ok && production.config.auth.supervisorOrgs).toEqual(['authority', 'ministry']);
    const development = loadConfig({ INDOMAIN_SUPERVISOR_ORGS: 'authority' });
    expect(development.ok && development.config.auth.supervisorOrgs).toEqual(['authority']);
    expect(errorsOf({ INDOMAIN_SUPERVISOR_ORGS: 'authority,,ministry' })[0]).toMatch(/^INDOMAIN_SUPERVISOR_ORGS\.1: an organization id is empty/);
  });

  it('reads the token lifetime limit, and keeps development tokens within it', () => {
    const custom = loadConfig({ INDOMAIN_JWT_MAX_TTL: '30m', INDOMAIN_DEV_TOKEN_TTL: '30m' });
    expect(custom.ok && custom.config.auth).toMatchObject({ maxTokenTtl: '30m', maxTokenTtlMs: 1_800_000 });
    const production = loadConfig({ ...PRODUCTION, INDOMAIN_JWT_MAX_TTL: '1h' });
    expect(production.ok && production.config.auth.maxTokenTtlMs).toBe(3_600_000);
    expect(errorsOf({ INDOMAIN_JWT_MAX_TTL: 'forever' })).toEqual(['INDOMAIN_JWT_MAX_TTL: must be a duration such as 30m, 12h or 7d']);
    expect(errorsOf({ INDOMAIN_JWT_MAX_TTL: '0h' })).toContain('INDOMAIN_JWT_MAX_TTL: must be longer than 0');
    // The tokens printed at start and minted by the CLI would be refused by the server itself.
    expect(errorsOf({ INDOMAIN_DEV_TOKEN_TTL: '24h' })).toEqual(['INDOMAIN_DEV_TOKEN_TTL: must not exceed INDOMAIN_JWT_MAX_TTL (12h)']);
    expect(loadConfig({ INDOMAIN_DEV_TOKEN_TTL: '24h', INDOMAIN_JWT_MAX_TTL: '1d' }).ok).toBe(true);
  });

  it('converts durations to milliseconds', () => {
    expect([durationMs('250ms'), durationMs('30s'), durationMs('30m'), durationMs('12h'), durationMs('7d')]).toEqual([250, 30_000, 1_800_000, 43_200_000, 604_800_000]);
    expect(durationMs('12 h')).toBeNaN();
  });

  it('refuses production-only settings in development, and HS algorithms in the production list', () => {
    expect(loadConfig({ INDOMAIN_JWKS_URL: 'https://idp.test/jwks' }).ok).toBe(false);
    expect(errorsOf({ ...PRODUCTION, INDOMAIN_JWT_ALGORITHMS: 'RS256,HS256' })[0]).toMatch(/^INDOMAIN_JWT_ALGORITHMS/);
  });
});

describe('configuration docs', () => {
  it('lists every variable in the README table and in .env.example', () => {
    const readme = fs.readFileSync('README.md', 'utf8');
    const example = fs.readFileSync('.env.example', 'utf8');
    for (const name of CONFIG_VARIABLES) {
      expect(readme, name).toContain(`| \`${name}\` |`);
      expect(example, name).toMatch(new RegExp(`^#? ?${name}=`, 'm'));
    }
  });
});
