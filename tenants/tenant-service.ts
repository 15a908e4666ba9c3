import { existsSync } from 'node:fs';
import { DomainError } from '../core/errors.js';
import { tenantDirectory, type WipeRecord } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import { addYears } from './calendar.js';
import type { CreateTenant, LicenseState, Tenant, TenantRecord, TenantStatus } from './model.js';
import type { OrgDirectory } from './org-directory.js';
import type { ControlStore } from './store/control-store.js';

export const MAX_LICENSE_YEARS = 3;

export interface TenantServiceDeps {
  store: ControlStore;
  directory: OrgDirectory;
  dataDir: string;
  now: () => Date;
  today: () => string;
  /**
   * Fences the tenant off the engine (nothing sends its work or re-opens its files again), stops its
   * engine, waits for its work in flight, and destroys its files: the engine does it where they are.
   */
  retireTenant: (tenantId: string) => Promise<WipeRecord>;
  /** Interrupts the tenant's queries in flight (suspension). */
  cancelTenantWork: (tenantId: string) => void;
  /** Whether the engine has fenced the tenant for good. */
  isRetired: (tenantId: string) => boolean;
}

export function licenseState(record: Pick<TenantRecord, 'licenseFrom' | 'licenseTo'>, today: string): LicenseState {
  if (today < record.licenseFrom) return 'pending';
  if (today > record.licenseTo) return 'expired';
  return 'valid';
}

/**
 * Licensing of operating entities (运营主体): create, list, suspend, resume, revoke.
 * Every change commits with its audit entry and updates the in-memory directory before returning.
 */
export function createTenantService(deps: TenantServiceDeps) {
  const { store, directory } = deps;
  const present = (record: TenantRecord): Tenant => ({ ...record, licenseState: licenseState(record, deps.today()) });

  function checkLicenseWindow(input: CreateTenant): void {
    if (input.licenseTo < input.licenseFrom) {
      throw new DomainError('TNT_ERR_LICENSE_RANGE', `licenseTo (${input.licenseTo}) is before licenseFrom (${input.licenseFrom})`);
    }
    const limit = addYears(input.licenseFrom, MAX_LICENSE_YEARS);
    if (input.licenseTo >= limit) {
      throw new DomainError('TNT_ERR_LICENSE_TOO_LONG', `a license lasts at most ${MAX_LICENSE_YEARS} years: licenseTo must be before ${limit}`);
    }
    if (input.licenseTo < deps.today()) {
      throw new DomainError('TNT_ERR_LICENSE_ENDED', `the license window ended on ${input.licenseTo}, before today`);
    }
  }

  async function changeStatus(actor: AuditActor, id: string, to: TenantStatus, allowedFrom: TenantStatus[], action: string): Promise<TenantRecord> {
    return store.mutate(async (tx) => {
      const current = await tx.reader.getTenant(id);
      if (!current) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${id}`);
      if (!allowedFrom.includes(current.status)) {
        throw new DomainError('TNT_ERR_INVALID_TRANSITION', `tenant ${id} is ${current.status}; it cannot become ${to}`, { status: current.status });
      }
      const updatedAt = deps.now().toISOString();
      await tx.updateTenantStatus(id, to, updatedAt);
      await tx.appendAudit({ actor, action, target: `tenant:${id}`, details: { from: current.status, to } });
      const updated = { ...current, status: to, updatedAt };
      // SECURITY: the directory is what every request is checked against; it changes with the commit.
      tx.afterCommit(() => directory.putTenant(updated));
      return updated;
    });
  }

  /** Destroys the tenant's files and records what was destroyed. Safe to repeat. */
  async function wipeTenantFiles(actor: AuditActor, id: string): Promise<WipeRecord> {
    const record = await deps.retireTenant(id);
    await store.mutate(async (tx) => {
      await tx.appendAudit({ actor, action: 'tenant.wipe', target: `tenant:${id}`, details: { ...record } });
    });
    return record;
  }

  return {
    present,

    async create(actor: AuditActor, input: CreateTenant): Promise<Tenant> {
      checkLicenseWindow(input);
      const record = await store.mutate(async (tx) => {
        if (await tx.reader.getTenant(input.id)) {
          throw new DomainError('TNT_ERR_ALREADY_EXISTS', `tenant ${input.id} already exists (ids of revoked tenants are never reused)`);
        }
        // SECURITY: invariant 4: an org id names one organization: a tenant under an applicant's id
        // would receive, as that applicant, the exports addressed to it.
        if (await tx.reader.getApplicant(input.id)) throw new DomainError('TNT_ERR_ALREADY_EXISTS', `${input.id} is the id of a registered application entity (applicant): an org id names one organization`);
        const ts = deps.now().toISOString();
        const created: TenantRecord = { ...input, status: 'active', createdAt: ts, updatedAt: ts };
        await tx.insertTenant(created);
        await tx.appendAudit({ actor, action: 'tenant.create', target: `tenant:${input.id}`, details: { name: input.name, licenseFrom: input.licenseFrom, licenseTo: input.licenseTo } });
        tx.afterCommit(() => directory.putTenant(created));
        return created;
      });
      return present(record);
    },

    async list(): Promise<Tenant[]> {
      return (await store.reader.listTenants()).map(present);
    },

    get(id: string): Tenant {
      const record = directory.tenant(id);
      if (!record) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${id}`);
      return present(record);
    },

    /** Suspension is in force with the commit; work of the tenant in flight is interrupted (its answers are withheld anyway). */
    suspend: async (actor: AuditActor, id: string) => {
      const record = await changeStatus(actor, id, 'suspended', ['active'], 'tenant.suspend');
      deps.cancelTenantWork(id);
      return present(record);
    },
    resume: (actor: AuditActor, id: string) => changeStatus(actor, id, 'active', ['suspended'], 'tenant.resume').then(present),

    /**
     * Revocation is final. Access closes with the commit (the directory says revoked before this
     * returns); then the tenant's files are wiped and the wipe is recorded. If the process dies
     * between the two, `finishRevocations` completes the wipe on the next start.
     */
    async revoke(actor: AuditActor, id: string): Promise<Tenant & { wiped: { files: number; bytes: number } }> {
      const record = await changeStatus(actor, id, 'revoked', ['active', 'suspended'], 'tenant.revoke');
      const wipe = await wipeTenantFiles(actor, id);
      return { ...present(record), wiped: { files: wipe.files.length, bytes: wipe.totalBytes } };
    },

    /**
     * Completes revocations a crash interrupted: any revoked tenant whose directory still exists, or
     * that is not fenced yet (revoked by a version without the fence).
     */
    async finishRevocations(actor: AuditActor): Promise<string[]> {
      const finished: string[] = [];
      for (const tenant of await store.reader.listTenants()) {
        if (tenant.status === 'revoked' && (existsSync(tenantDirectory(deps.dataDir, tenant.id)) || !deps.isRetired(tenant.id))) {
          await wipeTenantFiles(actor, tenant.id);
          finished.push(tenant.id);
        }
      }
      return finished;
    },
  };
}

export type TenantService = ReturnType<typeof createTenantService>;
