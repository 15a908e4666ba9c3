import { z } from 'zod';
import type { ColumnPolicy } from '../desensitize/index.js';
import { EnvSchema, type Env, type ListedTable } from '../sandbox/index.js';
import type { CatalogService } from './catalog-service.js';
import type { AccessDirectory } from './lineage.js';

/** What the schema service needs of the engine (the sandbox's EngineClient). */
export interface SchemaEngine {
  schema(task: { tenantId: string; env: Env }): Promise<ListedTable[]>;
}

/**
 * How a column came to be what the tenant sees: the catalog policy of its source column (`plain`,
 * `masked`, `token`, `generalized`), a column `derived` from a resident ID (birth year, gender,
 * region), or for workspace tables `computed` (by the tenant's SQL from the table's sources) or
 * `uploaded` (the tenant's own external data).
 */
export const ColumnPolicyLabelSchema = z.enum(['plain', 'masked', 'token', 'generalized', 'derived', 'computed', 'uploaded']);
export type ColumnPolicyLabel = z.infer<typeof ColumnPolicyLabelSchema>;

const SourceDatasetSchema = z.object({ dataset: z.string(), version: z.number().int() });

export const SchemaColumnSchema = z.object({
  name: z.string(),
  type: z.string(),
  nullable: z.boolean(),
  policy: ColumnPolicyLabelSchema,
  /** The policy's rule (e.g. `mobile`, `year`, `resident_id`), or the derivation (`birth_year`). */
  rule: z.string().optional(),
  /** The raw column of the source dataset this column shows (published tables). */
  source: SourceDatasetSchema.extend({ column: z.string() }).optional(),
});

export const SchemaTableSchema = z.object({
  name: z.string(),
  /** The attached database the table is in (`granted` in prod, `dev` in dev, or `workspace`). */
  catalog: z.enum(['granted', 'dev', 'workspace']),
  /** `granted`: desensitized granted data; `twin`: its synthetic twin; `workspace`: the tenant's own table. */
  kind: z.enum(['granted', 'twin', 'workspace']),
  /** Workspace tables: the env their SELECT ran in, or `upload`. */
  builtIn: z.enum(['dev', 'prod', 'upload']).optional(),
  /** The datasets (and versions) the rows come from: for workspace tables, from their lineage tag. */
  sources: z.array(SourceDatasetSchema),
  columns: z.array(SchemaColumnSchema),
});

export const SchemaViewSchema = z.object({ env: EnvSchema, tables: z.array(SchemaTableSchema) });
export type SchemaView = z.infer<typeof SchemaViewSchema>;
type SchemaColumn = z.infer<typeof SchemaColumnSchema>;

const LABELS: Record<Exclude<ColumnPolicy['kind'], 'hidden'>, ColumnPolicyLabel> = { plain: 'plain', mask: 'masked', token: 'token', generalize: 'generalized' };

/**
 * The schema of a tenant's environment as JSON (GET /v1/schema): exactly the tables a query in that
 * env can read (the engine lists them as SHOW TABLES does), each column with its type, its policy
 * and its source dataset. A table whose grant has ended or whose policy changed since it was built
 * is left out (it would not answer), and the tenant's files are rebuilt.
 */
export function createSchemaService(deps: {
  engine: SchemaEngine;
  catalog: CatalogService;
  access: AccessDirectory;
  today: () => string;
  assertTenantActive: (tenantId: string) => void;
  rebuild: (tenantId: string) => void;
}) {
  return {
    async describe(tenantId: string, env: Env): Promise<SchemaView> {
      const listed = await deps.engine.schema({ tenantId, env });
      // SECURITY: invariant 6: a listing of a tenant suspended or revoked meanwhile is withheld.
      deps.assertTenantActive(tenantId);
      const today = deps.today();
      const tables: SchemaView['tables'] = [];
      let stale = false;
      for (const table of listed) {
        // SECURITY: invariants 6 and 9: what would not answer is not shown (no record, no access).
        const refused = table.sources.map((source) => deps.access.verdict(tenantId, source, today)).filter((verdict) => !verdict.ok);
        if (refused.length > 0) {
          // A withdrawn dataset's copies wait as they are: nothing to rebuild for it.
          if (refused.some((verdict) => verdict.reason !== 'withdrawn')) stale = true;
          continue;
        }
        const sources = table.sources.map((s) => ({ dataset: s.dataset, version: s.version }));
        if (table.catalog === 'workspace') {
          const policy: ColumnPolicyLabel = table.origin === 'upload' ? 'uploaded' : 'computed';
          tables.push({
            name: table.name, catalog: table.catalog, kind: 'workspace', builtIn: table.origin === 'published' ? 'prod' : table.origin, sources,
            columns: table.columns.map((c) => ({ ...c, policy })),
          });
        } else {
          tables.push({ name: table.name, catalog: table.catalog, kind: table.catalog === 'granted' ? 'granted' : 'twin', sources, columns: await publishedColumns(deps.catalog, table) });
        }
      }
      if (stale) deps.rebuild(tenantId);
      return { env, tables: tables.sort((a, b) => a.name.localeCompare(b.name)) };
    },
  };
}

export type SchemaService = ReturnType<typeof createSchemaService>;

/**
 * The columns of a published table with the policies they were built under: each output column is a
 * raw column under its policy, or a column derived from one (`<column>_<derivation>`). The table's
 * fingerprint matched the current policies (checked by the caller), so the catalog's current
 * policies are the ones the file was built with.
 */
async function publishedColumns(catalog: CatalogService, table: ListedTable): Promise<SchemaColumn[]> {
  const [source] = table.sources;
  const { columns: policies } = await catalog.policies(source!.dataset);
  const byName = new Map(policies.map((p) => [p.name, p]));
  const from = (column: string) => ({ dataset: source!.dataset, version: source!.version, column });
  return table.columns.map((c): SchemaColumn => {
    const raw = byName.get(c.name);
    if (raw && raw.policy.kind !== 'hidden') return { ...c, policy: LABELS[raw.policy.kind], ...(raw.policy.rule ? { rule: raw.policy.rule } : {}), source: from(raw.name) };
    for (const p of policies) {
      const derivation = p.policy.derive?.find((d) => `${p.name}_${d}` === c.name);
      if (derivation) return { ...c, policy: 'derived', rule: derivation, source: from(p.name) };
    }
    // Not expected (the refinery writes only these); said plainly rather than guessed.
    return { ...c, policy: 'computed' };
  });
}
