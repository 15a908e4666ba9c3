import { fakerZH_CN } from '@faker-js/faker';
import { REGIONS } from './data/regions.js';
import { RESIDENT_ID_CHECK, RESIDENT_ID_WEIGHTS } from './identifiers.js';
import { sqlList } from './sql.js';

/**
 * Vectorized generators of valid-looking identifiers for synthetic twins, as DuckDB expressions over
 * a row index. Each value comes from hashes of the index keyed by seed and purpose, so a twin is
 * reproducible from its seed, identical on any thread count, and generated at DuckDB speed (faker
 * alone manages about 80k rows/s here; reference/pii-and-masking.md). Formats are valid: real
 * region codes, real calendar dates, correct check characters, assignable mobile prefixes,
 * Luhn-valid cards, real area codes.
 *
 * Speed (bench/twin.ts): identifiers are assembled as integers where the format allows and cast to
 * text once, and check characters are sums of small constant lookups, never 17 `substr` calls
 * (those cost 1.3 s per 2M resident IDs). Parts used twice (a region, a birth date) are written as
 * the same expression twice: DuckDB computes a repeated sub-expression once in a plain projection,
 * but not inside CASE, so callers put these expressions in a projection of their own (as twinSql
 * does). Large constant lists are never placed inside a lambda (`list_transform`): DuckDB then
 * rebuilds them for every row (measured 30× slower).
 *
 * Synthetic IDs with real region codes can coincide with a real person's: twins are tagged
 * synthetic and never mixed into production (DESIGN.md §2).
 */

const KEY_BITS = (1n << 62n) - 1n;

/**
 * The key of one stream of draws: FNV-1a over seed and purpose, 62 bits so that index + key stays
 * a BIGINT. Streams are `hash(index + key)`, not `hash(index, seed, salt)`: DuckDB combines the
 * hashes of several arguments with XOR, so two such streams differ by a constant XOR and their
 * draws modulo any even number are correlated (modulo 2 they were identical, across salts and
 * across seeds). One argument goes through the full 64-bit mix.
 */
function streamKey(seed: number, salt: string): bigint {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(`${seed}\u0000${salt}`, 'utf8')) hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  return hash & KEY_BITS;
}

/** A deterministic 64-bit draw (UBIGINT) for this row, seed and purpose. */
function draw(index: string, seed: number, salt: string): string {
  return `hash((${index}) + ${streamKey(seed, salt)})`;
}

/** A deterministic integer in [0, n) for this row, seed and purpose. */
function pick(index: string, seed: number, salt: string, n: number): string {
  return `CAST(${draw(index, seed, salt)} % ${n} AS BIGINT)`;
}

/** `pick` for twins' own draws (nulls, categories, uniform numbers), on the same keyed streams. */
export const drawSql = pick;

/** A string of `length` random decimal digits (leading zeros kept). */
function digitString(index: string, seed: number, salt: string, length: number): string {
  return `lpad(${pick(index, seed, salt, 10 ** length)}::VARCHAR, ${length}, '0')`;
}

/** One of `items`, chosen per row (for categories in generated data). */
export function pickSql(items: readonly string[], index: string, seed: number, salt: string): string {
  return pickFrom(sqlList(items), items.length, index, seed, salt);
}

/** An element of a SQL list literal, chosen per row. */
function pickFrom(list: string, size: number, index: string, seed: number, salt: string): string {
  return `${list}[1 + ${pick(index, seed, salt, size)}]`;
}

const intList = (values: readonly number[]): string => `[${values.join(',')}]`;
const weightedSum = (digits: string, weights: readonly number[]): number =>
  Array.from(digits).reduce((sum, digit, k) => sum + Number(digit) * weights[k]!, 0);
const padded = (value: number, length: number): string => String(value).padStart(length, '0');

const ID_CHECK_LIST = sqlList(Array.from(RESIDENT_ID_CHECK));

/**
 * Each county code with the weighted sum of its digits folded in (code × 1000 + sum, the sum is at
 * most 369): one list pick gives both the ID's first six digits and their share of the check.
 */
const ID_REGIONS = intList(REGIONS.map(([code]) => Number(code) * 1000 + weightedSum(code, RESIDENT_ID_WEIGHTS)));
const ID_MONTH_SUMS = intList(Array.from({ length: 12 }, (_, m) => weightedSum(padded(m + 1, 2), RESIDENT_ID_WEIGHTS.slice(10))));
const ID_DAY_SUMS = intList(Array.from({ length: 31 }, (_, d) => weightedSum(padded(d + 1, 2), RESIDENT_ID_WEIGHTS.slice(12))));
const ID_SEQUENCE_SUMS = intList(Array.from({ length: 1000 }, (_, s) => weightedSum(padded(s, 3), RESIDENT_ID_WEIGHTS.slice(14))));

/** Resident IDs: a real county code, a birth date between the years given, a sequence, the check character. */
export function residentIdSql(index: string, seed: number, years: { from: number; to: number } = { from: 1940, to: 2008 }): string {
  const region = `${ID_REGIONS}[1 + ${pick(index, seed, 'id-region', REGIONS.length)}]`;
  const days = Math.round((Date.UTC(years.to, 11, 31) - Date.UTC(years.from, 0, 1)) / 86_400_000);
  const birth = `(DATE '${years.from}-01-01' + CAST(${pick(index, seed, 'id-birth', days + 1)} AS INTEGER))`;
  const [year, month, day] = [`year(${birth})`, `month(${birth})`, `day(${birth})`];
  const sequence = pick(index, seed, 'id-seq', 1000);
  const yearSums = intList(Array.from({ length: years.to - years.from + 1 }, (_, k) => weightedSum(String(years.from + k), RESIDENT_ID_WEIGHTS.slice(6))));
  // The first 17 digits as one BIGINT (county codes have no leading zero): one cast to text.
  const first17 = `((${region} // 1000) * 100000000000 + (${year} * 10000 + ${month} * 100 + ${day}) * 1000 + ${sequence})`;
  const sum = `(${region} % 1000 + ${yearSums}[${year} - ${years.from - 1}] + ${ID_MONTH_SUMS}[${month}] + ${ID_DAY_SUMS}[${day}] + ${ID_SEQUENCE_SUMS}[1 + ${sequence}])`;
  return `(${first17}::VARCHAR || ${ID_CHECK_LIST}[${sum} % 11 + 1])`;
}

/** Birth dates (a DATE), uniform between the years given: as in the synthetic resident IDs. */
export function birthDateSql(index: string, seed: number, years: { from: number; to: number } = { from: 1940, to: 2008 }): string {
  const days = Math.round((Date.UTC(years.to, 11, 31) - Date.UTC(years.from, 0, 1)) / 86_400_000);
  return `(DATE '${years.from}-01-01' + CAST(${pick(index, seed, 'birth-date', days + 1)} AS INTEGER))`;
}

/** Assignable mobile prefixes (libphonenumber CN ranges, three-digit ones). */
const MOBILE_PREFIXES = [
  ...Array.from({ length: 10 }, (_, i) => 130 + i), 145, 147, 150, 151, 152, 153, 155, 156, 157, 158, 159,
  162, 165, 166, 167, 170, 171, 172, 173, 175, 176, 177, 178,
  ...Array.from({ length: 10 }, (_, i) => 180 + i), 190, 191, 192, 193, 195, 196, 197, 198, 199,
];

export function mobileSql(index: string, seed: number): string {
  const prefix = pickFrom(intList(MOBILE_PREFIXES), MOBILE_PREFIXES.length, index, seed, 'mobile-prefix');
  return `(${prefix}::BIGINT * 100000000 + ${pick(index, seed, 'mobile-rest', 100_000_000)})::VARCHAR`;
}

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_CHARS = sqlList(Array.from(USCC_ALPHABET));
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
/** '9' and '1' (enterprise) at weights 1 and 3. */
const USCC_CLASS_SUM = 9 * 1 + 1 * 3;
/** County codes with their weighted sum folded in (code × 10000 + sum, the sum is at most 1026). */
const USCC_REGIONS = intList(REGIONS.map(([code]) => Number(code) * 10000 + weightedSum(code, USCC_WEIGHTS.slice(2))));

/** Unified social credit codes: 91 (enterprise), a real county code, 9 organization characters, check character. */
export function usccSql(index: string, seed: number): string {
  const region = `${USCC_REGIONS}[1 + ${pick(index, seed, 'uscc-region', REGIONS.length)}]`;
  // Nine base-31 digits of one draw, reduced to a BIGINT first (cheaper to divide than UBIGINT).
  const drawn = pick(index, seed, 'uscc-org', 31 ** 9);
  const organization = Array.from({ length: 9 }, (_, k) => `(${drawn} // ${31 ** k} % 31)`);
  const sum = `(${USCC_CLASS_SUM} + ${region} % 10000 + ${organization.map((c, k) => `${c} * ${USCC_WEIGHTS[8 + k]}`).join(' + ')})`;
  // concat() of many parts: measured 1.6× faster than a chain of ||.
  return `concat((91000000 + ${region} // 10000)::VARCHAR, ${organization.map((c) => `${USCC_CHARS}[1 + ${c}]`).join(', ')}, ${USCC_CHARS}[(31 - ${sum} % 31) % 31 + 1])`;
}

/**
 * The Luhn share of two payload digits, indexed by their value, for a pair whose right digit is
 * doubled (every pair of a 16-digit number counted from the right is). Pairs, not blocks of four:
 * a constant list costs in proportion to its length for every vector of rows (a 10,000-element
 * list made the cards 2.3× slower).
 */
const LUHN_PAIR_SUMS = intList(Array.from({ length: 100 }, (_, v) => {
  const doubled = (v % 10) * 2;
  return Math.floor(v / 10) + (doubled > 9 ? doubled - 9 : doubled);
}));

/** UnionPay-style debit card numbers: 62, 16 random digits, a Luhn check digit (19 digits). */
export function bankCardSql(index: string, seed: number): string {
  const digits16 = pick(index, seed, 'card', 10 ** 16);
  const pairs = Array.from({ length: 8 }, (_, k) => `(${digits16} // ${10 ** (2 * k)} % 100)`);
  // The 6 of "62" is not doubled, its 2 is (the 18th and 17th payload digits from the right): 6 + 4.
  const sum = `(10 + ${pairs.map((pair) => `${LUHN_PAIR_SUMS}[1 + ${pair}]`).join(' + ')})`;
  // 19 digits still fit a BIGINT (6.3e18 < 9.2e18): one cast to text.
  return `((620000000000000000 + ${digits16}) * 10 + (10 - ${sum} % 10) % 10)::VARCHAR`;
}

const SURNAMES = fakerZH_CN.definitions.person!.last_name!.generic!;
const GIVEN_NAMES = fakerZH_CN.definitions.person!.first_name!.generic!;

/** Names from faker's zh_CN surnames (compound ones included) and given names. */
export function nameSql(index: string, seed: number): string {
  return `(${pickFrom(sqlList(SURNAMES), SURNAMES.length, index, seed, 'surname')} || ${pickFrom(sqlList(GIVEN_NAMES), GIVEN_NAMES.length, index, seed, 'given')})`;
}

const PLACES = sqlList(REGIONS.map(([, province, city, county]) => `${province}${city}${county}`));
const REGION_CODES = sqlList(REGIONS.map(([code]) => code));
const STREET_WORDS = ['建设', '人民', '解放', '中山', '和平', '胜利', '友谊', '新华', '长江', '黄河', '光明', '幸福', '文化', '育才', '青年'];
const STREET_KINDS = ['路', '大街', '街', '大道'];
/** Street names and house numbers as whole strings: one pick each instead of picks, a cast and concatenations. */
const STREETS = STREET_WORDS.flatMap((word) => STREET_KINDS.map((kind) => word + kind));
const HOUSE_NUMBERS = Array.from({ length: 300 }, (_, k) => `${k + 1}号`);

/** Addresses: a real province, city and county, then an invented street and number. */
export function addressSql(index: string, seed: number): string {
  return `concat(${pickFrom(PLACES, REGIONS.length, index, seed, 'place')}, ${pickSql(STREETS, index, seed, 'street')}, ${pickSql(HOUSE_NUMBERS, index, seed, 'house')})`;
}

/** The county code of each generated place, for region columns that must agree with addresses. */
export function regionCodeSql(index: string, seed: number, salt = 'place'): string {
  return pickFrom(REGION_CODES, REGIONS.length, index, seed, salt);
}

/** Common syllables of romanized Chinese names, for e-mail local parts. */
const PINYIN = [
  'wang', 'li', 'zhang', 'liu', 'chen', 'yang', 'huang', 'zhao', 'wu', 'zhou', 'xu', 'sun', 'ma', 'zhu', 'hu', 'guo', 'he', 'lin',
  'gao', 'luo', 'zheng', 'liang', 'xie', 'song', 'tang', 'han', 'feng', 'deng', 'cao', 'peng', 'zeng', 'xiao', 'tian', 'dong', 'pan',
  'yuan', 'cai', 'jiang', 'yu', 'du', 'ye', 'cheng', 'wei', 'su', 'fang', 'na', 'min', 'jing', 'qiang', 'lei', 'jun', 'yong', 'yan',
  'jie', 'juan', 'tao', 'ming', 'chao', 'xiu', 'ying', 'hua', 'hui', 'ping', 'gang', 'bin', 'hong', 'hao', 'xin', 'yi', 'ting', 'kai',
  'fei', 'bo', 'rui', 'long', 'qing', 'lan', 'xia', 'dan', 'kun', 'yun', 'zhen', 'jia', 'xuan', 'ze', 'hang', 'yue', 'shan', 'feng',
];
/** What follows the name: often nothing, else a separator-free number as people choose them (lucky numbers, birth years). */
const EMAIL_SUFFIXES = [
  ...Array.from({ length: 40 }, () => ''), ...Array.from({ length: 99 }, (_, k) => String(k + 1)),
  ...Array.from({ length: 36 }, (_, k) => String(1970 + k)), '520', '666', '888', '123', '1314', '007',
];
const EMAIL_SEPARATORS = ['', '', '', '.', '_'];
/** Domains in rough proportion to their use in China (qq.com most common). */
const EMAIL_DOMAINS = [
  'qq.com', 'qq.com', 'qq.com', 'qq.com', '163.com', '163.com', '163.com', '126.com', '126.com', 'sina.com', 'sohu.com',
  'foxmail.com', 'gmail.com', 'outlook.com', 'hotmail.com', 'yeah.net', 'aliyun.com', '139.com',
];

/** E-mail addresses: a QQ number at qq.com, or romanized names and a number at a common domain. */
export function emailSql(index: string, seed: number): string {
  // QQ numbers: 5 to 10 digits without a leading zero (10000 … 3999999999).
  const qq = `(10000 + ${pick(index, seed, 'email-qq', 3_999_990_000)})::VARCHAR || '@qq.com'`;
  const local = `${pickSql(PINYIN, index, seed, 'email-given')} || ${pickSql(EMAIL_SEPARATORS, index, seed, 'email-sep')} || ${pickSql(PINYIN, index, seed, 'email-family')} || ${pickSql(EMAIL_SUFFIXES, index, seed, 'email-suffix')}`;
  return `(CASE WHEN ${pick(index, seed, 'email-kind', 10)} < 3 THEN ${qq} ELSE ${local} || '@' || ${pickSql(EMAIL_DOMAINS, index, seed, 'email-domain')} END)`;
}

/** Province abbreviations of licence plates (PLATE_PATTERN), and the letters plates use (no I, O). */
const PLATE_PROVINCES = Array.from('京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼');
const PLATE_LETTERS = Array.from('ABCDEFGHJKLMNPQRSTUVWXYZ');
const PLATE_ALPHANUMERICS = [...PLATE_LETTERS, ...Array.from('0123456789')];

/**
 * Licence plates: province, issuing-office letter, then five characters (at most two letters, as
 * issued); one in ten a new-energy plate: D (battery electric) or F (other new energy), a letter or digit,
 * four digits.
 */
export function plateSql(index: string, seed: number): string {
  const office = `${pickSql(PLATE_PROVINCES, index, seed, 'plate-province')} || ${pickSql(PLATE_LETTERS, index, seed, 'plate-office')}`;
  const second = pickSql(PLATE_ALPHANUMERICS, index, seed, 'plate-second');
  const regular = `${pickSql(PLATE_ALPHANUMERICS, index, seed, 'plate-first')} || ${second} || ${digitString(index, seed, 'plate-digits', 3)}`;
  const newEnergy = `${pickSql(['D', 'F'], index, seed, 'plate-energy')} || ${second} || ${digitString(index, seed, 'plate-digits', 4)}`;
  return `(${office} || CASE WHEN ${pick(index, seed, 'plate-kind', 10)} = 0 THEN ${newEnergy} ELSE ${regular} END)`;
}

/** Ordinary passports: E and 8 digits; E, a letter and 7 digits (issued after those ran out); the older G and 8 digits. */
export function passportSql(index: string, seed: number): string {
  const kind = pick(index, seed, 'passport-kind', 10);
  return `(CASE WHEN ${kind} < 6 THEN 'E' || ${digitString(index, seed, 'passport-digits', 8)}
    WHEN ${kind} < 9 THEN 'E' || ${pickSql(PLATE_LETTERS, index, seed, 'passport-letter')} || ${digitString(index, seed, 'passport-digits', 7)}
    ELSE 'G' || ${digitString(index, seed, 'passport-digits', 8)} END)`;
}

/** Area codes: Beijing, the 02x cities, and provincial capitals and large cities (0xxx). */
const AREA_CODES = [
  '010', '020', '021', '022', '023', '024', '025', '027', '028', '029',
  '0311', '0351', '0371', '0411', '0431', '0451', '0471', '0510', '0512', '0531', '0532', '0551', '0571', '0574', '0591', '0592',
  '0731', '0755', '0757', '0760', '0769', '0771', '0791', '0851', '0871', '0891', '0898', '0931', '0951', '0971', '0991',
];
/** The three-digit codes (010, 02x) come first: their local numbers have 8 digits. */
const EIGHT_DIGIT_AREAS = AREA_CODES.filter((code) => code.length === 3).length;

/** Fixed-line numbers: area code, hyphen, a local number starting 2–8 (8 digits in the largest cities, else 7 or 8). */
export function fixedLineSql(index: string, seed: number): string {
  const area = pick(index, seed, 'fixed-area', AREA_CODES.length);
  const eightDigits = `(${area} < ${EIGHT_DIGIT_AREAS} OR ${pick(index, seed, 'fixed-length', 2)} = 0)`;
  // An 8-digit number from 20000000, shortened to 7 digits by dropping its last digit.
  const local = `(20000000 + ${pick(index, seed, 'fixed-local', 70_000_000)}) // CASE WHEN ${eightDigits} THEN 1 ELSE 10 END`;
  return `(${sqlList(AREA_CODES)}[1 + ${area}] || '-' || (${local})::VARCHAR)`;
}

/**
 * Free text holding identifiers, as a note about a person reads: a synthetic name, mobile and
 * address ("张伟，电话13812345678，住河北省…建设路12号"); one note in five adds an e-mail.
 */
export function freeTextSql(index: string, seed: number): string {
  const note = `concat(${nameSql(index, seed)}, '，电话', ${mobileSql(index, seed)}, '，住', ${addressSql(index, seed)})`;
  return `(CASE WHEN ${pick(index, seed, 'note-kind', 5)} = 0 THEN ${note} || '，邮箱' || ${emailSql(index, seed)} ELSE ${note} END)`;
}
