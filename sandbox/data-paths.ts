import fs from 'node:fs';
import path from 'node:path';
import { DomainError } from '../core/errors.js';

/**
 * Where things live under the data dir (DESIGN.md §2), derived from ids: the engine protocol carries
 * tenant and dataset ids, and each side computes paths from its own data dir. Ids have been
 * validated against strict patterns, so each is a single safe path segment.
 */
export function tenantDirectory(dataDir: string, tenantId: string): string {
  // SECURITY: a tenant id never contains a separator or dot-segment, so the result stays under tenants/.
  if (!/^[a-z][a-z0-9_-]*$/.test(tenantId)) throw new Error(`not a tenant id: ${JSON.stringify(tenantId)}`);
  return path.join(dataDir, 'tenants', tenantId);
}

export function datasetDirectory(dataDir: string, datasetId: string): string {
  // SECURITY: as above, for datasets under domain/.
  if (!/^[a-z][a-z0-9_]*$/.test(datasetId)) throw new Error(`not a dataset id: ${JSON.stringify(datasetId)}`);
  return path.join(dataDir, 'domain', datasetId);
}

/** Where the trusted process builds a tenant's next files, outside the tenant's own directory. */
export function stagingDirectory(dataDir: string, tenantId: string): string {
  tenantDirectory(dataDir, tenantId);
  return path.join(dataDir, 'builds', tenantId);
}

/**
 * One version of an export: its immutable snapshot, and once approved its delivered package
 * (`package/`), under `exports/<exportId>/v<version>/`.
 */
export function exportVersionDirectory(dataDir: string, exportId: string, version: number): string {
  // SECURITY: an export id is `exp-` and 16 hex digits and a version a positive integer: the result stays under exports/.
  if (!/^exp-[0-9a-f]{16}$/.test(exportId) || !Number.isInteger(version) || version < 1) throw new Error(`not an export version: ${JSON.stringify([exportId, version])}`);
  return path.join(dataDir, 'exports', exportId, `v${version}`);
}

/**
 * The release store: the entity sets of every released export version's cells, for differencing
 * (`engine/release-store.ts`). Opened only by the trusted engine process; outside every tenant's
 * directory, so no tenant engine attaches or reads it.
 */
export function releasesDirectory(dataDir: string): string {
  return path.join(dataDir, 'releases');
}

/** Request temp files (uploads, ingests being received). */
export function requestTempDirectory(dataDir: string): string {
  return path.join(dataDir, 'tmp');
}

/**
 * The revocation fence on disk: written before a revoked tenant's files are wiped, never removed.
 * Engine processes check it before they open or create anything of the tenant's.
 */
export function retiredMarker(dataDir: string, tenantId: string): string {
  tenantDirectory(dataDir, tenantId);
  return path.join(dataDir, 'tenants', '.retired', tenantId);
}

export function isRetired(dataDir: string, tenantId: string): boolean {
  return fs.existsSync(retiredMarker(dataDir, tenantId));
}

/** Throws AUTH_ERR_TENANT_REVOKED when the tenant has been retired (revoked). */
export function assertNotRetired(dataDir: string, tenantId: string): void {
  // SECURITY: invariant 6: nothing opens or re-creates a revoked tenant's files.
  if (isRetired(dataDir, tenantId)) throw new DomainError('AUTH_ERR_TENANT_REVOKED', 'the tenant has been revoked');
}

/** Tenants fenced on disk (for a start after a revocation). */
export function retiredTenants(dataDir: string): string[] {
  try {
    return fs.readdirSync(path.join(dataDir, 'tenants', '.retired'));
  } catch {
    return [];
  }
}
