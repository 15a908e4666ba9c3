/**
 * Differencing across a tenant's own prod answers (issue #11 item 3, invariant 8): "N against N-1".
 * Two aggregate answers that each pass every check (a hundred people per cell) can still give one
 * person's payments by subtraction when one of them leaves out just that person. Such pairs are
 * found after the answers are shown, on the exact entity sets of their cells, and reported to
 * supervisors in the audit (`query.differencing`), naming both queries by their SQL hashes.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { knownPerson, licensePayTenant } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';
import { waitUntil } from '../helpers/wait-until.js';

const OPERATOR = { role: 'operator', org: 'p1', sub: 'pat' } as const;
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

interface Entry { action: string; target: string; details: { sqlSha256: string; pairs: number; smallestDifference: number; examples: { earlier: string; difference: number }[] } }

describe('pairs of a tenant\'s own prod answers', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'p1');
  }, 300_000);
  afterAll(() => t.close({ remove: true }));

  const ask = async (sql: string) => expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' }), 200).json();
  const pairsInAudit = async (): Promise<Entry[]> => expectStatus(await t.call(SUPERVISOR, 'GET', '/v1/audit?action=query.differencing&limit=100'), 200).json().entries;

  it('reports N against N-1 to supervisors, naming both queries; a re-run or another filter over the same people is no pair', async () => {
    const person = await knownPerson(6);
    const everyone = "SELECT district, sum(amount) AS total, count(*) AS n FROM pay WHERE district = '三区' GROUP BY district";
    const again = everyone;
    // Everyone in 三区 has payments under 125: another filter, the same people (0 apart).
    const samePeople = "SELECT district, sum(amount) AS total, count(*) AS n FROM pay WHERE district = '三区' AND amount < 125 GROUP BY district";
    const withoutOne = `SELECT district, sum(amount) AS total, count(*) AS n FROM pay WHERE district = '三区' AND mobile <> '${person.mobile}' GROUP BY district`;
    for (const sql of [everyone, again, samePeople]) expect((await ask(sql)).rows).toHaveLength(1);
    // Each answer passes its own checks: a hundred people, one fewer in the second.
    const second = await ask(withoutOne);
    expect(second.rows).toHaveLength(1);
    expect(second.rows[0][1]).not.toBeNull();

    await waitUntil('the pair in the audit', async () => (await pairsInAudit()).length > 0, { deadlineMs: 60_000, intervalMs: 200 });
    const entries = await pairsInAudit();
    for (const entry of entries) {
      expect(entry.target).toBe('tenant:p1');
      expect(entry.details.sqlSha256).toBe(sha256(withoutOne));
    }
    const [entry] = entries;
    expect(entry!.details.smallestDifference).toBe(1);
    // Both cells of the answer (the sum and the count) are one person away from the earlier answer's.
    expect(entry!.details.examples.map((p) => p.earlier)).toContain(sha256(everyone));
    expect(entry!.details.examples.every((p) => p.difference === 1)).toBe(true);
    // Nothing of a person's values is in the audit: hashes, cell names and counts only.
    expect(JSON.stringify(entries)).not.toContain(person.mobile);
  });
});
