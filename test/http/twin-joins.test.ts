/**
 * Issue #10: the dev twin keeps the relationships between datasets. Three datasets share resident
 * IDs and USCCs at known rates (test/helpers/linked-datasets.ts); for every pair of same-kind
 * identifier columns, the share of one side's rows that find a match on the other must be within
 * 10 percentage points in dev of what it is in prod, both ways, and so must the rows per person.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { LINKED_DATASETS, linkedPairs } from '../helpers/linked-datasets.js';
import { expectStatus } from '../helpers/expect-status.js';
import { readPublished } from '../helpers/published-file.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'joiner', sub: 'jo' } as const;

describe('dev twin joins', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licenseTenantWithData(t, 'joiner', LINKED_DATASETS);
  });
  afterAll(() => t.close({ remove: true }));

  /**
   * One row of figures. Prod's figures are measured on the tenant's published granted file (the
   * rows prod holds): prod answers are checked person by person and would not show these as they are.
   */
  const one = async (sql: string, env: 'dev' | 'prod') => {
    if (env === 'prod') return Object.values((await readPublished(t, 'joiner', 'granted', sql))[0]!).map(Number);
    const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
    expect(res.statusCode, `${env}: ${sql}: ${res.body}`).toBe(200);
    return (res.json() as { rows: string[][] }).rows[0]!.map(Number);
  };

  /** Share of A's non-null rows whose identifier is found in B. */
  const matchRate = async (env: 'dev' | 'prod', [a, aColumn]: [string, string], [b, bColumn]: [string, string]) => {
    const [matched, total] = await one(`SELECT count(*) FILTER (WHERE ${aColumn} IN (SELECT ${bColumn} FROM ${b})) AS matched, count(${aColumn}) AS total FROM ${a}`, env);
    expect(total).toBeGreaterThan(0);
    return matched! / total!;
  };

  it('matches every pair of identifier columns in dev at a rate within 10 points of prod', async () => {
    const expected: Record<string, number> = {
      'tj_payments.payer_id→tj_people.id_card': 0.8,
      'tj_people.id_card→tj_payments.payer_id': 0.91,
      'tj_firms.legal_rep_id→tj_people.id_card': 1,
      'tj_people.id_card→tj_firms.legal_rep_id': 0.2,
      'tj_payments.employer_uscc→tj_firms.uscc': 0.8,
      'tj_firms.uscc→tj_payments.employer_uscc': 1,
    };
    const seen: string[] = [];
    for (const { left, right } of linkedPairs()) {
      const name = `${left.join('.')}→${right.join('.')}`;
      const prod = await matchRate('prod', left, right);
      const dev = await matchRate('dev', left, right);
      // The fixture's own rates: the prod figure is what the data says, not an accident.
      if (expected[name] !== undefined) expect(prod, name).toBeCloseTo(expected[name]!, 1);
      expect(Math.abs(dev - prod), `${name}: prod ${prod.toFixed(3)}, dev ${dev.toFixed(3)}`).toBeLessThanOrEqual(0.1);
      seen.push(name);
    }
    // Resident IDs in three datasets (six ordered pairs), USCCs in two (two).
    expect(seen).toHaveLength(8);
  });

  it('gives a join in dev as many rows as in prod, within the same tolerance', async () => {
    const sql = 'SELECT count(*) AS n FROM tj_payments p JOIN tj_people r ON p.payer_id = r.id_card JOIN tj_firms f ON p.employer_uscc = f.uscc';
    const [prod] = await one(sql, 'prod');
    const [dev] = await one(sql, 'dev');
    // 6,000 payments, 80% by listed people and 80% to listed firms: about 3,840.
    expect(prod).toBeGreaterThan(3000);
    expect(Math.abs(dev! - prod!) / prod!).toBeLessThanOrEqual(0.1);
  });

  it('keeps rows per person and per firm close to the real ones', async () => {
    for (const [table, column] of [['tj_payments', 'payer_id'], ['tj_payments', 'employer_uscc']]) {
      const sql = `SELECT count(*) / count(DISTINCT ${column}) AS per_key, max(n) AS most FROM (SELECT ${column}, count(*) OVER (PARTITION BY ${column}) AS n FROM ${table})`;
      const [prodPerKey] = await one(sql, 'prod');
      const [devPerKey] = await one(sql, 'dev');
      expect(Math.abs(devPerKey! - prodPerKey!) / prodPerKey!, `${table}.${column}: prod ${prodPerKey}, dev ${devPerKey}`).toBeLessThanOrEqual(0.1);
    }
  });

  it('shows the supervisor the measured overlaps as rates, and the rows per key as shares', async () => {
    const res = await t.call(SUPERVISOR, 'GET', '/v1/datasets/tj_firms');
    expectStatus(res, 200);
    const column = (res.json() as { columns: { name: string; keys?: { distinct: number }; links?: { dataset: string; column: string; distinctHere: number; rowsThere: number }[] }[] })
      .columns.find((c) => c.name === 'legal_rep_id')!;
    expect(column.keys?.distinct).toBe(400);
    const toPeople = column.links?.find((l) => l.dataset === 'tj_people');
    expect(toPeople).toMatchObject({ column: 'id_card', distinctHere: 1, rowsThere: 0.2 });
  });
});
