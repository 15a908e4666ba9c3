import { createHash } from 'node:crypto';
import { DomainError, isDomainError } from '../core/errors.js';
import { SourceRefSchema, type Admissible, type SourceRef } from '../sandbox/index.js';
import { canonicalJson } from './audit/canonical-json.js';
import type { GrantRecord } from './model.js';

/**
 * Lineage and access, as the control plane decides them (invariant 9). Every published table and
 * every workspace table carries the sources it was computed from: a dataset, its version, and a
 * fingerprint of what the tenant may see of it (the effective column policies and the grant's
 * columns). An answer is delivered only when every source it was computed from is still what the
 * tenant may see *now*: a live grant ("no record, no access") and the current fingerprint. A grant
 * that ended or a policy that changed therefore stops the old data at once, in both envs and in
 * every workspace table derived from it, before the refinery has rebuilt anything.
 */

/** A fingerprint of a dataset's effective column policies (names, types and rules). */
export function policyFingerprint(columns: readonly { name: string; type: string; policy: unknown }[]): string {
  const canonical = canonicalJson({ columns: [...columns].sort((a, b) => a.name.localeCompare(b.name)).map((c) => ({ name: c.name, type: c.type, policy: c.policy })) });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 32);
}

/** What a tenant may see of a dataset: its policies' fingerprint combined with the grant's columns. */
export function accessFingerprint(policy: string, grantColumns: readonly string[] | null): string {
  const columns = grantColumns ? [...grantColumns].sort() : null;
  return createHash('sha256').update(canonicalJson({ policy, columns })).digest('hex').slice(0, 32);
}

/** Why a source may not answer. */
export type SourceVerdict = { ok: true } | { ok: false; reason: 'no-grant' | 'ended' | 'withdrawn' | 'changed' };

/**
 * Grants and policy fingerprints in memory, for the per-answer check (a DuckDB read per answer
 * would cost more than the answer). The server is the store's only writer and updates this in the
 * commit's after-commit step, before the mutation responds.
 */
export class AccessDirectory {
  /** Grants by tenant, then dataset. */
  private readonly grants = new Map<string, Map<string, GrantRecord>>();
  private readonly policies = new Map<string, string>();
  private readonly withdrawn = new Set<string>();

  constructor(grants: GrantRecord[], policies: Map<string, string>) {
    for (const grant of grants) this.putGrant(grant);
    for (const [dataset, fingerprint] of policies) this.policies.set(dataset, fingerprint);
  }

  putGrant(grant: GrantRecord): void {
    const ofTenant = this.grants.get(grant.tenantId) ?? new Map<string, GrantRecord>();
    ofTenant.set(grant.dataset, grant);
    this.grants.set(grant.tenantId, ofTenant);
  }

  putPolicy(dataset: string, fingerprint: string): void {
    this.policies.set(dataset, fingerprint);
  }

  isWithdrawn(dataset: string): boolean {
    return this.withdrawn.has(dataset);
  }

  /** A dataset withdrawn (true) or reinstated (false) by a supervisor. */
  putWithdrawn(dataset: string, withdrawn: boolean): void {
    if (withdrawn) this.withdrawn.add(dataset);
    else this.withdrawn.delete(dataset);
  }

  grant(tenantId: string, dataset: string): GrantRecord | undefined {
    return this.grants.get(tenantId)?.get(dataset);
  }

  /** The fingerprint a tenant's copy of a dataset must carry now; undefined without a live grant. */
  required(tenantId: string, dataset: string, today: string): string | undefined {
    const grant = this.grant(tenantId, dataset);
    const policy = this.policies.get(dataset);
    if (!grant || grant.until < today || policy === undefined) return undefined;
    return accessFingerprint(policy, grant.columns);
  }

  /**
   * What the tenant's engine may run over now (sandbox AdmissibleSchema): for each dataset with a
   * live grant that is not withdrawn, the fingerprint its copies must carry; a source `verdict`
   * accepts, and only those.
   */
  admissible(tenantId: string, today: string): Admissible {
    const admissible: Admissible = {};
    for (const grant of this.grants.get(tenantId)?.values() ?? []) {
      if (this.withdrawn.has(grant.dataset)) continue;
      const required = this.required(tenantId, grant.dataset, today);
      if (required !== undefined) admissible[grant.dataset] = required;
    }
    return admissible;
  }

  verdict(tenantId: string, source: SourceRef, today: string): SourceVerdict {
    const grant = this.grant(tenantId, source.dataset);
    // SECURITY: invariant 6: no record, no access (never "not restricted").
    if (!grant) return { ok: false, reason: 'no-grant' };
    if (grant.until < today) return { ok: false, reason: 'ended' };
    // SECURITY: a withdrawn dataset answers nothing, in any env or copy, until it is reinstated.
    if (this.withdrawn.has(source.dataset)) return { ok: false, reason: 'withdrawn' };
    return this.required(tenantId, source.dataset, today) === source.policy ? { ok: true } : { ok: false, reason: 'changed' };
  }
}

type RefusalReason = Extract<SourceVerdict, { ok: false }>['reason'];

/** The datasets among `sources` that may not answer for the tenant today, by reason (one verdict per source). */
function refusedSources(access: AccessDirectory, tenantId: string, sources: readonly SourceRef[], today: string): Record<RefusalReason, string[]> {
  const refused: Record<RefusalReason, Set<string>> = { 'no-grant': new Set(), ended: new Set(), withdrawn: new Set(), changed: new Set() };
  for (const source of sources) {
    const verdict = access.verdict(tenantId, source, today);
    if (!verdict.ok) refused[verdict.reason].add(source.dataset);
  }
  return { 'no-grant': [...refused['no-grant']], ended: [...refused.ended], withdrawn: [...refused.withdrawn], changed: [...refused.changed] };
}

/**
 * Throws unless every source may answer for the tenant today: GRT_ERR_EXPIRED for a grant that
 * ended or never existed, CAT_ERR_DATASET_WITHDRAWN for a dataset withdrawn, SBX_ERR_REBUILDING for a copy made under a policy or grant that has since
 * changed (the refinery is rebuilding it). Returns nothing: the caller then delivers the answer.
 */
export function assertSourcesCurrent(access: AccessDirectory, tenantId: string, sources: readonly SourceRef[], today: string): void {
  const refused = refusedSources(access, tenantId, sources, today);
  throwIfStopped(refused, '');
  // SECURITY: a tightened policy stops the looser copy from the moment it is accepted.
  if (refused.changed.length > 0) {
    throw new DomainError('SBX_ERR_REBUILDING', `${refused.changed.join(', ')} is being rebuilt under a new policy or grant: retry shortly`, { datasets: refused.changed, retryAfterSeconds: 5 });
  }
}

/**
 * Runs tenant SQL in the engine under what the control plane admits for the tenant now (`run` gets
 * it for the engine task). A run the engine refused before it ran is reported as beforeRunRefusal
 * says; a run that failed after what is admitted shrank (a withdrawal, a grant's end or a policy
 * change committed meanwhile) as those copies' refusal (GRT_ERR_EXPIRED, CAT_ERR_DATASET_WITHDRAWN,
 * SBX_ERR_REBUILDING), whatever the run said: it may have failed on the rows of a copy no longer
 * admitted (a table build admitted before a withdrawal told, by its failure, one bit of the
 * withdrawn rows: red-team pass 40a). A run that succeeded is the caller's to check
 * (assertSourcesCurrent), as what it read is known then.
 */
export async function runAdmitted<T>(access: AccessDirectory, tenantId: string, today: () => string, run: (admissible: Admissible) => Promise<T>): Promise<T> {
  const admitted = access.admissible(tenantId, today());
  try {
    return await run(admitted);
  } catch (error) {
    const refusal = beforeRunRefusal(access, tenantId, error, today());
    if (refusal !== error) throw refusal;
    const now = access.admissible(tenantId, today());
    // SECURITY: invariants 6 and 9: the failure of a run over a copy admitted no longer is not told:
    // what is said is what a run that succeeded would have been told (assertSourcesCurrent of the
    // copies no longer admitted; red-team pass 40a saw 503 against the success's 403).
    const stopped = Object.entries(admitted).filter(([dataset, policy]) => now[dataset] !== policy).map(([dataset, policy]) => ({ dataset, version: 0, policy }));
    if (stopped.length > 0) {
      assertSourcesCurrent(access, tenantId, stopped, today());
      throw new DomainError('SBX_ERR_REBUILDING', 'what this reads changed while it ran: retry it', { retryAfterSeconds: 1 });
    }
    throw error;
  }
}

/**
 * What to report for tenant SQL the engine refused before it ran, for reading a source not admitted
 * (its `refusedSources`, sandbox `assertAdmissible`): what assertSourcesCurrent says of those
 * sources (a grant ended, a dataset withdrawn, a copy being rebuilt), or SBX_ERR_REBUILDING when the
 * control plane has admitted them since (retry). Any other error is returned as it is.
 */
function beforeRunRefusal(access: AccessDirectory, tenantId: string, error: unknown, today: string): unknown {
  const refused = isDomainError(error) && error.code === 'SBX_ERR_REBUILDING' ? SourceRefSchema.array().safeParse(error.details?.refusedSources) : undefined;
  if (!refused?.success) return error;
  try {
    assertSourcesCurrent(access, tenantId, refused.data, today);
  } catch (refusal) {
    return refusal;
  }
  return new DomainError('SBX_ERR_REBUILDING', 'what this reads changed while it was checked: retry it', { retryAfterSeconds: 1 });
}

/**
 * Throws when a source has stopped for the tenant, whatever was built from it: GRT_ERR_EXPIRED for a
 * grant that ended or never existed, CAT_ERR_DATASET_WITHDRAWN for a dataset withdrawn. A policy
 * changed since is not a stop (the copy is being rebuilt).
 */
export function assertNotStopped(access: AccessDirectory, tenantId: string, sources: readonly SourceRef[], today: string, consequence = ''): void {
  throwIfStopped(refusedSources(access, tenantId, sources, today), consequence);
}

function throwIfStopped(refused: Record<RefusalReason, string[]>, consequence: string): void {
  const ended = [...new Set([...refused['no-grant'], ...refused.ended])];
  // SECURITY: invariants 6 and 9: an ended grant stops every copy, derived ones included.
  if (ended.length > 0) throw new DomainError('GRT_ERR_EXPIRED', `no live grant covers ${ended.join(', ')}${consequence}`, { datasets: ended });
  const { withdrawn } = refused;
  // SECURITY: a withdrawn dataset stops every copy, derived ones included, until it is reinstated.
  if (withdrawn.length > 0) {
    const one = withdrawn.length === 1;
    throw new DomainError('CAT_ERR_DATASET_WITHDRAWN', `${withdrawn.join(', ')} ${one ? 'was' : 'were'} withdrawn by the supervisor: nothing reads ${one ? 'it' : 'them'} until reinstated${consequence}`, { datasets: withdrawn });
  }
}
