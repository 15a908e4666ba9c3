/**
 * Policies that make sense (issue 10, item 6): PUT /v1/datasets/:id/policy refuses a rule that does
 * not fit its column's type or recognized kind with CAT_ERR_POLICY_MISFIT, naming column and reason,
 * and changes nothing (the previous policies stay, no tenant file is rebuilt); POST …/policy/preview
 * shows what a proposed policy makes of synthetic values, after the same checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { datasetMeta, ingest, residentsCsv } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

interface PreviewColumn { name: string; before: (string | null)[]; after: (string | null)[] | null; derived: { name: string; values: (string | null)[] }[] }

describe('policies that fit their columns', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    expectStatus(await ingest(t, datasetMeta('people'), Buffer.from(residentsCsv(300).csv)), 201);
    const births = ['编号,出生日期,registered', ...Array.from({ length: 200 }, (_, i) => `${i},19${50 + (i % 50)}-0${1 + (i % 9)}-1${i % 10},2020-0${1 + (i % 9)}-2${i % 10}`)].join('\n');
    const born = await ingest(t, datasetMeta('births'), Buffer.from(`${births}\n`));
    expectStatus(born, 201);
    expect(born.json().columns.find((c: { name: string }) => c.name === '出生日期')).toMatchObject({ type: 'DATE', pii: { kind: 'birth_date' } });
    const license = licenseAround(new Date(), -1, 100);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'acme', name: 'acme', ...license }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants/acme/grants', { dataset: 'people', purpose: 'test', until: license.licenseTo }), 201);
    await t.app.controlPlane.refinery.refresh('acme');
  });
  afterAll(() => t.close({ remove: true }));

  const policies = async (dataset = 'people') =>
    Object.fromEntries((await t.call(SUPERVISOR, 'GET', `/v1/datasets/${dataset}`)).json().columns.map((c: { name: string; policy: unknown }) => [c.name, c.policy]));
  const fileVersions = async () => {
    // A change that was accepted would have scheduled a build: wait for any, then read the versions.
    await t.app.controlPlane.refinery.idle();
    const { grantedVersion, devVersion } = expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/tenants/acme/grants'), 200).json();
    return { grantedVersion, devVersion };
  };
  const policyAudits = async () => (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.policy')).json().entries.length;

  it('refuses the issue\'s misfits in one PUT, naming each column and why, and changes nothing', async () => {
    const before = { policies: await policies(), versions: await fileVersions(), audits: await policyAudits() };
    expect(before.versions.grantedVersion).not.toBeNull();
    const res = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', {
      columns: {
        amount: { kind: 'mask', rule: 'mobile' },
        name: { kind: 'generalize', rule: 'year' },
        district: { kind: 'plain', derive: ['birth_year', 'gender', 'region'] },
        // Valid on its own: not applied either, since the change is refused as a whole.
        mobile: { kind: 'hidden' },
      },
    });
    expect(res.statusCode).toBe(422);
    const body = res.json();
    expect(body.code).toBe('CAT_ERR_POLICY_MISFIT');
    expect(body.message).toMatch(/columns\.amount: mask mobile does not fit column amount: it is DOUBLE/);
    expect(body.message).toMatch(/columns\.name: generalize year does not fit column name: it was recognized as name, and generalize year reads dates/);
    expect(body.message).toMatch(/columns\.district: derive \(birth_year, gender, region\) does not fit column district: recognition found no personal data in it, and derive .* reads resident IDs/);
    expect(body.details.problems.map((p: { column: string; reason: string }) => [p.column, p.reason])).toEqual([['amount', 'type'], ['name', 'kind'], ['district', 'kind']]);
    expect(body.details.problems[0].fitting).toContain('generalize bucket:<width>');

    expect(await policies()).toEqual(before.policies);
    expect((await policies()).mobile).toEqual({ kind: 'mask', rule: 'mobile' });
    expect(await fileVersions()).toEqual(before.versions);
    expect(await policyAudits()).toBe(before.audits);
  });

  it('reports unknown rules and columns first, as before (CAT_ERR_BAD_POLICY)', async () => {
    const res = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', { columns: { amount: { kind: 'mask', rule: 'mobile' }, nope: { kind: 'hidden' } } });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('CAT_ERR_BAD_POLICY');
  });

  it('accepts fitting policies, which publish one new version', async () => {
    const before = await fileVersions();
    const res = await t.call(SUPERVISOR, 'PUT', '/v1/datasets/people/policy', {
      columns: { amount: { kind: 'generalize', rule: 'bucket:100' }, id_card: { kind: 'hidden', derive: ['birth_year', 'region'] }, mobile: { kind: 'token', rule: 'identifier' } },
    });
    expectStatus(res, 200);
    expect(await policies()).toMatchObject({ amount: { kind: 'generalize', rule: 'bucket:100' }, mobile: { kind: 'token', rule: 'identifier' } });
    const after = await fileVersions();
    expect(after.grantedVersion).toBe(before.grantedVersion + 1);
  });

  it('previews a policy on synthetic values, by the refinery\'s SQL, without storing it', async () => {
    const before = { policies: await policies(), versions: await fileVersions(), audits: await policyAudits() };
    const res = await t.call(SUPERVISOR, 'POST', '/v1/datasets/people/policy/preview', {
      columns: {
        mobile: { kind: 'mask', rule: 'mobile' },
        id_card: { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender'] },
        name: { kind: 'mask', rule: 'name' },
        amount: { kind: 'generalize', rule: 'bucket:100' },
        bank_card: { kind: 'hidden' },
      },
    });
    expectStatus(res, 200);
    const body = res.json();
    expect(body).toMatchObject({ dataset: 'people', version: 1 });
    const byName = Object.fromEntries(body.columns.map((c: PreviewColumn) => [c.name, c])) as Record<string, PreviewColumn>;
    expect(Object.keys(byName)).toEqual(['mobile', 'id_card', 'name', 'amount', 'bank_card']);
    expect(byName.mobile).toMatchObject({ type: 'VARCHAR', pii: 'mobile', policy: { kind: 'mask', rule: 'mobile' } });
    for (const column of Object.values(byName)) expect(column.before).toHaveLength(5);
    // A masked mobile looks masked, and comes from a synthetic mobile.
    expect(byName.mobile!.before.every((v) => /^1[3-9]\d{9}$/.test(v!))).toBe(true);
    expect(byName.mobile!.after!.every((v) => /^1\d{2}\*{4}\d{4}$/.test(v!))).toBe(true);
    expect(byName.mobile!.after!.map((v) => v!.slice(-4))).toEqual(byName.mobile!.before.map((v) => v!.slice(-4)));
    // Tokens are not the input, and the derived columns are named as the tenant will see them.
    const ids = byName.id_card!.before;
    expect(ids.every((v) => /^\d{17}[\dX]$/.test(v!))).toBe(true);
    expect(byName.id_card!.after!.every((v, i) => /^[0-9a-f]{32}$/.test(v!) && v !== ids[i])).toBe(true);
    expect(byName.id_card!.derived.map((d) => d.name)).toEqual(['id_card_birth_year', 'id_card_gender']);
    expect(byName.id_card!.derived[0]!.values).toEqual(ids.map((id) => id!.slice(6, 10)));
    expect(byName.name!.after!.every((v, i) => v!.startsWith(Array.from(byName.name!.before[i]!)[0]!) && v!.includes('*'))).toBe(true);
    expect(byName.amount!.after!.every((v) => Number(v) % 100 === 0)).toBe(true);
    expect(byName.bank_card!.after).toBeNull();

    expect(await policies()).toEqual(before.policies);
    expect(await fileVersions()).toEqual(before.versions);
    expect(await policyAudits()).toBe(before.audits);
  });

  it('previews a generalized birth date as a year, and a registration date as a month', async () => {
    const res = expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/datasets/births/policy/preview', {
      columns: { 出生日期: { kind: 'generalize', rule: 'year' }, registered: { kind: 'generalize', rule: 'month' } },
    }), 200);
    const [born, registered] = res.json().columns as PreviewColumn[];
    expect(born!.before.every((v) => /^\d{4}-\d{2}-\d{2}$/.test(v!))).toBe(true);
    expect(born!.after!.every((v) => /^(19|20)\d{2}$/.test(v!))).toBe(true);
    expect(born!.after).toEqual(born!.before.map((v) => v!.slice(0, 4)));
    expect(registered!.after).toEqual(registered!.before.map((v) => v!.slice(0, 7)));
  });

  it('hides a policy that no longer fits when a new version changes the column, and keeps those that do', async () => {
    expectStatus(await ingest(t, datasetMeta('counts'), Buffer.from('label,amount\na,10\nb,25\nc,31\n')), 201);
    expectStatus(await t.call(SUPERVISOR, 'PUT', '/v1/datasets/counts/policy', { columns: { amount: { kind: 'generalize', rule: 'bucket:10' }, label: { kind: 'mask', rule: 'keep:1:0' } } }), 200);
    // Version 2 writes amounts as text: a bucket no longer fits them.
    const v2 = expectStatus(await ingest(t, datasetMeta('counts'), Buffer.from('label,amount\na,10\nb,n/a\nc,31\n')), 201).json();
    expect(v2.columns.find((c: { name: string }) => c.name === 'amount')).toMatchObject({ type: 'VARCHAR', policy: { kind: 'hidden' } });
    expect(await policies('counts')).toMatchObject({ label: { kind: 'mask', rule: 'keep:1:0' }, amount: { kind: 'hidden' } });
    const entries = (await t.call(SUPERVISOR, 'GET', '/v1/audit?action=dataset.ingest&target=dataset:counts')).json().entries;
    const entry = entries.find((e: { details: { version: number } }) => e.details.version === 2);
    expect(entry.details).toMatchObject({ version: 2, hiddenUnfitColumns: [{ column: 'amount', type: 'VARCHAR', kind: null }] });
  });

  it('refuses what PUT refuses, with the same codes', async () => {
    const misfit = await t.call(SUPERVISOR, 'POST', '/v1/datasets/births/policy/preview', { columns: { 出生日期: { kind: 'mask', rule: 'name' } } });
    expect(misfit.statusCode).toBe(422);
    expect(misfit.json().code).toBe('CAT_ERR_POLICY_MISFIT');
    expect(misfit.json().message).toMatch(/mask name does not fit column 出生日期: it is DATE/);
    const unknown = await t.call(SUPERVISOR, 'POST', '/v1/datasets/people/policy/preview', { columns: { nope: { kind: 'hidden' } } });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().code).toBe('CAT_ERR_BAD_POLICY');
    const plain = await t.call(SUPERVISOR, 'POST', '/v1/datasets/people/policy/preview', { columns: { name: { kind: 'plain' } } });
    expect(plain.json().code).toBe('CAT_ERR_BAD_POLICY');
    expect((await t.call(SUPERVISOR, 'POST', '/v1/datasets/ghost/policy/preview', { columns: { a: { kind: 'hidden' } } })).json().code).toBe('CAT_ERR_NOT_FOUND');
    expect((await t.call(SUPERVISOR, 'POST', '/v1/datasets/people/policy/preview', { columns: {} })).json().code).toBe('REQ_ERR_VALIDATION');
  });
});
