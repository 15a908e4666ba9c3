/** The service's own surface: health, the OpenAPI document, docs, request ids and error bodies. */
import { once } from 'node:events';
import net, { type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

describe('service surface', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close({ remove: true }));

  it('reports store and engine readiness, and nothing about the tenants\' activity', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    // Public: counts of queries in flight or engine restarts would describe other tenants' work.
    expect(res.json()).toEqual({ status: 'ok', store: { ready: true }, engine: { ready: true } });
  });

  it('publishes an OpenAPI document with the v1 contract and its error responses', async () => {
    const spec = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json();
    expect(spec.openapi).toMatch(/^3\./);
    for (const p of ['/health', '/v1/tenants', '/v1/tenants/{id}', '/v1/tenants/{id}/suspend', '/v1/tenants/{id}/resume', '/v1/tenants/{id}/revoke', '/v1/applicants', '/v1/audit', '/v1/audit/verify']) {
      expect(spec.paths).toHaveProperty([p]);
    }
    expect(Object.keys(spec.paths['/v1/tenants'].post.responses)).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409']));
    expect(spec.paths['/v1/tenants'].post.requestBody.content['application/json'].schema.required).toEqual(['id', 'name', 'licenseFrom', 'licenseTo']);
    expect((await t.app.inject({ method: 'GET', url: '/docs/' })).statusCode).toBe(200);
  });

  it('logs one line per request, with method, url, status and time, and never the token', async () => {
    const lines: string[] = [];
    const logged = await startTestApp({ env: { INDOMAIN_LOG_LEVEL: 'info' }, logStream: { write: (line) => void lines.push(line) } });
    try {
      const token = logged.token({ role: 'supervisor', org: 'authority', sub: 'sue' });
      lines.length = 0;
      const res = await logged.app.inject({ method: 'GET', url: '/v1/tenants?x=1', headers: { authorization: `Bearer ${token}`, 'x-request-id': 'log-test-1' } });
      expect(res.statusCode).toBe(200);
      const mine = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.reqId === 'log-test-1');
      expect(mine).toHaveLength(1);
      expect(mine[0]).toMatchObject({ msg: 'request completed', req: { method: 'GET', url: '/v1/tenants?x=1' }, res: { statusCode: 200 }, responseTime: expect.any(Number) });
      expect(lines.join('')).not.toContain(token.split('.')[2]);
    } finally {
      await logged.close({ remove: true });
    }
  });

  it('echoes a well-formed request id and replaces a malformed one', async () => {
    const kept = await t.app.inject({ method: 'GET', url: '/nowhere', headers: { 'x-request-id': 'abc-123' } });
    expect(kept.headers['x-request-id']).toBe('abc-123');
    expect(kept.json()).toEqual({ statusCode: 404, code: 'REQ_ERR_NOT_FOUND', error: 'Not Found', message: 'no route GET /nowhere', requestId: 'abc-123' });
    const replaced = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\nforged log line' } });
    expect(replaced.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers malformed JSON, a wrong media type and an oversized body with stable codes', async () => {
    const token = t.token({ role: 'supervisor', org: 'authority', sub: 's' });
    const post = (payload: string, contentType: string) => t.app.inject({ method: 'POST', url: '/v1/tenants', payload, headers: { authorization: `Bearer ${token}`, 'content-type': contentType } });
    expect((await post('{"id":', 'application/json')).json().code).toBe('REQ_ERR_BAD_JSON');
    const media = await post('id=x', 'application/x-www-form-urlencoded');
    expect(media.statusCode).toBe(415);
    expect(media.json().code).toBe('REQ_ERR_UNSUPPORTED_MEDIA_TYPE');
    const big = await post(JSON.stringify({ id: 'x', name: 'y'.repeat(2 * 1024 * 1024) }), 'application/json');
    expect(big.statusCode).toBe(413);
    expect(big.json().code).toBe('REQ_ERR_BODY_TOO_LARGE');
  });
});

describe('health under load', () => {
  it('answers 503 SRV_ERR_OVERLOADED when load shedding refuses it, not a 500', async () => {
    const t = await startTestApp({ env: { INDOMAIN_MAX_INFLIGHT: '1' } });
    const socket = new net.Socket();
    try {
      await t.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = t.app.server.address() as AddressInfo;
      // A request whose body has not all arrived holds the only in-flight slot.
      socket.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      socket.write(`POST /v1/applicants HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${t.token(SUPERVISOR)}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{`);
      const health = () => fetch(`http://127.0.0.1:${port}/health`);
      let res = await health();
      // Until the server has read the held request's headers, /health may still get the slot.
      for (let tries = 0; res.status === 200 && tries < 100; tries++) res = await health();
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({ code: 'SRV_ERR_OVERLOADED', statusCode: 503 });
      socket.destroy();
      await once(socket, 'close');
      for (let tries = 0; res.status !== 200 && tries < 100; tries++) res = await health();
      expect(await res.json()).toEqual({ status: 'ok', store: { ready: true }, engine: { ready: true } });
    } finally {
      socket.destroy();
      await t.close({ remove: true });
    }
  });
});
