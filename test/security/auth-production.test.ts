/**
 * Production identity: tokens come from the organization's identity provider and are verified with
 * its public key or JWKS. HS256 is disabled, so neither a shared secret nor the public key used as an
 * HMAC secret (algorithm confusion) can mint a token.
 */
import { generateKeyPairSync } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createSigner } from 'fast-jwt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privatePem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
const ISSUER = 'https://idp.example.test';
const claims = { ...SUPERVISOR, iss: ISSUER, aud: 'indomain' };

function rs256(payload: object, options: { kid?: string } = {}): string {
  return createSigner({ key: privatePem, algorithm: 'RS256', expiresIn: 60_000, ...(options.kid ? { kid: options.kid } : {}) })(payload);
}

async function me(t: TestApp, token: string) {
  return t.app.inject({ method: 'GET', url: '/v1/me', headers: { authorization: `Bearer ${token}` } });
}

describe('production mode with a public key file', () => {
  let t: TestApp;
  const keys = makeTempDir();
  beforeAll(async () => {
    const keyFile = path.join(keys.dir, 'idp.pub.pem');
    fs.writeFileSync(keyFile, publicPem);
    t = await startTestApp({
      env: { INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_SECRET: '', INDOMAIN_JWT_PUBLIC_KEY_FILE: keyFile, INDOMAIN_JWT_ISSUER: ISSUER, INDOMAIN_JWT_AUDIENCE: 'indomain' },
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
});

describe('production mode with a JWKS endpoint', () => {
  let t: TestApp;
  let server: http.Server;
  beforeAll(async () => {
    const jwk = { ...publicKey.export({ format: 'jwk' }), kid: 'key-1', alg: 'RS256', use: 'sig' };
    server = http.createServer((req, res) => {
      if (req.url === '/oauth/jwks') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    t = await startTestApp({
      env: { INDOMAIN_AUTH_MODE: 'production', INDOMAIN_JWT_SECRET: '', INDOMAIN_JWKS_URL: `http://127.0.0.1:${port}/oauth/jwks`, INDOMAIN_JWT_ISSUER: ISSUER },
    });
  });
  afterAll(async () => {
    await t.close({ remove: true });
    await new Promise((resolve) => server.close(resolve));
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
