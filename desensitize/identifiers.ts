/**
 * Formats and check characters of Chinese identifiers (../shared/reference/pii-and-masking.md).
 * Pure functions: no I/O, no clock except where a date is passed in.
 */

const FULL_WIDTH_DIGITS = /[０-９]/g;

/**
 * The characters trimmed from values, identical in TypeScript and in SQL: ASCII whitespace, the
 * no-break space, the ideographic (full-width) space common in Chinese data, and a stray BOM.
 * (JavaScript's trim() and DuckDB's trim() disagree on what whitespace is.)
 */
const TRIMMED = ' \t\n\r\f\v\u00a0\u3000\ufeff';
const TRIM_PATTERN = new RegExp(`^[${TRIMMED}]+|[${TRIMMED}]+$`, 'g');

export function trimText(value: string): string {
  return value.replace(TRIM_PATTERN, '');
}

const TRIMMED_CODE_POINTS = Array.from(TRIMMED, (c) => c.codePointAt(0)).join(', ');

/**
 * The SQL twin of trimText. DuckDB's trim() with a character list costs 150–250 ns a value and
 * almost no value needs it: looking at the first and last characters first is about 5× cheaper.
 * `column` appears several times: pass a column or a cheap expression.
 */
export function trimSql(column: string): string {
  // The characters themselves go into the SQL string literal (none of them is a quote).
  return `(CASE WHEN ascii(${column}) IN (${TRIMMED_CODE_POINTS}) OR ascii(right(${column}, 1)) IN (${TRIMMED_CODE_POINTS}) THEN trim(${column}, '${TRIMMED}') ELSE ${column} END)`;
}

/**
 * Chinese numerals as people write digits with them: plain, financial (simplified and traditional:
 * 贰 貳, 叁 參 参, 陆 陸), the radio readings (洞 幺 么 两 兩 拐 勾), the old forms 弌 弍 弎, ○ for
 * zero, and the Suzhou numerals 〡–〩 (Unicode letter numbers, not digits: compaction dropped them).
 * SECURITY: each form left out split one person's mobile into several people (red-team pass 25a).
 */
const CHINESE_DIGITS = '〇0○0◯0零0洞0一1壹1弌1幺1么1〡1二2贰2貳2弍2两2兩2〢2三3叁3參3参3弎3〣3四4肆4〤4五5伍5〥5六6陆6陸6〦6七7柒7拐7〧7八8捌8〨8九9玖9勾9〩9';
/** Blocks holding compatibility forms of ASCII digits and letters (superscripts, circled, Roman numerals, full-width, mathematical). */
const COMPATIBILITY_BLOCKS: [number, number][] = [[0x00a0, 0x00ff], [0x2070, 0x209f], [0x2150, 0x218f], [0x2460, 0x24ff], [0x2776, 0x2793], [0xff00, 0xffef], [0x1d400, 0x1d7ff], [0x1f100, 0x1f1ff]];

/**
 * What compaction folds before it drops: every script's decimal digits (Arabic-Indic ٣, Devanagari
 * ३, …: Unicode keeps them in runs of ten from 0), characters whose compatibility form is one ASCII
 * digit or letter (full-width ３, superscript ³, circled ③, mathematical 𝟑, Roman numeral Ⅹ), ASCII
 * lower case, and Chinese numerals. Built once: the same table serves TypeScript and SQL.
 */
function compactFold(): Map<string, string> {
  const fold = new Map<string, string>();
  let run = 0;
  for (let cp = 0x80; cp <= 0x1ffff; cp++) {
    const c = String.fromCodePoint(cp);
    run = /\p{Nd}/u.test(c) ? run + 1 : 0;
    if (run > 0) fold.set(c, String((run - 1) % 10));
  }
  for (const [from, to] of COMPATIBILITY_BLOCKS) {
    for (let cp = from; cp <= to; cp++) {
      const c = String.fromCodePoint(cp);
      const ascii = c.normalize('NFKC');
      if (!fold.has(c) && /^[0-9A-Za-z]$/.test(ascii)) fold.set(c, ascii.toUpperCase());
    }
  }
  for (const c of 'abcdefghijklmnopqrstuvwxyz') fold.set(c, c.toUpperCase());
  for (let k = 0; k < CHINESE_DIGITS.length; k += 2) fold.set(CHINESE_DIGITS[k]!, CHINESE_DIGITS[k + 1]!);
  return fold;
}
/** The fold table, built on first use (a scan of 128k code points: not every process compacts). */
let fold: { map: Map<string, string>; from: string; to: string } | undefined;
function foldTable(): { map: Map<string, string>; from: string; to: string } {
  if (!fold) {
    const map = compactFold();
    fold = { map, from: [...map.keys()].join(''), to: [...map.values()].join('') };
  }
  return fold;
}
/** What an identifier keeps once compacted: ASCII digits and capitals, and Chinese characters (a plate's 京). */
const COMPACT_DROP = /[^0-9A-Z\u4e00-\u9fff]/gu;

/**
 * An identifier as the same person's is compared, however it was written: digits and letters of
 * every form folded to ASCII (compactFold), and everything else but Chinese characters (spaces of
 * every width, hyphens and dashes of every kind, dots, slashes, brackets, plus signs, zero-width
 * characters, a CSV guard's quote) dropped. SECURITY: a list of known separators let one resident
 * ID written with an en dash, a slash or a zero-width space count as 12 people in prod and dev
 * (red-team pass 23a), and so did digits of other scripts and Chinese numerals (pass 24a). This is
 * how a resident ID is checked, masked, tokenized and counted: `110105 19491231 002X`,
 * `110105–19491231–002x` and a full-width one are the same ID and never mistaken for a card.
 */
export function compactIdentifier(value: string): string {
  return foldIdentifier(wholeNumberText(value)).replace(COMPACT_DROP, '');
}

/** Digits and letters of every form folded to ASCII (compactFold); nothing dropped. */
export function foldIdentifier(value: string): string {
  const { map } = foldTable();
  return Array.from(value, (c) => map.get(c) ?? c).join('');
}

/**
 * Whole numbers as number columns and spreadsheets print them, at the end of a value (after a
 * `+86 `, say): a fraction of zeros, or e-notation with a fraction (`4.51e+17`, Java's `1.39E10`)
 * or an exponent's plus sign (`1e+21`). A code such as `2023E01` has neither, and is no number;
 * nor is anything the SQL twin's fast path (digits and capitals only) passes through unchanged.
 */
const ZERO_FRACTION = '([0-9])[.]0+$';
const E_NOTATION = '^(.*?)([0-9]+[.][0-9]+[eE][+-]?[0-9]+|[0-9]+[eE][+][0-9]+)$';
const ZERO_FRACTION_PATTERN = new RegExp(ZERO_FRACTION);
const E_NOTATION_PATTERN = new RegExp(E_NOTATION);
/** Below this, a whole double converts to HUGEINT in DuckDB exactly as to BigInt here. */
const WHOLE_LIMIT = 1e36;

/**
 * A value with the whole number it ends in as its digits, trimmed: `13912345678.0` and
 * `+86 13912345678.00` (a DOUBLE or DECIMAL column as text, pandas writing a float column to CSV)
 * lose the fraction; `4.51002195610044e+17` and `+86 1.3912345678E+10` (an 18-digit DOUBLE as DuckDB
 * prints it, a spreadsheet's text) end in the double they print, in full. SECURITY: compaction kept
 * the zeros and the `E`, so one mobile written `13912345678.0` and `13912345678` was two people, a
 * kept entity column re-typed from VARCHAR to DOUBLE gave everyone new keys, and a space after the
 * number or a `+86 ` before it escaped a whole-value match (red-team passes 25a, 25b, 26a).
 */
export function wholeNumberText(value: string): string {
  const text = trimText(value);
  const notation = E_NOTATION_PATTERN.exec(text);
  if (notation) {
    const number = Number(notation[2]);
    return Number.isInteger(number) && Math.abs(number) < WHOLE_LIMIT ? notation[1]! + BigInt(number).toString() : text;
  }
  return text.replace(ZERO_FRACTION_PATTERN, '$1');
}

/**
 * The SQL twin of wholeNumberText. `column` appears several times: pass a column or a cheap
 * expression. Two regular expressions, each compiled once: each compiled expression holds memory
 * of its own, and five of them per identifier column put a preview's five rows over 64 MB.
 */
export function wholeNumberTextSql(column: string): string {
  const text = trimSql(column);
  const number = 'TRY_CAST(__w.t AS DOUBLE)';
  const converted = `CASE WHEN ${number} = trunc(${number}) AND abs(${number}) < ${WHOLE_LIMIT} THEN __w.p || CAST(CAST(${number} AS HUGEINT) AS VARCHAR) END`;
  return `coalesce(list_transform([regexp_extract(${text}, '${E_NOTATION}', ['p', 't'])], __w -> ${converted})[1], regexp_replace(${text}, '${ZERO_FRACTION}', '\\1'))`;
}

/**
 * The SQL twin of compactIdentifier. Values already compact (digits and capitals: most IDs as
 * stored) skip the translate and the replacement, ten times dearer. `column` appears several times:
 * pass a column or a cheap expression.
 */
export function compactIdentifierSql(column: string): string {
  const { from, to } = foldTable();
  return `(CASE WHEN regexp_full_match(${column}, '[0-9A-Z]*') THEN ${column} ELSE regexp_replace(translate(${wholeNumberTextSql(column)}, '${from}', '${to}'), '[^0-9A-Z\\x{4e00}-\\x{9fff}]', '', 'g') END)`;
}

/** Spaces of every kind, as a regular-expression class body that JavaScript and RE2 (DuckDB) read alike. */
const SPACES = '\\t\\n\\x0B\\f\\r\\p{Z}';
/**
 * An address as it is compared: letters, digits and `._%+-` before the @, letters, digits, dots and
 * hyphens after it (once folded to ASCII), standing whole: neither next to a letter or digit of
 * another script. Everything else ends it: spaces, brackets and quotes of every script, list
 * separators (`，`, `、`, `；`), a scheme's colon, a note in brackets. SECURITY: an address pattern
 * that stopped only at ASCII separators kept `，（私人）` inside the key, and one user written 12 ways
 * counted as 12 people (red-team pass 29a); one that took the ASCII tail of `andré.martin@free.fr`
 * made André and René one key (pass 30a). Addresses in other scripts are no keys (their rows
 * keyless: fewer people counted).
 */
const ADDRESS_PATTERN = '(?:^|[^\\p{L}\\p{N}\\p{M}._%+-])([0-9A-Za-z._%+-]+@[0-9A-Za-z.-]+)(?:$|[^\\p{L}\\p{N}\\p{M}.-])';
const ADDRESS = new RegExp(ADDRESS_PATTERN, 'u');
const SPACED_AT_PATTERN = `[${SPACES}]*@[${SPACES}]*`;
const SPACED_AT = new RegExp(SPACED_AT_PATTERN, 'gu');
/**
 * An e-mail address as one person's mailbox is compared: letters and digits of every form folded to
 * ASCII capitals (as compactIdentifier folds them; ＠, ．and 。 to @ and .), quotes and zero-width
 * characters dropped, spaces around the @ closed, and the first address taken out of what surrounds
 * it (`mailto:`, `田岚 <…>`, `邮箱：…`, a trailing `；` or a note); trailing dots dropped; a `+tag`
 * sub-address dropped, and for Gmail the dots of the local part and googlemail.com (one mailbox,
 * pass 29a). '' when there is no address. SECURITY: e-mails compared as written let one user
 * written 12 ways count as 12 people (red-team passes 28a, 29a).
 */
export function emailAddress(value: string): string {
  const folded = foldIdentifier(value).replace(/[\p{Cf}"'`]/gu, '').replace(/＠/gu, '@').replace(/[．。]/gu, '.').replace(SPACED_AT, '@');
  const address = (ADDRESS.exec(folded)?.[1] ?? '').replace(/[.]+$/u, '').toUpperCase().replace(/[+][^@]*@/u, '@').replace(/@GOOGLEMAIL[.]COM$/u, '@GMAIL.COM');
  return address.endsWith('@GMAIL.COM') ? `${address.slice(0, -'@GMAIL.COM'.length).replaceAll('.', '')}@GMAIL.COM` : address;
}

/**
 * The SQL twin of emailAddress, in two steps (SqlRule): `emailAddressSql` takes the address out
 * (`column` appears once), `gmailMailboxSql` drops a Gmail local part's dots (its input several times).
 */
export function emailAddressSql(column: string): string {
  const { from, to } = foldTable();
  const folded = `translate(${column}, '${from}＠．。', '${to}@..')`;
  const closed = `regexp_replace(regexp_replace(${folded}, '[\\p{Cf}"''\`]', '', 'g'), '${SPACED_AT_PATTERN}', '@', 'g')`;
  const address = `upper(regexp_replace(regexp_extract(${closed}, '${ADDRESS_PATTERN}', 1), '[.]+$', ''))`;
  return `regexp_replace(regexp_replace(${address}, '[+][^@]*@', '@'), '@GOOGLEMAIL[.]COM$', '@GMAIL.COM')`;
}

export function gmailMailboxSql(address: string): string {
  return `CASE WHEN ends_with(${address}, '@GMAIL.COM') THEN replace(split_part(${address}, '@', 1), '.', '') || '@GMAIL.COM' ELSE ${address} END`;
}

/** Full-width digits to ASCII, lowercase x to X, surrounding spaces removed: how identifiers are compared. */
export function normalizeIdentifier(value: string): string {
  return trimText(value).replace(FULL_WIDTH_DIGITS, (d) => String.fromCharCode(d.charCodeAt(0) - 0xff10 + 0x30)).replace(/[xｘＸ]/g, 'X');
}

/**
 * The SQL twin of normalizeIdentifier. translate() costs about 500 ns a value; a value whose byte
 * length equals its character length is ASCII and has no full-width character to translate.
 * `column` appears several times: pass a column or a cheap expression.
 */
export function normalizeIdentifierSql(column: string): string {
  return `(CASE WHEN strlen(${column}) = length(${column}) THEN replace(${trimSql(column)}, 'x', 'X') ELSE translate(${trimSql(column)}, '０１２３４５６７８９xｘＸ', '0123456789XXX') END)`;
}

/** ISO 7064 MOD 11-2 weights of a resident ID's first 17 digits, and the check character of each sum mod 11. */
export const RESIDENT_ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2] as const;
export const RESIDENT_ID_CHECK = '10X98765432';

/** The check character (ISO 7064 MOD 11-2) of the first 17 digits of a resident ID. */
export function residentIdCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += Number(first17[i]) * RESIDENT_ID_WEIGHTS[i]!;
  return RESIDENT_ID_CHECK[sum % 11]!;
}

/** The SQL twin of residentIdCheckChar, over a 17-digit text expression (mentioned 17 times: pass a column). */
export function residentIdCheckSql(first17: string): string {
  const sum = RESIDENT_ID_WEIGHTS.map((w, i) => `(ascii(substr(${first17}, ${i + 1}, 1)) - 48) * ${w}`).join(' + ');
  return `substr('${RESIDENT_ID_CHECK}', ((${sum}) % 11) + 1, 1)`;
}

/** A real calendar date written YYYYMMDD, not after `today` (YYYY-MM-DD). */
function isPastDate(yyyymmdd: string, today: string): boolean {
  const [y, m, d] = [Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)), Number(yyyymmdd.slice(6, 8))];
  if (!isCalendarDate(y, m, d) || y < 1880) return false;
  return new Date(Date.UTC(y, m - 1, d)).toISOString().slice(0, 10) <= today;
}

/** Whether y-m-d is a real calendar date (years from 1000: below, Date.UTC reads them otherwise). */
export function isCalendarDate(y: number, m: number, d: number): boolean {
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCFullYear() === y && date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/**
 * A date as people and programs write one: YYYY-MM-DD (a DATE or TIMESTAMP as text), `/` or `.`
 * instead of `-` with months and days of one digit or two (Excel zh-CN writes 1961/3/4),
 * 1961年3月4日, YYYYMMDD, or the year last: M/D/YYYY (Excel en-US, .NET), else D/M/YYYY (as the UK
 * writes it) when that is no date. Years from 1000: below, JavaScript's Date.UTC and DuckDB's
 * calendar (year 0 is 1 BC) disagree. SECURITY: birth dates written 1961/3/4, 1961年3月4日 or
 * 3/4/1961 were recognized as nothing, and prod showed one woman's exact birth date (red-team
 * passes 25a, 26a).
 */
const YEAR_FIRST = '([1-9][0-9]{3})(?:[-/.年]([0-9]{1,2})[-/.月]([0-9]{1,2})|([0-9]{2})([0-9]{2}))';
const YEAR_LAST = '([0-9]{1,2})[-/.]([0-9]{1,2})[-/.]([1-9][0-9]{3})';
const YEAR_FIRST_PREFIX = new RegExp(`^${YEAR_FIRST}`);
const YEAR_LAST_PREFIX = new RegExp(`^${YEAR_LAST}`);
/** A time after the date: 24-hour or with AM/PM, then its offset (a TIMESTAMPTZ prints `1990-03-12 00:00:00+08`, pass 24a). */
const TIME_SUFFIX = '(?:[ T][0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:\\.[0-9]+)?)?(?: ?[AP]M)?(?: ?(?:Z|[+-][0-9]{2}(?::?[0-9]{2})?))?)?';
const WHOLE_DATE = new RegExp(`^(?:${YEAR_FIRST}[日号]?|${YEAR_LAST})${TIME_SUFFIX}$`);

type DateParts = { y: number; m: number; d: number };
const dateOf = (y: number, m: number, d: number): DateParts | null => (isCalendarDate(y, m, d) ? { y, m, d } : null);

/** The date of a year-first match (its groups from `at`: year, then month and day separated or not). */
function yearFirstDate(match: RegExpExecArray, at: number): DateParts | null {
  return dateOf(Number(match[at]), Number(match[at + 1] ?? match[at + 3]), Number(match[at + 2] ?? match[at + 4]));
}

/** The date of a year-last match (its groups from `at`): M/D, else D/M. */
function yearLastDate(match: RegExpExecArray, at: number): DateParts | null {
  const [first, second, y] = [Number(match[at]), Number(match[at + 1]), Number(match[at + 2])];
  return dateOf(y, first, second) ?? dateOf(y, second, first);
}

/** The real calendar date at the start of a text (the forms above), or null; what follows it is ignored. */
export function datePrefix(text: string): DateParts | null {
  const trimmed = trimText(text);
  const yearFirst = YEAR_FIRST_PREFIX.exec(trimmed);
  if (yearFirst) return yearFirstDate(yearFirst, 1);
  const yearLast = YEAR_LAST_PREFIX.exec(trimmed);
  return yearLast ? yearLastDate(yearLast, 1) : null;
}

/**
 * The SQL twin of datePrefix, as a DATE or NULL: the prefix in the same forms, its separators
 * rewritten to `-` for the parse (which checks the calendar, and tries M-D before D-M). `text` is
 * VARCHAR and appears several times: pass a column or a cheap expression.
 */
export function datePrefixSql(text: string): string {
  const parsed = (form: string, formats: string) => `CAST(try_strptime(regexp_replace(regexp_extract(${text}, '^${form}'), '[-/.年月]', '-', 'g'), ${formats}) AS DATE)`;
  return `(CASE WHEN regexp_matches(${text}, '^${YEAR_FIRST}') THEN ${parsed(YEAR_FIRST, "['%Y-%m-%d', '%Y%m%d']")}`
    + ` WHEN regexp_matches(${text}, '^${YEAR_LAST}') THEN ${parsed(YEAR_LAST, "['%m-%d-%Y', '%d-%m-%Y']")} END)`;
}

/**
 * The SQL twin of how isBirthDate reads a date's text before its forms: digits and letters of every
 * form folded to ASCII (foldIdentifier: full-width, 一九八五), and the Chinese tens of a month or a
 * day (十二月, 二十四日) as digits. ASCII text is returned as it is. `text` appears three times: pass
 * a column or a cheap expression.
 */
export function foldDateTextSql(text: string): string {
  const { from, to } = foldTable();
  const tens = [['([23])十([1-9])', '\\1\\2'], ['([23])十', '\\10'], ['十([1-9])', '1\\1'], ['十', '10']]
    .reduce((sql, [pattern, replacement]) => `regexp_replace(${sql}, '${pattern}', '${replacement}', 'g')`, `translate(${text}, '${from}', '${to}')`);
  return `(CASE WHEN strlen(${text}) = length(${text}) THEN ${text} ELSE ${tens} END)`;
}

/** Chinese numerals of a date's months and days with 十 (十二月, 二十四日) as digits; single digits fold (foldIdentifier). */
const CHINESE_TENS = /([二三]?)十([一二三四五六七八九]?)/g;
const chineseDateNumbers = (text: string): string =>
  text.replace(CHINESE_TENS, (_, tens: string, ones: string) => String((tens ? '二三'.indexOf(tens) + 2 : 1) * 10 + (ones ? '一二三四五六七八九'.indexOf(ones) + 1 : 0)));

/**
 * A birth date as it arrives in a sample: a whole date (the forms above, optionally a time), its
 * digits of any form (full-width, 一九六一年三月四日, 十二月二十四日); a real calendar date from
 * 1880 to `today`.
 */
export function isBirthDate(value: string, today: string): boolean {
  const match = WHOLE_DATE.exec(foldIdentifier(chineseDateNumbers(trimText(value))));
  const date = !match ? null : match[1] !== undefined ? yearFirstDate(match, 1) : yearLastDate(match, 6);
  return date !== null && isPastDate(`${date.y}${String(date.m).padStart(2, '0')}${String(date.d).padStart(2, '0')}`, today);
}

/** An 18-character resident ID with a real birth date and a correct check character (separators allowed). */
export function isValidResidentId(value: string, today: string): boolean {
  const id = compactIdentifier(value);
  return /^\d{17}[\dX]$/.test(id) && isPastDate(id.slice(6, 14), today) && residentIdCheckChar(id) === id[17];
}

/** A legacy 15-digit ID as its 18-character form ("19" inserted, check character appended). */
export function upgradeResidentId(value: string): string | undefined {
  const id = normalizeIdentifier(value);
  if (!/^\d{15}$/.test(id)) return undefined;
  const first17 = `${id.slice(0, 6)}19${id.slice(6)}`;
  return first17 + residentIdCheckChar(first17);
}

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
export const USCC_PATTERN = /^[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}$/;

/** The check character of the first 17 characters of a unified social credit code (GB 32100). */
export function usccCheckChar(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += USCC_ALPHABET.indexOf(first17[i]!) * USCC_WEIGHTS[i]!;
  return USCC_ALPHABET[(31 - (sum % 31)) % 31]!;
}

/** The SQL twin of usccCheckChar, over the first 17 characters of a code of USCC_PATTERN's shape. */
export function usccCheckSql(code: string): string {
  const sum = USCC_WEIGHTS.map((w, i) => `(strpos('${USCC_ALPHABET}', substr(${code}, ${i + 1}, 1)) - 1) * ${w}`).join(' + ');
  return `substr('${USCC_ALPHABET}', ((31 - (${sum}) % 31) % 31) + 1, 1)`;
}

export function isValidUscc(value: string): boolean {
  const code = normalizeIdentifier(value).toUpperCase();
  return USCC_PATTERN.test(code) && usccCheckChar(code) === code[17];
}

/** Luhn check over a digit string (a confidence signal for bank cards, not proof). */
export function luhnValid(digits: string): boolean {
  if (!/^\d+$/.test(digits)) return false;
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** The Luhn check digit for a payload (never 10). */
export function luhnCheckDigit(payload: string): string {
  for (let d = 0; d <= 9; d++) if (luhnValid(payload + d)) return String(d);
  throw new Error('unreachable');
}

export const MOBILE_PATTERN = /^(?:(?:\+|00)?86)?(1[3-9]\d{9})$/;
export const FIXED_LINE_PATTERN = /^(?:010|02\d|0[3-9]\d{2})-?\d{6,8}$/;
export const EMAIL_PATTERN = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;
export const PLATE_PATTERN = /^[京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼][A-HJ-NP-Z][A-HJ-NP-Z0-9]{4,5}[A-HJ-NP-Z0-9挂学警港澳]?$/u;
export const PASSPORT_PATTERN = /^(?:[GE]\d{8}|E[A-HJ-NP-Z]\d{7})$/;
/** 2–60 Han characters, with the middle dot of transliterated names. */
export const CHINESE_NAME_PATTERN = /^[\p{Script=Han}·]{2,60}$/u;

/**
 * About a hundred of the most common single-character surnames (roughly the published rankings by
 * population), which the free-text scrub uses to guess that a short segment is a name. A guess, not
 * a recognizer: see `scrub` in free-text.ts.
 */
export const COMMON_SURNAMES: readonly string[] = Array.from(
  '王李张刘陈杨黄赵吴周徐孙马朱胡郭何林高罗郑梁谢宋唐许韩邓冯曹彭曾肖田董潘袁蔡蒋余于杜叶程魏苏吕丁任卢姚沈钟姜崔谭陆范汪廖石金韦贾夏付傅方邹熊白孟秦邱侯江尹薛闫段雷龙黎史陶贺毛郝顾龚邵万覃武钱戴严莫孔向常汤康易乔赖文',
);

/** Compound surnames (复姓) a name mask must keep whole. */
export const COMPOUND_SURNAMES: readonly string[] = [
  '欧阳', '司马', '上官', '诸葛', '东方', '皇甫', '尉迟', '公孙', '慕容', '长孙', '宇文', '司徒', '夏侯', '令狐', '轩辕',
  '端木', '申屠', '钟离', '万俟', '独孤', '南宫', '西门', '百里', '呼延', '闻人', '赫连', '澹台', '公冶', '宗政', '濮阳',
  '淳于', '单于', '太叔', '仲孙', '司空', '第五',
];
