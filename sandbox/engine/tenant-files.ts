import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { writeFileAtomic } from '../atomic-write.js';
import { SourceRefSchema, TableBuildSchema, TablePrivacySchema } from './protocol.js';

/**
 * A tenant's directory (DESIGN.md §2): `workspace.duckdb` (the tenant's own tables),
 * `granted-<v>.duckdb` and `dev-<v>.duckdb` (read-only, built by trusted code), and
 * `catalog.json`, which names the current version of each. Only the tenant's engine thread writes
 * these; the trusted process reads the catalog and copies the current published file (immutable
 * once swapped in) to carry unchanged tables into the next build (`publish.ts`).
 */
const PublishedSchema = z.object({
  version: z.number().int().positive(),
  file: z.string().regex(/^(granted|dev)-\d+\.duckdb$/),
  /** Each table's lineage. A table without one (a file from before lineage was kept) never answers. */
  sources: z.record(z.string(), SourceRefSchema).default({}),
  /** Names of the file's tables, as files from before lineage was kept list them. */
  tables: z.array(z.string()).default([]),
  /** Per personal table: what the disclosure checks need (tables absent here are not personal). */
  privacy: z.record(z.string(), TablePrivacySchema).optional(),
  /**
   * How each table was built (its definition's key and the tables building it created), for the
   * next build to carry what did not change. A file without it is rebuilt whole.
   */
  builds: z.record(z.string(), TableBuildSchema).default({}),
});
export const TenantCatalogSchema = z.object({ granted: PublishedSchema.optional(), dev: PublishedSchema.optional() });
export type TenantCatalog = z.infer<typeof TenantCatalogSchema>;

export const WORKSPACE_FILE = 'workspace.duckdb';
const CATALOG_FILE = 'catalog.json';

export function readTenantCatalog(dir: string): TenantCatalog {
  const file = path.join(dir, CATALOG_FILE);
  if (!fs.existsSync(file)) return {};
  return TenantCatalogSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/** Replaces catalog.json atomically: readers see the old or the new. */
export function writeTenantCatalog(dir: string, catalog: TenantCatalog): void {
  writeFileAtomic(path.join(dir, CATALOG_FILE), JSON.stringify(catalog));
}

/** A version's file name, e.g. `granted-3.duckdb`. */
export function versionFile(target: 'granted' | 'dev', version: number): string {
  return `${target}-${version}.duckdb`;
}

/** A stable number for the catalog's state, for decision caching. */
export function catalogVersion(catalog: TenantCatalog): string {
  return `${catalog.granted?.version ?? 0}.${catalog.dev?.version ?? 0}`;
}
