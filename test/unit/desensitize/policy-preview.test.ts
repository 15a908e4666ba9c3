/**
 * Policy previews (desensitize/policy-preview.ts) run in DuckDB: synthetic values of the column's
 * kind or type go through the refinery's own compiled SELECT, and the result agrees value for value
 * with the TypeScript references of the same rules (what the refinery's property tests check).
 */
import { describe, expect, it } from 'vitest';
import { MASKS, previewPlan, toBucket, toYear, tokenize, type PreviewColumn } from '../../../desensitize/index.js';
import { useMemoryConnection } from '../../helpers/memory-connection.js';

const duck = useMemoryConnection();
const KEY = Buffer.alloc(32, 7);

async function run(columns: PreviewColumn[], seed = 1): Promise<{ before: Record<string, unknown>[]; after: Record<string, unknown>[]; plan: ReturnType<typeof previewPlan> }> {
  const plan = previewPlan(columns, { tokenKey: KEY, today: '2026-11-30', seed });
  await duck.connection.run('DROP TABLE IF EXISTS preview_source');
  await duck.connection.run(plan.createSource);
  return { before: await duck.connection.all(plan.before), after: await duck.connection.all(plan.after), plan };
}
const texts = (rows: Record<string, unknown>[], column: string) => rows.map((r) => r[column] as string | null);

describe('previewPlan', () => {
  it('masks synthetic mobiles as the refinery would, in a BIGINT column too', async () => {
    const { before, after } = await run([
      { name: 'mobile', type: 'VARCHAR', piiKind: 'mobile', policy: { kind: 'mask', rule: 'mobile' } },
      { name: 'phone', type: 'BIGINT', piiKind: 'mobile', policy: { kind: 'mask', rule: 'mobile' } },
    ]);
    expect(before).toHaveLength(5);
    for (const column of ['c0', 'c1']) {
      const raw = texts(before, column);
      expect(raw.every((v) => /^1[3-9]\d{9}$/.test(v!))).toBe(true);
      expect(texts(after, column)).toEqual(raw.map((v) => MASKS.mobile.apply(v)));
      expect(texts(after, column).every((v) => /^1\d{2}\*{4}\d{4}$/.test(v!))).toBe(true);
    }
  });

  it('generalizes birth dates to years in the column\'s own type, and dates for an unrecognized text column', async () => {
    const { before, after } = await run([
      { name: 'born', type: 'INTEGER', piiKind: 'birth_date', policy: { kind: 'generalize', rule: 'year' } },
      { name: 'registered', type: 'VARCHAR', piiKind: null, policy: { kind: 'generalize', rule: 'month' } },
    ]);
    expect(texts(before, 'c0').every((v) => /^\d{8}$/.test(v!))).toBe(true);
    expect(texts(after, 'c0')).toEqual(texts(before, 'c0').map((v) => String(toYear.apply(Number(v)))));
    expect(texts(after, 'c0').every((v) => /^(19[4-9]\d|200[0-8])$/.test(v!))).toBe(true);
    expect(texts(before, 'c1').every((v) => /^\d{4}-\d{2}-\d{2}$/.test(v!))).toBe(true);
    expect(texts(after, 'c1').every((v) => /^\d{4}-\d{2}$/.test(v!))).toBe(true);
  });

  it('tokenizes with the key given, derives columns from resident IDs and leaves hidden columns out', async () => {
    const { before, after, plan } = await run([
      { name: 'id_card', type: 'VARCHAR', piiKind: 'resident_id', policy: { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender'] } },
      { name: 'notes', type: 'VARCHAR', piiKind: 'free_text', policy: { kind: 'hidden' } },
    ]);
    const ids = texts(before, 'c0');
    expect(texts(after, 'c0')).toEqual(ids.map((id) => tokenize(id, KEY, 'resident_id')));
    expect(texts(after, 'c0_birth_year')).toEqual(ids.map((id) => id!.slice(6, 10)));
    expect(texts(after, 'c0_gender').every((g) => g === 'M' || g === 'F')).toBe(true);
    expect(plan.outputs[0]!.derived.map((d) => d.name)).toEqual(['id_card_birth_year', 'id_card_gender']);
    expect(plan.outputs[1]!.own).toBeUndefined();
    expect(Object.keys(after[0]!)).not.toContain('c1');
    // The free text is generated all the same: a note with a synthetic mobile in it.
    expect(texts(before, 'c1').every((v) => /电话1[3-9]\d{9}/.test(v!))).toBe(true);
  });

  it('spreads numbers over several buckets of the width, and gives region codes to region prefixes', async () => {
    const { before, after } = await run([
      { name: 'amount', type: 'DOUBLE', piiKind: null, policy: { kind: 'generalize', rule: 'bucket:250' } },
      { name: 'district', type: 'VARCHAR', piiKind: null, policy: { kind: 'generalize', rule: 'region_prefix:4' } },
    ]);
    const amounts = texts(before, 'c0').map(Number);
    expect(amounts.every((a) => a >= 0 && a < 5000)).toBe(true);
    expect(texts(after, 'c0').map(Number)).toEqual(amounts.map((a) => toBucket(250).apply(a)));
    expect(new Set(texts(after, 'c0')).size).toBeGreaterThan(1);
    expect(texts(before, 'c1').every((v) => /^\d{6}$/.test(v!))).toBe(true);
    expect(texts(after, 'c1')).toEqual(texts(before, 'c1').map((v) => `${v!.slice(0, 4)}00`));
  });

  it('gives the same values to a column whatever the order of the body, and different ones to another seed', async () => {
    const mobile: PreviewColumn = { name: 'mobile', type: 'VARCHAR', piiKind: 'mobile', policy: { kind: 'plain', reason: 'x' } };
    const name: PreviewColumn = { name: 'name', type: 'VARCHAR', piiKind: 'name', policy: { kind: 'mask', rule: 'name' } };
    const first = await run([mobile, name]);
    const second = await run([name, mobile]);
    expect(texts(second.before, 'c1')).toEqual(texts(first.before, 'c0'));
    expect(texts((await run([mobile], 2)).before, 'c0')).not.toEqual(texts(first.before, 'c0'));
  });
});
