import type { LightMyRequestResponse } from 'fastify';

/**
 * Returns `res` when it has `status`; otherwise throws naming the request and showing the answer.
 * For the arrange part of tests (licensing, registering, ingesting, granting, creating): a setup
 * call that fails makes the test fail there, with its code and message, instead of later for a
 * reason that has nothing to do with what the test checks.
 */
export function expectStatus(res: LightMyRequestResponse, status: number): LightMyRequestResponse {
  if (res.statusCode !== status) {
    const { method, url } = res.raw.req;
    throw new Error(`${method} ${url}: expected ${status}, got ${res.statusCode}: ${res.body.slice(0, 2000)}`);
  }
  return res;
}
