import type { ApplicantRecord, TenantRecord } from './model.js';

/**
 * An in-memory mirror of the organizations in the control store, consulted on every request.
 *
 * This process is the store's only writer and updates the mirror inside each commit's after-commit
 * step, before the mutation's response is sent; so a suspension or revocation is in force for the
 * very next request. A multi-host deployment (PostgreSQL store) must replace this with change
 * notifications or a per-request read.
 */
export class OrgDirectory {
  private readonly tenants = new Map<string, TenantRecord>();
  private readonly applicants = new Map<string, ApplicantRecord>();

  constructor(tenants: TenantRecord[], applicants: ApplicantRecord[]) {
    for (const tenant of tenants) this.tenants.set(tenant.id, tenant);
    for (const applicant of applicants) this.applicants.set(applicant.id, applicant);
  }

  tenant(id: string): TenantRecord | undefined {
    return this.tenants.get(id);
  }

  applicant(id: string): ApplicantRecord | undefined {
    return this.applicants.get(id);
  }

  putTenant(record: TenantRecord): void {
    this.tenants.set(record.id, record);
  }

  putApplicant(record: ApplicantRecord): void {
    this.applicants.set(record.id, record);
  }
}
