/**
 * Issue #10: a dev twin that joins like the real data holds no real identifier. Datasets sharing
 * resident IDs, USCCs and mobiles are ingested (their personal data set plain, so prod shows the
 * raw values and the scan's method is checked against it); every column of every dev table is
 * then read through the operator's own queries and compared with every raw value of every column,
 * computed independently from the generating SQL. Prod answers no longer show identifiers row by
 * row (person-level checks, docs/sandbox.md), so the scan's control reads the published granted
 * file at rest, and the same read of the dev file is checked to match what dev queries return. What the catalog keeps for the twin (key
 * profiles and overlaps) is only counts and rates.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isValidResidentId, isValidUscc } from '../../desensitize/index.js';
import { LINKED_DATASETS } from '../helpers/linked-datasets.js';
import { readPublished } from '../helpers/published-file.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { licenseTenantWithData } from '../helpers/tenant-fixture.js';
import { expectStatus } from '../helpers/expect-status.js';
import { startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'twinscan', sub: 'sam' } as const;

describe('dev twin identifiers', () => {
  const memory = useMemoryConnection();
  const identifierColumns: [string, string, 'resident_id' | 'uscc' | 'mobile'][] = [
    ['tj_people', 'id_card', 'resident_id'], ['tj_people', 'mobile', 'mobile'], ['tj_payments', 'payer_id', 'resident_id'],
    ['tj_payments', 'employer_uscc', 'uscc'], ['tj_firms', 'uscc', 'uscc'], ['tj_firms', 'legal_rep_id', 'resident_id'],
  ];

  let t: TestApp;
  /** Every raw value of every identifier column of every dataset, as text. */
  const raw = new Set<string>();
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '1000' } });
    await licenseTenantWithData(t, 'twinscan', LINKED_DATASETS);
    for (const [table, column] of identifierColumns) {
      const dataset = LINKED_DATASETS.find((d) => d.name === table)!;
      for (const row of await memory.connection.all(`SELECT "${column}"::VARCHAR AS v FROM (${dataset.sql})`)) raw.add(String(row.v));
    }
    expect(raw.size).toBeGreaterThan(4000);
  });
  afterAll(() => t.close({ remove: true }));

  const distinctSql = (table: string, column: string) => `SELECT DISTINCT "${column}"::VARCHAR AS v FROM ${table} WHERE "${column}" IS NOT NULL`;
  const distinctValues = async (env: 'dev', table: string, column: string) => {
    const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql: distinctSql(table, column), env, maxRows: 10_000 });
    expect(res.statusCode, res.body).toBe(200);
    const body = res.json() as { rows: string[][]; truncated: boolean };
    expect(body.truncated).toBe(false);
    return body.rows.map((r) => r[0]!);
  };

  it('finds the raw identifiers in prod (the scan sees a leak when there is one)', async () => {
    // Prod refuses rows of identifiers, so the control reads the granted file prod answers from,
    // at rest, with the scan's own SQL...
    const values = (await readPublished(t, 'twinscan', 'granted', distinctSql('tj_people', 'id_card'))).map((r) => String(r.v));
    expect(values.length).toBe(2000);
    expect(values.every((v) => raw.has(v))).toBe(true);
    // ...and the dev scan below, through the operator's queries, sees exactly what its file holds.
    const atRest = (await readPublished(t, 'twinscan', 'dev', distinctSql('tj_people', 'id_card'))).map((r) => String(r.v));
    expect((await distinctValues('dev', 'tj_people', 'id_card')).sort()).toEqual(atRest.sort());
    // Prod itself does not show them, and says nothing raw refusing.
    const prod = await t.call(OPERATOR, 'POST', '/v1/query', { sql: distinctSql('tj_people', 'id_card'), env: 'prod', maxRows: 10_000 });
    expect(prod.json().code, prod.body).toBe('DSC_ERR_IDENTIFIERS');
    expect(values.filter((v) => prod.body.includes(v))).toEqual([]);
  });

  it('has no raw identifier anywhere in the dev twin', async () => {
    for (const dataset of LINKED_DATASETS) {
      const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql: `SELECT * FROM ${dataset.name} LIMIT 1`, env: 'dev' });
      expect(res.statusCode, res.body).toBe(200);
      const columns = (res.json() as { columns: { name: string }[] }).columns.map((c) => c.name);
      expect(columns.length).toBeGreaterThanOrEqual(3);
      for (const column of columns) {
        const values = await distinctValues('dev', dataset.name, column);
        // Whole values, and identifiers inside longer text (mobiles, the shortest, have 11 characters).
        expect(values.filter((v) => raw.has(v) || (v.length > 11 && [...raw].some((id) => v.includes(id)))), `${dataset.name}.${column}`).toEqual([]);
      }
    }
  });

  it('fills the twin\'s identifier columns with valid synthetic identifiers', async () => {
    const today = new Date().toISOString().slice(0, 10);
    for (const [table, column, kind] of identifierColumns) {
      const values = await distinctValues('dev', table, column);
      expect(values.length, `${table}.${column}`).toBeGreaterThan(100);
      // Synthetic, not empty or scrambled: valid identifiers of the kind.
      if (kind === 'resident_id') expect(values.every((v) => isValidResidentId(v, today))).toBe(true);
      if (kind === 'uscc') expect(values.every((v) => isValidUscc(v))).toBe(true);
      if (kind === 'mobile') expect(values.every((v) => /^1[3-9]\d{9}$/.test(v))).toBe(true);
    }
  });

  it('keeps only counts and rates about identifiers in the catalog', async () => {
    for (const dataset of LINKED_DATASETS) {
      const res = await t.call(SUPERVISOR, 'GET', `/v1/datasets/${dataset.name}`);
      expectStatus(res, 200);
      const columns = (res.json() as { columns: { name: string; keys?: unknown; links?: unknown }[] }).columns;
      const twinStats = columns.filter((c) => c.keys !== undefined).map((c) => ({ keys: c.keys, links: c.links }));
      expect(twinStats.length).toBeGreaterThan(0);
      const text = JSON.stringify(twinStats);
      // Numbers, and the names of datasets and columns: nothing else.
      const strings = [...text.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
      const allowed = new Set(['distinct', 'rowsPerKey', 'upTo', 'share', 'mean', 'dataset', 'version', 'column', 'distinctHere', 'distinctThere', 'rowsHere', 'rowsThere', 'keys', 'links',
        ...LINKED_DATASETS.map((d) => d.name), 'id_card', 'mobile', 'payer_id', 'employer_uscc', 'uscc', 'legal_rep_id']);
      expect(strings.filter((s) => !allowed.has(s))).toEqual([]);
      expect([...raw].filter((v) => v.length > 6 && text.includes(v))).toEqual([]);
    }
  });
});
