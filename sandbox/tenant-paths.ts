import path from 'node:path';

/**
 * Where a tenant's files live under the data dir (DESIGN.md §2). The tenant id has already been
 * validated against a strict pattern, so it is a single safe path segment.
 */
export function tenantDirectory(dataDir: string, tenantId: string): string {
  // SECURITY: a tenant id never contains a separator or dot-segment, so the result stays under tenants/.
  if (!/^[a-z][a-z0-9_-]*$/.test(tenantId)) throw new Error(`not a tenant id: ${JSON.stringify(tenantId)}`);
  return path.join(dataDir, 'tenants', tenantId);
}
