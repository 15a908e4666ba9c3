import { DomainError, isDomainError } from '../core/errors.js';
import { DISPLAY_CONTROLS } from '../core/text.js';
import fs from 'node:fs';
import { prepareUpload, type Admissible, type CreatedTable, type Env, type PreparedUpload, type SourceRef, type WorkspaceTableInfo } from '../sandbox/index.js';
import { SYSTEM_ACTOR, type AuditActor } from './audit/audit-entry.js';
import { failureOf } from './access.js';
import { wasEverPersonal } from './catalog-service.js';
import { assertSourcesCurrent, runAdmitted, type AccessDirectory } from './lineage.js';
import type { WorkspaceTableLineage } from './model.js';
import { probingOutcome, type ProbeAdmission, type ProbeLimiter } from './probe-limiter.js';
import { auditedSql } from './query-service.js';
import type { ControlStore } from './store/control-store.js';

/** What the table service needs of the engine (the sandbox's EngineClient). */
export interface TableEngine {
  createTable(task: { tenantId: string; name: string; sql: string; env: Env; timeoutMs: number; admissible: Admissible; replace?: boolean }): Promise<CreatedTable>;
  dropTable(task: { tenantId: string; name: string }): Promise<void>;
  listTables(task: { tenantId: string }): Promise<WorkspaceTableInfo[]>;
  importTable(task: { tenantId: string; name: string; upload: PreparedUpload; today: string; sampleSize: number }): Promise<WorkspaceTableInfo>;
}

export type WorkspaceTable = Omit<WorkspaceTableInfo, 'tag'> & Partial<Pick<WorkspaceTableInfo, 'tag'>> & Partial<Omit<WorkspaceTableLineage, 'tenantId' | 'name'>>;

/**
 * Workspace tables: gated SELECTs saved in the tenant's workspace, with their lineage (defining SQL,
 * source tables from the bound plan, and the dataset versions and access fingerprints behind them)
 * both in the table itself (its tag, where the engine enforces it) and in the control store, where
 * exports, products and dataset withdrawal follow it. When a grant ends or a policy changes,
 * `reconcile` rebuilds the tenant's derived tables under the new policy, or drops them; until then
 * they do not answer (`lineage.ts`).
 */
export function createTableService(deps: {
  store: ControlStore;
  engine: TableEngine;
  access: AccessDirectory;
  timeoutMs: number;
  probes: ProbeLimiter;
  now: () => Date;
  today: () => string;
  /** Values sampled per column to recognize personal data in uploads (as at dataset ingest). */
  piiSampleRows: number;
  /** Throws when the tenant may not act now (suspended, revoked, license over). */
  assertTenantActive: (tenantId: string) => void;
}) {
  const where = (tenantId: string) => ({ tenantId });
  const datasetsOf = (sources: readonly SourceRef[]) => [...new Set(sources.map((s) => s.dataset))].sort();

  /** Saves a checked SELECT (new, or a rebuild) and its lineage; nothing half-done on failure. */
  async function save(actor: AuditActor, tenantId: string, input: { name: string; sql: string; env: Env }, options: { replace: boolean; createdAt: string; createdBy: string }) {
    const created = await runAdmitted(deps.access, tenantId, deps.today, (admissible) => deps.engine.createTable({ ...where(tenantId), ...input, timeoutMs: deps.timeoutMs, replace: options.replace, admissible }));
    const lineage: WorkspaceTableLineage = {
      tenantId, name: input.name, env: input.env, sql: input.sql,
      sourceTables: created.tables, datasets: datasetsOf(created.sources), sources: created.sources,
      createdAt: options.createdAt, createdBy: options.createdBy,
    };
    try {
      await deps.store.mutate(async (tx) => {
        // SECURITY: invariants 6 and 9: a table is kept only if its tenant is active (not suspended or revoked while it was built) and what it was
        // computed from may still be seen now, asked where its lineage is recorded (a withdrawal is
        // marked before it commits).
        deps.assertTenantActive(tenantId);
        assertSourcesCurrent(deps.access, tenantId, created.sources, deps.today());
        await tx.insertWorkspaceTable(lineage);
        await tx.appendAudit({
          actor, action: options.replace ? 'table.rebuild' : 'table.create', target: `tenant:${tenantId}`,
          details: { name: input.name, env: input.env, ...auditedSql(input.sql), outcome: 'ok', rows: created.rows, sourceTables: lineage.sourceTables, sources: lineage.sources },
        });
      });
    } catch (error) {
      // Nothing half-done: a table without its lineage would escape withdrawal.
      await deps.engine.dropTable({ ...where(tenantId), name: input.name }).catch(() => undefined);
      throw error;
    }
    return { created, lineage };
  }

  async function withdraw(tenantId: string, name: string, reason: string): Promise<void> {
    await deps.engine.dropTable({ ...where(tenantId), name }).catch((error: unknown) => {
      if (!(isDomainError(error) && error.code === 'TBL_ERR_NOT_FOUND')) throw error;
    });
    await deps.store.mutate(async (tx) => {
      await tx.deleteWorkspaceTable(tenantId, name);
      await tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'table.withdraw', target: `tenant:${tenantId}`, details: { name, reason } });
    });
  }

  return {
    async create(actor: AuditActor, tenantId: string, input: { name: string; sql: string; env: Env }): Promise<WorkspaceTable> {
      let saved: Awaited<ReturnType<typeof save>>;
      let admission: ProbeAdmission | undefined;
      try {
        admission = deps.probes.admit(tenantId, actor.sub);
        saved = await save(actor, tenantId, input, { replace: false, createdAt: deps.now().toISOString(), createdBy: actor.sub });
        admission.settle('ok');
      } catch (failure) {
        const error = failureOf(failure, () => deps.assertTenantActive(tenantId));
        const code = isDomainError(error) ? error.code : 'SBX_ERR_QUERY_FAILED';
        admission?.settle(probingOutcome(code, input.env));
        await deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'table.create', target: `tenant:${tenantId}`, details: { name: input.name, env: input.env, ...auditedSql(input.sql), outcome: code } }));
        throw error;
      }
      const { created, lineage } = saved;
      const { tenantId: _tenant, name: _name, ...rest } = lineage;
      return { name: created.name, rows: created.rows, columns: created.columns, tag: created.tag, ...rest };
    },

    /**
     * Brings a tenant's derived tables in line with what it may see now (after each build of its
     * files): a table whose sources changed policy or version is rebuilt from its SQL under the new
     * policy (a prod table over personal data is withdrawn instead), one whose grant ended (or that
     * no longer passes the gate) is dropped. Uploads have no sources.
     * Tables are handled in creation order, so one built from another sees its rebuilt source.
     */
    async reconcile(tenantId: string): Promise<void> {
      const today = deps.today();
      const [tables, records] = await Promise.all([deps.engine.listTables(where(tenantId)), deps.store.reader.listWorkspaceTables(tenantId)]);
      const recordOf = new Map(records.map((r) => [r.name, r]));
      const datasets = (await deps.store.reader.listDatasets()).map(({ record }) => record.id);
      const personal = new Set((await Promise.all(datasets.map(async (id) => (await wasEverPersonal(deps.store.reader, id) ? [id] : [])))).flat());
      const ordered = tables.filter((t) => t.tag && t.tag.env !== 'upload').sort((a, b) => (recordOf.get(a.name)?.createdAt ?? '').localeCompare(recordOf.get(b.name)?.createdAt ?? ''));
      for (const table of ordered) {
        const verdicts = table.tag!.sources.map((s) => deps.access.verdict(tenantId, s, today));
        if (verdicts.every((v) => v.ok)) continue;
        const record = recordOf.get(table.name);
        const ended = verdicts.some((v) => !v.ok && (v.reason === 'no-grant' || v.reason === 'ended'));
        // A table over a withdrawn dataset waits, refused at every read (lineage.ts): reinstating the dataset gives it back.
        if (!ended && record && verdicts.some((v) => !v.ok && v.reason === 'withdrawn')) continue;
        if (ended || !record) {
          await withdraw(tenantId, table.name, ended ? 'a grant it was derived from has ended' : 'it has no lineage record');
          continue;
        }
        // SECURITY: invariant 8: a rebuild runs the operator's SQL on data no one has answered from yet,
        // uncounted, and whether it succeeds shows: a table armed to fail on the next policy's mask of
        // one person's mobile was withdrawn exactly when that person paid above X (red-team pass 38b).
        // So a prod table over personal data is withdrawn, to be created again (a counted build).
        if (table.tag!.env === 'prod' && table.tag!.sources.some((s) => personal.has(s.dataset))) {
          await withdraw(tenantId, table.name, 'a source it was derived from changed (policy or version): create it again');
          continue;
        }
        try {
          await save(SYSTEM_ACTOR, tenantId, { name: table.name, sql: record.sql, env: table.tag!.env as Env }, { replace: true, createdAt: record.createdAt, createdBy: record.createdBy });
        } catch (error) {
          // A suspended tenant's tables wait (still refused as stale): the next build after it resumes rebuilds them.
          if (isDomainError(error) && error.code.startsWith('AUTH_ERR_')) return;
          await withdraw(tenantId, table.name, `it could not be rebuilt under the new policy (${isDomainError(error) ? error.code : 'error'})`);
        }
      }
    },

    /**
     * External data into the workspace (DESIGN.md §3): the file is prepared by trusted code (format,
     * encoding, dialect, header; a workbook converted to CSV), read by a trusted engine, its personal
     * data recognized, and appended to the tenant's file. The uploaded file is deleted afterwards,
     * whatever happened.
     */
    async upload(actor: AuditActor, tenantId: string, input: { name: string; filename: string; path: string; sheet?: string | undefined }): Promise<WorkspaceTable> {
      const utf8Path = `${input.path}.utf8.csv`;
      // SECURITY: the file's name is shown to supervisors (the audit, the table's lineage): plain text only (pass 18b); a refused one is not recorded.
      const plainName = !DISPLAY_CONTROLS.test(input.filename);
      const details: Record<string, unknown> = { name: input.name, filename: plainName ? input.filename : null };
      const audit = (extra: Record<string, unknown>) =>
        deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'table.upload', target: `tenant:${tenantId}`, details: { ...details, ...extra } }));
      let admission: ProbeAdmission | undefined;
      try {
        let imported: WorkspaceTableInfo;
        try {
          // An upload the workspace quota refuses is counted as probing (PROBING_CODES): prod tables share the quota.
          admission = deps.probes.admit(tenantId, actor.sub);
          if (!plainName) throw new DomainError('REQ_ERR_VALIDATION', 'file: its name holds control, format or invisible characters: rename the file');
          const prepared = await prepareUpload(input.path, utf8Path, { sheet: input.sheet, owner: `tenant:${tenantId}` });
          Object.assign(details, {
            format: prepared.format === 'csv' && prepared.source === 'xlsx' ? 'xlsx' : prepared.format, bytes: prepared.bytes, sha256: prepared.sha256,
            ...(prepared.format === 'csv' ? { encoding: prepared.encoding, delimiter: prepared.delimiter } : {}),
            ...(input.sheet === undefined ? {} : { sheet: input.sheet }),
          });
          imported = await deps.engine.importTable({ ...where(tenantId), name: input.name, upload: prepared, today: deps.today(), sampleSize: deps.piiSampleRows });
          // SECURITY: column names are shown to supervisors (the audit's personal-data findings) and
          // travel into exports: plain text only, whatever the format (CSV, XLSX, Parquet; pass 18b).
          const hidden = imported.columns.findIndex((c) => DISPLAY_CONTROLS.test(c.name));
          if (hidden >= 0) {
            await deps.engine.dropTable({ ...where(tenantId), name: input.name }).catch(() => undefined);
            throw new DomainError('UPL_ERR_BAD_HEADER', `column ${hidden + 1}: its name holds control, format or invisible characters: rename it`);
          }
        } catch (error) {
          const code = isDomainError(error) ? error.code : 'UPL_ERR_MALFORMED';
          admission?.settle(code);
          await audit({ outcome: code });
          throw error;
        }
        admission.settle('ok');
        const lineage: WorkspaceTableLineage = {
          tenantId, name: input.name, env: 'upload', sql: `-- upload of ${input.filename} (sha256 ${String(details.sha256)})`,
          sourceTables: [], datasets: [], sources: [], createdAt: deps.now().toISOString(), createdBy: actor.sub,
        };
        try {
          // SECURITY: invariant 6: an upload that finished after a suspension or revocation is not kept.
          deps.assertTenantActive(tenantId);
          await deps.store.mutate(async (tx) => {
            await tx.insertWorkspaceTable(lineage);
            await tx.appendAudit({
              actor, action: 'table.upload', target: `tenant:${tenantId}`,
              details: { ...details, outcome: 'ok', rows: imported.rows, columns: imported.columns.length, pii: imported.columns.filter((c) => c.pii).map((c) => ({ column: c.name, kind: c.pii })) },
            });
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
