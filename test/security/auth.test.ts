/**
 * Attacks on identity and access (DESIGN.md §6, invariant 6): forged, unsigned, expired and
 * misdirected tokens, and tokens that outlive the control-plane decision behind them. Each attack
 * must get the right status and stable code, and must not act.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createSigner } from 'fast-jwt';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, TEST_JWT_SECRET, type TestApp } from '../helpers/test-app.js';

const OPERATOR_T1 = { role: 'operator', org: 't1', sub: 'olga' } as const;
const OPERATOR_T2 = { role: 'operator', org: 't2', sub: 'otto' } as const;

function base64url(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('authentication and access', () => {
  let t: TestApp;
  let now: Date;

  beforeEach(async () => {
    now = new Date();
    t = await startTestApp({ clock: () => now });
    for (const id of ['t1', 't2']) {
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id, name: id, ...licenseAround(now, -1, 30) }), 201);
    }
  });
  afterEach(() => t.close({ remove: true }));

  const get = (url: string, authorization?: string) => t.app.inject({ method: 'GET', url, headers: authorization ? { authorization } : {} });

  it('refuses a request without a token', async () => {
    const res = await get('/v1/tenants/t1');
    expect(res.statusCode).toBe(401);
    expect(res.json()).toMatchObject({ code: 'AUTH_ERR_MISSING_TOKEN', statusCode: 401 });
  });

  it('refuses a token signed with another secret', async () => {
    const forged = createSigner({ key: 'another-secret-another-secret-another-secret', algorithm: 'HS256' })(SUPERVISOR);
    const res = await get('/v1/tenants', `Bearer ${forged}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
  });

  it('refuses a token whose payload was edited after signing', async () => {
    const [header, , signature] = t.token(OPERATOR_T1).split('.');
    const edited = `${header}.${base64url({ ...SUPERVISOR, exp: Math.floor(Date.now() / 1000) + 3600 })}.${signature}`;
    const res = await get('/v1/tenants', `Bearer ${edited}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
  });

  it('refuses an unsigned token (alg: none), with and without a trailing signature', async () => {
    const payload = base64url({ ...SUPERVISOR, exp: Math.floor(Date.now() / 1000) + 3600 });
    for (const token of [`${base64url({ alg: 'none', typ: 'JWT' })}.${payload}.`, `${base64url({ alg: 'none' })}.${payload}.c2ln`, `${base64url({ alg: 'NONE' })}.${payload}.`]) {
      const res = await get('/v1/tenants', `Bearer ${token}`);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_INVALID_TOKEN');
    }
  });

  it('refuses garbage and a non-Bearer scheme', async () => {
    for (const authorization of ['Bearer not.a.jwt', 'Bearer ', `Basic ${Buffer.from('a:b').toString('base64')}`, 'Bearer a.b']) {
      const res = await get('/v1/tenants', authorization);
      expect(res.statusCode).toBe(401);
      expect(['AUTH_ERR_INVALID_TOKEN', 'AUTH_ERR_MISSING_TOKEN']).toContain(res.json().code);
    }
  });

  it('refuses an expired token and one not yet valid', async () => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    const expired = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256' })({ ...SUPERVISOR, iat: past, exp: past + 60 });
    let res = await get('/v1/tenants', `Bearer ${expired}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_ERR_TOKEN_EXPIRED');

    const future = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', notBefore: 3_600_000 })(SUPERVISOR);
    res = await get('/v1/tenants', `Bearer ${future}`);
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('AUTH_ERR_TOKEN_NOT_ACTIVE');
  });

  it('refuses a validly signed token with missing or invented claims', async () => {
    const sign = createSigner({ key: TEST_JWT_SECRET, algorithm: 'HS256', expiresIn: 60_000 });
    for (const claims of [{ sub: 'x', org: 'authority' }, { sub: 'x', role: 'admin', org: 'authority' }, { role: 'supervisor', org: 'authority' }]) {
      const res = await get('/v1/tenants', `Bearer ${sign(claims)}`);
      expect(res.statusCode).toBe(401);
      expect(res.json().code).toBe('AUTH_ERR_BAD_CLAIMS');
    }
  });

  it('refuses a role the route does not allow, and changes nothing', async () => {
    const res = await t.call(OPERATOR_T1, 'POST', '/v1/tenants', { id: 't9', name: 't9', ...licenseAround(now, 0, 30) });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/t9')).statusCode).toBe(404);
    const applicant = await t.call({ role: 'applicant', org: 't1', sub: 'a' }, 'GET', '/v1/tenants');
    expect(applicant.statusCode).toBe(403);
  });

  it("refuses an operator addressing another tenant, existing or not, with the same answer", async () => {
    const other = await t.call(OPERATOR_T1, 'GET', '/v1/tenants/t2');
    const missing = await t.call(OPERATOR_T1, 'GET', '/v1/tenants/t404');
    for (const res of [other, missing]) {
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_ORG_MISMATCH');
    }
    expect(other.body).not.toContain('t2"');
    expect((await t.call(OPERATOR_T1, 'GET', '/v1/tenants/t1')).statusCode).toBe(200);
  });

  it('refuses a token naming an organization that was never licensed or registered', async () => {
    const operator = await t.call({ role: 'operator', org: 'ghost', sub: 'g' }, 'GET', '/v1/me');
    expect(operator.statusCode).toBe(403);
    expect(operator.json().code).toBe('AUTH_ERR_ORG_UNKNOWN');
    const applicant = await t.call({ role: 'applicant', org: 'ghost', sub: 'g' }, 'GET', '/v1/me');
    expect(applicant.statusCode).toBe(403);
    expect(applicant.json().code).toBe('AUTH_ERR_ORG_UNKNOWN');
  });

  it('refuses a suspended tenant on its next request, and lets it back on resume', async () => {
    const token = t.token(OPERATOR_T2);
    const me = () => get('/v1/me', `Bearer ${token}`);
    expect((await me()).statusCode).toBe(200);
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/suspend')).json()).toEqual({ id: 't2', status: 'suspended' });
    const refused = await me();
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('AUTH_ERR_TENANT_SUSPENDED');
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/resume')).statusCode).toBe(200);
    expect((await me()).statusCode).toBe(200);
  });

  it('refuses a revoked tenant at once, for good, whatever token it holds', async () => {
    // As long-lived as the service allows (INDOMAIN_JWT_MAX_TTL).
    const token = t.token(OPERATOR_T2, '12h');
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/revoke')).statusCode).toBe(200);
    const refused = await get('/v1/tenants/t2', `Bearer ${token}`);
    expect(refused.statusCode).toBe(403);
    expect(refused.json().code).toBe('AUTH_ERR_TENANT_REVOKED');
    const resumed = await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/resume');
    expect(resumed.statusCode).toBe(409);
    expect(resumed.json().code).toBe('TNT_ERR_INVALID_TRANSITION');
    // A fresh token changes nothing: the decision lives in the control plane.
    expect((await t.call(OPERATOR_T2, 'GET', '/v1/me')).json().code).toBe('AUTH_ERR_TENANT_REVOKED');
  });

  it('fences a revoked tenant off the engine: a query that passed its access check before the revocation never re-opens its files', async () => {
    expect((await t.call(OPERATOR_T2, 'POST', '/v1/query', { sql: 'SELECT 1 AS one', env: 'dev' })).statusCode).toBe(200);
    const dir = path.join(t.dataDir, 'tenants', 't2');
    expect(fs.existsSync(dir)).toBe(true);
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/t2/revoke')).statusCode).toBe(200);
    // What the query service sends for a request that was authorized just before the revoke.
    const straggler = t.app.engine.query({ tenantId: 't2', sql: 'SELECT 1 AS one', env: 'dev', maxRows: 10, maxBytes: 1024, timeoutMs: 1000, admissible: {} });
    await expect(straggler).rejects.toMatchObject({ code: 'AUTH_ERR_TENANT_REVOKED' });
    expect(fs.existsSync(dir)).toBe(false);
  });

  it('refuses a tenant whose license has ended, and one whose license has not started', async () => {
    const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'later', name: 'later', ...licenseAround(now, 10, 40) });
    expect(res.statusCode).toBe(201);
    const notStarted = await t.call({ role: 'operator', org: 'later', sub: 'l' }, 'GET', '/v1/me');
    expect(notStarted.statusCode).toBe(403);
    expect(notStarted.json().code).toBe('AUTH_ERR_LICENSE_NOT_STARTED');

    // Valid throughout: the app's clock moves 60 days, the token's exp is checked against real time.
    const token = t.token(OPERATOR_T1, '12h');
    expect((await get('/v1/me', `Bearer ${token}`)).statusCode).toBe(200);
    now = new Date(now.getTime() + 60 * 86_400_000); // t1's license ended 30 days ago
    const expired = await get('/v1/me', `Bearer ${token}`);
    expect(expired.statusCode).toBe(403);
    expect(expired.json().code).toBe('AUTH_ERR_LICENSE_EXPIRED');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/t1')).json().licenseState).toBe('expired');
  });
});
