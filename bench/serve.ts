/**
 * A server for the benchmarks, in its own process like production: `app` is the real service over
 * a temp data dir with the demo seeded; `bare` is a plain Fastify route with the same logger
 * settings, returning a tenant-shaped JSON body (the anchor for read throughput).
 * Reports `{ port }` over the IPC channel when listening; logs go to stdout, which the bench points
 * at /dev/null (like a log shipper that keeps up).
 */
import Fastify from 'fastify';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';

const mode = process.argv[2];
const LOGGER = { level: 'info' } as const;

if (mode === 'bare') {
  const app = Fastify({ logger: LOGGER });
  const body = { id: 'demo', name: 'demo', status: 'active', licenseFrom: '2026-01-01', licenseTo: '2028-12-31', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), licenseState: 'valid' };
  app.get('/bare', async () => body);
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.send!({ port: (app.server.address() as { port: number }).port });
} else if (mode === 'app') {
  const result = loadConfig({ ...process.env, INDOMAIN_PORT: '0', INDOMAIN_LOG_LEVEL: LOGGER.level });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  const app = await buildApp(result.config);
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.send!({ port: (app.server.address() as { port: number }).port });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
} else {
  throw new Error('usage: serve.js app|bare');
}
