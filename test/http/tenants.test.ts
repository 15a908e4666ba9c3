/**
 * Licensing operating entities through the HTTP API: the contract's shapes, every refusal with its
 * code, and that each state change lands in the audit chain with the acting supervisor.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

describe('tenants', () => {
  let t: TestApp;
  const now = new Date();
  const window = licenseAround(now, -1, 365);
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(() => t.close({ remove: true }));

  const create = (body: object) => t.call(SUPERVISOR, 'POST', '/v1/tenants', body);
  const auditOf = async (target: string) => (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=${target}`)).json().entries as { action: string; actor: object; details: Record<string, unknown> }[];

  it('licenses an operating entity and lists it', async () => {
    const res = await create({ id: 'acme-data', name: '某某数据公司', ...window });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id: 'acme-data', name: '某某数据公司', status: 'active', ...window, licenseState: 'valid' });
    const list = await t.call(SUPERVISOR, 'GET', '/v1/tenants');
    expect(list.json().tenants.map((x: { id: string }) => x.id)).toEqual(['acme-data']);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/acme-data')).json().status).toBe('active');
    const [entry] = await auditOf('tenant:acme-data');
    expect(entry).toMatchObject({ action: 'tenant.create', actor: SUPERVISOR, details: { name: '某某数据公司', ...window } });
  });

  it('accepts exactly three years and refuses a day more', async () => {
    const from = window.licenseFrom;
    const [y, m, d] = from.split('-');
    const threeYears = `${Number(y) + 3}-${m}-${d}`;
    const lastDay = new Date(Date.parse(threeYears) - 86_400_000).toISOString().slice(0, 10);
    expect((await create({ id: 'exact', name: 'x', licenseFrom: from, licenseTo: lastDay })).statusCode).toBe(201);
    const tooLong = await create({ id: 'toolong', name: 'x', licenseFrom: from, licenseTo: threeYears });
    expect(tooLong.statusCode).toBe(400);
    expect(tooLong.json().code).toBe('TNT_ERR_LICENSE_TOO_LONG');
  });

  it.each([
    ['an end before its start', { id: 'bad-range', name: 'x', licenseFrom: window.licenseTo, licenseTo: window.licenseFrom }, 'TNT_ERR_LICENSE_RANGE'],
    ['a window that already ended', { id: 'ended', name: 'x', ...licenseAround(now, -30, -3) }, 'TNT_ERR_LICENSE_ENDED'],
    ['an impossible date', { id: 'baddate', name: 'x', licenseFrom: '2026-02-30', licenseTo: window.licenseTo }, 'REQ_ERR_VALIDATION'],
    ['an upper-case id', { id: 'Acme', name: 'x', ...window }, 'REQ_ERR_VALIDATION'],
    ['a path-like id', { id: '../etc', name: 'x', ...window }, 'REQ_ERR_VALIDATION'],
    ['an empty name', { id: 'noname', name: '  ', ...window }, 'REQ_ERR_VALIDATION'],
    ['a missing field', { id: 'nofrom', name: 'x', licenseTo: window.licenseTo }, 'REQ_ERR_VALIDATION'],
    ['a misspelt field', { id: 'typo', name: 'x', licenseFrom: window.licenseFrom, licenceTo: window.licenseTo }, 'REQ_ERR_VALIDATION'],
  ])('refuses %s with a 400 naming the problem, and records nothing', async (_label, body, code) => {
    const res = await create(body);
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ statusCode: 400, code });
    expect(res.json().message.length).toBeGreaterThan(5);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants')).json().tenants).toEqual([]);
    expect((await t.call(SUPERVISOR, 'GET', '/v1/audit')).json().entries).toEqual([]);
  });

  it('names an unknown field instead of dropping it', async () => {
    const res = await create({ id: 'typo', name: 'x', ...window, status: 'suspended' });
    expect(res.statusCode).toBe(400);
    expect(res.json().message).toContain('status');
  });

  it('names every bad field at once', async () => {
    const res = await create({ id: 'X', name: '', licenseFrom: 'tomorrow' });
    expect(res.statusCode).toBe(400);
    const fields = res.json().details.problems.map((p: { field: string }) => p.field);
    expect(fields).toEqual(expect.arrayContaining(['body.id', 'body.name', 'body.licenseFrom', 'body.licenseTo']));
  });

  it('refuses a duplicate id with 409, even after revocation', async () => {
    expect((await create({ id: 'dup', name: 'x', ...window })).statusCode).toBe(201);
    const again = await create({ id: 'dup', name: 'y', ...window });
    expect(again.statusCode).toBe(409);
    expect(again.json().code).toBe('TNT_ERR_ALREADY_EXISTS');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/dup/revoke'), 200);
    expect((await create({ id: 'dup', name: 'z', ...window })).json().code).toBe('TNT_ERR_ALREADY_EXISTS');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/dup')).json().name).toBe('x');
  });

  it('answers 404 for an unknown tenant on every verb', async () => {
    expect((await t.call(SUPERVISOR, 'GET', '/v1/tenants/nobody')).json().code).toBe('TNT_ERR_NOT_FOUND');
    for (const verb of ['suspend', 'resume', 'revoke']) {
      const res = await t.call(SUPERVISOR, 'POST', `/v1/tenants/nobody/${verb}`);
      expect(res.statusCode).toBe(404);
      expect(res.json().code).toBe('TNT_ERR_NOT_FOUND');
    }
  });

  it('moves through suspend and resume, refusing transitions that make no sense', async () => {
    expectStatus(await create({ id: 'flow', name: 'x', ...window }), 201);
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/flow/resume')).json().code).toBe('TNT_ERR_INVALID_TRANSITION');
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/flow/suspend')).json()).toEqual({ id: 'flow', status: 'suspended' });
    const twice = await t.call(SUPERVISOR, 'POST', '/v1/tenants/flow/suspend');
    expect(twice.statusCode).toBe(409);
    expect((await t.call(SUPERVISOR, 'POST', '/v1/tenants/flow/resume')).json()).toEqual({ id: 'flow', status: 'active' });
    const actions = (await auditOf('tenant:flow')).map((e) => e.action);
    expect(actions).toEqual(['tenant.create', 'tenant.suspend', 'tenant.resume']);
  });

  it('revokes for good: wipes the tenant directory and records every file destroyed', async () => {
    expectStatus(await create({ id: 'gone', name: 'x', ...window }), 201);
    const dir = path.join(t.dataDir, 'tenants', 'gone');
    fs.mkdirSync(path.join(dir, 'nested'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'workspace.duckdb'), 'secret rows');
    fs.writeFileSync(path.join(dir, 'nested', 'upload.csv'), 'a,b\n1,2\n');
    const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants/gone/revoke');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ id: 'gone', status: 'revoked', wiped: { files: 2, bytes: 19 } });
    expect(fs.existsSync(dir)).toBe(false);
    const entries = await auditOf('tenant:gone');
    expect(entries.map((e) => e.action)).toEqual(['tenant.create', 'tenant.revoke', 'tenant.wipe']);
    expect(entries[2]!.details).toEqual({
      files: [
        { path: path.join('nested', 'upload.csv'), bytes: 8, sha256: '492d5ea496056f1a6a6592241032fab764c321596317930b4fa0e1e8bc3b7470' },
        { path: 'workspace.duckdb', bytes: 11, sha256: 'b4cfc0753e98c77a975a91f258c430e474af14e9a1853a47bc213aa3b4147269' },
      ],
      totalBytes: 19,
    });
    const again = await t.call(SUPERVISOR, 'POST', '/v1/tenants/gone/revoke');
    expect(again.statusCode).toBe(409);
  });

  it('finishes a wipe that a crash interrupted, on the next start', async () => {
    expectStatus(await create({ id: 'half', name: 'x', ...window }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/half/revoke'), 200);
    // As if the process died after committing the revocation and before wiping: files reappear.
    const dir = path.join(t.dataDir, 'tenants', 'half');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'workspace.duckdb'), 'left behind');
    await t.app.close();
    const restarted = await startTestApp({ dataDir: t.dataDir });
    try {
      expect(fs.existsSync(dir)).toBe(false);
      const res = await restarted.call(SUPERVISOR, 'GET', '/v1/audit?target=tenant:half');
      const wipes = res.json().entries.filter((e: { action: string }) => e.action === 'tenant.wipe');
      expect(wipes).toHaveLength(2);
      expect(wipes[1].actor.role).toBe('system');
      expect(wipes[1].details.files[0].path).toBe('workspace.duckdb');
    } finally {
      await restarted.app.close();
    }
  });
});
