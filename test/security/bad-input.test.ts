/**
 * Invariants 3 and 7: no input crashes the server or leaves anything half-done. Every mutating
 * endpoint is fed malformed bodies, paths and headers; each answer must be a 4xx with a stable
 * code, the control plane must be exactly as before (tenants, applicants, audit head), and the
 * service must still answer /health.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../core/errors.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const window = licenseAround(new Date(), -1, 100);
const nasty: unknown[] = [
  null, 0, -1, 1e308, true, 'string', [], [{}], {},
  { id: 'x'.repeat(10_000), name: 'n', ...window },
  { id: 'ok-id', name: 'n'.repeat(201), ...window },
  { id: 'ok-id\u0000', name: 'n', ...window },
  { id: 'ok-id', name: 'n', licenseFrom: '2026-1-1', licenseTo: window.licenseTo },
  { id: 'ok-id', name: 'n', licenseFrom: '99999-01-01', licenseTo: window.licenseTo },
  { id: 'ok-id', name: 'n', licenseFrom: { $gt: '' }, licenseTo: window.licenseTo },
  { id: ['ok-id'], name: 'n', ...window },
  { id: 'ok-id', name: null, ...window },
  { id: 'ＯＫ-id', name: 'n', ...window },
  { id: 'ok-id', name: 'n', ...window, licenseTo: `${window.licenseTo}T00:00:00Z` },
  JSON.parse('{"__proto__": {"polluted": true}, "id": "ok-id", "name": "n"}'),
  { constructor: { prototype: { polluted: true } }, id: 'ok-id' },
];
const rawBodies = ['{', '{"id": "a",}', '[1,2', '\u0000', 'null null', '{"id": "a"}garbage'];

describe('bad input', () => {
  let t: TestApp;
  let before: string;
  const snapshot = async () =>
    JSON.stringify({
      tenants: (await t.call(SUPERVISOR, 'GET', '/v1/tenants')).json(),
      applicants: (await t.call(SUPERVISOR, 'GET', '/v1/applicants')).json(),
      head: (await t.call(SUPERVISOR, 'GET', '/v1/audit/verify')).json().head,
    });

  beforeAll(async () => {
    t = await startTestApp();
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'existing', name: 'existing', ...window }), 201);
    before = await snapshot();
  });
  afterAll(() => t.close({ remove: true }));

  const expectRefused = (status: number, body: { code?: string }, label: string) => {
    expect(status, label).toBeGreaterThanOrEqual(400);
    expect(status, label).toBeLessThan(500);
    expect(ERROR_CODES, label).toContain(body.code);
  };

  it('refuses malformed JSON bodies on every mutating endpoint', async () => {
    for (const url of ['/v1/tenants', '/v1/applicants']) {
      for (const payload of nasty) {
        const res = await t.call(SUPERVISOR, 'POST', url, payload);
        expectRefused(res.statusCode, res.json(), `${url} ${JSON.stringify(payload)?.slice(0, 80)}`);
      }
      for (const raw of rawBodies) {
        const res = await t.app.inject({ method: 'POST', url, payload: raw, headers: { 'content-type': 'application/json', authorization: `Bearer ${t.token(SUPERVISOR)}` } });
        expectRefused(res.statusCode, res.json(), `${url} raw ${JSON.stringify(raw)}`);
      }
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(await snapshot()).toBe(before);
  });

  it('refuses hostile ids in paths', async () => {
    const ids = ['..%2F..%2Fetc', '%00', 'EXISTING', 'existing%20', 'a'.repeat(300), '%E2%80%AEgnitsixe', "existing'--"];
    for (const id of ids) {
      for (const verb of ['suspend', 'resume', 'revoke']) {
        const res = await t.call(SUPERVISOR, 'POST', `/v1/tenants/${id}/${verb}`);
        expectRefused(res.statusCode, res.json(), `${verb} ${id}`);
      }
      const res = await t.call(SUPERVISOR, 'GET', `/v1/tenants/${id}`);
      expectRefused(res.statusCode, res.json(), `get ${id}`);
    }
    expect(await snapshot()).toBe(before);
  });

  it('refuses hostile audit filters without touching the store', async () => {
    for (const qs of ["actor=' OR 1=1 --", 'org=%00', 'limit=1e9', 'limit=NaN', 'after=1.5', `target=${'x'.repeat(500)}`, 'from=2026-13-45T00:00:00Z']) {
      const res = await t.call(SUPERVISOR, 'GET', `/v1/audit?${qs}`);
      if (res.statusCode === 200) expect(res.json().entries, qs).toEqual([]);
      else expectRefused(res.statusCode, res.json(), qs);
    }
    expect(await snapshot()).toBe(before);
  });

  it('still serves after all of it', async () => {
    expect((await t.app.inject({ method: 'GET', url: '/health' })).statusCode).toBe(200);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/existing')).json().status).toBe('active');
  });
});
