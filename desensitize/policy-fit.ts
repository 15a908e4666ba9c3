import { MASK_KINDS, type MaskKind } from './masks.js';
import type { ColumnPolicy } from './policy.js';
import { PII_KINDS } from './recognize.js';
import { TYPE_CLASSES, typeClassOf, type TypeClass } from './type-classes.js';

/**
 * Which column policies make sense on which columns: every policy rule against the column's
 * DuckDB type and the personal-data kind recognition found in it, in one table. A rule that does
 * not fit (a mobile mask on a DOUBLE, a year generalization on names, a resident-ID derivation on
 * a district) would not protect anything better than a fitting one: it turns every value into
 * `******` or NULL, or (scrub on addresses, a bucket over mobile numbers) lets most of the value
 * through. The catalog refuses such a policy before anything is stored. Pure.
 *
 * `checkPolicy` (policy.ts) says whether a policy is well-formed; this module says whether a
 * well-formed policy fits its column.
 */

/** A recognized personal-data kind, or `none` for a column recognition found nothing in. */
export type KindOrNone = (typeof PII_KINDS)[number] | 'none';
const ALL_KINDS: readonly KindOrNone[] = [...PII_KINDS, 'none'];
const except = (...excluded: KindOrNone[]): readonly KindOrNone[] => ALL_KINDS.filter((k) => !excluded.includes(k));

/** One row of the matrix: the types and kinds a rule fits, and what it reads (for messages). */
interface RuleFit {
  types: readonly TypeClass[];
  /** `any`: every kind, including kinds an older catalog stored that this version does not know. */
  kinds: readonly KindOrNone[] | 'any';
  /** What the rule reads, as a message puts it: "it reads <reads>". */
  reads: string;
}

/** Digits-only identifiers survive as integers (a BIGINT prints 13812345678 as typed); the rest need text. */
const DIGITS_ONLY: readonly MaskKind[] = ['resident_id', 'mobile', 'bank_card'];
const MASK_READS: Record<MaskKind, string> = {
  resident_id: 'resident IDs (18 or 15 characters)',
  mobile: 'mobile numbers (11 digits, +86 allowed)',
  name: 'personal names in Chinese characters',
  bank_card: 'bank card numbers (12 to 19 digits)',
  email: 'e-mail addresses',
  plate: 'licence plates',
  uscc: 'unified social credit codes (18 characters)',
  address: 'addresses that start with a province, city or county',
  fixed_line: 'fixed-line numbers with their area code (a leading 0 an integer column would have lost)',
  passport: 'passport numbers',
};

/**
 * The compatibility matrix, by rule key (see `ruleKeyOf`). Why each row is what it is:
 * - kind-specific masks, the resident-ID token and derivation read one format: they fit only a
 *   column recognized as that kind (on anything else they give `******` or NULL for every value,
 *   and a supervisor who expected a mask gets an empty column), as text, or as integers where the
 *   format is digits only;
 * - `scrub` leaves addresses and most names as they are: only for free text or unrecognized text;
 * - `keep:<first>:<last>` shows part of any text or integer, but never of free text (the kept ends
 *   of a note can be a phone number's digits);
 * - tokens are join keys for identifiers: not for dates, decimals or booleans (two tokens for a
 *   boolean hide nothing), not for free text (a note's token joins nothing), and resident IDs use
 *   the `resident_id` normalization (a grouped and an ungrouped ID would otherwise give two tokens);
 * - `year`, `month` and `age_band` read dates (DATE, TIMESTAMP, `YYYY-MM-DD`/`YYYYMMDD` text or
 *   integers): on birth dates and unrecognized columns, never on names, IDs or phone numbers;
 * - `bucket:<width>` is for quantities: numbers, never identifiers (a bucket of 1,000 over mobile
 *   numbers shows their first eight digits);
 * - `region_prefix` reads a 6-digit region code at the start: region-code columns, or resident IDs
 *   (whose first six digits are one);
 * - `plain` and `hidden` fit everything (`plain` on personal data needs a reason: policy.ts).
 */
const MATRIX: Record<string, RuleFit> = {
  plain: { types: TYPE_CLASSES, kinds: 'any', reads: 'any value' },
  hidden: { types: TYPE_CLASSES, kinds: 'any', reads: 'nothing' },
  ...Object.fromEntries(MASK_KINDS.map((kind): [string, RuleFit] => [
    `mask:${kind}`, { types: DIGITS_ONLY.includes(kind) ? ['text', 'integer'] : ['text'], kinds: [kind], reads: MASK_READS[kind] },
  ])),
  'mask:scrub': { types: ['text'], kinds: ['free_text', 'none'], reads: 'free text (it masks identifiers inside notes, but leaves addresses and most names as they are)' },
  'mask:keep': { types: ['text', 'integer'], kinds: except('free_text'), reads: 'text or integers, keeping their first and last characters' },
  'token:identifier': { types: ['text', 'integer'], kinds: except('resident_id', 'birth_date', 'free_text'), reads: 'identifiers (a join key)' },
  'token:text': { types: ['text'], kinds: except('resident_id', 'birth_date', 'free_text'), reads: 'text values (a join key)' },
  'token:resident_id': { types: ['text', 'integer'], kinds: ['resident_id'], reads: 'resident IDs' },
  'generalize:year': { types: ['text', 'integer', 'date', 'timestamp'], kinds: ['birth_date', 'none'], reads: 'dates (DATE, TIMESTAMP, or YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日, YYYYMMDD as text or integers)' },
  'generalize:month': { types: ['text', 'integer', 'date', 'timestamp'], kinds: ['birth_date', 'none'], reads: 'dates (DATE, TIMESTAMP, or YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日, YYYYMMDD as text or integers)' },
  'generalize:age_band': { types: ['text', 'integer', 'date', 'timestamp'], kinds: ['birth_date', 'none'], reads: 'birth dates (DATE, TIMESTAMP, or YYYY-MM-DD, YYYY/M/D, YYYY.M.D, YYYY年M月D日, YYYYMMDD as text or integers)' },
  'generalize:bucket': { types: ['integer', 'decimal'], kinds: ['none'], reads: 'quantities (numbers that are not identifiers)' },
  'generalize:region_prefix': { types: ['text', 'integer'], kinds: ['resident_id', 'none'], reads: '6-digit region codes (GB/T 2260) or resident IDs' },
  derive: { types: ['text', 'integer'], kinds: ['resident_id'], reads: 'resident IDs (birth year, gender and region come from their digits)' },
};

/** The matrix's key of a policy's rule: `mask:mobile`, `generalize:bucket`, `token:identifier` … */
export function ruleKeyOf(policy: Pick<ColumnPolicy, 'kind' | 'rule'>): string {
  switch (policy.kind) {
    case 'plain':
    case 'hidden':
      return policy.kind;
    case 'mask':
      return /^keep:/.test(policy.rule ?? '') ? 'mask:keep' : `mask:${policy.rule ?? ''}`;
    case 'token':
      return `token:${policy.rule ?? 'identifier'}`;
    case 'generalize': {
      const rule = policy.rule ?? '';
      if (rule.startsWith('bucket:')) return 'generalize:bucket';
      if (rule.startsWith('region_prefix:')) return 'generalize:region_prefix';
      if (rule.startsWith('age_band')) return 'generalize:age_band';
      return `generalize:${rule}`;
    }
  }
}

/** A rule key as people write it in a policy: `mask mobile`, `generalize bucket:<width>`. */
function ruleLabel(key: string): string {
  if (key === 'derive') return 'derive (birth_year, gender, region)';
  if (key === 'mask:keep') return 'mask keep:<first>:<last>';
  if (key === 'generalize:bucket') return 'generalize bucket:<width>';
  if (key === 'generalize:region_prefix') return 'generalize region_prefix:2|4';
  return key.replace(':', ' ');
}

const TYPE_WORDS: Record<TypeClass, string> = {
  text: 'text', integer: 'integers', decimal: 'decimal numbers', date: 'dates', timestamp: 'timestamps', boolean: 'booleans', other: 'values of this type',
};

/** The facts about a column the matrix reads: its DuckDB type and recognized kind (null: none). */
export interface FitColumn {
  name: string;
  type: string;
  piiKind: string | null;
}

/** Why a policy does not fit its column. */
export interface PolicyMisfit {
  column: string;
  /** The rule that does not fit, as written in a policy (`mask mobile`, `derive …`). */
  rule: string;
  /** `type`: the column's DuckDB type; `kind`: what recognition found (or did not find) in it. */
  reason: 'type' | 'kind';
  message: string;
  /** Rules of the matrix that do fit this column. */
  fitting: string[];
}

function fits(fit: RuleFit, typeClass: TypeClass, kind: KindOrNone | string): 'type' | 'kind' | undefined {
  if (!fit.types.includes(typeClass)) return 'type';
  if (fit.kinds !== 'any' && !(fit.kinds as readonly string[]).includes(kind)) return 'kind';
  return undefined;
}

/** The rules that fit a column, as written in a policy: for messages and the catalog. */
export function fittingRules(column: Pick<FitColumn, 'type' | 'piiKind'>): string[] {
  const typeClass = typeClassOf(column.type);
  const kind = column.piiKind ?? 'none';
  return Object.entries(MATRIX).filter(([, fit]) => fits(fit, typeClass, kind) === undefined).map(([key]) => ruleLabel(key));
}

/**
 * Whether a well-formed policy (checkPolicy found nothing) fits its column: every rule of it (its
 * own and `derive`) that does not, with the reason; empty when it fits.
 */
export function checkPolicyFit(policy: ColumnPolicy, column: FitColumn): PolicyMisfit[] {
  const typeClass = typeClassOf(column.type);
  const kind = column.piiKind ?? 'none';
  const keys = [ruleKeyOf(policy), ...(policy.derive?.length ? ['derive'] : [])];
  const misfits: PolicyMisfit[] = [];
  for (const key of keys) {
    const fit = MATRIX[key];
    // An unknown rule is checkPolicy's to report (CAT_ERR_BAD_POLICY), not a misfit.
    if (!fit) continue;
    const reason = fits(fit, typeClass, kind);
    if (!reason) continue;
    const rule = ruleLabel(key);
    const found = kind === 'none' ? 'recognition found no personal data in it' : `it was recognized as ${kind}`;
    const why = reason === 'type'
      ? `${rule} does not fit column ${column.name}: it is ${column.type} (${TYPE_WORDS[typeClass]}), and ${rule} reads ${fit.reads}, as ${fit.types.map((t) => TYPE_WORDS[t]).join(' or ')}`
      : `${rule} does not fit column ${column.name}: ${found}, and ${rule} reads ${fit.reads}`;
    const fitting = fittingRules(column);
    misfits.push({ column: column.name, rule, reason, message: `${why}; rules that fit it: ${fitting.join(', ')}`, fitting });
  }
  return misfits;
}
