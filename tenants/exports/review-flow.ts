import { DomainError } from '../../core/errors.js';
import type { Check, CheckStatus, ExportStatus, ReviewDecision, ReviewRecord } from './export-model.js';

/**
 * The review flow of exports as a pure state machine (no I/O, no clock): modelled on OpenSAFELY
 * Airlock, plus a supervisor gate. Each function decides one transition from the facts it is given
 * and throws a DomainError with a stable code when it is refused; the export service applies the
 * result in one store transaction.
 *
 *   draft ──submit──▶ submitted ──approve (enough)──▶ approved ──first download──▶ released
 *     ▲                  │  │                              │                          │
 *     └──new version─────┘  ├──request_changes──▶ changes_requested ──new version──▶ draft
 *                           └──reject──▶ rejected (final)
 *   draft | submitted | changes_requested | approved ──withdraw──▶ withdrawn (final)
 *   approved | released ──validity over──▶ expired (final)
 */

/** States in which the operator may make a new version (its reviews start again). */
const VERSIONABLE: ReadonlySet<ExportStatus> = new Set(['draft', 'submitted', 'changes_requested']);
const WITHDRAWABLE: ReadonlySet<ExportStatus> = new Set(['draft', 'submitted', 'changes_requested', 'approved']);
/** States in which the recipient may download (within validity and the download limit). */
export const DELIVERABLE: ReadonlySet<ExportStatus> = new Set(['approved', 'released']);

const SEVERITY: Record<CheckStatus, number> = { pass: 0, review: 1, fail: 2 };

/** The outcome of a set of checks: the worst of them (fail > review > pass); no checks is `review`. */
export function worstOutcome(checks: readonly Pick<Check, 'status'>[]): CheckStatus {
  // Fail closed: an output nothing has looked at is not a pass.
  if (checks.length === 0) return 'review';
  return checks.reduce<CheckStatus>((worst, c) => (SEVERITY[c.status] > SEVERITY[worst] ? c.status : worst), 'pass');
}

/** Approvals from distinct supervisors a version needs: one for `pass`, two for `review`; `fail` none can give. */
export function approvalsNeeded(outcome: CheckStatus): number {
  return outcome === 'pass' ? 1 : outcome === 'review' ? 2 : Number.POSITIVE_INFINITY;
}

function invalid(status: ExportStatus, action: string): DomainError {
  return new DomainError('EXP_ERR_INVALID_STATE', `an export that is ${status.replace('_', ' ')} cannot be ${action}`);
}

export function assertCanMakeVersion(status: ExportStatus): void {
  if (!VERSIONABLE.has(status)) throw invalid(status, 'given a new version');
}

export function assertCanWithdraw(status: ExportStatus): void {
  if (!WITHDRAWABLE.has(status)) throw invalid(status, 'withdrawn');
}

/**
 * Submission of the current version: from draft only, never a `fail` outcome, and with a
 * justification for every check that says `review`. Returns the justifications kept.
 */
export function decideSubmit(input: { status: ExportStatus; outcome: CheckStatus; checks: readonly Check[]; justifications: Record<string, string> | undefined }): Record<string, string> {
  if (input.status !== 'draft') throw invalid(input.status, 'submitted');
  if (input.outcome === 'fail') throw new DomainError('EXP_ERR_OUTCOME_FAIL', 'the checks say fail: mitigate or change the SQL, then submit the new version');
  const given = input.justifications ?? {};
  const needed = input.checks.filter((c) => c.status === 'review').map((c) => c.name);
  const missing = needed.filter((name) => !given[name]?.trim());
  if (missing.length > 0) throw new DomainError('EXP_ERR_JUSTIFICATION_MISSING', `justify each check that needs review: ${missing.join(', ')}`, { missing });
  const unknown = Object.keys(given).filter((name) => !needed.includes(name));
  if (unknown.length > 0) throw new DomainError('EXP_ERR_JUSTIFICATION_MISSING', `justifications name checks that do not need review: ${unknown.join(', ')}`, { unknown });
  return Object.fromEntries(needed.map((name) => [name, given[name]!.trim()]));
}

export interface ReviewFacts {
  status: ExportStatus;
  currentVersion: number;
  outcome: CheckStatus;
  /** Who made the export (its creator) and who made the current version. */
  authors: readonly string[];
  /** Reviews of the current version so far. */
  reviews: readonly Pick<ReviewRecord, 'reviewerSub' | 'decision'>[];
}

/**
 * A supervisor's review of a version. Returns the export's next status: still `submitted` while
 * approvals are missing, `approved` once enough distinct supervisors approved, `rejected` or
 * `changes_requested` at once.
 */
export function decideReview(facts: ReviewFacts, review: { reviewerSub: string; version: number; decision: ReviewDecision; comment: string | undefined }): ExportStatus {
  // SECURITY: a review is about exactly what the reviewer saw: a version changed since is refused.
  if (review.version !== facts.currentVersion) {
    throw new DomainError('EXP_ERR_VERSION_CHANGED', `version ${review.version} is not the current one (${facts.currentVersion}): read the export again`, { currentVersion: facts.currentVersion });
  }
  if (facts.status !== 'submitted') throw invalid(facts.status, 'reviewed');
  // SECURITY: separation of duties: nobody reviews their own export.
  if (facts.authors.includes(review.reviewerSub)) throw new DomainError('EXP_ERR_OWN_EXPORT', 'nobody reviews their own export');
  // SECURITY: two approvals mean two people: one supervisor reviews a version once.
  if (facts.reviews.some((r) => r.reviewerSub === review.reviewerSub)) throw new DomainError('EXP_ERR_ALREADY_REVIEWED', 'you already reviewed this version: another supervisor must review it');
  if (review.decision !== 'approve' && !review.comment?.trim()) throw new DomainError('EXP_ERR_COMMENT_REQUIRED', 'say why in comment: rejecting or requesting changes needs one');
  if (review.decision === 'reject') return 'rejected';
  if (review.decision === 'request_changes') return 'changes_requested';
  // SECURITY: a fail outcome cannot be approved, whoever asks.
  if (facts.outcome === 'fail') throw new DomainError('EXP_ERR_OUTCOME_FAIL', 'the checks say fail: this version cannot be approved');
  const approvals = new Set([...facts.reviews.filter((r) => r.decision === 'approve').map((r) => r.reviewerSub), review.reviewerSub]);
  return approvals.size >= approvalsNeeded(facts.outcome) ? 'approved' : 'submitted';
}

export interface DeliveryFacts {
  status: ExportStatus;
  packagedVersion: number | null;
  validUntil: string | null;
  downloads: number;
  maxDownloads: number;
}

/**
 * Whether the recipient may download now. `expired` tells the caller to record the expiry (an
 * approved or released export past its validity).
 */
export function decideDownload(facts: DeliveryFacts, input: { nowIso: string; version: number | undefined }): { ok: true } | { ok: false; error: DomainError; expired?: true } {
  if (facts.status === 'expired') return { ok: false, error: new DomainError('EXP_ERR_EXPIRED', 'the package has expired') };
  if (!DELIVERABLE.has(facts.status) || facts.packagedVersion === null || facts.validUntil === null) {
    return { ok: false, error: new DomainError('EXP_ERR_NOT_APPROVED', `the export is ${facts.status.replace('_', ' ')}: nothing to download`) };
  }
  if (input.version !== undefined && input.version !== facts.packagedVersion) {
    return { ok: false, error: new DomainError('EXP_ERR_VERSION_SUPERSEDED', `version ${input.version} is not the approved version (${facts.packagedVersion})`) };
  }
  // SECURITY: the validity is enforced where the file is served, on the server's clock.
  if (input.nowIso >= facts.validUntil) return { ok: false, error: new DomainError('EXP_ERR_EXPIRED', `the package was valid until ${facts.validUntil}`), expired: true };
  if (facts.downloads >= facts.maxDownloads) return { ok: false, error: new DomainError('EXP_ERR_DOWNLOAD_LIMIT', `the package was downloaded ${facts.downloads} times, the most allowed`) };
  return { ok: true };
}
