/**
 * Production identity: tokens come from the organization's identity provider and are verified with
 * its public key or JWKS. HS256 is disabled, so neither a shared secret nor the public key used as an
 * HMAC secret (algorithm confusion) can mint a token. The identity provider may serve other
 * organizations and other services: a supervisor token counts only from a configured supervisor
 * organization, and an audience is required. A JWKS fetched over plain http could be answered by
 * anyone on the path, so only https is accepted. Tokens must expire, within INDOMAIN_JWT_MAX_TTL, in
 * both modes: a token that lives for months cannot be taken back from whoever copied it.
 */
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../helpers/self-signed-tls.js';
import { startTestApp, SUPERVISOR, TEST_JWT_SECRET, type TestApp } from '../helpers/test-app.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ISSUER = 'https://idp.example.test';
const claims = { ...SUPERVISOR, iss: ISSUER, aud: 'indomain' };

/** The production settings besides the key source. */
const PRODUCTION = { INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_SECRET: '', INDOMAIN_JWT_ISSUER: ISSUER, INDOMAIN_JWT_AUDIENCE: 'indomain', INDOMAIN_SUPERVISOR_ORGS: 'authority' };
const HOUR_MS = 3_600_000;
const run = promisify(execFile);

function rs256(payload: object, options: { kid?: string; expiresIn?: number; noTimestamp?: boolean } = {}): string {
  return createSigner({
    key: privatePem, algorithm: 'RS256', expiresIn: 60_000,
    ...(options.kid ? { kid: options.kid } : {}),
    ...('expiresIn' in options ? { expiresIn: options.expiresIn } : {}),
    ...(options.noTimestamp ? { noTimestamp: true } : {}),
  })(payload);
}

async function me(t: TestApp, token: string) {
  return t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
}

/** The error a start fails with (config errors included), or 'started' after closing the app. */
function startOutcome(env: Record<string, string>): Promise<unknown> {
  return startTestApp({ env }).then(
    async (t) => {
      await t.close({ remove: true });
      return 'started';
    },
    (error: unknown) => error,
  );
}

describe('production mode with a public key file', () => {
  let t: TestApp;
  const keys = makeTempDir();
  beforeAll(async () => {
    const keyFile = path.join(keys.dir, 'idp.pub.pem');
    fs.writeFileSync(keyFile, publicPem);
    t = await startTestApp({
      env: { ...PRODUCTION, INDOMAIN_JWT_PUBLIC_KEY_FILE: keyFile },
    });
  });
  afterAll(async () => {
    await t.close({ remove: true });
    keys.remove();
  });

  it('accepts a token signed by the identity provider', async () => {
    const res = await me(t, rs256(claims));
    expect(res.statusCode).toBe(200);
    expect(res.json().claims).toEqual(SUPERVISOR);
  });

  it('refuses HS256, including the public key used as an HMAC secret', async () => {
    for (const key of [publicPem, 'a-shared-secret-a-shared-secret-a-shared-secret']) {
      const token = createSigner({ key, algorithm: 'HS256', expiresIn: 60_000 })(claims);
      const res = await me(t, token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
    }
  });

  it('refuses a wrong issuer or audience', async () => {
    for (const payload of [{ ...claims, iss: 'https://evil.test' }, { ...claims, aud: 'someone-else' }]) {
      const res = await me(t, rs256(payload));
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
    }
  });

  it('refuses a token signed by another RSA key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const res = await me(t, createSigner({ key: other, algorithm: 'RS256', expiresIn: 60_000 })(claims));
    expect(res.statusCode).toBe(401);
  });

  it('refuses a supervisor of an organization outside INDOMAIN_SUPERVISOR_ORGS', async () => {
    // Genuine tokens from the same identity provider, for the same audience: only the org differs.
    for (const org of ['elsewhere', 'Authority', 'authority ']) {
      const res = await me(t, rs256({ ...claims, org }));
      expect(res.statusCode, org).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_SUPERVISOR_ORG');
    }
  });

  it('refuses a token without exp', async () => {
    const res = await me(t, rs256(claims, { expiresIn: undefined }));
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_ERR_TOKEN_LIFETIME');
  });

  it('refuses a token living longer than INDOMAIN_JWT_MAX_TTL (12h), with or without iat', async () => {
    expect((await me(t, rs256(claims, { expiresIn: 12 * HOUR_MS }))).statusCode).toBe(200);
    const tooLong = [
      rs256(claims, { expiresIn: 12 * HOUR_MS + 60_000 }),
      rs256(claims, { expiresIn: 30 * 24 * HOUR_MS }),
      rs256(claims, { expiresIn: 13 * HOUR_MS, noTimestamp: true }),
      // An iat in the future does not make a long-lived token short.
      rs256({ ...claims, iat: Math.floor(Date.now() / 1000) + 86_400 }, { expiresIn: HOUR_MS }),
    ];
    for (const token of tooLong) {
      const res = await me(t, token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_TOKEN_LIFETIME');
    }
  });
});

describe('production configuration refused at start', () => {
  it('refuses production without an audience', async () => {
    const keys = makeTempDir();
    try {
      const keyFile = path.join(keys.dir, 'idp.pub.pem');
      fs.writeFileSync(keyFile, publicPem);
      expect(await startOutcome({ ...PRODUCTION, INDOMAIN_JWT_PUBLIC_KEY_FILE: keyFile, INDOMAIN_JWT_AUDIENCE: '' }))
        .toMatchObject({ message: expect.stringMatching(/^INDOMAIN_JWT_AUDIENCE: required in production/m) });
    } finally {
      keys.remove();
    }
  });

  it('refuses a JWKS URL over plain http', async () => {
    expect(await startOutcome({ ...PRODUCTION, INDOMAIN_JWKS_URL: 'http://127.0.0.1:9/oauth/jwks' }))
      .toMatchObject({ message: expect.stringMatching(/^INDOMAIN_JWKS_URL: must be an https URL$/m) });
  });
});

describe('token rules in development', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_SUPERVISOR_ORGS: 'authority' } });
  });
  afterAll(() => t.close({ remove: true }));

  it('refuses tokens without exp or living longer than the maximum there too', async () => {
    expect((await me(t, t.token(SUPERVISOR, '12h'))).statusCode).toBe(200);
    const tokens = [t.token(SUPERVISOR, '13h'), createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })(SUPERVISOR)];
    for (const token of tokens) {
      const res = await me(t, token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_TOKEN_LIFETIME');
    }
  });

  it('has the token CLI refuse to mint a token the server would refuse', async () => {
    const error = await run(process.execPath, [path.resolve('dist/server/cli/token.js'), '--role', 'supervisor', '--org', 'authority', '--sub', 'sue', '--ttl', '30d'], {
      env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: t.dataDir, INDOMAIN_JWT_SECRET: TEST_JWT_SECRET },
    }).catch((e: unknown) => e as { code?: number; stderr?: string; stdout?: string });
    expect(error).toMatchObject({ code: 2, stdout: '' });
    expect(error.stderr).toMatch(/^token: --ttl: at most 12h \(INDOMAIN_JWT_MAX_TTL\)/);
  });

  it('enforces INDOMAIN_SUPERVISOR_ORGS when it is set', async () => {
    const res = await me(t, t.token({ ...SUPERVISOR, org: 'elsewhere' }));
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_SUPERVISOR_ORG');
  });
});

describe('production mode with a JWKS endpoint', () => {
  let t: TestApp;
  let server: https.Server;
  const rejectUnauthorized = process.env.NODE_TLS_REJECT_UNAUTHORIZED;
  beforeAll(async () => {
    // The fake identity provider's certificate is self-signed: this test process (one per test
    // file) skips certificate checks. What is tested here is the kid lookup; the config test checks
    // that only https URLs are accepted.
    process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
    server = https.createServer({ cert: TEST_TLS_CERT, key: TEST_TLS_KEY }, (req, res) => {
      if (req.url === '/oauth/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    t = await startTestApp({
      env: { ...PRODUCTION, INDOMAIN_JWKS_URL: `https://127.0.0.1:${port}/oauth/jwks` },
    });
  });
  afterAll(async () => {
    await t.close({ remove: true });
    await new Promise((resolve) => server.close(resolve));
    if (rejectUnauthorized === undefined) delete process.env.NODE_TLS_REJECT_UNAUTHORIZED;
    else process.env.NODE_TLS_REJECT_UNAUTHORIZED = rejectUnauthorized;
  });

  it('accepts a token whose kid is in the JWKS', async () => {
    expect((await me(t, rs256(claims, { kid: 'key-1' }))).statusCode).toBe(200);
  });

  it('refuses an unknown kid and a token without one', async () => {
    for (const token of [rs256(claims, { kid: 'key-2' }), rs256(claims)]) {
      const res = await me(t, token);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
    }
  });
});
