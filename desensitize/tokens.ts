import { createHash, createHmac } from 'node:crypto';
import {
  compactIdentifier, compactIdentifierSql, emailAddress, emailAddressSql, gmailMailboxSql, isCalendarDate, normalizeIdentifier, normalizeIdentifierSql, residentIdCheckChar, residentIdCheckSql, trimSql, trimText,
  upgradeResidentId, usccCheckChar, usccCheckSql,
} from './identifiers.js';
import { identity, sqlString, type SqlRule } from './sql.js';

/**
 * `token` policy: a keyed HMAC-SHA256 of the normalized value, hex, cut to 32 characters (128 bits).
 * With a per-tenant key, the same person's identifier gives the same token in every dataset of one
 * tenant (joinable) and unrelated tokens across tenants (unlinkable). An unkeyed hash would be
 * brute-forced in under a second (reference): the key is what protects.
 *
 * The SQL form computes HMAC from SHA-256 primitives inside the trusted refinery's DuckDB; the key
 * (as its HMAC pads) appears only in that SQL text, never in any tenant file.
 */
export const TOKEN_HEX_CHARS = 32;

/**
 * What is tokenized: identifiers compared as the same person would be (resident IDs compacted, see
 * compactIdentifier, and 15-digit IDs upgraded). `compact`, `uscc`, `document`, `mobile` and `email`
 * are the entity keys' forms of other identifier kinds (see entityNormalization; `uscc` and
 * `document` are compacted like `compact`, and differ in what is a key); token policies use the
 * first three.
 */
export type TokenNormalization = 'identifier' | 'resident_id' | 'text' | 'compact' | 'uscc' | 'document' | 'mobile' | 'email';

/** A compacted mobile number's country prefix (+86 and 0086 compact to 86 and 0086) before its 11 digits. */
const MOBILE_PREFIX = /^(?:00)?86(?=1[3-9]\d{9}$)/;

/**
 * How an identifier of a kind is normalized into a person's key (entity counting, overlaps): as
 * people write it differently, compacted (compactIdentifier) and, for mobiles, without the country
 * prefix. SECURITY: one person written 12 ways (`+86 139-1234-5678`, `0086 13912345678`, an en dash,
 * a zero-width space, …) counted as 12 people, in prod and in dev (red-team passes 22a, 23a).
 */
export function entityNormalization(kind: string): TokenNormalization {
  if (kind === 'resident_id' || kind === 'mobile' || kind === 'uscc') return kind;
  // E-mail addresses as the bare address (emailAddress); every other identifier compacted.
  if (kind === 'email') return 'email';
  return kind === 'passport' || kind === 'bank_card' ? 'document' : 'compact';
}

/**
 * What a normalized value must look like to be an entity key: a resident ID (18 characters, a
 * province's code, a county's, a real birth date from 1800 and a correct check character), a
 * mobile's 11 digits, an e-mail address, a unified social credit code (GB 32100's characters and
 * check character); any other identifier a digit other than 0; and no placeholder of the kind's
 * shape (isPlaceholderSql; a credit code, passport or bank card number of one or two characters
 * repeated or of digits counting up or down: 18 ones for twelve sole traders counted as one
 * enterprise, red-team pass 31a, and `123456789012345678`, whose check character is right, pass 32a). SECURITY: the placeholders clerks write for an
 * identifier never recorded ('未登记', '无', 'NULL', 'N/A', '0', 18 zeros) were keys like any other,
 * and one person written with 12 of them counted as 12 people in prod, dev and export differencing
 * (red-team pass 26b); so were placeholders of an identifier's shape ('13800000000',
 * '111111111111111111', pass 27a; '13800138000', '13912345678', 15-digit '111111111111111',
 * 'none@none.com', pass 28a). A value that is no identifier is no key: its row is keyless, never
 * counted as a person. A real identifier taken for a placeholder (a "lucky" mobile of two digits)
 * leaves its rows keyless: fewer people counted, the safe side.
 */
const PROVINCE = '(?:1[1-5]|2[1-3]|3[1-7]|4[1-6]|5[0-4]|6[1-5]|71|8[1-3])';
const ENTITY_KEY_SHAPE: Record<TokenNormalization, string> = {
  // A province, a city, a county (00 only for the cities without counties: 东莞, 中山, 三沙, 儋州,
  // 嘉峪关, and for the residence permits of Hong Kong, Macao and Taiwan residents, 810000, 820000,
  // 830000, issued in GB 11643's shape: a Hong Kong resident's ten mobiles beside theirs merged
  // into nothing, red-team pass 39a; elsewhere that code names a city, never a birthplace), the
  // birth date and sequence (11 digits), a check character.
  resident_id: `(?:${PROVINCE}[0-9]{2}(?:0[1-9]|[1-9][0-9])|(?:4419|4420|4603|4604|6202|8[1-3]00)00)[0-9]{11}[0-9X]`,
  mobile: '1[3-9][0-9]{9}',
  email: '[^@]+@[^@]+[.][^@]+',
  // GB 32100's characters, as USCC_PATTERN (and a check character, see isEntityKey).
  uscc: '[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}',
  document: '.*[1-9].*',
  identifier: '.*[1-9].*',
  compact: '.*[1-9].*',
  text: '.*[1-9].*',
};
const ENTITY_KEY_PATTERN = Object.fromEntries(Object.entries(ENTITY_KEY_SHAPE).map(([how, shape]) => [how, new RegExp(`^(?:${shape})$`)])) as Record<TokenNormalization, RegExp>;
/** A resident ID's birth date: YYYYMMDD from 1800 at characters 7–14. */
const ID_YEAR_FROM = 1800;
/** The examples of GB 11643 (18 digits; the first is also its 15-digit example, upgraded), printed in every guide. */
const SAMPLE_RESIDENT_IDS = ['11010519491231002X', '440524188001010014'];
/** Ascending and descending runs of digits: a subscriber number or an all-digit mailbox within one is a placeholder (12345678, 123456@qq.com). */
const DIGIT_RUNS = ['01234567890', '09876543210'];
/** Local parts and domains written for "no e-mail". */
const PLACEHOLDER_LOCAL_PARTS = ['NONE', 'NOEMAIL', 'NOMAIL', 'NULL', 'NIL', 'TEST', 'XXX', 'ABC', 'EMAIL', 'MAIL', 'EXAMPLE', 'UNKNOWN', 'NOREPLY', 'NOBODY', 'DEFAULT', 'TEMP', 'FAKE', 'DUMMY', 'SAMPLE', 'ADMIN', 'USER', 'WUYOUXIANG'];
const PLACEHOLDER_DOMAINS = ['NONE.COM', 'NULL.COM', 'TEST.COM', 'EXAMPLE.COM', 'EXAMPLE.ORG', 'EXAMPLE.NET', 'XXX.COM', 'NOEMAIL.COM', 'NOMAIL.COM', 'EMAIL.COM', 'DOMAIN.COM'];

/** Each pair of digits as a character class ([01], [02], … [89]): a text of at most two digits is all of one. */
const DIGIT_PAIRS = Array.from({ length: 10 }, (_, a) => Array.from({ length: 9 - a }, (_, k) => `[${a}${a + k + 1}]`)).flat();
/**
 * The placeholders of resident IDs and mobiles as one regular expression over the whole value, for
 * TypeScript and DuckDB alike (RE2 matches it in one pass: string functions cost 2–3 s a million
 * IDs in SQL, a quarter of an ingest).
 * Resident IDs: at most two digits among the 15 of the old form (characters 1–6 and 9–17).
 * Mobiles: a subscriber number of at most two digits, or within a run, or the prefix repeated.
 */
const PLACEHOLDER_PATTERN = {
  resident_id: `(?:${DIGIT_PAIRS.map((pair) => `${pair}{6}[0-9]{2}${pair}{9}`).join('|')})[0-9X]`,
  mobile: [
    `[0-9]{3}(?:${DIGIT_PAIRS.map((pair) => `${pair}{8}`).join('|')})`,
    `[0-9]{3}(?:${DIGIT_RUNS.flatMap((run) => Array.from({ length: run.length - 7 }, (_, i) => run.slice(i, i + 8))).join('|')})`,
    Array.from({ length: 70 }, (_, i) => `${130 + i}00${130 + i}000`).join('|'),
  ].join('|'),
};

const PLACEHOLDER_REGEXP = {
  resident_id: new RegExp(`^(?:${PLACEHOLDER_PATTERN.resident_id})$`),
  mobile: new RegExp(`^(?:${PLACEHOLDER_PATTERN.mobile})$`),
};
const fewCharacters = (text: string) => new Set(text).size <= 2;
/** Digits counting up or down, wrapping round (…7890123…): a number within them is written, not issued. */
const CYCLIC_RUNS = ['0123456789'.repeat(3), '9876543210'.repeat(3)];
/**
 * Credit codes: its organization code (characters 9–17) of one or two characters, or its first 17
 * characters or the organization code's 8 digits within a run (`123456789012345678` and
 * `91110000000000000E` have correct check characters). Passport and bank card numbers: one or two
 * characters, or all their digits (six or more) within a run (`E12345678`).
 */
function isCodePlaceholder(normalized: string, how: 'uscc' | 'document'): boolean {
  if (how === 'document') {
    const digits = normalized.replace(/[^0-9]/g, '');
    return fewCharacters(normalized) || (digits.length >= 6 && CYCLIC_RUNS.some((run) => run.includes(digits)));
  }
  return fewCharacters(normalized.slice(8)) || CYCLIC_RUNS.some((run) => run.includes(normalized.slice(0, 17)) || run.includes(normalized.slice(8, 16)));
}

/** Whether a normalized value of the key's shape is a placeholder (see ENTITY_KEY_SHAPE). */
function isPlaceholder(normalized: string, how: TokenNormalization): boolean {
  if (how === 'resident_id') return SAMPLE_RESIDENT_IDS.includes(normalized) || PLACEHOLDER_REGEXP.resident_id.test(normalized);
  if (how === 'mobile') return PLACEHOLDER_REGEXP.mobile.test(normalized);
  if (how === 'uscc' || how === 'document') return isCodePlaceholder(normalized, how);
  if (how !== 'email') return false;
  const [local = '', domain = ''] = normalized.split('@');
  return PLACEHOLDER_LOCAL_PARTS.includes(local) || fewCharacters(local) || /^[0-9]{1,4}$/.test(local) || (/^[0-9]+$/.test(local) && DIGIT_RUNS.some((run) => run.includes(local)))
    || PLACEHOLDER_DOMAINS.includes(domain) || /^[^.][.]/.test(domain);
}

/** Whether a value normalized for `how` (normalizeForToken) is an identifier, and so an entity key. */
export function isEntityKey(normalized: string, how: TokenNormalization): boolean {
  if (!ENTITY_KEY_PATTERN[how].test(normalized) || isPlaceholder(normalized, how)) return false;
  if (how === 'uscc') return usccCheckChar(normalized.slice(0, 17)) === normalized[17];
  if (how !== 'resident_id') return true;
  const [y, m, d] = [Number(normalized.slice(6, 10)), Number(normalized.slice(10, 12)), Number(normalized.slice(12, 14))];
  return y >= ID_YEAR_FROM && isCalendarDate(y, m, d) && residentIdCheckChar(normalized.slice(0, 17)) === normalized[17];
}

const fewCharactersSql = (text: string) => `length(list_distinct(string_split(${text}, ''))) <= 2`;

const inCyclicRunSql = (text: string) => `(${CYCLIC_RUNS.map((run) => `contains('${run}', ${text})`).join(' OR ')})`;

/** The SQL twin of isCodePlaceholder. */
function isCodePlaceholderSql(normalized: string, how: 'uscc' | 'document'): string {
  if (how === 'document') {
    const digits = `regexp_replace(${normalized}, '[^0-9]', '', 'g')`;
    return `(${fewCharactersSql(normalized)} OR (length(${digits}) >= 6 AND ${inCyclicRunSql(digits)}))`;
  }
  return `(${fewCharactersSql(`substr(${normalized}, 9)`)} OR ${inCyclicRunSql(`substr(${normalized}, 1, 17)`)} OR ${inCyclicRunSql(`substr(${normalized}, 9, 8)`)})`;
}

/** The SQL twin of isPlaceholder, over a value of the key's shape. */
function isPlaceholderSql(normalized: string, how: TokenNormalization): string {
  if (how === 'resident_id') return `(${normalized} IN (${SAMPLE_RESIDENT_IDS.map(sqlString).join(', ')}) OR regexp_full_match(${normalized}, '${PLACEHOLDER_PATTERN.resident_id}'))`;
  if (how === 'mobile') return `regexp_full_match(${normalized}, '${PLACEHOLDER_PATTERN.mobile}')`;
  if (how === 'uscc' || how === 'document') return isCodePlaceholderSql(normalized, how);
  if (how !== 'email') return 'false';
  const [local, domain] = [`split_part(${normalized}, '@', 1)`, `split_part(${normalized}, '@', 2)`];
  return `(${local} IN (${PLACEHOLDER_LOCAL_PARTS.map(sqlString).join(', ')}) OR ${fewCharactersSql(local)} OR regexp_full_match(${local}, '[0-9]{1,4}')`
    + ` OR (regexp_full_match(${local}, '[0-9]+') AND (${DIGIT_RUNS.map((run) => `contains('${run}', ${local})`).join(' OR ')}))`
    + ` OR ${domain} IN (${PLACEHOLDER_DOMAINS.map(sqlString).join(', ')}) OR regexp_matches(${domain}, '^[^.][.]'))`;
}

/** The SQL twin of isEntityKey, over a normalized VARCHAR expression (used several times: pass a column or a cheap expression). */
export function isEntityKeySql(normalized: string, how: TokenNormalization): string {
  const shaped = `regexp_full_match(${normalized}, '${ENTITY_KEY_SHAPE[how]}')`;
  const real = how === 'resident_id'
    ? `substr(${normalized}, 7, 4) >= '${ID_YEAR_FROM}' AND try_strptime(substr(${normalized}, 7, 8), '%Y%m%d') IS NOT NULL AND right(${normalized}, 1) = ${residentIdCheckSql(normalized)}`
    : how === 'uscc' ? `right(${normalized}, 1) = ${usccCheckSql(normalized)}` : 'true';
  return `(CASE WHEN ${shaped} THEN NOT ${isPlaceholderSql(normalized, how)} AND ${real} ELSE false END)`;
}

export function normalizeForToken(value: string, how: TokenNormalization): string {
  if (how === 'text') return trimText(value);
  if (how === 'identifier') return normalizeIdentifier(value).toUpperCase();
  if (how === 'compact' || how === 'uscc' || how === 'document') return compactIdentifier(value);
  if (how === 'mobile') return compactIdentifier(value).replace(MOBILE_PREFIX, '');
  if (how === 'email') return emailAddress(value);
  // SECURITY: `110105 19491231 002X` and `11010519491231002X` are one person: one token, never two
  // (two would let one person pass for two in a count, and a separator-stripping join re-identify).
  const id = compactIdentifier(value);
  return upgradeResidentId(id) ?? id;
}

export function tokenize(value: string | null, key: Buffer, how: TokenNormalization): string | null {
  if (value === null) return null;
  return createHmac('sha256', key).update(normalizeForToken(value, how), 'utf8').digest('hex').slice(0, TOKEN_HEX_CHARS);
}

/** The SQL twin of normalizeForToken, in two steps: normalize, then (resident IDs) upgrade 15 digits to 18. */
export function tokenNormalization(how: TokenNormalization): SqlRule {
  if (how === 'text') return { prepare: trimSql, finish: identity };
  if (how === 'identifier') return { prepare: (column) => `upper(${normalizeIdentifierSql(column)})`, finish: identity };
  if (how === 'compact' || how === 'uscc' || how === 'document') return { prepare: compactIdentifierSql, finish: identity };
  if (how === 'mobile') return { prepare: (column) => `regexp_replace(${compactIdentifierSql(column)}, '^(00)?86(1[3-9][0-9]{9})$', '\\2')`, finish: identity };
  if (how === 'email') return { prepare: emailAddressSql, finish: gmailMailboxSql };
  return {
    // The same preparation as the derived columns' (birth year, gender, region): computed once per row.
    prepare: compactIdentifierSql,
    finish(id) {
      // Only 15-digit IDs, rare, take this branch: the spelled-out first 17 characters cost nothing elsewhere.
      const first17 = `(substr(${id}, 1, 6) || '19' || substr(${id}, 7, 9))`;
      return `CASE WHEN regexp_full_match(${id}, '[0-9]{15}') THEN ${first17} || ${residentIdCheckSql(first17)} ELSE ${id} END`;
    },
  };
}

/**
 * HMAC-SHA256 from SHA-256 (RFC 2104): H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)), over the normalized
 * value. DuckDB's sha256 returns hex, so the inner digest is unhexed before the outer hash.
 */
export function tokenRule(key: Buffer, how: TokenNormalization): SqlRule & { apply(value: string | null): string | null } {
  const normalize = tokenNormalization(how);
  return {
    apply: (value) => tokenize(value, key, how),
    prepare: normalize.prepare,
    finish(normalized) {
      return `(CASE WHEN ${normalized} IS NULL THEN NULL ELSE substr(${hmacSha256HexSql(key, normalize.finish(normalized))}, 1, ${TOKEN_HEX_CHARS}) END)`;
    },
  };
}

/**
 * The entity key of a row: its identifier's token under the domain's entity key, or NULL when the
 * normalized value is no identifier (isEntityKey: a placeholder such as '未登记', the row keyless).
 */
export function entityKeyRule(key: Buffer, how: TokenNormalization): SqlRule & { apply(value: string | null): string | null } {
  const token = tokenRule(key, how);
  const normalize = tokenNormalization(how);
  return {
    apply: (value) => (value === null || !isEntityKey(normalizeForToken(value, how), how) ? null : token.apply(value)),
    prepare: token.prepare,
    finish: (normalized) => `(CASE WHEN ${isEntityKeySql(normalize.finish(normalized), how)} THEN ${token.finish(normalized)} END)`,
  };
}

/**
 * HMAC-SHA256 of a VARCHAR SQL expression, as 64 hex digits, in DuckDB SQL (RFC 2104 from SHA-256:
 * DuckDB has no HMAC). The key appears in the SQL text as its two pads.
 */
export function hmacSha256HexSql(key: Buffer, message: string): string {
  const block = Buffer.alloc(64);
  // RFC 2104: a key longer than the block is hashed first.
  (key.length > 64 ? createHash('sha256').update(key).digest() : key).copy(block);
  const pad = (byte: number) => Buffer.from(block.map((b) => b ^ byte)).toString('hex');
  return `sha256(unhex('${pad(0x5c)}') || unhex(sha256(unhex('${pad(0x36)}') || encode(${message}))))`;
}
