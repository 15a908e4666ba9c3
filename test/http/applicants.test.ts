/** Registering application entities (应用主体), whose tokens then carry the id as `org`. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

describe('applicants', () => {
  let t: TestApp;
  beforeEach(async () => {
    t = await startTestApp();
  });
  afterEach(() => t.close({ remove: true }));

  it('registers an applicant, whose token then works, and audits it', async () => {
    const applicant = { role: 'applicant', org: 'city-bank', sub: 'ann' } as const;
    expect((await t.call(applicant, 'GET', '/v1/me')).json().code).toBe('AUTH_ERR_ORG_UNKNOWN');
    const res = await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-bank', name: '城市银行' });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ id: 'city-bank', name: '城市银行' });
    expect((await t.call(applicant, 'GET', '/v1/me')).json()).toEqual({ claims: applicant });
    expect((await t.call(SUPERVISOR, 'GET', '/v1/applicants')).json().applicants).toHaveLength(1);
    expect((await t.call(applicant, 'GET', '/v1/applicants/city-bank')).json().name).toBe('城市银行');
    expect((await t.call(applicant, 'GET', '/v1/applicants/other')).json().code).toBe('AUTH_ERR_ORG_MISMATCH');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/applicants/other')).json().code).toBe('APP_ERR_NOT_FOUND');
    const audit = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=applicant.create')).json().entries;
    expect(audit).toHaveLength(1);
  });

  it('refuses duplicates and bad ids', async () => {
    expect((await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'dup', name: 'x' })).statusCode).toBe(201);
    const dup = await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'dup', name: 'x' });
    expect(dup.statusCode).toBe(409);
    expect(dup.json().code).toBe('APP_ERR_ALREADY_EXISTS');
    const bad = await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'has space', name: 'x', extra: 1 });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('REQ_ERR_VALIDATION');
    expect((await t.call(SUPERVISOR, 'GET', '/v1/applicants')).json().applicants).toHaveLength(1);
  });
});
