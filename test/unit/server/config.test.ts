/** Configuration: defaults, every bad variable reported at once, and the production rules. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, loadConfig } from '../../../server/config.js';

describe('loadConfig', () => {
  it('has the documented defaults', () => {
    const result = loadConfig({});
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.config).toMatchObject({ host: '127.0.0.1', port: 8080, dataDir: './data', demo: true, timeZone: 'Asia/Shanghai' });
    expect(result.config.auth).toEqual({ mode: 'development', jwtSecret: undefined, devTokenTtl: '12h' });
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
    const good = loadConfig({ INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWKS_URL: 'https://idp.test/jwks', INDOMAIN_JWT_ISSUER: 'https://idp.test' });
    expect(good.ok && good.config.auth).toMatchObject({ mode: 'production', jwksUrl: 'https://idp.test/jwks', algorithms: ['RS256', 'PS256', 'ES256', 'EdDSA'] });
  });

  it('refuses production-only settings in development, and HS algorithms in the production list', () => {
    expect(loadConfig({ INDOMAIN_JWKS_URL: 'https://idp.test/jwks' }).ok).toBe(false);
    expect(loadConfig({ INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_PUBLIC_KEY_FILE: '/k', INDOMAIN_JWT_ALGORITHMS: 'RS256,HS256' }).ok).toBe(false);
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
