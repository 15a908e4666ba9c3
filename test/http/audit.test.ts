/**
 * The audit chain through the API: filters and paging, checkpoints every N entries with an anchor
 * written outside the database, and verification end to end.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OTHER_SUPERVISOR = { role: 'supervisor', org: 'province', sub: 'pat' } as const;

describe('audit', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp({ env: { INDOMAIN_AUDIT_CHECKPOINT_EVERY: '5' } });
    const window = licenseAround(new Date(), -1, 100);
    for (let i = 0; i < 6; i++) expectStatus(await t.call(i % 2 ? OTHER_SUPERVISOR : SUPERVISOR, 'POST', '/v1/tenants', { id: `t${i}`, name: `t${i}`, ...window }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/t0/suspend'), 200);
  });
  afterEach(() => t.close({ remove: true }));

  const query = async (qs: string) => {
    const res = await t.call(SUPERVISOR, 'GET', `/v1/audit${qs}`);
    expect(res.statusCode).toBe(200);
    return res.json() as { entries: { seq: number; action: string; actor: { sub: string; org: string }; prevHash: string; hash: string }[]; next: number | null };
  };

  it('filters by actor, organization, action and action prefix', async () => {
    expect((await query('?actor=pat')).entries.map((e) => e.actor.sub)).toEqual(['pat', 'pat', 'pat']);
    expect((await query('?org=province')).entries).toHaveLength(3);
    expect((await query('?action=tenant.suspend')).entries).toHaveLength(1);
    expect((await query('?action=tenant.*')).entries.filter((e) => e.action === 'tenant.create')).toHaveLength(6);
  });

  it('filters by time range', async () => {
    const all = (await query('?limit=1000')).entries as unknown as { ts: string }[];
    const future = new Date(Date.now() + 3_600_000).toISOString();
    expect((await query(`?from=${encodeURIComponent(future)}`)).entries).toEqual([]);
    expect((await query(`?from=${encodeURIComponent(all[0]!.ts)}&to=${encodeURIComponent(future)}`)).entries).toHaveLength(all.length);
    const bad = await t.call(SUPERVISOR, 'GET', `/v1/audit?from=${encodeURIComponent(future)}&to=${encodeURIComponent(all[0]!.ts)}`);
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('AUD_ERR_BAD_FILTER');
  });

  it('pages by sequence number and links every entry to the one before', async () => {
    const seen: { seq: number; prevHash: string; hash: string }[] = [];
    let after: number | null = 0;
    while (after !== null) {
      const page = await query(`?limit=2&after=${after}`);
      seen.push(...page.entries);
      after = page.next;
    }
    expect(seen.map((e) => e.seq)).toEqual(seen.map((_, i) => i + 1));
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.prevHash).toBe(seen[i - 1]!.hash);
  });

  it('rejects bad filters with 400 naming the field', async () => {
    for (const qs of ['?limit=0', '?limit=5000', '?after=-1', '?from=yesterday', '?action=DROP%20TABLE']) {
      const res = await t.call(SUPERVISOR, 'GET', `/v1/audit${qs}`);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('REQ_ERR_VALIDATION');
      expect(res.json().message).toMatch(/^querystring\./);
    }
  });

  it('writes a signed checkpoint every N entries and anchors it outside the database', async () => {
    const checkpoints = (await query('?action=audit.checkpoint')).entries as unknown as { seq: number; details: { coversSeq: number; signature: string } }[];
    expect(checkpoints.length).toBeGreaterThanOrEqual(1);
    expect(checkpoints[0]!.details.coversSeq).toBe(checkpoints[0]!.seq - 1);
    const anchor = JSON.parse(fs.readFileSync(path.join(t.dataDir, 'audit-anchor.json'), 'utf8'));
    expect(anchor.seq).toBe(checkpoints[checkpoints.length - 1]!.seq);
    const report = (await t.call(SUPERVISOR, 'GET', '/v1/audit/verify')).json();
    expect(report).toMatchObject({ ok: true, checkpoints: checkpoints.length, anchoredSeq: anchor.seq });
    expect(report.entries).toBe(report.head.seq);
  });

  it('is for supervisors only', async () => {
    for (const url of ['/v1/audit', '/v1/audit/verify']) {
      const res = await t.call({ role: 'operator', org: 't1', sub: 'o' }, 'GET', url);
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
    }
  });
});
