import { isDomainError } from '../core/errors.js';
import fs from 'node:fs';
import { prepareUpload, tenantDirectory, type CreatedTable, type Env, type PreparedUpload, type WorkspaceTableInfo } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { WorkspaceTableLineage } from './model.js';
import type { ProbeLimiter } from './probe-limiter.js';
import { sha256 } from './query-service.js';
import type { ControlStore } from './store/control-store.js';

/** What the table service needs of the engine (the sandbox's EngineClient). */
export interface TableEngine {
  createTable(task: { tenantId: string; tenantDir: string; name: string; sql: string; env: Env; timeoutMs: number }): Promise<CreatedTable>;
  dropTable(task: { tenantId: string; tenantDir: string; name: string }): Promise<void>;
  listTables(task: { tenantId: string; tenantDir: string }): Promise<WorkspaceTableInfo[]>;
  importTable(task: { tenantId: string; tenantDir: string; name: string; upload: PreparedUpload }): Promise<WorkspaceTableInfo>;
}

export type WorkspaceTable = WorkspaceTableInfo & Partial<Omit<WorkspaceTableLineage, 'tenantId' | 'name'>>;

/**
 * Workspace tables: gated SELECTs saved in the tenant's workspace, with their lineage (defining SQL,
 * source tables from the plan, and the granted datasets behind them) in the control store, where
 * exports, products and dataset withdrawal will follow it.
 */
export function createTableService(deps: { store: ControlStore; engine: TableEngine; dataDir: string; timeoutMs: number; probes: ProbeLimiter; now: () => Date }) {
  const where = (tenantId: string) => ({ tenantId, tenantDir: tenantDirectory(deps.dataDir, tenantId) });

  /** Datasets behind the sources: granted/dev tables are named by dataset; workspace tables carry theirs. */
  async function datasetsOf(tenantId: string, sourceTables: string[]): Promise<string[]> {
    const lineage = new Map((await deps.store.reader.listWorkspaceTables(tenantId)).map((t) => [t.name, t.datasets]));
    const datasets = new Set<string>();
    for (const source of sourceTables) {
      const [catalog, table] = source.split('.') as [string, string];
      if (catalog === 'workspace') for (const d of lineage.get(table) ?? []) datasets.add(d);
      else datasets.add(table);
    }
    return [...datasets].sort();
  }

  return {
    async create(actor: AuditActor, tenantId: string, input: { name: string; sql: string; env: Env }): Promise<WorkspaceTable> {
      const base = { name: input.name, env: input.env, sqlSha256: sha256(input.sql), sql: input.sql };
      const audit = (details: Record<string, unknown>) =>
        deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'table.create', target: `tenant:${tenantId}`, details }));
      let created: CreatedTable;
      try {
        deps.probes.check(tenantId);
        created = await deps.engine.createTable({ ...where(tenantId), ...input, timeoutMs: deps.timeoutMs });
      } catch (error) {
        const code = isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED';
        deps.probes.record(tenantId, code);
        await audit({ ...base, outcome: code });
        throw error;
      }
      const lineage: WorkspaceTableLineage = {
        tenantId, name: input.name, env: input.env, sql: input.sql,
        sourceTables: created.tables, datasets: await datasetsOf(tenantId, created.tables),
        createdAt: deps.now().toISOString(), createdBy: actor.sub,
      };
      try {
        await deps.store.mutate(async (tx) => {
          await tx.insertWorkspaceTable(lineage);
          await tx.appendAudit({ actor, action: 'table.create', target: `tenant:${tenantId}`, details: { ...base, outcome: 'ok', rows: created.rows, sourceTables: lineage.sourceTables, datasets: lineage.datasets } });
        });
      } catch (error) {
        // Nothing half-done: a table without its lineage would escape withdrawal.
        await deps.engine.dropTable({ ...where(tenantId), name: input.name }).catch(() => undefined);
        throw error;
      }
      const { tenantId: _tenant, name: _name, ...rest } = lineage;
      return { name: created.name, rows: created.rows, columns: created.columns, ...rest };
    },

    /**
     * External data into the workspace (DESIGN.md §3): the file is prepared by trusted code (format,
     * encoding, header), read by a trusted engine and appended to the tenant's file. The uploaded
     * file is deleted afterwards, whatever happened.
     */
    async upload(actor: AuditActor, tenantId: string, input: { name: string; filename: string; path: string }): Promise<WorkspaceTable> {
      const utf8Path = `${input.path}.utf8.csv`;
      const details: Record<string, unknown> = { name: input.name, filename: input.filename };
      const audit = (extra: Record<string, unknown>) =>
        deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'table.upload', target: `tenant:${tenantId}`, details: { ...details, ...extra } }));
      try {
        let imported: WorkspaceTableInfo;
        try {
          const prepared = await prepareUpload(input.path, utf8Path);
          Object.assign(details, { format: prepared.format, bytes: prepared.bytes, sha256: prepared.sha256, ...(prepared.format === 'csv' ? { encoding: prepared.encoding } : {}) });
          imported = await deps.engine.importTable({ ...where(tenantId), name: input.name, upload: prepared });
        } catch (error) {
          await audit({ outcome: isDomainError(error) ? error.code : 'UPL_ERR_MALFORMED' });
          throw error;
        }
        const lineage: WorkspaceTableLineage = {
          tenantId, name: input.name, env: 'upload', sql: `-- upload of ${input.filename} (sha256 ${String(details.sha256)})`,
          sourceTables: [], datasets: [], createdAt: deps.now().toISOString(), createdBy: actor.sub,
        };
        try {
          await deps.store.mutate(async (tx) => {
            await tx.insertWorkspaceTable(lineage);
            await tx.appendAudit({ actor, action: 'table.upload', target: `tenant:${tenantId}`, details: { ...details, outcome: 'ok', rows: imported.rows, columns: imported.columns.length } });
          });
        } catch (error) {
          await deps.engine.dropTable({ ...where(tenantId), name: input.name }).catch(() => undefined);
          throw error;
        }
        const { tenantId: _tenant, name: _name, ...rest } = lineage;
        return { ...imported, ...rest };
      } finally {
        fs.rmSync(input.path, { force: true });
        fs.rmSync(utf8Path, { force: true });
      }
    },

    async list(tenantId: string): Promise<WorkspaceTable[]> {
      const [tables, lineage] = await Promise.all([deps.engine.listTables(where(tenantId)), deps.store.reader.listWorkspaceTables(tenantId)]);
      const byName = new Map(lineage.map((l) => [l.name, l]));
      return tables.map((table) => {
        const known = byName.get(table.name);
        if (!known) return table;
        const { tenantId: _tenant, name: _name, ...rest } = known;
        return { ...table, ...rest };
      });
    },

    async drop(actor: AuditActor, tenantId: string, name: string): Promise<void> {
      await deps.engine.dropTable({ ...where(tenantId), name });
      await deps.store.mutate(async (tx) => {
        await tx.deleteWorkspaceTable(tenantId, name);
        await tx.appendAudit({ actor, action: 'table.drop', target: `tenant:${tenantId}`, details: { name } });
      });
    },
  };
}

export type TableService = ReturnType<typeof createTableService>;
