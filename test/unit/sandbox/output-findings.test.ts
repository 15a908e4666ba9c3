/**
 * The person-level findings of an export carried over to a mitigated version (pure): what was
 * removed or nulled no longer fails, everything else stands, renumbered to the rows that remain,
 * and the checks made of them say what the version is now.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_DISCLOSURE_RULES as RULES } from '../../../desensitize/index.js';
import { cellKey, failingOf, mitigateFindings, outputChecks, type OutputFindings } from '../../../sandbox/disclosure/output-findings.js';

const aggregate: OutputFindings = {
  kind: 'aggregate', entities: [99, 100, 100, 100, 1], aggregateColumns: [1, 2],
  small: [4], threshold: [], dominance: [[2, 2]], pRatio: [], singleValues: [[3, 2]], zeros: [[0, 1]],
};

describe('output findings', () => {
  it('lists what fails: small rows and failing cells, not cells that need review', () => {
    expect(failingOf(aggregate)).toEqual({ rows: [4], cells: [[2, 2]] });
  });

  it('drops removed rows and nulled cells, renumbers the rest, keeps what still shows', () => {
    const after = mitigateFindings(aggregate, new Set([0, 4]), new Set([cellKey(2, 2)]), []);
    expect(after).toMatchObject({ entities: [100, 100, 100], small: [], dominance: [], singleValues: [[2, 2]], zeros: [] });
    const checks = new Map(outputChecks(after, RULES).map((c) => [c.name, c]));
    expect(checks.get('minimum-entities')?.status).toBe('pass');
    expect(checks.get('dominance')?.status).toBe('pass');
    expect(checks.get('single-values')).toMatchObject({ status: 'review', cells: [[2, 2]] });
  });

  it('keeps every finding when nothing was withheld (rounding), with the zeros measured again', () => {
    const after = mitigateFindings(aggregate, new Set(), new Set(), [[0, 1], [1, 1]]);
    expect(after).toEqual({ ...aggregate, zeros: [[0, 1], [1, 1]] });
    const checks = new Map(outputChecks(after, RULES).map((c) => [c.name, c]));
    expect(checks.get('minimum-entities')).toMatchObject({ status: 'fail', rows: [4], reason: '1 rows describe fewer than 10 people or enterprises' });
    expect(checks.get('zeros')).toMatchObject({ status: 'review', cells: [[0, 1], [1, 1]] });
  });

  it('keeps identifiers failing in a row-level output: removing rows does not cure a column', () => {
    const rows: OutputFindings = { kind: 'rows', entities: [1, 50, 50], identifiers: ['mobile'], quasi: ['district'], offending: [0] };
    const after = mitigateFindings(rows, new Set([0]), new Set(), []);
    const checks = new Map(outputChecks(after, RULES).map((c) => [c.name, c]));
    expect(checks.get('k-anonymity')?.status).toBe('pass');
    expect(checks.get('identifiers')?.status).toBe('fail');
  });
});
