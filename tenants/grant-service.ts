import { DomainError } from '../core/errors.js';
import { readTenantCatalog, tenantDirectory } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { CatalogService } from './catalog-service.js';
import type { CreateGrant, GrantRecord } from './model.js';
import type { OrgDirectory } from './org-directory.js';
import type { Refinery } from './refinery.js';
import type { ControlStore } from './store/control-store.js';

export type GrantView = GrantRecord & { status: 'active' | 'expired' };

/**
 * Live grants in memory, for the per-request check that an expired grant stops working at once
 * (invariant 6), before the refinery has rebuilt the tenant's files. Updated with each commit.
 */
export class GrantDirectory {
  private readonly until = new Map<string, string>();

  constructor(grants: GrantRecord[]) {
    for (const grant of grants) this.put(grant);
  }

  put(grant: GrantRecord): void {
    this.until.set(`${grant.tenantId}/${grant.dataset}`, grant.until);
  }

  /**
   * Whether the tenant's grant on the dataset has ended before `today`. A table with no grant record
   * was published by trusted code other than the refinery (test fixtures): not governed by a grant.
   */
  hasEnded(tenantId: string, dataset: string, today: string): boolean {
    const until = this.until.get(`${tenantId}/${dataset}`);
    return until !== undefined && until < today;
  }
}

/**
 * Grants of datasets to tenants (DESIGN.md §3): which dataset and columns, for what purpose, until
 * when. A grant commits with its audit entry, then the refinery rebuilds the tenant's files off the
 * request path; `GET` shows the grants with the version of the tenant's granted file.
 */
export function createGrantService(deps: { store: ControlStore; directory: OrgDirectory; grantDirectory: GrantDirectory; catalog: CatalogService; refinery: Refinery; dataDir: string; today: () => string; now: () => Date }) {
  return {
    async create(actor: AuditActor, tenantId: string, input: CreateGrant): Promise<GrantView & { building: Promise<void> }> {
      const tenant = deps.directory.tenant(tenantId);
      if (!tenant) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${tenantId}`);
      if (tenant.status === 'revoked') throw new DomainError('TNT_ERR_INVALID_TRANSITION', `tenant ${tenantId} is revoked`, { status: tenant.status });
      const { record, columns } = await deps.catalog.policies(input.dataset);
      // SECURITY: 不予共享 data is not placed under authorized operation.
      if (record.shareAttribute === 'none') throw new DomainError('GRT_ERR_NOT_SHAREABLE', `${input.dataset} is marked 不予共享 and cannot be granted`);
      const unknown = (input.columns ?? []).filter((c) => !columns.some((k) => k.name === c));
      if (unknown.length > 0) throw new DomainError('GRT_ERR_BAD_COLUMNS', `no such columns in ${input.dataset}: ${unknown.join(', ')}`, { columns: unknown });
      if (input.until < deps.today() || input.until > tenant.licenseTo) {
        throw new DomainError('GRT_ERR_BAD_UNTIL', `until must be between today and the license end (${tenant.licenseTo})`);
      }
      const grant: GrantRecord = { tenantId, dataset: input.dataset, columns: input.columns ?? null, purpose: input.purpose, until: input.until, createdAt: deps.now().toISOString(), createdBy: actor.sub };
      await deps.store.mutate(async (tx) => {
        await tx.upsertGrant(grant);
        tx.afterCommit(() => deps.grantDirectory.put(grant));
        await tx.appendAudit({ actor, action: 'grant.create', target: `tenant:${tenantId}`, details: { dataset: grant.dataset, columns: grant.columns, purpose: grant.purpose, until: grant.until, datasetVersion: record.version } });
      });
      return { ...grant, status: 'active', building: deps.refinery.refresh(tenantId) };
    },

    async list(tenantId: string): Promise<{ grants: GrantView[]; grantedVersion: number | null; devVersion: number | null }> {
      if (!deps.directory.tenant(tenantId)) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${tenantId}`);
      const today = deps.today();
      const grants = (await deps.store.reader.listGrants(tenantId)).map((g) => ({ ...g, status: g.until >= today ? 'active' as const : 'expired' as const }));
      const catalog = readTenantCatalog(tenantDirectory(deps.dataDir, tenantId));
      return { grants, grantedVersion: catalog.granted?.version ?? null, devVersion: catalog.dev?.version ?? null };
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;
