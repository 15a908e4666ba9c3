/**
 * No route is public by omission. Every operation in the published API, other than the declared
 * public ones, refuses a request without a token; and a route registered without an access
 * declaration stops the app from starting.
 */
import Fastify from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installAccessGuard } from '../../server/auth.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

const PUBLIC = new Set(['GET /health']);

describe('route access', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close({ remove: true }));

  it('refuses every non-public operation without a token, before touching anything', async () => {
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    let checked = 0;
    for (const [route, operations] of Object.entries(spec.paths)) {
      for (const method of Object.keys(operations)) {
        if (PUBLIC.has(`${method.toUpperCase()} ${route}`)) continue;
        const url = route.replace(/\{[^}]+\}/g, 'demo');
        const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url, payload: method === 'get' ? undefined : {} });
        expect(res.statusCode, `${method} ${route}`).toBe(401);
        expect(res.json().code).toBe('AUTH_ERR_MISSING_TOKEN');
        checked += 1;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(10);
    expect((await t.call({ role: 'supervisor', org: 'authority', sub: 's' }, 'GET', '/v1/tenants')).json().tenants).toEqual([]);
  });

  it('refuses to start with a route that declares no access', async () => {
    const app = Fastify();
    const start = async () => {
      await app.register(async (api) => {
        installAccessGuard(api, t.app.controlPlane, async () => ({}));
        api.get('/v1/forgotten', async () => ({ secret: true }));
      });
      await app.ready();
    };
    await expect(start()).rejects.toThrow(/GET \/v1\/forgotten declares no access/);
    await app.close();
  });
});
