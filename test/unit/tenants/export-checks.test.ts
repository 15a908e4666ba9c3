/**
 * The checks the export door runs today, in isolation: the row cap, empty outputs, and the
 * person-level placeholder, which fails closed (review) on personal data, on a source the catalog
 * does not know, and on uploads or workspace tables without lineage; it passes only known sources
 * without personal data.
 */
import { describe, expect, it } from 'vitest';
import { differencingOutcome, emptyOutputCheck, personLevelPlaceholder, rowCapCheck } from '../../../tenants/exports/export-checks.js';
import type { DatasetColumn, WorkspaceTableLineage } from '../../../tenants/model.js';

const column = (name: string, pii: string | null): DatasetColumn => ({
  name, type: 'VARCHAR', nullShare: 0, distinctEstimate: 10, min: null, max: null, topValues: null, pii: pii ? { kind: pii, confidence: 1, matchShare: 1 } : null,
});
const catalog: Record<string, DatasetColumn[]> = { 'sales@1': [column('district', null)], 'people@2': [column('id_card', 'resident_id'), column('district', null)] };
const lineage = (name: string, env: WorkspaceTableLineage['env']): WorkspaceTableLineage => ({ tenantId: 't', name, env, sql: '', sourceTables: [], datasets: [], sources: [], createdAt: '', createdBy: '' });
const deps = {
  datasetColumns: async (dataset: string, version: number) => catalog[`${dataset}@${version}`],
  workspaceTables: async () => [lineage('mine', 'prod'), lineage('uploaded', 'upload')],
};
const source = (dataset: string, version: number) => ({ dataset, version, policy: 'p' });

describe('export checks without entity keys', () => {
  it('asks for review beyond the row cap and of empty outputs', () => {
    expect(rowCapCheck(100, 100).status).toBe('pass');
    // The reason names no row count (a count no person-level check has seen): reviewers read it in the detail.
    const over = rowCapCheck(101, 100);
    expect(over).toMatchObject({ status: 'review' });
    expect(JSON.stringify(over)).not.toContain('101');
    expect(emptyOutputCheck(1).status).toBe('pass');
    expect(emptyOutputCheck(0)).toMatchObject({ status: 'review', rows: 0 });
  });

  it('passes known sources without personal data only', async () => {
    const ok = await personLevelPlaceholder({ tenantId: 't', sources: [source('sales', 1)], tables: ['granted.sales', 'workspace.mine'] }, deps);
    expect(ok.status).toBe('pass');
  });

  it.each([
    ['personal data', [source('people', 2)], ['granted.people'], 'people holds personal data (id_card: resident_id)'],
    ['a version the catalog does not know', [source('sales', 9)], ['granted.sales'], 'sales v9 has no catalog record'],
    ['an upload', [], ['workspace.uploaded'], 'workspace table uploaded is uploaded data'],
    ['a workspace table without lineage', [], ['workspace.ghost'], 'workspace table ghost has no lineage record'],
  ])('fails closed on %s', async (_label, sources, tables, reason) => {
    const check = await personLevelPlaceholder({ tenantId: 't', sources, tables }, deps);
    expect(check.status).toBe('review');
    expect(check.reason).toContain('person-level disclosure checks are not yet available for this output');
    expect(check.reason).toContain(reason);
  });

  it('turns a differencing result into a check: review when not comparable, fail naming only the own tenant\'s releases', () => {
    expect(differencingOutcome({ missing: 'the entity sets of its cells are missing or unreadable' }, 10)).toMatchObject({ name: 'differencing', status: 'review' });
    expect(differencingOutcome({ pairs: [], cells: 4, releases: 2 }, 10)).toMatchObject({ status: 'pass' });
    const pairs = Array.from({ length: 23 }, (_, i) => ({ row: i, column: 'n', earlier: i === 0 ? { exportId: 'exp-000000000000000a', version: 2, row: 5, column: 'total' } : null }));
    const check = differencingOutcome({ pairs, cells: 30, releases: 3 }, 10);
    expect(check.status).toBe('fail');
    expect(check.cells).toHaveLength(23);
    expect(check.reason).toContain('23 cells differ from a released cell (or a sum of cells) by fewer than 10 people or enterprises');
    expect(check.reason).toContain('row 0, n against exp-000000000000000a v2 (row 5, total)');
    expect(check.reason).toContain('row 1, n against an earlier release');
    expect(check.reason).toMatch(/, and 3 more$/);
  });
});
