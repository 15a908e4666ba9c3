import { adminPrefix, adminPrefixSql } from './admin-prefix.js';
import { compactIdentifier, compactIdentifierSql, COMPOUND_SURNAMES, normalizeIdentifier, normalizeIdentifierSql, trimSql, trimText } from './identifiers.js';
import { identity, type SqlRule, sqlString } from './sql.js';

/**
 * Masks for every recognized kind of personal identifier, each in two forms that must agree: a
 * TypeScript reference (`apply`) and vectorized DuckDB SQL in two steps (SqlRule) that the refinery
 * runs over whole columns. Property tests check the two on generated and malformed inputs.
 *
 * Masks fail closed: a value that does not have the expected shape is replaced by FULLY_MASKED,
 * never passed through. Lengths are counted in code points, never UTF-16 units. NULL stays NULL.
 */
export const FULLY_MASKED = '******';

export const MASK_KINDS = ['resident_id', 'mobile', 'name', 'bank_card', 'email', 'plate', 'uscc', 'address', 'fixed_line', 'passport'] as const;
export type MaskKind = (typeof MASK_KINDS)[number];

/** `apply` is the reference; the SqlRule steps are what the refinery runs over whole columns. */
export interface MaskRule extends SqlRule {
  apply(value: string | null): string | null;
}

const chars = (text: string): string[] => Array.from(text);
const stars = (count: number): string => '*'.repeat(Math.max(0, count));

/** Also drops inner spaces and hyphens (phone and card numbers are written grouped). */
function compactSql(column: string): string {
  return `regexp_replace(${normalizeIdentifierSql(column)}, '[\\s-]', '', 'g')`;
}
const compact = (value: string): string => normalizeIdentifier(value).replace(/[\s-]/g, '');

/** CASE WHEN column IS NULL THEN NULL … ELSE fully masked. */
function nullSafe(column: string, branches: string): string {
  return `(CASE WHEN ${column} IS NULL THEN NULL ${branches} ELSE ${sqlString(FULLY_MASKED)} END)`;
}

const residentId: MaskRule = {
  apply(value) {
    if (value === null) return null;
    // SECURITY: separators removed first: a grouped ID (110105 19491231 002X) is masked like any other.
    const id = compactIdentifier(value);
    if (/^[0-9]{17}[0-9X]$/.test(id)) return `${id.slice(0, 6)}${stars(8)}${id.slice(14)}`;
    if (/^[0-9]{15}$/.test(id)) return `${id.slice(0, 6)}${stars(5)}${id.slice(11)}`;
    return FULLY_MASKED;
  },
  // The same preparation as an ID's token and derived columns: computed once for all of them.
  prepare: compactIdentifierSql,
  finish: (n) => nullSafe(n, `
      WHEN regexp_full_match(${n}, '[0-9]{17}[0-9X]') THEN substr(${n}, 1, 6) || '********' || substr(${n}, 15, 4)
      WHEN regexp_full_match(${n}, '[0-9]{15}') THEN substr(${n}, 1, 6) || '*****' || substr(${n}, 12, 4)`),
};

const MOBILE = '^(?:(?:\\+|00)?86)?(1[3-9][0-9]{9})$';
const mobile: MaskRule = {
  apply(value) {
    if (value === null) return null;
    // Compacted as recognition and the entity keys read a mobile (`139.1234.5678`, `13912345678.0`).
    const digits = new RegExp(MOBILE).exec(compactIdentifier(value))?.[1];
    return digits ? `${digits.slice(0, 3)}${stars(4)}${digits.slice(7)}` : FULLY_MASKED;
  },
  prepare: (column) => `regexp_extract(${compactIdentifierSql(column)}, '${MOBILE}', 1)`,
  finish: (d) => nullSafe(d, `WHEN ${d} <> '' THEN substr(${d}, 1, 3) || '****' || substr(${d}, 8, 4)`),
};

const NAME_JS = /^[\p{Script=Han}·]{2,60}$/u;
const NAME_SQL = '[\\p{Han}·]{2,60}';
const name: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const text = trimText(value);
    if (!NAME_JS.test(text)) return FULLY_MASKED;
    const cs = chars(text);
    // Keep the surname: a compound surname whole, when there is a given name after it.
    const keep = cs.length > 2 && COMPOUND_SURNAMES.includes(cs.slice(0, 2).join('')) ? 2 : 1;
    return cs.slice(0, keep).join('') + stars(cs.length - keep);
  },
  prepare: trimSql,
  finish(t) {
    const compound = COMPOUND_SURNAMES.map(sqlString).join(', ');
    return nullSafe(t, `
      WHEN regexp_full_match(${t}, '${NAME_SQL}') THEN
        CASE WHEN length(${t}) > 2 AND substr(${t}, 1, 2) IN (${compound})
          THEN substr(${t}, 1, 2) || repeat('*', length(${t}) - 2)
          ELSE substr(${t}, 1, 1) || repeat('*', length(${t}) - 1) END`);
  },
};

const bankCard: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const digits = compact(value);
    // PCI DSS: at most the first 6 and the last 4.
    return /^[0-9]{12,19}$/.test(digits) ? `${digits.slice(0, 6)}${stars(digits.length - 10)}${digits.slice(-4)}` : FULLY_MASKED;
  },
  prepare: compactSql,
  finish: (d) => nullSafe(d, `WHEN regexp_full_match(${d}, '[0-9]{12,19}') THEN substr(${d}, 1, 6) || repeat('*', length(${d}) - 10) || right(${d}, 4)`),
};

/**
 * The local part is anything without @ or a space (spelled out: JavaScript's `\s` and RE2's differ);
 * the domain, which the mask keeps, is ASCII labels only. A looser domain kept whatever followed
 * an address: `zs@x.com，电话13812345678` kept the phone number as "domain".
 */
const EMAIL = '[^@ \t\n\r\f\v\u00a0\u3000\ufeff]+@[A-Za-z0-9-]+(?:\\.[A-Za-z0-9-]+)+';
const email: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const text = trimText(value);
    // SECURITY: a value with anything after the domain is masked whole, never kept as the domain.
    if (!new RegExp(`^${EMAIL}$`, 'u').test(text)) return FULLY_MASKED;
    const [local, domain] = text.split('@') as [string, string];
    return `${chars(local)[0]}****@${domain}`;
  },
  prepare: trimSql,
  finish: (t) => nullSafe(t, `WHEN regexp_full_match(${t}, '${EMAIL}') THEN substr(${t}, 1, 1) || '****@' || split_part(${t}, '@', 2)`),
};

const PLATE = '[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]';
const plate: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const text = trimText(value).toUpperCase();
    if (!new RegExp(`^${PLATE}$`, 'u').test(text)) return FULLY_MASKED;
    const cs = chars(text);
    return cs.slice(0, 3).join('') + stars(cs.length - 4) + cs[cs.length - 1];
  },
  prepare: (column) => `upper(${trimSql(column)})`,
  finish: (t) => nullSafe(t, `WHEN regexp_full_match(${t}, '${PLATE}') THEN substr(${t}, 1, 3) || repeat('*', length(${t}) - 4) || right(${t}, 1)`),
};

const USCC = '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}';
const uscc: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const code = normalizeIdentifier(value).toUpperCase();
    // Keep registration department, class and region; mask the subject code and check character.
    return new RegExp(`^${USCC}$`).test(code) ? `${code.slice(0, 8)}${stars(10)}` : FULLY_MASKED;
  },
  prepare: (column) => `upper(${normalizeIdentifierSql(column)})`,
  finish: (n) => nullSafe(n, `WHEN regexp_full_match(${n}, '${USCC}') THEN substr(${n}, 1, 8) || '**********'`),
};

const address: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const text = trimText(value);
    // SECURITY: only real province, city and county names are kept (admin-prefix.ts); 小区, 社区,
    // 开发区, a street or a number never end the kept part, and no known prefix masks everything.
    const kept = adminPrefix(text);
    if (kept === '') return FULLY_MASKED;
    return kept + stars(chars(text).length - chars(kept).length);
  },
  prepare: trimSql,
  // rpad() stars the rest up to the value's length, so the kept part is written once: DuckDB
  // computes a sub-expression repeated in a plain projection once, but not inside CASE (measured:
  // passing province, city and rest through a struct from `prepare` was twice as slow).
  finish: (t) => `coalesce(rpad(nullif(${adminPrefixSql(t)}, ''), CAST(length(${t}) AS INTEGER), '*'), CASE WHEN ${t} IS NOT NULL THEN ${sqlString(FULLY_MASKED)} END)`,
};

const FIXED_LINE = '^(010|02[0-9]|0[3-9][0-9]{2})-?([0-9]{6,8})$';
const fixedLine: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const match = new RegExp(FIXED_LINE).exec(normalizeIdentifier(value));
    if (!match) return FULLY_MASKED;
    const [, area, local] = match as unknown as [string, string, string];
    return `${area}-${stars(local.length - 2)}${local.slice(-2)}`;
  },
  // A NULL value gives a NULL struct (DuckDB's regexp_extract with group names).
  prepare: (column) => `regexp_extract(${normalizeIdentifierSql(column)}, '${FIXED_LINE}', ['area', 'local'])`,
  finish: (p) => nullSafe(p, `WHEN ${p}.area <> '' THEN ${p}.area || '-' || repeat('*', length(${p}.local) - 2) || right(${p}.local, 2)`),
};

const PASSPORT = '(?:[GE][0-9]{8}|E[A-HJ-NP-Z][0-9]{7})';
const passport: MaskRule = {
  apply(value) {
    if (value === null) return null;
    const text = normalizeIdentifier(value).toUpperCase();
    return new RegExp(`^${PASSPORT}$`).test(text) ? `${text[0]}${stars(6)}${text.slice(-2)}` : FULLY_MASKED;
  },
  prepare: (column) => `upper(${normalizeIdentifierSql(column)})`,
  finish: (n) => nullSafe(n, `WHEN regexp_full_match(${n}, '${PASSPORT}') THEN substr(${n}, 1, 1) || '******' || right(${n}, 2)`),
};

export const MASKS: Record<MaskKind, MaskRule> = {
  resident_id: residentId,
  mobile,
  name,
  bank_card: bankCard,
  email,
  plate,
  uscc,
  address,
  fixed_line: fixedLine,
  passport,
};

/** The generic rule: keep the first `first` and last `last` characters; too short to keep any: all masked. */
export function keepFirstLast(first: number, last: number): MaskRule {
  return {
    apply(value) {
      if (value === null) return null;
      const cs = chars(value);
      return cs.length > first + last ? cs.slice(0, first).join('') + stars(cs.length - first - last) + (last > 0 ? cs.slice(-last).join('') : '') : FULLY_MASKED;
    },
    prepare: identity,
    finish(column) {
      const keepLast = last > 0 ? ` || right(${column}, ${last})` : '';
      return nullSafe(column, `WHEN length(${column}) > ${first + last} THEN substr(${column}, 1, ${first}) || repeat('*', length(${column}) - ${first + last})${keepLast}`);
    },
  };
}
