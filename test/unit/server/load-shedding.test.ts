/** Load shedding answers 503 with Retry-After instead of queueing without bound. */
import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { installErrorHandling } from '../../../server/errors.js';
import { installLoadShedding } from '../../../server/load-shedding.js';

describe('load shedding', () => {
  it('refuses requests beyond the in-flight cap and recovers when they finish', async () => {
    const app = Fastify();
    installErrorHandling(app);
    await installLoadShedding(app, { maxInflight: 2, maxEventLoopDelayMs: 0 });
    const held: (() => void)[] = [];
    let bothHeld!: () => void;
    const holding = new Promise<void>((resolve) => (bothHeld = resolve));
    app.get('/hold', async () => {
      await new Promise<void>((release) => {
        held.push(release);
        if (held.length === 2) bothHeld();
      });
      return { ok: true };
    });
    app.get('/fast', async () => ({ ok: true }));
    await app.ready();

    const first = app.inject({ method: 'GET', url: '/hold' });
    const second = app.inject({ method: 'GET', url: '/hold' });
    await holding;
    const shed = await app.inject({ method: 'GET', url: '/fast' });
    expect(shed.statusCode).toBe(503);
    expect(shed.headers['retry-after']).toBe('1');
    expect(shed.json()).toMatchObject({ code: 'SRV_ERR_OVERLOADED', statusCode: 503 });

    held.forEach((release) => release());
    expect((await first).statusCode).toBe(200);
    expect((await second).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/fast' })).statusCode).toBe(200);
    await app.close();
  });
});
