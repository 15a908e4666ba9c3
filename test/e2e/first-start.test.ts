/**
 * The README's promise, end to end on a real process: `npm start` on an empty data dir seeds the
 * demo domain, serves /health and prints one working development token per role; the token CLI signs
 * with the same secret; SIGTERM shuts down cleanly with a final checkpoint; the offline verifier
 * accepts the chain; a second start does not seed again.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const run = promisify(execFile);
const temp = makeTempDir();
afterAll(() => temp.remove());

const env = { INDOMAIN_DATA_DIR: temp.dir };
const get = async (url: string, token?: string) => {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

describe('first start', () => {
  it('seeds the demo domain, prints working tokens, and shuts down cleanly', async () => {
    // Seeding generates and refines 620k rows of demo data before the server listens: about 30 s on
    // an idle 2-core machine, several times that on a busy one.
    const server = await startServerProcess(env, 300_000);
    try {
      expect((await get(`${server.url}/health`)).status).toBe(200);
      // Before it listened, it said what it was doing: a line per dataset with its rows, then the tenant's files.
      const progress = server.stdout().slice(0, server.stdout().indexOf('indomain listening on'));
      expect(progress).toMatch(/^indomain: first start: generating the demo domain \(620,000 rows of synthetic data\)/m);
      for (const [id, rows] of [['residents', '100,000'], ['enterprises', '20,000'], ['social_insurance', '500,000']]) {
        expect(progress).toMatch(new RegExp(`^indomain: +\\[\\d/4\\] ${id}: ${rows} rows in \\d+\\.\\d s \\(\\d+% of the demo rows\\)$`, 'm'));
      }
      expect(progress).toMatch(/\(100% of the demo rows\)\nindomain: +\[4\/4\] building demo's prod and dev files/);
      expect(progress).toMatch(/^indomain: demo domain ready in \d+\.\d s$/m);
      const tokens = Object.fromEntries([...server.stdout().matchAll(/^\s+(supervisor|operator|applicant)\s+\(org ([\w-]+)\): (\S+)$/gm)].map((m) => [m[1], m[3]]));
      expect(Object.keys(tokens).sort()).toEqual(['applicant', 'operator', 'supervisor']);
      expect((await get(`${server.url}/v1/tenants`, tokens.supervisor)).body.tenants).toMatchObject([{ id: 'demo', status: 'active', licenseState: 'valid' }]);
      expect((await get(`${server.url}/v1/tenants/demo`, tokens.operator)).status).toBe(200);
      expect((await get(`${server.url}/v1/me`, tokens.applicant)).body).toEqual({ claims: { role: 'applicant', org: 'demo-applicant', sub: 'applicant' } });
      const datasets = (await get(`${server.url}/v1/datasets`, tokens.operator)).body.datasets as { id: string; rows: number }[];
      expect(datasets.map((d) => `${d.id}:${d.rows}`)).toEqual(['enterprises:20000', 'residents:100000', 'social_insurance:500000']);
      const joined = await fetch(`${server.url}/v1/query`, {
        method: 'POST', headers: { authorization: `Bearer ${tokens.operator}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sql: 'SELECT count(*) AS n FROM social_insurance s JOIN residents r ON s.id_card = r.id_card', env: 'prod' }),
      });
      expect(((await joined.json()) as { rows: unknown[][] }).rows).toEqual([['500000']]);

      const { stdout } = await run(process.execPath, [path.resolve('dist/server/cli/token.js'), '--role', 'operator', '--org', 'demo', '--sub', 'cli'], { env: { ...process.env, ...env } });
      expect(stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect((await get(`${server.url}/v1/me`, stdout.trim())).body).toEqual({ claims: { role: 'operator', org: 'demo', sub: 'cli' } });
    } finally {
      server.child.kill('SIGTERM');
    }
    expect(await server.exited).toEqual({ code: 0, signal: null });

    const { stdout } = await run(process.execPath, [path.resolve('dist/server/cli/audit-verify.js'), '--data-dir', temp.dir]);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ ok: true });
    expect(report.checkpoints).toBeGreaterThanOrEqual(1);
    expect(report.anchoredSeq).toBe(report.head.seq);
  }, 420_000);

  it('does not seed again on the next start', async () => {
    const server = await startServerProcess(env);
    try {
      expect(server.stdout()).not.toContain('first start');
      const supervisor = /supervisor\s+\(org [\w-]+\): (\S+)/.exec(server.stdout())![1]!;
      const creates = (await get(`${server.url}/v1/audit?action=tenant.create`, supervisor)).body.entries as unknown[];
      expect(creates).toHaveLength(1);
      expect((await get(`${server.url}/v1/audit?action=dataset.ingest`, supervisor)).body.entries as unknown[]).toHaveLength(3);
    } finally {
      server.child.kill('SIGTERM');
    }
    expect((await server.exited).code).toBe(0);
  });

  it('refuses to start with a bad configuration, naming every problem', async () => {
    const failed = await run(process.execPath, [path.resolve('dist/server/main.js')], { env: { PATH: process.env.PATH, INDOMAIN_PORT: 'x', INDOMAIN_DEMO: 'perhaps' } }).catch((error: { code: number; stderr: string }) => error);
    expect('code' in failed && failed.code).toBe(2);
    expect((failed as { stderr: string }).stderr).toMatch(/INDOMAIN_PORT[\s\S]*INDOMAIN_DEMO|INDOMAIN_DEMO[\s\S]*INDOMAIN_PORT/);
  });
});
