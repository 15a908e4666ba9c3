import { compactIdentifier, compactIdentifierSql, datePrefix, datePrefixSql, normalizeIdentifier, normalizeIdentifierSql, trimSql, trimText } from './identifiers.js';
import { identity, type SqlRule } from './sql.js';

/**
 * `generalize` policies: coarser values that keep a column useful while hiding the exact one. Each
 * rule has a TypeScript reference and a DuckDB expression; values that do not fit become NULL
 * (fail closed). Rules that depend on today take the date as a parameter: this module has no clock.
 */
/** `apply` is the reference; the SqlRule steps are what the refinery runs over whole columns. */
export interface GeneralizeRule extends SqlRule {
  apply(value: string | number | null): string | number | null;
}

/** A date at the start of the text, in the forms DATE_FORMS names (identifiers.ts); birth dates are also stored as integers. */
function parseDate(value: string | number | null): { y: number; m: number; d: number } | null {
  return value === null ? null : datePrefix(String(value));
}

/** The SQL twin of parseDate: a real date at the start of the text, else NULL. */
const dateSql = (column: string) => datePrefixSql(trimSql(`CAST(${column} AS VARCHAR)`));

export const toYear: GeneralizeRule = {
  apply: (value) => parseDate(value)?.y ?? null,
  prepare: dateSql,
  finish: (date) => `year(${date})`,
};

export const toMonth: GeneralizeRule = {
  apply(value) {
    const date = parseDate(value);
    return date ? `${String(date.y).padStart(4, '0')}-${String(date.m).padStart(2, '0')}` : null;
  },
  prepare: dateSql,
  finish: (date) => `strftime(${date}, '%Y-%m')`,
};

/** Age on `asOf` (YYYY-MM-DD) from a birth date, as a band of `width` years: "30-39". */
export function toAgeBand(asOf: string, width = 10): GeneralizeRule {
  const today = parseDate(asOf);
  if (!today || width < 1) throw new Error('toAgeBand needs a real asOf date and a positive width');
  return {
    apply(value) {
      const birth = parseDate(value);
      if (!birth) return null;
      const age = today.y - birth.y - (today.m * 100 + today.d < birth.m * 100 + birth.d ? 1 : 0);
      if (age < 0) return null;
      const low = Math.floor(age / width) * width;
      return `${low}-${low + width - 1}`;
    },
    prepare: dateSql,
    finish(birth) {
      // Date arithmetic is cheap: the age is written out where it is needed.
      const age = `(${today.y} - year(${birth}) - CASE WHEN ${today.m * 100 + today.d} < month(${birth}) * 100 + day(${birth}) THEN 1 ELSE 0 END)`;
      const low = `(floor(${age} / ${width}) * ${width})::BIGINT`;
      return `CASE WHEN ${age} < 0 THEN NULL ELSE ${low}::VARCHAR || '-' || (${low} + ${width - 1})::VARCHAR END`;
    },
  };
}

/** A number as the lower bound of its bucket of `width`. */
export function toBucket(width: number): GeneralizeRule {
  if (!(width > 0)) throw new Error('toBucket needs a positive width');
  return {
    apply(value) {
      if (value === null || trimText(String(value)) === '') return null;
      const n = Number(value);
      return Number.isFinite(n) ? Math.floor(n / width) * width : null;
    },
    prepare: identity,
    finish: (column) => `(floor(TRY_CAST(${column} AS DOUBLE) / ${width}) * ${width})`,
  };
}

/** A 6-digit region code (GB/T 2260) cut to its first `digits` digits, zero-padded: 110105 → 110000. */
export function toRegionPrefix(digits: 2 | 4): GeneralizeRule {
  return {
    apply(value) {
      if (value === null) return null;
      const code = normalizeIdentifier(String(value));
      return /^[0-9]{6}/.test(code) ? code.slice(0, digits) + '0'.repeat(6 - digits) : null;
    },
    prepare: (column) => normalizeIdentifierSql(`CAST(${column} AS VARCHAR)`),
    finish: (code) => `CASE WHEN regexp_matches(${code}, '^[0-9]{6}') THEN substr(${code}, 1, ${digits}) || '${'0'.repeat(6 - digits)}' END`,
  };
}

/**
 * Columns derived from a resident ID so that it stays usable while invisible: birth year, gender
 * (17th digit odd: M, even: F) and region prefix. Not an 18-character ID: NULL.
 */
const ID18 = /^[0-9]{17}[0-9X]$/;
/** A rule over the normalized ID when it has 18 characters, else NULL. Same preparation as an ID's token: computed once. */
const overId = (body: (id: string) => string): SqlRule => ({
  prepare: compactIdentifierSql,
  finish: (id) => `CASE WHEN regexp_full_match(${id}, '[0-9]{17}[0-9X]') THEN ${body(id)} END`,
});

export const idBirthYear: GeneralizeRule = {
  apply(value) {
    const id = value === null ? '' : compactIdentifier(String(value));
    return ID18.test(id) ? Number(id.slice(6, 10)) : null;
  },
  ...overId((id) => `CAST(substr(${id}, 7, 4) AS INTEGER)`),
};

export const idGender: GeneralizeRule = {
  apply(value) {
    const id = value === null ? '' : compactIdentifier(String(value));
    return ID18.test(id) ? (Number(id[16]) % 2 === 1 ? 'M' : 'F') : null;
  },
  ...overId((id) => `CASE WHEN CAST(substr(${id}, 17, 1) AS INTEGER) % 2 = 1 THEN 'M' ELSE 'F' END`),
};

export function idRegionPrefix(digits: 2 | 4): GeneralizeRule {
  const prefix = toRegionPrefix(digits);
  return {
    apply(value) {
      const id = value === null ? '' : compactIdentifier(String(value));
      return ID18.test(id) ? prefix.apply(id.slice(0, 6)) : null;
    },
    ...overId((id) => `substr(${id}, 1, ${digits}) || '${'0'.repeat(6 - digits)}'`),
  };
}
