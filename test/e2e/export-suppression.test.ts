/**
 * Issue #11's first demonstrable, end to end over HTTP across roles: an operator exports an
 * aggregate over personal data with small cells, sees `fail`, suppresses, submits; a supervisor sees
 * what was withheld and approves; the recipient downloads a file whose SHA-256 matches its manifest,
 * which states the withheld cells; another applicant, the operator and an anonymous caller cannot
 * download.
 *
 * The `pay` dataset (test/helpers/pay-fixture.ts): 一区 99 people, 三区 100, 二区 100 (one of whom
 * pays 10,000,000 a month: its sum is dominated), 四区 100, 孤岛区 1. Known answer: 孤岛区's row is
 * removed (1 person), the 二区 sum is shown as null (dominance), and the smallest passing row (一区,
 * 99 people) is removed with them, so that the total minus the shown rows describes 100 people,
 * not 1.
 */
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { licensePayTenant } from '../helpers/pay-fixture.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'ops', sub: 'olga' } as const;
const RECIPIENT = { role: 'applicant', org: 'city-lab', sub: 'rita' } as const;
const OTHER_APPLICANT = { role: 'applicant', org: 'other-lab', sub: 'oscar' } as const;
const AGGREGATE = 'SELECT district, count(*) AS payments, sum(amount) AS total FROM pay GROUP BY district ORDER BY district';

type CheckJson = { name: string; status: string; reason: string; cells?: { row: number; column: string }[]; rows?: number };

describe('suppression across roles', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
    await licensePayTenant(t, 'ops');
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'city-lab', name: 'City Lab' }), 201);
    expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/applicants', { id: 'other-lab', name: 'Other Lab' }), 201);
  });
  afterAll(() => t.close({ remove: true }));

  it('fails, suppresses, is approved and reaches its recipient only, with the withheld cells stated', async () => {
    const created = expectStatus(await t.call(OPERATOR, 'POST', '/v1/exports', {
      source: { sql: AGGREGATE }, recipient: 'city-lab', purpose: 'payments by district', format: 'csv',
    }), 201).json();
    expect(created.outcome).toBe('fail');
    const before = new Map<string, CheckJson>(created.checks.map((c: CheckJson) => [c.name, c]));
    expect(before.get('minimum-entities')).toMatchObject({ status: 'fail', rows: 1 });
    expect(before.get('dominance')).toMatchObject({ status: 'fail', cells: [{ row: 2, column: 'total' }] });
    const id = created.id as string;
    // A failing version is not even submitted.
    expect((await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {})).json().code).toBe('EXP_ERR_OUTCOME_FAIL');

    // Suppression makes version 2; every check runs again and says what it is now.
    const suppressed = expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/versions`, { mitigation: 'suppress' }), 201).json();
    expect(suppressed).toMatchObject({ id, version: 2, status: 'draft', outcome: 'pass' });
    const after = new Map<string, CheckJson>(suppressed.checks.map((c: CheckJson) => [c.name, c]));
    for (const name of ['row-cap', 'empty-output', 'minimum-entities', 'cell-threshold', 'dominance', 'p-ratio', 'differencing']) expect(after.get(name)?.status).toBe('pass');
    // The suppressed version's cells were compared with earlier releases on their own entity sets (removed rows and null cells left out).
    expect(after.get('row-cap')?.reason).toBe('within the cap of 100000 rows');
    expect(after.get('suppression')).toMatchObject({ status: 'pass', rows: 2, cells: [{ row: 1, column: 'total' }] });
    expect(after.get('suppression')?.reason).toBe('1 cell is shown as null and 2 rows were removed: 1 row and 1 cell that failed a check, and 1 row and 0 cells more so that margins and totals cannot give them back (secondary suppression)');
    expectStatus(await t.call(OPERATOR, 'POST', `/v1/exports/${id}/submit`, {}), 200);

    // The reviewer sees what was withheld and what changed.
    const detail = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/exports/${id}`), 200).json();
    expect(detail).toMatchObject({ version: 2, rowCount: 3, mitigation: { kind: 'suppress', fromVersion: 1, removedRows: [0, 4] } });
    expect(detail.withheld).toEqual({ rows: 2, cells: 1, primaryRows: 1, secondaryRows: 1, primaryCells: 1, secondaryCells: 0 });
    expect(detail.preview.rows.map((r: unknown[]) => r[0])).toEqual(['三区', '二区', '四区']);
    expect(detail.preview.rows[1][2]).toBeNull();
    expect(detail.changes).toMatchObject({ fromVersion: 1, toVersion: 2, outcome: { from: 'fail', to: 'pass' }, removedRows: [0, 4], rowCount: { from: 5, to: 3 }, cells: { changed: 1, becameNull: 1 } });
    expect(detail.changes.cells.sample).toEqual([{ row: 1, column: 'total', from: expect.anything(), to: null }]);
    expectStatus(await t.call(SUPERVISOR, 'POST', `/v1/exports/${id}/reviews`, { version: 2, decision: 'approve', comment: 'suppressed' }), 200);

    // The manifest states the withheld cells and rows; the file's SHA-256 matches it.
    const manifest = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/manifest`), 200).json();
    expect(manifest).toMatchObject({ version: 2, rows: 3, outcome: 'pass', withheld: { rows: 2, cells: 1 } });
    expect(manifest.notes.join(' ')).toContain('withheld 1 cell (empty in the data file) and removed 2 rows');
    expect(manifest.checks.find((c: CheckJson) => c.name === 'suppression')).toMatchObject({ rows: 2 });

    expect((await t.call(OTHER_APPLICANT, 'GET', `/v1/exports/${id}/download`)).json().code).toBe('EXP_ERR_NOT_FOUND');
    expect((await t.call(OPERATOR, 'GET', `/v1/exports/${id}/download`)).statusCode).toBe(403);
    expect((await t.call(undefined, 'GET', `/v1/exports/${id}/download`)).statusCode).toBe(401);

    const download = expectStatus(await t.call(RECIPIENT, 'GET', `/v1/exports/${id}/download`), 200);
    expect(createHash('sha256').update(download.rawPayload).digest('hex')).toBe(manifest.dataFile.sha256);
    const lines = download.rawPayload.toString('utf8').slice(1).trim().split('\r\n');
    expect(lines).toEqual(['district,payments,total', expect.stringMatching(/^三区,2000,\d/), '二区,2000,', expect.stringMatching(/^四区,2000,\d/)]);

    // The statistics behind the checks stay inside the domain: the package holds the data file and the manifest only.
    const versionDir = path.join(t.dataDir, 'exports', id, 'v2');
    expect(fs.existsSync(path.join(versionDir, 'disclosure.json'))).toBe(true);
    expect(fs.readdirSync(path.join(versionDir, 'package')).sort()).toEqual(['data.csv', 'manifest.json']);

    // The audit records the suppression check with the version.
    const { entries } = (await t.call(SUPERVISOR, 'GET', `/v1/audit?target=export:${id}&limit=100`)).json();
    expect(entries.some((e: { action: string; details: { name?: string; version?: number } }) => e.action === 'export.check' && e.details.name === 'suppression' && e.details.version === 2)).toBe(true);
  });
});
