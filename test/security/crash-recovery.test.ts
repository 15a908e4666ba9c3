/**
 * Invariants 3 and 5 under the worst kind of stop: the server is killed with SIGKILL in the middle
 * of a burst of tenant mutations, or of queries. After a restart, every mutation that was
 * acknowledged (201) is present with its audit entry, nothing is present without one, every
 * answered query has its entry (from the audit journal), and the chain verifies. What interrupted
 * work left on disk (raw uploads being received, half-built files) is gone after the restart, and
 * a second server started by mistake on a running server's data dir touches nothing.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { licenseAround, startTestApp, SUPERVISOR, TEST_JWT_SECRET } from '../helpers/test-app.js';
import { signDevToken } from '../../server/dev-tokens.js';
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const temps = [makeTempDir(), makeTempDir()];
afterAll(() => temps.forEach((temp) => temp.remove()));
const envFor = (dir: string) => ({ INDOMAIN_DATA_DIR: dir, INDOMAIN_JWT_SECRET: TEST_JWT_SECRET, INDOMAIN_DEMO: 'false', INDOMAIN_AUDIT_CHECKPOINT_EVERY: '50' });
const token = signDevToken(TEST_JWT_SECRET, SUPERVISOR, '1h');
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
const window = licenseAround(new Date(), -1, 100);

/**
 * Sends numbered requests from 16 clients until `enough` got the `success` status, then kills the
 * server with SIGKILL while the others are in flight. Returns the numbers that succeeded.
 */
async function burstUntilKilled(server: ServerProcess, send: (n: number) => Promise<Response>, success: number, enough = 300): Promise<number[]> {
  const acknowledged: number[] = [];
  const unexpected: number[] = [];
  let next = 0;
  let killed = false;
  const worker = async () => {
    while (!killed && next < 5000) {
      const n = next++;
      let status: number;
      try {
        status = (await send(n)).status;
      } catch {
        return; // the connection died with the server
      }
      if (status === success) acknowledged.push(n);
      else unexpected.push(status);
      if (acknowledged.length >= enough && !killed) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  expect((await server.exited).signal).toBe('SIGKILL');
  expect(acknowledged.length).toBeGreaterThanOrEqual(enough);
  expect(unexpected).toEqual([]);
  return acknowledged;
}

async function getJson(url: string): Promise<Record<string, unknown>> {
  return (await (await fetch(url, { headers })).json()) as Record<string, unknown>;
}

/** Every audit entry of one action, paged through `after`. */
async function auditEntries<T>(baseUrl: string, action: string): Promise<T[]> {
  const entries: T[] = [];
  let after: number | null = 0;
  while (after !== null) {
    const page = await getJson(`${baseUrl}/v1/audit?action=${action}&limit=1000&after=${after}`);
    entries.push(...(page.entries as T[]));
    after = page.next as number | null;
  }
  return entries;
}

describe('crash recovery', () => {
  it('keeps every acknowledged mutation and its audit entry across kill -9', async () => {
    const env = envFor(temps[0]!.dir);
    const server = await startServerProcess(env);
    const acknowledged = (await burstUntilKilled(server, (n) => fetch(`${server.url}/v1/tenants`, {
      method: 'POST', headers, body: JSON.stringify({ id: `t${n}`, name: `t${n}`, ...window }),
    }), 201)).map((n) => `t${n}`);

    const restarted = await startServerProcess(env);
    try {
      const present = new Set(((await getJson(`${restarted.url}/v1/tenants`)).tenants as { id: string }[]).map((t) => t.id));
      for (const id of acknowledged) expect(present.has(id), id).toBe(true);
      const created = (await auditEntries<{ target: string }>(restarted.url, 'tenant.create')).map((e) => e.target.replace('tenant:', ''));
      // Exactly one entry per tenant present: none lost, none without its state change.
      expect(created.sort()).toEqual([...present].sort());
      expect(await getJson(`${restarted.url}/v1/audit/verify`)).toMatchObject({ ok: true });
      expect(await getJson(`${restarted.url}/v1/audit?action=audit.integrity_alert`)).toMatchObject({ entries: [] });
    } finally {
      restarted.child.kill('SIGTERM');
      await restarted.exited;
    }
  });

  it('keeps the audit entry of every answered query across kill -9 (the audit journal)', async () => {
    // Sixteen clients of one tenant: above the default of four queries at once.
    const env = { ...envFor(temps[1]!.dir), INDOMAIN_QUERY_CONCURRENCY_PER_TENANT: '16' };
    const server = await startServerProcess(env);
    expect((await fetch(`${server.url}/v1/tenants`, { method: 'POST', headers, body: JSON.stringify({ id: 'acme', name: 'acme', ...window }) })).status).toBe(201);
    const operator = { authorization: `Bearer ${signDevToken(TEST_JWT_SECRET, { role: 'operator', org: 'acme', sub: 'olga' }, '1h')}`, 'content-type': 'application/json' };
    const answered = await burstUntilKilled(server, (n) => fetch(`${server.url}/v1/query`, {
      method: 'POST', headers: operator, body: JSON.stringify({ sql: `SELECT ${n} AS n`, env: 'dev' }),
    }), 200);

    const restarted = await startServerProcess(env);
    try {
      const queries = await auditEntries<{ details: { sql: string; outcome: string } }>(restarted.url, 'query.run');
      const audited = new Set(queries.filter((e) => e.details.outcome === 'ok').map((e) => e.details.sql));
      for (const n of answered) expect(audited.has(`SELECT ${n} AS n`), `SELECT ${n}`).toBe(true);
      expect(await getJson(`${restarted.url}/v1/audit/verify`)).toMatchObject({ ok: true });
    } finally {
      restarted.child.kill('SIGTERM');
      await restarted.exited;
    }
  });

  it('removes on start what interrupted work left: request temp files, unfinished builds and history rewrites', async () => {
    const dir = makeTempDir();
    try {
      const files = {
        upload: path.join(dir.dir, 'tmp', 'uploads', 'f81d4fae-raw-upload'),
        ingest: path.join(dir.dir, 'tmp', 'ingest', '0a1b2c3d-raw-ingest'),
        datasetBuild: path.join(dir.dir, 'domain', 'people', 'v2.duckdb.building'),
        datasetWal: path.join(dir.dir, 'domain', 'people', 'v2.duckdb.building.wal'),
        progress: path.join(dir.dir, 'domain', 'people', 'v2.progress.json'),
        tenantBuild: path.join(dir.dir, 'tenants', 'acme', 'granted-3.duckdb.building'),
        historyRewrite: path.join(dir.dir, 'tenants', 'acme', 'history.bin.4242.tmp'),
      };
      const kept = [path.join(dir.dir, 'domain', 'people', 'v1.duckdb'), path.join(dir.dir, 'tenants', 'acme', 'catalog.json'), path.join(dir.dir, 'tenants', 'acme', 'history.bin')];
      for (const file of [...Object.values(files), ...kept]) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, '110101199003077777,张三');
      }
      const app = await startTestApp({ dataDir: dir.dir });
      await app.close();
      for (const [what, file] of Object.entries(files)) expect(fs.existsSync(file), what).toBe(false);
      for (const file of kept) expect(fs.existsSync(file), file).toBe(true);
    } finally {
      dir.remove();
    }
  });

  it("leaves a running server's temp files alone when a second server is started on its data dir", async () => {
    const dir = makeTempDir();
    const env = envFor(dir.dir);
    const running = await startServerProcess(env);
    try {
      const inFlight = path.join(dir.dir, 'tmp', 'uploads', 'being-received');
      fs.mkdirSync(path.dirname(inFlight), { recursive: true });
      fs.writeFileSync(inFlight, 'id,name');
      // DuckDB's file lock on the control store stops the second one before it touches anything.
      await expect(startServerProcess(env)).rejects.toThrow(/lock/i);
      expect(fs.existsSync(inFlight)).toBe(true);
    } finally {
      running.child.kill('SIGTERM');
      await running.exited;
      dir.remove();
    }
  });
});
