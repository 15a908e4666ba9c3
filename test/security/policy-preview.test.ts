/**
 * The policy preview (POST /v1/datasets/:id/policy/preview) is the supervisor's, shows no value of
 * the dataset (not even the catalog's top values of a non-personal column, which a synthetic twin
 * would draw from) and tokenizes with a key of its own, never a tenant's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit, residentIdCheckChar } from '../../desensitize/index.js';
import { datasetMeta, ingest } from '../helpers/dataset-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

interface PreviewColumn { name: string; before: (string | null)[]; after: (string | null)[] | null; derived: { name: string; values: (string | null)[] }[] }

/** Rows whose every value is known: identifiers, names with a marker, marker categories, large amounts. */
function markedCsv(rows: number): { csv: string; values: Set<string> } {
  const values = new Set<string>();
  const lines = ['id_card,name,mobile,bank_card,category,amount,registered'];
  for (let i = 0; i < rows; i++) {
    const first17 = `110105${1960 + (i % 40)}0${1 + (i % 9)}2${i % 8}${String(i % 1000).padStart(3, '0')}`;
    const payload = `621700${String(900_000_000_000 + i).slice(-12)}`;
    const row = [
      first17 + residentIdCheckChar(first17), `欧阳标记${'甲乙丙丁'[i % 4]}`, `1${5 + (i % 4)}9${String(77_000_000 + i * 31).slice(-8)}`,
      payload + luhnCheckDigit(payload), `MARKER-${i % 4}`, String(7_000_000_000 + i * 13), `1995-1${i % 3}-0${1 + (i % 9)}`,
    ];
    row.forEach((v) => values.add(v));
    lines.push(row.join(','));
  }
  return { csv: `${lines.join('\n')}\n`, values };
}

describe('policy preview', () => {
  let t: TestApp;
  const data = markedCsv(400);
  beforeAll(async () => {
    t = await startTestApp();
    const res = expectStatus(await ingest(t, datasetMeta('marked'), Buffer.from(data.csv)), 201);
    const kinds = Object.fromEntries(res.json().columns.map((c: { name: string; pii: { kind: string } | null }) => [c.name, c.pii?.kind ?? null]));
    expect(kinds).toMatchObject({ id_card: 'resident_id', name: 'name', mobile: 'mobile', bank_card: 'bank_card', category: null, amount: null });
    // The category's markers are in the catalog's profile: a preview drawing from it would show them.
    expect(res.json().columns.find((c: { name: string }) => c.name === 'category').topValues.map((v: { value: string }) => v.value)).toContain('MARKER-0');
    const license = licenseAround(new Date(), -1, 100);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'acme', name: 'acme', ...license }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'bank', name: 'bank' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  const preview = (claims: Parameters<TestApp['call']>[0], columns: Record<string, unknown>) => t.call(claims, 'POST', '/v1/datasets/marked/policy/preview', { columns });

  it('is refused to operators and applicants', async () => {
    for (const claims of [{ role: 'operator', org: 'acme', sub: 'olga' }, { role: 'applicant', org: 'bank', sub: 'ann' }] as const) {
      const res = await preview(claims, { name: { kind: 'plain', reason: 'x' } });
      expect(res.statusCode).toBe(403);
      expect(res.json().code).toBe('AUTH_ERR_ROLE_FORBIDDEN');
      expect(res.body).not.toContain('columns');
    }
  });

  it('never shows a value of the dataset, even with every column plain', async () => {
    const plain = { kind: 'plain', reason: 'preview test' };
    const shown: string[] = [];
    const bodies = [
      { id_card: plain, name: plain, mobile: plain, bank_card: plain, category: { kind: 'plain' }, amount: { kind: 'plain' }, registered: { kind: 'plain' } },
      { id_card: { kind: 'mask', rule: 'resident_id', derive: ['birth_year', 'gender', 'region'] }, name: { kind: 'mask', rule: 'keep:2:0' }, mobile: { kind: 'token' },
        category: { kind: 'mask', rule: 'keep:6:1' }, amount: { kind: 'generalize', rule: 'bucket:1' }, registered: { kind: 'generalize', rule: 'month' } },
    ];
    for (const columns of bodies) {
      const res = expectStatus(await preview(SUPERVISOR, columns), 200);
      for (const column of res.json().columns as PreviewColumn[]) {
        shown.push(...[...column.before, ...(column.after ?? []), ...column.derived.flatMap((d) => d.values)].filter((v): v is string => v !== null));
      }
    }
    expect(shown.length).toBeGreaterThan(60);
    expect(shown.filter((v) => data.values.has(v))).toEqual([]);
    expect(shown.filter((v) => /MARKER|标记/.test(v))).toEqual([]);
  });

  it('tokenizes with a key made for each preview: the same synthetic value gets another token every time', async () => {
    const [first, second] = await Promise.all([1, 2].map(async () => (expectStatus(await preview(SUPERVISOR, { mobile: { kind: 'token' } }), 200).json().columns as PreviewColumn[])[0]!));
    expect(second!.before).toEqual(first!.before);
    first!.after!.forEach((token, i) => {
      expect(token).toMatch(/^[0-9a-f]{32}$/);
      expect(token).not.toBe(second!.after![i]);
    });
  });
});
