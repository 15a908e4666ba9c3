/**
 * Invariant 8 (prod answers and exports count people): a key shared by several people is no one
 * person's key. Red-team pass 28a wrote 12 counter payers of 三区 with one clerk's default mobile;
 * counted as one person, a cell leaving out one of them left out "no one", and the total minus it
 * gave that payer's amount. Shapes catch the well-known defaults (13800138000); a default of no
 * telling shape (a real number, the clerk's own) is caught by its witnesses: the payers' birth
 * dates disagree, so publish makes the key's rows keyless (sandbox/engine/publish.ts
 * splitEntityKeys), and cells leaving out keyless rows are withheld (docs/sandbox.md).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mobileSql } from '../../desensitize/index.js';
import { craftedDomain } from '../helpers/crafted-domain.js';
import { exportProbes } from '../helpers/export-probes.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { twinProbes } from '../helpers/twin-probes.js';
import { type TestApp } from '../helpers/test-app.js';

const ORG = 'shared-keys-org';
const OPERATOR = { role: 'operator', org: ORG, sub: 'olga' } as const;
const LAB = { id: 'shared-keys-lab', name: 'Shared Keys Lab' } as const;
/** A real-looking mobile of no placeholder's shape: the clerk's own, written for every counter payer. */
const CLERK_OWN = '13812976543';
const T_BIRTH = '1961-07-23';
const T_AMOUNT = 777;
/**
 * 150 payers keyed by their own mobile, one online payment each ('R' refs), in three districts; in
 * 二区 payer R000001 also paid at the counter ('S' ref, the same birth date: one person, two rows);
 * in 三区 12 counter payments of 12 people written with the clerk's mobile ('C' refs; C000000 is T's).
 */
const PAY_SQL = `SELECT mobile, ref_no, district, birth_date, amount FROM (
    SELECT ${mobileSql('p', 2901)} AS mobile, 'R' || lpad(CAST(p AS VARCHAR), 6, '0') AS ref_no, ['一区', '二区', '三区'][1 + p % 3] AS district,
      DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER) AS birth_date, CAST(100 + (p * 37) % 50 AS DECIMAL(10,2)) AS amount
    FROM (SELECT range AS p FROM range(150))
    UNION ALL
    SELECT ${mobileSql('1', 2901)}, 'S000001', '二区', DATE '1970-01-01' + 97, CAST(333 AS DECIMAL(10,2))
    UNION ALL
    SELECT '${CLERK_OWN}', 'C' || lpad(CAST(i AS VARCHAR), 6, '0'), '三区', CASE WHEN i = 0 THEN DATE '${T_BIRTH}' ELSE DATE '1952-01-01' + CAST(i * 29 AS INTEGER) END,
      CAST(CASE WHEN i = 0 THEN ${T_AMOUNT} ELSE 80 + i END AS DECIMAL(10,2))
    FROM (SELECT range AS i FROM range(12)))`;

describe('a key shared by people whose birth dates disagree is no key', () => {
  const memory = useMemoryConnection();
  const domain = craftedDomain(ORG, LAB, 'shared keys');
  let t: TestApp;
  beforeAll(async () => {
    t = await domain.start();
    await domain.ingest('sk_pay', PAY_SQL);
    const profile = await domain.profileOf('sk_pay');
    expect(profile.entity).toBe('mobile');
    expect(profile.columns.find((c) => c.name === 'birth_date')?.pii?.kind).toBe('birth_date');
    await domain.refresh();
  }, 600_000);
  afterAll(() => t.close({ remove: true }));

  const { prod, real } = twinProbes(() => t, memory, OPERATOR);
  const exports = exportProbes(() => t, OPERATOR, LAB.id, 'shared keys');
  const check = (e: { checks: { name: string; status: string }[] }, name: string) => e.checks.find((c) => c.name === name)?.status;
  const leavingOut = (ref: string, district: string) =>
    `SELECT district, sum(amount) FILTER (WHERE ref_no <> '${ref}') AS total FROM sk_pay WHERE district = '${district}' GROUP BY district`;
  const cellOf = (body: string) => (body.startsWith('[') ? (JSON.parse(body) as (string | null)[][])[0]?.[1] ?? null : null);

  it('a cell that leaves out one payer written with the clerk\'s own mobile is withheld in prod and fails the export\'s cell threshold: the totals give no payment', async () => {
    const [truth] = await real(`SELECT count(DISTINCT birth_date) FILTER (WHERE mobile = '${CLERK_OWN}') AS people, max(amount) FILTER (WHERE ref_no = 'C000000') AS t_amount FROM (${PAY_SQL})`);
    expect([Number(truth!.people), Number(truth!.t_amount)]).toEqual([12, T_AMOUNT]);
    const total = cellOf(await prod("SELECT district, sum(amount) AS total FROM sk_pay WHERE district = '三区' GROUP BY district"));
    expect(total, 'the control: the district total is shown').not.toBeNull();
    const body = await prod(leavingOut('C000000', '三区'));
    expect(cellOf(body), body).toBeNull();
    const created = await exports.create(leavingOut('C000000', '三区'));
    expect(check(created, 'cell-threshold'), JSON.stringify(created.checks)).toBe('fail');
  });

  it('one payer with two rows and one birth date stays one person: a cell leaving out their second payment counts them present (the documented pair of answers, reported to supervisors)', async () => {
    const [truth] = await real(`SELECT count(*) AS rows, count(DISTINCT birth_date) AS births FROM (${PAY_SQL}) WHERE mobile = ${mobileSql('1', 2901)}`);
    expect([Number(truth!.rows), Number(truth!.births)]).toEqual([2, 1]);
    const body = await prod(leavingOut('S000001', '二区'));
    expect(cellOf(body), body).not.toBeNull();
  });
});
