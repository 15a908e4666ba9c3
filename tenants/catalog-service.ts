import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { DomainError, isDomainError } from '../core/errors.js';
import { checkPolicy, checkPolicyFit, defaultPolicy, entityColumnOf, isJoinKind, previewPlan, rowsOfPeople, type ColumnPolicy } from '../desensitize/index.js';
import { datasetDirectory, openDatabase, prepareUpload, type IngestResult, type PreparedUpload } from '../sandbox/index.js';
import type { AuditActor } from './audit/audit-entry.js';
import type { DatasetColumn, DatasetMeta, DatasetRecord, IngestProgress, PolicyPreview, ReinstateDataset, Role, SetPolicies, Withdrawal, WithdrawDataset } from './model.js';
import { policyFingerprint } from './lineage.js';
import type { ControlStore } from './store/control-store.js';

/** Another dataset's current version an ingest links to, with the pairs' links measured before (carried forward). */
type LinkTargetTask = {
  dataset: string; version: number; file: string; columns: { name: string; kind: string }[];
  known: { column: string; kind: string; other: string; link: Omit<NonNullable<DatasetColumn['links']>[number], 'dataset' | 'version' | 'column'> }[];
};

/** What the catalog needs of the engine (the sandbox's EngineClient). */
export interface CatalogEngine {
  ingestDataset(task: {
    datasetId: string; version: number; upload?: PreparedUpload; sql?: string; today: string; sampleSize: number; entity?: string; previousEntity?: { column: string; kind: string };
    linkTo?: LinkTargetTask[];
  }): Promise<IngestResult>;
  /** Where an ingest stands (the engine's note next to the version it builds). */
  ingestProgress(datasetId: string, version: number): { stage: IngestProgress['stage']; percent: number | null } | null;
}

/**
 * The column a dataset version's people are counted on, with its kind: the one its ingest settled,
 * or for records from before `entity` existed, recognition's strongest kind. Undefined: none.
 */
export function entityOfVersion({ record, columns }: { record: DatasetRecord; columns: readonly DatasetColumn[] }): { column: string; kind: string } | undefined {
  const column = record.entity !== undefined ? record.entity ?? undefined : entityColumnOf(columns.map((c) => ({ name: c.name, piiKind: c.pii?.kind ?? null })));
  const kind = columns.find((c) => c.name === column)?.pii?.kind;
  return column !== undefined && kind !== undefined ? { column, kind } : undefined;
}

/**
 * A dataset version about people: personal data recognized in any column (a settled entity column is
 * one), or rows of people that no identifier counts (rowsOfPeople: a gender, an age or a birth by its
 * header and no column of counts), which then answer in prod only once a version names their entity.
 */
export function isPersonalVersion(version: { record: Pick<DatasetRecord, 'rows'>; columns: readonly DatasetColumn[] }): boolean {
  return version.columns.some((c) => c.pii)
    || rowsOfPeople(version.columns.map((c) => ({ name: c.name, type: c.type, piiKind: null, distinct: c.distinctEstimate })), version.record.rows);
}

/**
 * Whether a dataset was about people at any of its versions: its tables are checked as personal
 * from then on. SECURITY: a later version without the phone numbers (no personal column left, no
 * entity) made the clinic "non-personal", and a prod table built from the earlier version answered
 * one patient's diagnosis by their phone number (red-team pass 39a).
 */
export async function wasEverPersonal(reader: Pick<ControlStore['reader'], 'datasetVersions'>, id: string): Promise<boolean> {
  return (await reader.datasetVersions(id)).some(isPersonalVersion);
}

/** How a dataset appears to each role (DESIGN.md §1, the seeds' share attributes). */
export type DatasetView =
  | (DatasetRecord & { columns: DatasetColumn[]; versions: number[]; loading?: IngestProgress; withdrawal?: Withdrawal })
  | { id: string; name: string; provider: string; loading: IngestProgress }
  | (Omit<DatasetRecord, 'file' | 'sha256' | 'createdBy'> & { columns: { name: string; type: string }[]; withdrawal?: Pick<Withdrawal, 'at'> })
  | { id: string; name: string; provider: string; shareAttribute: 'none' };

/**
 * The catalog of public datasets: trusted ingest into the raw domain (`domain/<id>/v<n>.duckdb`),
 * profiles and PII recognition for the supervisor, and role-appropriate views for everyone else.
 * Re-ingesting an id adds a version; the catalog keeps them all.
 */
export function createCatalogService(deps: {
  store: ControlStore;
  engine: CatalogEngine;
  dataDir: string;
  /** Values sampled per column for PII recognition. */
  piiSampleRows: number;
  today: () => string;
  now: () => Date;
  /**
   * Called in the commit of a new version or new policies, with the fingerprint of the dataset's
   * effective policies from then on: older copies stop answering, tenants holding grants get rebuilt.
   */
  onChanged: (datasetId: string, policyFingerprint: string) => void;
  /** Called for a withdrawal (true: before it commits, undone if it does not) or a reinstatement (false: once committed): every copy stops, or answers again. */
  onWithdrawal: (datasetId: string, withdrawn: boolean) => void;
}) {
  // Ingests of one dataset run one at a time: they share the next version number and file name.
  const ingesting = new Map<string, Promise<unknown>>();
  async function serialized<T>(id: string, work: () => Promise<T>): Promise<T> {
    const run = (ingesting.get(id) ?? Promise.resolve()).catch(() => undefined).then(work);
    ingesting.set(id, run);
    try {
      return await run;
    } finally {
      if (ingesting.get(id) === run) ingesting.delete(id);
    }
  }

  /** Ingests in flight, by dataset id: shown to supervisors with the engine's progress. */
  const loading = new Map<string, { meta: DatasetMeta; progress: IngestProgress }>();

  function progressOf(id: string): IngestProgress | undefined {
    const entry = loading.get(id);
    if (!entry) return undefined;
    const { version, stage } = entry.progress;
    // While the engine loads, its worker writes the stage and DuckDB's estimate to a file.
    const fromEngine = stage === 'checking' ? null : deps.engine.ingestProgress(id, version);
    return fromEngine ? { ...entry.progress, ...fromEngine } : entry.progress;
  }

  /** One ingest, from an uploaded file or (trusted callers only) from generating SQL. */
  async function ingestOnce(actor: AuditActor, meta: DatasetMeta, source: { path: string; filename: string; sheet?: string | undefined } | { sql: string }): Promise<DatasetView> {
    const upload = 'path' in source ? source : { filename: '(generated)' };
    const audit = (details: Record<string, unknown>) =>
      deps.store.mutate((tx) => tx.appendAudit({ actor, action: 'dataset.ingest', target: `dataset:${meta.id}`, details: { filename: upload.filename, ...details } }));
    let sha256 = 'generated';
    /** How the file was read (format, dialect, sheet), for the audit. */
    let read: Record<string, unknown> = {};
    let result: IngestResult;
    const earlier = await deps.store.reader.datasetVersions(meta.id);
    const [latest] = earlier;
    const version = (latest?.record.version ?? 0) + 1;
    const progress: IngestProgress = { version, filename: upload.filename, startedAt: deps.now().toISOString(), stage: 'checking', percent: null };
    loading.set(meta.id, { meta, progress });
    try {
      // SECURITY: core data (核心数据) never enters the sandbox.
      if (meta.grade === 'core') throw new DomainError('CAT_ERR_CORE_DATA', 'core data (核心数据) may not be placed under authorized operation');
      // SECURITY: the kind of the last version that counted people, not only the version before: a
      // version without any identifier between them let the next count on another kind, and its
      // answers escaped differencing with the first's (red-team pass 40b).
      const previousEntity = earlier.map(entityOfVersion).find((entity) => entity !== undefined);
      const task = {
        datasetId: meta.id, version, today: deps.today(), sampleSize: deps.piiSampleRows, linkTo: await linkTargets(meta.id, earlier),
        ...(meta.entity === undefined ? {} : { entity: meta.entity }), ...(previousEntity ? { previousEntity } : {}),
      };
      if ('sql' in source) {
        progress.stage = 'loading';
        result = await deps.engine.ingestDataset({ ...task, sql: source.sql });
      } else {
        const prepared = await prepareUpload(source.path, `${source.path}.utf8.csv`, { sheet: source.sheet, owner: 'domain' });
        sha256 = prepared.sha256;
        read = prepared.format === 'csv'
          ? { format: prepared.source, encoding: prepared.encoding, delimiter: prepared.delimiter, ...(source.sheet === undefined ? {} : { sheet: source.sheet }) }
          : { format: 'parquet' };
        progress.stage = 'loading';
        result = await deps.engine.ingestDataset({ ...task, upload: prepared });
      }
    } catch (error) {
      loading.delete(meta.id);
      await audit({ version, outcome: isDomainError(error) ? error.code : 'UPL_ERR_MALFORMED' });
      throw error;
    }
    const record: DatasetRecord = { ...meta, entity: result.entity, version, rows: result.rows, file: result.file, sha256, createdAt: deps.now().toISOString(), createdBy: actor.sub };
    const columns: DatasetColumn[] = result.columns;
    try {
      await deps.store.mutate(async (tx) => {
        await tx.insertDatasetVersion(record, columns);
        // SECURITY: columns a new version adds are hidden until a supervisor sets their policy.
        const set = await tx.reader.datasetPolicies(meta.id);
        const previous = (await tx.reader.datasetVersions(meta.id)).find((v) => v.record.version === version - 1);
        const added = previous ? columns.filter((c) => !previous.columns.some((p) => p.name === c.name) && !set[c.name]) : [];
        for (const column of added) {
          set[column.name] = { kind: 'hidden' };
          await tx.setColumnPolicy(meta.id, column.name, { kind: 'hidden' }, record.createdAt, actor.sub);
        }
        // SECURITY: a policy set for an earlier version that no longer fits its column (the type
        // changed, or recognition now finds another kind, or personal data where a plain policy
        // had no reason) is hidden until a supervisor sets it again, never applied as it was.
        const unfit = columns.filter((c) => {
          const policy = set[c.name];
          const kind = c.pii?.kind ?? null;
          return policy !== undefined && !added.includes(c) && (checkPolicy(policy, kind) !== undefined || checkPolicyFit(policy, { name: c.name, type: c.type, piiKind: kind }).length > 0);
        });
        for (const column of unfit) {
          set[column.name] = { kind: 'hidden' };
          await tx.setColumnPolicy(meta.id, column.name, { kind: 'hidden' }, record.createdAt, actor.sub);
        }
        const fingerprint = policyFingerprint(effectivePolicies(columns, set));
        tx.afterCommit(() => deps.onChanged(meta.id, fingerprint));
        await tx.appendAudit({
          actor, action: 'dataset.ingest', target: `dataset:${meta.id}`,
          details: {
            filename: upload.filename, ...read, outcome: 'ok', version, rows: result.rows, sha256, grade: meta.grade,
            entity: { column: result.entity, declared: meta.entity !== undefined },
            pii: columns.filter((c) => c.pii).map((c) => ({ column: c.name, kind: c.pii!.kind, confidence: c.pii!.confidence })),
            hiddenNewColumns: added.map((c) => c.name),
            hiddenUnfitColumns: unfit.map((c) => ({ column: c.name, type: c.type, kind: c.pii?.kind ?? null })),
          },
        });
      });
    } catch (error) {
      // Nothing half-done: a raw file the catalog does not name is removed.
      fs.rmSync(path.join(datasetDirectory(deps.dataDir, meta.id), result.file), { force: true });
      throw error;
    } finally {
      loading.delete(meta.id);
    }
    return view({ record, columns }, 'supervisor', (await deps.store.reader.datasetVersions(meta.id)).map((v) => v.record.version), (await deps.store.reader.listWithdrawals()).get(meta.id));
  }

  /**
   * The latest version of a dataset, once `input` is known to be valid for it: well-formed
   * policies on existing columns (CAT_ERR_BAD_POLICY), each fitting its column's type and
   * recognized kind (CAT_ERR_POLICY_MISFIT). Every problem is reported at once.
   */
  async function checkedPolicies(id: string, input: SetPolicies, reader: Pick<ControlStore['reader'], 'datasetVersions'> = deps.store.reader): Promise<{ record: DatasetRecord; columns: DatasetColumn[] }> {
    const [latest] = await reader.datasetVersions(id);
    if (!latest) throw new DomainError('CAT_ERR_NOT_FOUND', `no dataset ${id}`);
    const byName = new Map(latest.columns.map((c) => [c.name, c]));
    const problems: { field: string; problem: string }[] = [];
    for (const [name, policy] of Object.entries(input.columns)) {
      const column = byName.get(name);
      // SECURITY: recognized personal data is never plain without a stated, audited reason.
      const problem = column ? checkPolicy(policy, column.pii?.kind ?? null) : `no column ${name} in ${id}`;
      if (problem) problems.push({ field: `columns.${name}`, problem });
    }
    if (problems.length > 0) throw new DomainError('CAT_ERR_BAD_POLICY', problems.map((p) => `${p.field}: ${p.problem}`).join('; '), { problems });
    // SECURITY: a rule that does not fit its column (scrub on addresses, a bucket over phone numbers)
    // can let values through that the supervisor meant to protect; one that gives only ****** or
    // NULL hides a mistake. Either is refused before anything is stored.
    const misfits = Object.entries(input.columns).flatMap(([name, policy]) => {
      const column = byName.get(name)!;
      return checkPolicyFit(policy, { name, type: column.type, piiKind: column.pii?.kind ?? null });
    }).map((m) => ({ field: `columns.${m.column}`, column: m.column, rule: m.rule, reason: m.reason, problem: m.message, fitting: m.fitting }));
    if (misfits.length > 0) throw new DomainError('CAT_ERR_POLICY_MISFIT', misfits.map((p) => `${p.field}: ${p.problem}`).join('; '), { problems: misfits });
    return latest;
  }

  /**
   * The other datasets' current versions with identifier columns of a join kind: a new version's
   * overlaps with them are measured at ingest, for the dev twin's joins (issue #10), once per pair:
   * a pair measured before (`previous` is this dataset's current version) is carried forward
   * (docs/catalog.md, "A pair is measured once"). An ingest running at the same time is not among
   * them: that pair's twins then do not overlap.
   */
  /**
   * The current version of every other dataset with identifier columns of a join kind, with the links
   * of each pair as the twins show them now (first measured, then carried), wherever they live: on
   * the target's column (its rates the other way round) or on this dataset's earlier versions
   * (`earlier`, latest first), the latest version that has one first. SECURITY: carried from the
   * version before only, a version without the identifier column between two with it had the pair
   * measured afresh, and dev's overlap moved by the one patient who left (red-team pass 40b).
   */
  async function linkTargets(id: string, earlier: readonly { record: DatasetRecord; columns: DatasetColumn[] }[]): Promise<LinkTargetTask[]> {
    const order = new Map(earlier.map((v, i) => [v.record.version, i]));
    return (await deps.store.reader.listDatasets()).flatMap(({ record, columns }) => {
      const keyed = columns.filter((c) => isJoinKind(c.pii?.kind)).map((c) => ({ name: c.name, kind: c.pii!.kind }));
      if (record.id === id || keyed.length === 0) return [];
      const theirs = columns.flatMap((c) => (c.links ?? []).filter((l) => l.dataset === id && order.has(l.version))
        .sort((a, b) => order.get(a.version)! - order.get(b.version)!)
        .map(({ distinctHere, distinctThere, rowsHere, rowsThere, withheld, column }) => ({
          column, kind: c.pii!.kind, other: c.name, link: { distinctHere: distinctThere, distinctThere: distinctHere, rowsHere: rowsThere, rowsThere: rowsHere, ...(withheld ? { withheld } : {}) },
        })));
      const ours = earlier.flatMap((v) => v.columns.flatMap((c) => (c.links ?? []).filter((l) => l.dataset === record.id && l.version === record.version).map(({ dataset: _, version: __, column, ...link }) => ({ column: c.name, kind: c.pii?.kind ?? '', other: column, link }))));
      // One link per pair of columns: the latest version's (knownLink takes the first it finds).
      const seen = new Set<string>();
      const known = [...theirs, ...ours].filter((k) => !seen.has(`${k.column}\u0000${k.other}`) && Boolean(seen.add(`${k.column}\u0000${k.other}`)));
      return [{ dataset: record.id, version: record.version, file: record.file, columns: keyed, known }];
    });
  }

  /** Each column with its effective policy: the supervisor's, else the default for its PII kind. */
  async function withPolicies(id: string, columns: DatasetColumn[]): Promise<(DatasetColumn & { policy: ColumnPolicy })[]> {
    return effectivePolicies(columns, await deps.store.reader.datasetPolicies(id));
  }

  /** A dataset whose first version is still loading: what it will be called, and how far it got. */
  function firstLoad(id: string): DatasetView | undefined {
    const entry = loading.get(id);
    const progress = progressOf(id);
    return entry && progress ? { id, name: entry.meta.name, provider: entry.meta.provider, loading: progress } : undefined;
  }

  async function view(entry: { record: DatasetRecord; columns: DatasetColumn[] }, role: Role, versions: number[], withdrawal: Withdrawal | undefined): Promise<DatasetView> {
    const { record, columns } = entry;
    if (role === 'supervisor') {
      const progress = progressOf(record.id);
      return { ...record, columns: await withPolicies(record.id, columns), versions, ...(progress ? { loading: progress } : {}), ...(withdrawal ? { withdrawal } : {}) };
    }
    // SECURITY: 不予共享 datasets show only that they exist (seeds: catalog of what is not shared).
    if (record.shareAttribute === 'none') return { id: record.id, name: record.name, provider: record.provider, shareAttribute: 'none' };
    const { file: _file, sha256: _sha, createdBy: _by, ...metadata } = record;
    // SECURITY: no profiles, top values or PII findings for non-supervisors: only names and types.
    // A withdrawal's reason may concern people (a data subject's objection): supervisors only.
    return { ...metadata, columns: columns.map((c) => ({ name: c.name, type: c.type })), ...(withdrawal ? { withdrawal: { at: withdrawal.at } } : {}) };
  }

  /** Withdraws (`withdrawal`) or reinstates (null) a dataset, audited, in one commit with the access directory's change. */
  async function setWithdrawal(actor: AuditActor, id: string, withdrawal: Withdrawal | null, reason: string | undefined): Promise<DatasetView> {
    // Not queued behind an ingest of the dataset (`serialized`): a withdrawal stops use at once
    // (red-team pass 17d: one waited for a 600k-row load while tenants kept reading). The store runs
    // mutations one at a time, and the state is read in the transaction: two calls never interleave.
    let stoppedEarly = false;
    try {
      await deps.store.mutate(async (tx) => {
        const [latest] = await tx.reader.datasetVersions(id);
        if (!latest) throw new DomainError('CAT_ERR_NOT_FOUND', `no dataset ${id}`);
        const withdrawn = (await tx.reader.listWithdrawals()).has(id);
        if (withdrawn === (withdrawal !== null)) {
          throw new DomainError('CAT_ERR_WITHDRAWAL_STATE', withdrawn ? `${id} is already withdrawn` : `${id} is not withdrawn: nothing to reinstate`, { withdrawn });
        }
        await tx.setWithdrawal(id, withdrawal);
        // SECURITY: a withdrawal stops reads before it commits, not after: work recorded in the same
        // commit batch after it (an answer's audit entry, an approval) checks the access directory
        // in its own transaction work and is refused (pass 17d). A reinstatement answers only once committed.
        // The after-commit steps run in commit order, so a reinstatement and a withdrawal committed
        // in one batch leave the directory as the store (pass 20a: the reinstatement's step, run
        // after both, cleared a withdrawal that had marked early).
        if (withdrawal) {
          deps.onWithdrawal(id, true);
          stoppedEarly = true;
        }
        tx.afterCommit(() => deps.onWithdrawal(id, withdrawal !== null));
        await tx.appendAudit({ actor, action: withdrawal ? 'dataset.withdraw' : 'dataset.reinstate', target: `dataset:${id}`, details: { reason: reason ?? null, version: latest.record.version } });
      });
    } catch (error) {
      // Not committed: the dataset answers again, as before the request.
      if (stoppedEarly) deps.onWithdrawal(id, false);
      throw error;
    }
    return getView(id, 'supervisor');
  }

  async function getView(id: string, role: Role): Promise<DatasetView> {
    const versions = await deps.store.reader.datasetVersions(id);
    // SECURITY: a version still loading is not part of the catalog: only supervisors see it load.
    const first = role === 'supervisor' && !versions[0] ? firstLoad(id) : undefined;
    if (first) return first;
    if (!versions[0]) throw new DomainError('CAT_ERR_NOT_FOUND', `no dataset ${id}`);
    return view(versions[0], role, versions.map((v) => v.record.version), (await deps.store.reader.listWithdrawals()).get(id));
  }

  return {
    /** Effective policies of a dataset's latest version, for the refinery. */
    async policies(id: string): Promise<{ record: DatasetRecord; columns: (DatasetColumn & { policy: ColumnPolicy })[] }> {
      const [latest] = await deps.store.reader.datasetVersions(id);
      if (!latest) throw new DomainError('CAT_ERR_NOT_FOUND', `no dataset ${id}`);
      return { record: latest.record, columns: await withPolicies(id, latest.columns) };
    },

    /**
     * Sets column policies. Every named column must exist; recognized personal data is never
     * `plain` without a reason, and such a choice is audited with its reason; every rule must fit
     * its column's type and recognized kind (policy-fit.ts). One column that fails refuses the
     * whole change: nothing is stored, no tenant file is rebuilt.
     */
    async setPolicies(actor: AuditActor, id: string, input: SetPolicies): Promise<DatasetView> {
      await checkedPolicies(id, input);
      await deps.store.mutate(async (tx) => {
        // Checked again where it is stored: a version ingested meanwhile may have changed a column's type or kind.
        const latest = await checkedPolicies(id, input, tx.reader);
        const byName = new Map(latest.columns.map((c) => [c.name, c]));
        const ts = deps.now().toISOString();
        for (const [name, policy] of Object.entries(input.columns)) await tx.setColumnPolicy(id, name, policy, ts, actor.sub);
        // One new fingerprint for the whole change: never an intermediate policy set.
        const fingerprint = policyFingerprint(effectivePolicies(latest.columns, { ...(await tx.reader.datasetPolicies(id)), ...input.columns }));
        tx.afterCommit(() => deps.onChanged(id, fingerprint));
        const plainPersonal = Object.entries(input.columns)
          .filter(([name, policy]) => policy.kind === 'plain' && byName.get(name)?.pii)
          .map(([name, policy]) => ({ column: name, kind: byName.get(name)!.pii!.kind, reason: policy.reason }));
        await tx.appendAudit({ actor, action: 'dataset.policy', target: `dataset:${id}`, details: { columns: input.columns, plainPersonal } });
      });
      return this.get(id, 'supervisor');
    },

    /**
     * What `input` would make of a handful of synthetic values per named column, by the refinery's
     * compiled SQL, after the same checks as setPolicies. Stores nothing and rebuilds nothing.
     * The values are generated for the column's recognized kind or type, never read from the
     * dataset; tokens use a key made for this preview and dropped after it, never a tenant's.
     * Runs in a small in-memory DuckDB of the API server: the SQL is the platform's own, over
     * five generated rows, and no dataset file is opened.
     */
    async previewPolicies(id: string, input: SetPolicies): Promise<PolicyPreview> {
      const latest = await checkedPolicies(id, input);
      const byName = new Map(latest.columns.map((c) => [c.name, c]));
      const columns = Object.entries(input.columns).map(([name, policy]) => {
        const column = byName.get(name)!;
        return { name, type: column.type, piiKind: column.pii?.kind ?? null, policy };
      });
      // SECURITY: a throwaway key: preview tokens match no token any tenant holds.
      const plan = previewPlan(columns, { tokenKey: randomBytes(32), today: deps.today(), seed: PREVIEW_SEED });
      const db = await openDatabase(':memory:', { threads: 1, memoryLimitMb: 64 });
      let before: Record<string, unknown>[];
      let after: Record<string, unknown>[];
      try {
        const connection = await db.connect();
        try {
          await connection.run(plan.createSource);
          before = await connection.all(plan.before);
          after = await connection.all(plan.after);
        } finally {
          connection.close();
        }
      } finally {
        db.close();
      }
      const values = (rows: Record<string, unknown>[], column: string) => rows.map((row) => (row[column] === null || row[column] === undefined ? null : String(row[column])));
      return {
        dataset: id,
        version: latest.record.version,
        columns: columns.map((column, k) => {
          const output = plan.outputs[k]!;
          return {
            name: column.name, type: column.type, pii: column.piiKind, policy: column.policy,
            before: values(before, output.source),
            after: output.own ? values(after, output.own) : null,
            derived: output.derived.map((d) => ({ name: d.name, values: values(after, d.output) })),
          };
        }),
      };
    },

    /**
     * Ingests a file (delimited text in UTF-8 or GBK, an .xlsx workbook's first or named sheet, or
     * Parquet) as the next version of a dataset. Deletes the uploaded file.
     */
    async ingest(actor: AuditActor, meta: DatasetMeta, upload: { path: string; filename: string; sheet?: string | undefined }): Promise<DatasetView> {
      try {
        return await serialized(meta.id, () => ingestOnce(actor, meta, upload));
      } finally {
        fs.rmSync(upload.path, { force: true });
        fs.rmSync(`${upload.path}.utf8.csv`, { force: true });
      }
    },

    /** Trusted callers only (the demo domain): a dataset generated by SQL inside the engine. */
    ingestGenerated(actor: AuditActor, meta: DatasetMeta, sql: string): Promise<DatasetView> {
      return serialized(meta.id, () => ingestOnce(actor, meta, { sql }));
    },

    async list(role: Role): Promise<DatasetView[]> {
      const [entries, withdrawals] = await Promise.all([deps.store.reader.listDatasets(), deps.store.reader.listWithdrawals()]);
      const views = await Promise.all(entries.map((entry) => view(entry, role, [entry.record.version], withdrawals.get(entry.record.id))));
      if (role !== 'supervisor') return views;
      const listed = new Set(entries.map((e) => e.record.id));
      return [...views, ...[...loading.keys()].filter((id) => !listed.has(id)).map((id) => firstLoad(id)!)];
    },

    get: getView,

    /**
     * Withdraws a dataset (DESIGN.md §5, "stop all use"): from the commit on, no tenant's query,
     * workspace table, export creation, approval or download reads it, in either env, and no grant
     * of it is made. Tenants' copies and the tables built from them are kept, refused, so that
     * reinstating gives them back; grants keep running out as they would.
     */
    withdraw(actor: AuditActor, id: string, input: WithdrawDataset): Promise<DatasetView> {
      return setWithdrawal(actor, id, { reason: input.reason, at: deps.now().toISOString(), by: actor.sub }, input.reason);
    },

    /** Undoes a withdrawal: the dataset's copies and the tables built from them answer again. */
    reinstate(actor: AuditActor, id: string, input: ReinstateDataset): Promise<DatasetView> {
      return setWithdrawal(actor, id, null, input.reason);
    },
  };
}

export type CatalogService = ReturnType<typeof createCatalogService>;

/** The seed of preview values: the same synthetic values for a column on every preview, to compare policies side by side. */
const PREVIEW_SEED = 20_261_130;

/** Columns with their effective policies: the supervisor's, else the default for their PII kind. */
export function effectivePolicies(columns: DatasetColumn[], set: Record<string, ColumnPolicy>): (DatasetColumn & { policy: ColumnPolicy })[] {
  return columns.map((c) => ({ ...c, policy: set[c.name] ?? defaultPolicy(c.pii?.kind ?? null) }));
}
