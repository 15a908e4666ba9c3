import { DomainError } from '../core/errors.js';
import type { Claims, TenantRecord } from './model.js';
import type { OrgDirectory } from './org-directory.js';
import { licenseState } from './tenant-service.js';

/**
 * Checks a verified token's organization against control-plane state, on every request: a valid
 * signature says who the caller was when the token was issued, not whether they may act today.
 */
export function checkOrgAccess(claims: Claims, directory: OrgDirectory, today: string): void {
  switch (claims.role) {
    case 'supervisor':
      return;
    case 'operator':
      // SECURITY: invariant 6: tokens outlive decisions; the directory is the authority.
      return assertLicensed(claims.org, directory.tenant(claims.org), today);
    case 'applicant':
      // SECURITY: only registered application entities act as applicants.
      if (!directory.applicant(claims.org)) throw new DomainError('AUTH_ERR_ORG_UNKNOWN', `no application entity ${claims.org} is registered`);
      return;
  }
}

/**
 * What to report for a tenant's work that failed: its own suspension or revocation first, when one
 * happened meanwhile (the work was cut short by it, and how it was cut says less).
 */
export function failureOf(error: unknown, assertTenantActive: () => void): unknown {
  try {
    assertTenantActive();
    return error;
  } catch (inactive) {
    return inactive;
  }
}

/** Throws unless the tenant (its record, from the directory or a transaction's read) is licensed and active today. */
export function assertLicensed(id: string, tenant: TenantRecord | undefined, today: string): void {
  if (!tenant) throw new DomainError('AUTH_ERR_ORG_UNKNOWN', `no operating entity ${id} is licensed`);
  if (tenant.status === 'revoked') throw new DomainError('AUTH_ERR_TENANT_REVOKED', `the license of ${tenant.id} was revoked`);
  if (tenant.status === 'suspended') throw new DomainError('AUTH_ERR_TENANT_SUSPENDED', `the license of ${tenant.id} is suspended`);
  const state = licenseState(tenant, today);
  if (state === 'pending') throw new DomainError('AUTH_ERR_LICENSE_NOT_STARTED', `the license of ${tenant.id} starts on ${tenant.licenseFrom}`);
  if (state === 'expired') throw new DomainError('AUTH_ERR_LICENSE_EXPIRED', `the license of ${tenant.id} ended on ${tenant.licenseTo}`);
}
