import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../server/app.js';
import { loadConfig, type Config } from '../../server/config.js';
import { signDevToken } from '../../server/dev-tokens.js';
import type { Claims } from '../../tenants/index.js';
import { makeTempDir } from './temp-dir.js';

export const TEST_JWT_SECRET = 'test-secret-that-is-long-enough-for-hs256-0123456789';
export const SUPERVISOR: Claims = { role: 'supervisor', org: 'authority', sub: 'sue' };

export interface TestApp {
  app: FastifyInstance;
  config: Config;
  dataDir: string;
  /** A development token for these claims. */
  token(claims: Claims, ttl?: string): string;
  /** An injected request with a bearer token for `claims`. */
  call(claims: Claims | undefined, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, body?: unknown): Promise<LightMyRequestResponse>;
  /** Closes the app; keeps the data dir (for restarts) unless `remove` is set. */
  close(options?: { remove?: boolean }): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: () => Date;
  /** Reuse a data dir (to restart over the same files). */
  dataDir?: string;
  /** Receives the production log (at INDOMAIN_LOG_LEVEL from `env`) instead of silencing it. */
  logStream?: { write(line: string): void };
}

/**
 * Load shedding off in tests, unless a test sets these itself: on a busy machine the event-loop
 * shedder answers 503 to requests that have nothing to do with load. Shedding has its own test
 * (test/unit/server/load-shedding.test.ts).
 */
export const NO_LOAD_SHEDDING_ENV: Readonly<Record<string, string>> = {
  INDOMAIN_MAX_EVENT_LOOP_DELAY_MS: '0',
  INDOMAIN_MAX_INFLIGHT: '1000000',
};

/** The real app over a temp data dir, with a silent logger, demo seeding and load shedding off unless asked. */
export async function startTestApp(options: TestAppOptions = {}): Promise<TestApp> {
  const temp = options.dataDir ? undefined : makeTempDir();
  const dataDir = options.dataDir ?? temp!.dir;
  const result = loadConfig({
    INDOMAIN_DATA_DIR: dataDir,
    INDOMAIN_DEMO: 'false',
    INDOMAIN_JWT_SECRET: TEST_JWT_SECRET,
    INDOMAIN_LOG_LEVEL: 'silent',
    INDOMAIN_AUDIT_CHECKPOINT_INTERVAL_MS: '0',
    ...NO_LOAD_SHEDDING_ENV,
    ...options.env,
  });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  const config = result.config;
  const app = await buildApp(config, {
    ...(options.logStream ? { logStream: options.logStream } : { logger: false }),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const token = (claims: Claims, ttl = '1h') => signDevToken(TEST_JWT_SECRET, claims, ttl);
  return {
    app,
    config,
    dataDir,
    token,
    call: (claims, method, url, body) =>
      app.inject({ method, url, headers: claims ? { authorization: `Bearer ${token(claims)}` } : {}, ...(body === undefined ? {} : { payload: body as object }) }),
    async close(closeOptions = {}) {
      await app.close();
      if (closeOptions.remove) temp?.remove();
    },
  };
}

/** A license window around today: from `fromDays` to `toDays` days from `now` (UTC dates). */
export function licenseAround(now: Date, fromDays: number, toDays: number): { licenseFrom: string; licenseTo: string } {
  const day = (offset: number) => new Date(now.getTime() + offset * 86_400_000).toISOString().slice(0, 10);
  return { licenseFrom: day(fromDays), licenseTo: day(toDays) };
}
