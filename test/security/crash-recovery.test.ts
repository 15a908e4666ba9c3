/**
 * Invariants 3 and 5 under the worst kind of stop: the server is killed with SIGKILL in the middle
 * of a burst of tenant mutations. After a restart, every mutation that was acknowledged (201) is
 * present with its audit entry, nothing is present without one, and the chain verifies.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { licenseAround, SUPERVISOR, TEST_JWT_SECRET } from '../helpers/test-app.js';
import { signDevToken } from '../../server/dev-tokens.js';
import { startServerProcess } from '../helpers/server-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const temp = makeTempDir();
afterAll(() => temp.remove());
const env = { INDOMAIN_DATA_DIR: temp.dir, INDOMAIN_JWT_SECRET: TEST_JWT_SECRET, INDOMAIN_DEMO: 'false', INDOMAIN_AUDIT_CHECKPOINT_EVERY: '50' };
const token = signDevToken(TEST_JWT_SECRET, SUPERVISOR, '1h');
const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

describe('crash recovery', () => {
  it('keeps every acknowledged mutation and its audit entry across kill -9', async () => {
    const server = await startServerProcess(env);
    const window = licenseAround(new Date(), -1, 100);
    const acknowledged: string[] = [];
    const unexpected: number[] = [];
    let next = 0;
    let killed = false;
    const worker = async () => {
      while (!killed && next < 5000) {
        const id = `t${next++}`;
        let status: number;
        try {
          status = (await fetch(`${server.url}/v1/tenants`, { method: 'POST', headers, body: JSON.stringify({ id, name: id, ...window }) })).status;
        } catch {
          return; // the connection died with the server
        }
        if (status === 201) acknowledged.push(id);
        else unexpected.push(status);
        if (acknowledged.length >= 300 && !killed) {
          killed = true;
          server.child.kill('SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    expect((await server.exited).signal).toBe('SIGKILL');
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);
    expect(unexpected).toEqual([]);

    const restarted = await startServerProcess(env);
    try {
      const get = async (path: string) => (await (await fetch(`${restarted.url}${path}`, { headers })).json()) as Record<string, unknown>;
      const present = new Set(((await get('/v1/tenants')).tenants as { id: string }[]).map((t) => t.id));
      for (const id of acknowledged) expect(present.has(id), id).toBe(true);
      const created: string[] = [];
      let after: number | null = 0;
      while (after !== null) {
        const page = await get(`/v1/audit?action=tenant.create&limit=1000&after=${after}`);
        created.push(...(page.entries as { target: string }[]).map((e) => e.target.replace('tenant:', '')));
        after = page.next as number | null;
      }
      // Exactly one entry per tenant present: none lost, none without its state change.
      expect(created.sort()).toEqual([...present].sort());
      expect(await get('/v1/audit/verify')).toMatchObject({ ok: true });
      expect(await get('/v1/audit?action=audit.integrity_alert')).toMatchObject({ entries: [] });
    } finally {
      restarted.child.kill('SIGTERM');
      await restarted.exited;
    }
  });
});
