import { scrub } from './free-text.js';
import { MASK_KINDS, MASKS, keepFirstLast, type MaskKind, type MaskRule } from './masks.js';
import { idBirthYear, idGender, idRegionPrefix, toAgeBand, toBucket, toMonth, toRegionPrefix, toYear, type GeneralizeRule } from './generalize.js';
import { identity, quoteIdentifier, twoStepSelect, type SqlRule } from './sql.js';
import { entityKeyRule, tokenRule, type TokenNormalization } from './tokens.js';

/**
 * Column policies (DESIGN.md §3): what a tenant's granted file holds for each raw column, and how
 * that compiles to the refinery's SQL. Pure: the token key and today's date are passed in.
 */
export type PolicyKind = 'plain' | 'mask' | 'token' | 'generalize' | 'hidden';

export interface ColumnPolicy {
  kind: PolicyKind;
  /** mask: a mask kind, `scrub` or `keep:<first>:<last>`; token: identifier | resident_id | text; generalize: see GENERALIZE_RULES. */
  rule?: string | undefined;
  /** Required to set `plain` on a column recognized as personal data; audited. */
  reason?: string | undefined;
  /** For resident IDs: derived generalized columns that keep the ID usable while invisible. */
  derive?: ('birth_year' | 'gender' | 'region')[] | undefined;
}

export const GENERALIZE_RULES = ['year', 'month', 'age_band', 'age_band:5', 'bucket:<width>', 'region_prefix:2', 'region_prefix:4'] as const;

/** Mask rules by name: each mask kind's own, and `scrub` for free text (which has no mask of its own). */
const MASK_RULES = [...MASK_KINDS, 'scrub'] as const;

/**
 * The default policy of a column (a PiiKind, or any other text as stored in a catalog): never
 * plain for recognized personal data, and hidden for a kind it does not know.
 */
export function defaultPolicy(piiKind: string | null): ColumnPolicy {
  switch (piiKind) {
    case null:
      return { kind: 'plain' };
    case 'resident_id':
      // Joinable within a tenant, plus what analyses usually need from an ID.
      return { kind: 'token', rule: 'resident_id', derive: ['birth_year', 'gender', 'region'] };
    case 'uscc':
    case 'subject_id':
      return { kind: 'token', rule: 'identifier' };
    case 'birth_date':
      // SECURITY: an exact birth date next to a district and a gender singles out most people; the year does not.
      return { kind: 'generalize', rule: 'year' };
    case 'free_text':
      // SECURITY: names inside free text cannot be found reliably (scrub is best effort): hidden is the
      // only default that never lets one through.
      return { kind: 'hidden' };
    default:
      return MASK_KINDS.includes(piiKind as MaskKind) ? { kind: 'mask', rule: piiKind } : { kind: 'hidden' };
  }
}

/** The problem with a policy, or undefined when it is valid. */
export function checkPolicy(policy: ColumnPolicy, piiKind: string | null): string | undefined {
  switch (policy.kind) {
    case 'plain':
      if (piiKind && !policy.reason?.trim()) return `the column holds personal data (${piiKind}): plain needs a reason`;
      return undefined;
    case 'hidden':
      return undefined;
    case 'mask':
      return maskRule(policy.rule) ? undefined : `mask rule must be one of ${MASK_RULES.join(', ')} or keep:<first>:<last>`;
    case 'token':
      return ['identifier', 'resident_id', 'text'].includes(policy.rule ?? 'identifier') ? undefined : 'token rule must be identifier, resident_id or text';
    case 'generalize':
      return generalizeRule(policy.rule, '2000-01-01') ? undefined : `generalize rule must be one of ${GENERALIZE_RULES.join(', ')}`;
  }
}

function maskRule(rule: string | undefined): MaskRule | undefined {
  if (rule === 'scrub') return scrub;
  if (rule && (MASK_KINDS as readonly string[]).includes(rule)) return MASKS[rule as MaskKind];
  const keep = /^keep:(\d{1,2}):(\d{1,2})$/.exec(rule ?? '');
  return keep ? keepFirstLast(Number(keep[1]), Number(keep[2])) : undefined;
}

function generalizeRule(rule: string | undefined, today: string): GeneralizeRule | undefined {
  const bucket = /^bucket:(\d+(\.\d+)?)$/.exec(rule ?? '');
  if (bucket && Number(bucket[1]) > 0) return toBucket(Number(bucket[1]));
  switch (rule) {
    case 'year': return toYear;
    case 'month': return toMonth;
    case 'age_band': return toAgeBand(today, 10);
    case 'age_band:5': return toAgeBand(today, 5);
    case 'region_prefix:2': return toRegionPrefix(2);
    case 'region_prefix:4': return toRegionPrefix(4);
    default: return undefined;
  }
}

/** The SQL rule of a policy, over a raw column; undefined for hidden columns. */
function policyRule(policy: ColumnPolicy, tokenKey: Buffer, today: string): SqlRule | undefined {
  switch (policy.kind) {
    case 'plain': return { prepare: identity, finish: identity };
    case 'hidden': return undefined;
    // Masks and tokens work on text; raw columns may have been typed as numbers (phone numbers often are).
    case 'mask': return onText(maskRule(policy.rule)!);
    case 'token': return onText(tokenRule(tokenKey, (policy.rule ?? 'identifier') as TokenNormalization));
    case 'generalize': return generalizeRule(policy.rule, today)!;
  }
}

/** A rule over a column's text (raw columns may be typed as numbers: phone numbers often are). */
export const onText = (rule: SqlRule): SqlRule => ({ prepare: (column) => rule.prepare(`CAST(${column} AS VARCHAR)`), finish: rule.finish });

const DERIVED = { birth_year: idBirthYear, gender: idGender, region: idRegionPrefix(4) } as const;

/**
 * The SELECT a policy set compiles to, over `from` (the raw table or its synthetic twin): one or
 * more output columns per raw column, none for hidden ones; undefined when nothing is left.
 * `tokenKey` is the tenant's key: tokens of one tenant never match another's.
 */
export function compilePolicySelect(columns: readonly { name: string; policy: ColumnPolicy }[], options: PolicySelectOptions, from: string): string | undefined {
  const outputs: { name: string; column: string; rule: SqlRule }[] = [];
  for (const { name, policy } of columns) {
    const column = quoteIdentifier(name);
    const rule = policyRule(policy, options.tokenKey, options.today);
    if (rule) outputs.push({ name, column, rule });
    for (const derived of policy.derive ?? []) outputs.push({ name: `${name}_${derived}`, column, rule: onText(DERIVED[derived]) });
  }
  if (outputs.length === 0) return undefined;
  // The entity key rides along as a last column, which the build moves into the entity side table.
  if (options.entity) outputs.push({ name: ENTITY_COLUMN, column: quoteIdentifier(options.entity.column), rule: onText(entityKeyRule(options.entity.key, options.entity.normalization)) });
  return twoStepSelect(outputs, from);
}

/** The column of a granted table's build that carries its entity keys (never published with the table). */
export const ENTITY_COLUMN = '__entity';

/** How a dataset's entity keys are made: its entity column, the domain's entity key, the kind's normalization. */
export interface EntityKeyOptions {
  column: string;
  key: Buffer;
  normalization: TokenNormalization;
}

export interface PolicySelectOptions {
  tokenKey: Buffer;
  today: string;
  /** Adds `__entity`: the row's entity (the raw `column`) keyed with the domain's entity key. */
  entity?: EntityKeyOptions | undefined;
}
