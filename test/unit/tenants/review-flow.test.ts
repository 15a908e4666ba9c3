/**
 * The export review flow as a pure state machine: outcomes, approvals needed, who may review what,
 * submission with justifications, and delivery within validity and the download limit.
 */
import { describe, expect, it } from 'vitest';
import type { Check } from '../../../tenants/exports/export-model.js';
import { approvalsNeeded, assertCanMakeVersion, assertCanWithdraw, decideDownload, decideReview, decideSubmit, worstOutcome, type ReviewFacts } from '../../../tenants/exports/review-flow.js';
import { cellChanges } from '../../../tenants/exports/version-diff.js';

const check = (name: string, status: Check['status']): Check => ({ name, status, reason: name });
const codeOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return (error as { code?: string }).code;
  }
  return 'no error';
};

describe('outcomes', () => {
  it('is the worst check, and review when nothing was checked', () => {
    expect(worstOutcome([check('a', 'pass'), check('b', 'pass')])).toBe('pass');
    expect(worstOutcome([check('a', 'pass'), check('b', 'review')])).toBe('review');
    expect(worstOutcome([check('a', 'fail'), check('b', 'review'), check('c', 'pass')])).toBe('fail');
    expect(worstOutcome([])).toBe('review');
  });

  it('needs one approval for pass, two for review, and none can approve fail', () => {
    expect(approvalsNeeded('pass')).toBe(1);
    expect(approvalsNeeded('review')).toBe(2);
    expect(approvalsNeeded('fail')).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('submission', () => {
  const checks = [check('row-cap', 'review'), check('empty-output', 'pass')];
  it('needs a draft, no fail, and a justification per review check (and only those)', () => {
    expect(decideSubmit({ status: 'draft', outcome: 'review', checks, justifications: { 'row-cap': ' needed ' } })).toEqual({ 'row-cap': 'needed' });
    expect(codeOf(() => decideSubmit({ status: 'draft', outcome: 'review', checks, justifications: {} }))).toBe('EXP_ERR_JUSTIFICATION_MISSING');
    expect(codeOf(() => decideSubmit({ status: 'draft', outcome: 'review', checks, justifications: { 'row-cap': '   ' } }))).toBe('EXP_ERR_JUSTIFICATION_MISSING');
    expect(codeOf(() => decideSubmit({ status: 'draft', outcome: 'review', checks, justifications: { 'row-cap': 'x', 'empty-output': 'y' } }))).toBe('EXP_ERR_JUSTIFICATION_MISSING');
    expect(codeOf(() => decideSubmit({ status: 'draft', outcome: 'fail', checks: [check('x', 'fail')], justifications: undefined }))).toBe('EXP_ERR_OUTCOME_FAIL');
    for (const status of ['submitted', 'approved', 'rejected', 'withdrawn', 'released', 'expired', 'changes_requested'] as const) {
      expect(codeOf(() => decideSubmit({ status, outcome: 'pass', checks: [], justifications: undefined }))).toBe('EXP_ERR_INVALID_STATE');
    }
  });
});

describe('reviews', () => {
  const facts = (over: Partial<ReviewFacts> = {}): ReviewFacts => ({ status: 'submitted', currentVersion: 2, outcome: 'pass', authors: ['olga'], reviews: [], ...over });
  const approve = { reviewerSub: 'sue', version: 2, decision: 'approve' as const, comment: undefined };

  it('approves a pass with one supervisor, a review with two different ones', () => {
    expect(decideReview(facts(), approve)).toBe('approved');
    expect(decideReview(facts({ outcome: 'review' }), approve)).toBe('submitted');
    expect(decideReview(facts({ outcome: 'review', reviews: [{ reviewerSub: 'sam', decision: 'approve' }] }), approve)).toBe('approved');
  });

  it('refuses a second review by the same supervisor, the author, a stale version, fail, and a missing comment', () => {
    expect(codeOf(() => decideReview(facts({ outcome: 'review', reviews: [{ reviewerSub: 'sue', decision: 'approve' }] }), approve))).toBe('EXP_ERR_ALREADY_REVIEWED');
    expect(codeOf(() => decideReview(facts({ authors: ['sue'] }), approve))).toBe('EXP_ERR_OWN_EXPORT');
    expect(codeOf(() => decideReview(facts(), { ...approve, version: 1 }))).toBe('EXP_ERR_VERSION_CHANGED');
    expect(codeOf(() => decideReview(facts({ outcome: 'fail' }), approve))).toBe('EXP_ERR_OUTCOME_FAIL');
    expect(codeOf(() => decideReview(facts(), { ...approve, decision: 'reject' }))).toBe('EXP_ERR_COMMENT_REQUIRED');
    expect(codeOf(() => decideReview(facts(), { ...approve, decision: 'request_changes', comment: ' ' }))).toBe('EXP_ERR_COMMENT_REQUIRED');
    expect(codeOf(() => decideReview(facts({ status: 'draft' }), approve))).toBe('EXP_ERR_INVALID_STATE');
  });

  it('rejects or returns at once, fail included', () => {
    expect(decideReview(facts({ outcome: 'fail' }), { ...approve, decision: 'reject', comment: 'no' })).toBe('rejected');
    expect(decideReview(facts({ outcome: 'review' }), { ...approve, decision: 'request_changes', comment: 'round it' })).toBe('changes_requested');
  });

  it('allows new versions and withdrawal only before the end', () => {
    for (const status of ['draft', 'submitted', 'changes_requested'] as const) expect(codeOf(() => assertCanMakeVersion(status))).toBe('no error');
    for (const status of ['approved', 'released', 'rejected', 'withdrawn', 'expired'] as const) expect(codeOf(() => assertCanMakeVersion(status))).toBe('EXP_ERR_INVALID_STATE');
    for (const status of ['released', 'rejected', 'withdrawn', 'expired'] as const) expect(codeOf(() => assertCanWithdraw(status))).toBe('EXP_ERR_INVALID_STATE');
  });
});

describe('delivery', () => {
  const facts = { status: 'approved' as const, packagedVersion: 2, validUntil: '2026-12-31T00:00:00.000Z', downloads: 0, maxDownloads: 3 };
  const at = (nowIso: string, version?: number) => ({ nowIso, version });

  it('delivers the packaged version within validity and the limit', () => {
    expect(decideDownload(facts, at('2026-12-30T23:59:59.999Z'))).toEqual({ ok: true });
    expect(decideDownload({ ...facts, status: 'released', downloads: 2 }, at('2026-12-01T00:00:00.000Z', 2))).toEqual({ ok: true });
  });

  it('refuses after validity (asking to record the expiry), beyond the limit, another version, or no approval', () => {
    const late = decideDownload(facts, at('2026-12-31T00:00:00.000Z'));
    expect(late).toMatchObject({ ok: false, expired: true });
    expect(!late.ok && late.error.code).toBe('EXP_ERR_EXPIRED');
    const limit = decideDownload({ ...facts, downloads: 3 }, at('2026-12-01T00:00:00.000Z'));
    expect(!limit.ok && limit.error.code).toBe('EXP_ERR_DOWNLOAD_LIMIT');
    const old = decideDownload(facts, at('2026-12-01T00:00:00.000Z', 1));
    expect(!old.ok && old.error.code).toBe('EXP_ERR_VERSION_SUPERSEDED');
    for (const status of ['draft', 'submitted', 'rejected', 'withdrawn', 'changes_requested'] as const) {
      const refused = decideDownload({ ...facts, status }, at('2026-12-01T00:00:00.000Z'));
      expect(!refused.ok && refused.error.code).toBe('EXP_ERR_NOT_APPROVED');
    }
    const expired = decideDownload({ ...facts, status: 'expired' }, at('2026-12-01T00:00:00.000Z'));
    expect(!expired.ok && expired.error.code).toBe('EXP_ERR_EXPIRED');
  });
});

describe('cell changes between versions', () => {
  const columns = [{ name: 'd', type: 'INTEGER' }, { name: 'n', type: 'INTEGER' }];
  it('lists changed cells of outputs of the same shape, and gives up otherwise', () => {
    expect(cellChanges({ columns, rows: [[1, 12], [2, 5]] }, { columns, rows: [[1, 10], [2, 5]] })).toEqual({ changed: 1, becameNull: 0, sample: [{ row: 0, column: 'n', from: 12, to: 10 }] });
    expect(cellChanges({ columns, rows: [[1, 12]] }, { columns, rows: [[1, 12], [2, 5]] })).toBeNull();
    expect(cellChanges({ columns, rows: [[1, 12]] }, { columns: [columns[0]!], rows: [[1]] })).toBeNull();
  });
});
