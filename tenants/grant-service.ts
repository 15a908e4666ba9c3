import { z } from 'zod';
import { DomainError } from '../core/errors.js';
import type { SourceRef } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { CatalogService } from './catalog-service.js';
import type { AccessDirectory } from './lineage.js';
import type { CreateGrant, GrantRecord } from './model.js';
import type { OrgDirectory } from './org-directory.js';
import type { Refinery } from './refinery.js';
import type { ControlStore } from './store/control-store.js';

/**
 * A grant as the supervisor sees it. `building`: the tenant cannot query it yet (in either env):
 * the refinery has not yet published, in both its granted and dev files, a table carrying the
 * grant's current source (dataset version and access fingerprint); `progress` counts the files that
 * already do. `active`: both files answer for it (the engine swaps to a file as it publishes it).
 * A grant changed by a new policy or dataset version reads `building` again until rebuilt.
 * `withdrawn`: its dataset is withdrawn (nothing reads it until reinstated).
 */
export type GrantView = GrantRecord & { status: 'building' | 'active' | 'expired' | 'withdrawn'; progress?: { done: number; total: number } };

/** The published files' versions and each table's source, as the engine's catalog names them. */
export interface PublishedVersions {
  granted?: { version: number; sources?: Record<string, SourceRef> };
  dev?: { version: number; sources?: Record<string, SourceRef> };
}

const TARGETS = ['granted', 'dev'] as const;

/** What the catalog tells an operator of its own tenant's grant of a dataset. */
export const GrantSummarySchema = z.object({
  status: z.enum(['building', 'active', 'expired', 'withdrawn']),
  columns: z.array(z.string()).nullable().describe('raw columns granted; null: all'),
  purpose: z.string(),
  until: z.string(),
});
export type GrantSummary = z.infer<typeof GrantSummarySchema>;

/**
 * Grants of datasets to tenants (DESIGN.md §3): which dataset and columns, for what purpose, until
 * when. A grant commits with its audit entry, then the refinery rebuilds the tenant's files off the
 * request path; `GET` shows the grants with the version of the tenant's granted file.
 */
export function createGrantService(deps: {
  store: ControlStore; directory: OrgDirectory; access: AccessDirectory; catalog: CatalogService; refinery: Refinery; today: () => string; now: () => Date;
  /** The versions of a tenant's published files (the engine reads them where they are). */
  publishedCatalog: (tenantId: string) => PublishedVersions;
}) {
  /** Each grant with its status: expired, building (with progress) or active. */
  async function withStatus(tenantId: string, grants: GrantRecord[], catalog: PublishedVersions): Promise<GrantView[]> {
    const today = deps.today();
    const expected = await deps.refinery.expectedSources(tenantId);
    return grants.map((grant) => {
      if (grant.until < today) return { ...grant, status: 'expired' as const };
      if (deps.access.isWithdrawn(grant.dataset)) return { ...grant, status: 'withdrawn' as const };
      const want = expected.get(grant.dataset);
      // Every column hidden: no table is ever published for it, so there is nothing to wait for.
      if (!want) return { ...grant, status: 'active' as const };
      const done = TARGETS.filter((target) => sameSource(catalog[target]?.sources?.[grant.dataset], want)).length;
      return done === TARGETS.length ? { ...grant, status: 'active' as const } : { ...grant, status: 'building' as const, progress: { done, total: TARGETS.length } };
    });
  }

  return {
    async create(actor: AuditActor, tenantId: string, input: CreateGrant): Promise<GrantView & { building: Promise<void> }> {
      const tenant = deps.directory.tenant(tenantId);
      if (!tenant) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${tenantId}`);
      if (tenant.status === 'revoked') throw new DomainError('TNT_ERR_INVALID_TRANSITION', `tenant ${tenantId} is revoked`, { status: tenant.status });
      const { record, columns } = await deps.catalog.policies(input.dataset);
      // SECURITY: 不予共享 data is not placed under authorized operation.
      if (record.shareAttribute === 'none') throw new DomainError('GRT_ERR_NOT_SHAREABLE', `${input.dataset} is marked 不予共享 and cannot be granted`);
      // A withdrawn dataset is not granted (a grant made while a withdrawal commits reads nothing either: lineage.ts).
      if (deps.access.isWithdrawn(input.dataset)) throw new DomainError('CAT_ERR_DATASET_WITHDRAWN', `${input.dataset} was withdrawn by the supervisor: reinstate it before granting it`, { datasets: [input.dataset] });
      const unknown = (input.columns ?? []).filter((c) => !columns.some((k) => k.name === c));
      if (unknown.length > 0) throw new DomainError('GRT_ERR_BAD_COLUMNS', `no such columns in ${input.dataset}: ${unknown.join(', ')}`, { columns: unknown });
      if (input.until < deps.today() || input.until > tenant.licenseTo) {
        throw new DomainError('GRT_ERR_BAD_UNTIL', `until must be between today and the license end (${tenant.licenseTo})`);
      }
      const grant: GrantRecord = { tenantId, dataset: input.dataset, columns: input.columns ?? null, purpose: input.purpose, until: input.until, createdAt: deps.now().toISOString(), createdBy: actor.sub };
      await deps.store.mutate(async (tx) => {
        await tx.upsertGrant(grant);
        // SECURITY: in the commit: a grant narrowed or shortened stops the older copies now.
        tx.afterCommit(() => deps.access.putGrant(grant));
        await tx.appendAudit({ actor, action: 'grant.create', target: `tenant:${tenantId}`, details: { dataset: grant.dataset, columns: grant.columns, purpose: grant.purpose, until: grant.until, datasetVersion: record.version } });
      });
      const building = deps.refinery.refresh(tenantId);
      const [view] = await withStatus(tenantId, [grant], deps.publishedCatalog(tenantId));
      return { ...view!, building };
    },

    /**
     * Marks which catalog entries the tenant holds a grant of (the catalog as an operator sees it):
     * `granted`, and the grant's status, columns, purpose and end. Only this tenant's grants, and
     * only on entries that show metadata.
     */
    async annotate<V extends { id: string }>(tenantId: string, views: V[]): Promise<(V & { granted?: boolean; grant?: GrantSummary })[]> {
      const { grants } = await this.list(tenantId);
      return views.map((view) => {
        // 不予共享 entries show existence only (and can never be granted): nothing to add.
        if (!('columns' in view)) return view;
        const grant = grants.find((g) => g.dataset === view.id);
        return grant
          ? { ...view, granted: grant.status === 'active', grant: { status: grant.status, columns: grant.columns, purpose: grant.purpose, until: grant.until } }
          : { ...view, granted: false };
      });
    },

    async list(tenantId: string): Promise<{ grants: GrantView[]; grantedVersion: number | null; devVersion: number | null }> {
      if (!deps.directory.tenant(tenantId)) throw new DomainError('TNT_ERR_NOT_FOUND', `no tenant ${tenantId}`);
      // The catalog first: a build landing meanwhile only makes a grant look less ready than it is.
      const catalog = deps.publishedCatalog(tenantId);
      const grants = await withStatus(tenantId, await deps.store.reader.listGrants(tenantId), catalog);
      return { grants, grantedVersion: catalog.granted?.version ?? null, devVersion: catalog.dev?.version ?? null };
    },
  };
}

export type GrantService = ReturnType<typeof createGrantService>;

function sameSource(published: SourceRef | undefined, want: SourceRef): boolean {
  return published !== undefined && published.dataset === want.dataset && published.version === want.version && published.policy === want.policy;
}
