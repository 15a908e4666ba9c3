import underPressure from '@fastify/under-pressure';
import type { FastifyInstance } from 'fastify';
import { OverloadedError } from './errors.js';

export interface LoadSheddingOptions {
  /** Requests being handled at once before new ones get 503. */
  maxInflight: number;
  /** Event-loop delay above which new requests get 503 (0: not checked). */
  maxEventLoopDelayMs: number;
}

/**
 * Refuses work instead of collapsing: a cap on requests in flight (deterministic, cheap) and
 * @fastify/under-pressure for event-loop delay. Both answer 503 SRV_ERR_OVERLOADED with Retry-After.
 * The in-flight hook is callback-style: it runs on every request, and an async hook costs a
 * promise per request for nothing.
 */
export async function installLoadShedding(app: FastifyInstance, options: LoadSheddingOptions): Promise<void> {
  let inflight = 0;
  const release = () => {
    inflight -= 1;
  };
  app.addHook('onRequest', (_request, reply, done) => {
    if (inflight >= options.maxInflight) {
      void reply.header('Retry-After', '1');
      done(new OverloadedError());
      return;
    }
    inflight += 1;
    // `close` fires once for every response, finished or aborted by the client.
    reply.raw.once('close', release);
    done();
  });
  if (options.maxEventLoopDelayMs > 0) {
    await app.register(underPressure, { maxEventLoopDelay: options.maxEventLoopDelayMs, retryAfter: 2, customError: OverloadedError });
  }
}
