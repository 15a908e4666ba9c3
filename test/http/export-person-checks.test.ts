/**
 * Known answers of the person-level checks of exports (issue #11 item 2), computed in the engine by
 * joining each output row to its companions' statistics on its keys (`checkOutput`): on the
 * `pay` fixture (400 people, 20 payments each; person 0 alone in 孤岛区, person 1 dominating 二区's
 * sums), k-anonymity counts people not rows, small groups, dominance and one-person values are
 * named by row and column of the output in its own order.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayTenant } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'p1', sub: 'pat' } as const;

interface CheckBody {
  name: string;
  status: string;
  reason: string;
  rows?: number;
  cells?: { row: number; column: string }[];
}

describe('person-level checks of exports', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'p1');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  async function checksOf(sql: string): Promise<Map<string, CheckBody>> {
    return (await exported(sql)).checks;
  }

  async function exported(sql: string): Promise<{ id: string; checks: Map<string, CheckBody> }> {
    const res = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql }, recipient: 'city-lab', purpose: 'test', format: 'csv' }), 201).json();
    return { id: res.id, checks: new Map((res.checks as CheckBody[]).map((c) => [c.name, c])) };
  }

  it('counts the rows of a row-level output that describe fewer than k people, however many rows one person has', async () => {
    const { id, checks } = await exported('SELECT district FROM pay');
    expect(checks.get('identifiers')).toMatchObject({ status: 'pass' });
    // Person 0's 20 payments are the only rows of 孤岛区: 20 rows about one person. The count is the
    // reviewers' (how many rows fail is how many of one person's rows match: red-team pass 38b).
    expect(checks.get('k-anonymity')).toMatchObject({ status: 'fail', reason: expect.stringMatching(/^some rows describe fewer than 5 people/) });
    expect(checks.get('k-anonymity')).not.toHaveProperty('rows');
    const reviewed = new Map((expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json().checks as CheckBody[]).map((c) => [c.name, c]));
    expect(reviewed.get('k-anonymity')).toMatchObject({ status: 'fail', rows: 20, reason: expect.stringMatching(/^20 rows describe fewer than 5 people/) });
    const without = await checksOf("SELECT district FROM pay WHERE district <> '孤岛区'");
    expect(without.get('k-anonymity')).toMatchObject({ status: 'pass' });
  });

  it('names small groups, dominated sums and one-person values by row and column, in the output\'s order', async () => {
    const checks = await checksOf('SELECT district, count(*) AS n, sum(amount) AS total, min(amount) AS low FROM pay GROUP BY district ORDER BY district');
    // Binary order: 一区, 三区, 二区, 四区, 孤岛区.
    expect(checks.get('minimum-entities')).toMatchObject({ status: 'fail', rows: 1 });
    expect(checks.get('dominance')).toMatchObject({ status: 'fail', cells: [{ row: 2, column: 'total' }] });
    expect(checks.get('single-values')?.status).toBe('review');
    expect(checks.get('single-values')?.cells).toHaveLength(5);
    expect(checks.get('zeros')).toMatchObject({ status: 'pass' });
    expect(checks.get('cell-threshold')).toMatchObject({ status: 'pass' });
  });

  it('checks an aggregate without GROUP BY as one group', async () => {
    const dominated = await checksOf("SELECT count(*) AS n, sum(amount) AS total FROM pay WHERE district = '二区'");
    expect(dominated.get('minimum-entities')).toMatchObject({ status: 'pass' });
    expect(dominated.get('dominance')).toMatchObject({ status: 'fail', cells: [{ row: 0, column: 'total' }] });
    const lonely = await checksOf("SELECT count(*) AS n FROM pay WHERE district = '孤岛区'");
    expect(lonely.get('minimum-entities')).toMatchObject({ status: 'fail', rows: 1 });
  });

  it('names the snapshot\'s own rows, for a query without ORDER BY', async () => {
    const { id, checks } = await exported('SELECT district, count(*) AS n, sum(amount) AS total FROM pay GROUP BY district');
    const cells = checks.get('dominance')?.cells;
    expect(cells).toHaveLength(1);
    // The row the check names is 二区's in the snapshot, whatever order the query gave.
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    expect(detail.preview.rows[cells![0]!.row][0]).toBe('二区');
  });

  it('matches a NULL group key to the NULL group', async () => {
    // 一区 as NULL: its 100 people are a group of their own; only 孤岛区 is small.
    const checks = await checksOf("SELECT CASE WHEN district = '一区' THEN NULL ELSE district END AS d, count(*) AS n FROM pay GROUP BY d");
    expect(checks.get('minimum-entities')).toMatchObject({ status: 'fail', rows: 1 });
  });

  it('refuses an output too large for the engine with a 4xx, and the engine answers the next one', async () => {
    const res = await t.call(OPERATOR, 'POST', '/v1/exports', { source: { sql: "SELECT lpad(district, 1000000, 'x') AS d FROM pay" }, recipient: 'city-lab', purpose: 'test', format: 'csv' });
    expect(res.statusCode).toBe(422);
    expect(res.json().code).toBe('DSC_ERR_RUNTIME_ERROR');
    expect((await checksOf("SELECT district FROM pay WHERE district <> '孤岛区'")).get('k-anonymity')).toMatchObject({ status: 'pass' });
  });
});
