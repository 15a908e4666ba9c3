/**
 * Servers for the benchmarks, each in its own process like production. Each reports `{ port, ... }`
 * over the IPC channel when listening; logs go to stdout, which the bench points at /dev/null.
 *
 * - `app`: the real service over a temp data dir (demo seeded and built). With BENCH_TENANT_ROWS it also
 *   licenses tenant `bench` and publishes `residents` (that many rows) and `big`
 *   (BENCH_BIG_ROWS rows) into its granted and dev files through the engine's publish interface;
 *   BENCH_DISCLOSURE_ROWS adds `pay_personal` and `pay_plain`, BENCH_EXPORT_ROWS adds `pay_rows`.
 *   With BENCH_GRANT_DATASETS (comma-separated ids) it ingests those datasets (BENCH_GRANT_ROWS rows,
 *   default 100k) without granting them; BENCH_FULL_REBUILDS=1 turns the refinery's carrying off.
 * - `bare`: a plain Fastify route returning a tenant-shaped body (anchor for authenticated reads).
 * - `bare-engine`: Fastify + piscina + DuckDB over a copy of the granted file, no auth, no gate,
 *   no audit (anchor for query throughput).
 */
import fs from 'node:fs';
import path from 'node:path';
import Fastify from 'fastify';
import { Piscina } from 'piscina';
import { nameSql, residentIdSql } from '../desensitize/index.js';
import { tenantDirectory } from '../sandbox/index.js';
import { buildApp } from '../server/app.js';
import { loadConfig } from '../server/config.js';
import { SYSTEM_ACTOR } from '../tenants/index.js';

const mode = process.argv[2];
const LOGGER = { level: 'info' } as const;

async function listen(app: ReturnType<typeof Fastify>, extra: Record<string, unknown> = {}): Promise<void> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  process.on('SIGTERM', () => void app.close().then(() => process.exit(0)));
  process.send!({ port: (app.server.address() as { port: number }).port, ...extra });
}

if (mode === 'bare') {
  const app = Fastify({ logger: LOGGER });
  const body = { id: 'demo', name: 'demo', status: 'active', licenseFrom: '2026-01-01', licenseTo: '2028-12-31', createdAt: new Date().toISOString(), updatedAt: new Date().toISOString(), licenseState: 'valid' };
  app.get('/bare', async () => body);
  await listen(app);
} else if (mode === 'bare-engine') {
  const app = Fastify({ logger: LOGGER });
  // Two single-thread pools, like the engine host's, so each thread can be told to close its DuckDB.
  const pools = Array.from({ length: 2 }, () => new Piscina({
    filename: new URL('./bare-query.worker.js', import.meta.url).href,
    minThreads: 1,
    maxThreads: 1,
    concurrentTasksPerWorker: 16,
    workerData: { grantedFile: process.env.BENCH_GRANTED_FILE },
  }));
  let next = 0;
  app.post('/query', async (request) => pools[next++ % pools.length]!.run({ sql: (request.body as { sql: string }).sql }));
  app.addHook('onClose', async () => {
    await Promise.all(pools.map(async (pool) => {
      await pool.run({ close: true });
      await pool.close();
    }));
  });
  await listen(app);
} else if (mode === 'app') {
  const result = loadConfig({ ...process.env, INDOMAIN_PORT: '0', INDOMAIN_LOG_LEVEL: LOGGER.level });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  const app = await buildApp(result.config, {
    ...(process.env.BENCH_PROFILE_ENGINE ? { engineExecArgv: ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_ENGINE}`] } : {}),
    ...(process.env.BENCH_FULL_REBUILDS === '1' ? { fullRebuilds: true } : {}),
  });
  if (process.env.BENCH_GRANT_DATASETS) {
    // Datasets for the incremental-grant figure (bench/refinery.ts): ingested, not yet granted.
    const today = app.controlPlane.today();
    const rows = Number(process.env.BENCH_GRANT_ROWS ?? 100_000);
    for (const id of process.env.BENCH_GRANT_DATASETS.split(',')) {
      const exists = await app.controlPlane.catalog.get(id, 'supervisor').then(() => true, () => false);
      if (exists) continue;
      const sql = `SELECT i AS id, ${nameSql('i', 21)} AS name, (i % 8)::INTEGER AS district, strftime(DATE '2025-01-01' + INTERVAL (CAST(i % 22 AS INTEGER)) MONTH, '%Y-%m') AS month, (300 + hash(i, 'amount') % 2700)::DOUBLE AS amount FROM range(${rows}) t(i)`;
      await app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, { id, name: id, provider: 'bench', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: today }, sql);
    }
  }
  let grantedFile: string | undefined;
  if (process.env.BENCH_TENANT_ROWS) {
    // Through the real pipeline (ingest, grant, refinery): answers carry lineage and pass its checks.
    const today = app.controlPlane.today();
    const licenseTo = `${Number(today.slice(0, 4)) + 1}${today.slice(4)}`;
    await app.controlPlane.tenants.create(SYSTEM_ACTOR, { id: 'bench', name: 'bench', licenseFrom: today, licenseTo });
    const rows = Number(process.env.BENCH_TENANT_ROWS);
    const bigRows = Number(process.env.BENCH_BIG_ROWS ?? 0);
    const datasets = [
      { id: 'bench_people', sql: `SELECT range AS id, 'name-' || range AS name, range % 16 AS district FROM range(${rows})` },
      { id: 'big', sql: `SELECT range AS id, range % 16 AS district, (range * 7919) % 10000 / 100.0 AS amount FROM range(${bigRows})` },
    ];
    const disclosureRows = Number(process.env.BENCH_DISCLOSURE_ROWS ?? 0);
    if (disclosureRows > 0) {
      // The same payments twice: keyed by resident IDs (personal: checked in prod) and by a plain number (answers freely).
      const people = `(SELECT range AS i, range // 5 AS p, (range * 7919) % 10000 / 100.0 AS amount FROM range(${disclosureRows}))`;
      datasets.push(
        { id: 'pay_personal', sql: `SELECT ${residentIdSql('p', 3)} AS id_card, 'd' || (p % 1000) AS district, amount FROM ${people}` },
        { id: 'pay_plain', sql: `SELECT p AS person, 'd' || (p % 1000) AS district, amount FROM ${people}` },
      );
    }
    const exportRows = Number(process.env.BENCH_EXPORT_ROWS ?? 0);
    if (exportRows > 0) {
      // Payments of people (5 each) for the row-level export figure: resident IDs (tokenized, with
      // derived birth year, gender and region), a district and an amount.
      datasets.push({ id: 'pay_rows', sql: `SELECT ${residentIdSql('p', 5)} AS id_card, 'd' || (p % 50) AS district, (i * 7919) % 10000 / 100.0 AS amount FROM (SELECT range AS i, range // 5 AS p FROM range(${exportRows}))` });
    }
    for (const { id, sql } of datasets) {
      await app.controlPlane.catalog.ingestGenerated(SYSTEM_ACTOR, { id, name: id, provider: 'bench', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none', updateFrequency: 'once', acquiredAt: today }, sql);
      await app.controlPlane.grants.create(SYSTEM_ACTOR, 'bench', { dataset: id, purpose: 'bench', until: licenseTo });
    }
    await app.controlPlane.refinery.refresh('bench');
    if (process.env.BENCH_BOMBER) {
      // A second tenant for the noisy-neighbour figure, granted the same small dataset.
      await app.controlPlane.tenants.create(SYSTEM_ACTOR, { id: 'bomber', name: 'bomber', licenseFrom: today, licenseTo });
      await app.controlPlane.grants.create(SYSTEM_ACTOR, 'bomber', { dataset: 'bench_people', purpose: 'bench', until: licenseTo });
      await app.controlPlane.refinery.refresh('bomber');
    }
    const tenantDir = tenantDirectory(result.config.dataDir, 'bench');
    const catalog = JSON.parse(fs.readFileSync(path.join(tenantDir, 'catalog.json'), 'utf8')) as { granted: { file: string } };
    grantedFile = path.join(tenantDir, catalog.granted.file);
  }
  // The demo domain's first build runs off the request path: let it finish, so that no figure
  // shares the machine with it.
  await app.controlPlane.refinery.idle();
  await listen(app, { grantedFile });
} else {
  throw new Error('usage: serve.js app|bare|bare-engine');
}
