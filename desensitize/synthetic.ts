import { fakerZH_CN } from '@faker-js/faker';
import { REGIONS } from './data/regions.js';
import { sqlList, sqlString } from './sql.js';

/**
 * Vectorized generators of valid-looking identifiers for synthetic twins, as DuckDB expressions over
 * a row index. Each value comes from `hash(index, seed, salt)`, so a twin is reproducible from its
 * seed, identical on any thread count, and generated at DuckDB speed (faker alone manages about
 * 80k rows/s here; reference/pii-and-masking.md). Formats are valid: real region codes, real
 * calendar dates, correct check characters, assignable mobile prefixes, Luhn-valid cards.
 *
 * Synthetic IDs with real region codes can coincide with a real person's: twins are tagged
 * synthetic and never mixed into production (DESIGN.md §2).
 */


/** A deterministic integer in [0, n) for this row, seed and purpose. */
function pick(index: string, seed: number, salt: string, n: number): string {
  return `CAST(hash(${index}, ${seed}, ${sqlString(salt)}) % ${n} AS BIGINT)`;
}

/** A string of `length` random decimal digits. */
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

const REGION_CODES = sqlList(REGIONS.map(([code]) => code));
const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];

/** The SQL of a resident ID's check character over a 17-digit expression. */
export function residentIdCheckSql(first17: string): string {
  const sum = ID_WEIGHTS.map((w, i) => `(ascii(substr(${first17}, ${i + 1}, 1)) - 48) * ${w}`).join(' + ');
  return `substr('10X98765432', ((${sum}) % 11) + 1, 1)`;
}

/** Resident IDs: a real county code, a birth date between the years given, a sequence, the check character. */
export function residentIdSql(index: string, seed: number, years: { from: number; to: number } = { from: 1940, to: 2008 }): string {
  const region = pickFrom(REGION_CODES, REGIONS.length, index, seed, 'id-region');
  const days = Math.round((Date.UTC(years.to, 11, 31) - Date.UTC(years.from, 0, 1)) / 86_400_000);
  const birth = `strftime(DATE '${years.from}-01-01' + CAST(${pick(index, seed, 'id-birth', days + 1)} AS INTEGER), '%Y%m%d')`;
  const first17 = `(${region} || ${birth} || ${digitString(index, seed, 'id-seq', 3)})`;
  return `(${first17} || ${residentIdCheckSql(first17)})`;
}

/** Assignable mobile prefixes (libphonenumber CN ranges, three-digit ones). */
const MOBILE_PREFIXES = [
  ...Array.from({ length: 10 }, (_, i) => `13${i}`), '145', '147', '150', '151', '152', '153', '155', '156', '157', '158', '159',
  '162', '165', '166', '167', '170', '171', '172', '173', '175', '176', '177', '178',
  ...Array.from({ length: 10 }, (_, i) => `18${i}`), '190', '191', '192', '193', '195', '196', '197', '198', '199',
];

export function mobileSql(index: string, seed: number): string {
  return `(${pickFrom(sqlList(MOBILE_PREFIXES), MOBILE_PREFIXES.length, index, seed, 'mobile-prefix')} || ${digitString(index, seed, 'mobile-rest', 8)})`;
}

const USCC_ALPHABET = '0123456789ABCDEFGHJKLMNPQRTUWXY';
const USCC_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/** Unified social credit codes: 91 (enterprise), a real county code, 9 organization characters, check character. */
export function usccSql(index: string, seed: number): string {
  const region = pickFrom(REGION_CODES, REGIONS.length, index, seed, 'uscc-region');
  const organization = Array.from({ length: 9 }, (_, k) => `substr('${USCC_ALPHABET}', 1 + ${pick(index, seed, `uscc-org-${k}`, 31)}, 1)`).join(' || ');
  const first17 = `('91' || ${region} || ${organization})`;
  const sum = USCC_WEIGHTS.map((w, i) => `(strpos('${USCC_ALPHABET}', substr(${first17}, ${i + 1}, 1)) - 1) * ${w}`).join(' + ');
  return `(${first17} || substr('${USCC_ALPHABET}', ((31 - ((${sum}) % 31)) % 31) + 1, 1))`;
}

/** UnionPay-style debit card numbers: 62, 16 random digits, a Luhn check digit (19 digits). */
export function bankCardSql(index: string, seed: number): string {
  const payload = `('62' || ${digitString(index, seed, 'card-a', 8)} || ${digitString(index, seed, 'card-b', 8)})`;
  // Luhn over the payload with the check digit to come: from the right, payload digits at odd
  // positions (1st, 3rd, … counting the rightmost payload digit as 1st) are doubled.
  const terms = Array.from({ length: 18 }, (_, k) => {
    const digit = `(ascii(substr(${payload}, ${18 - k}, 1)) - 48)`;
    return k % 2 === 0 ? `((${digit} * 2) % 10 + (${digit} * 2) // 10)` : digit;
  }).join(' + ');
  return `(${payload} || ((10 - ((${terms}) % 10)) % 10)::VARCHAR)`;
}

const SURNAMES = fakerZH_CN.definitions.person!.last_name!.generic!;
const GIVEN_NAMES = fakerZH_CN.definitions.person!.first_name!.generic!;

/** Names from faker's zh_CN surnames (compound ones included) and given names. */
export function nameSql(index: string, seed: number): string {
  return `(${pickFrom(sqlList(SURNAMES), SURNAMES.length, index, seed, 'surname')} || ${pickFrom(sqlList(GIVEN_NAMES), GIVEN_NAMES.length, index, seed, 'given')})`;
}

const PLACES = sqlList(REGIONS.map(([, province, city, county]) => `${province}${city}${county}`));
const STREET_WORDS = ['建设', '人民', '解放', '中山', '和平', '胜利', '友谊', '新华', '长江', '黄河', '光明', '幸福', '文化', '育才', '青年'];
const STREET_KINDS = ['路', '大街', '街', '大道'];

/** Addresses: a real province, city and county, then an invented street and number. */
export function addressSql(index: string, seed: number): string {
  const street = `${pickFrom(sqlList(STREET_WORDS), STREET_WORDS.length, index, seed, 'street')} || ${pickFrom(sqlList(STREET_KINDS), STREET_KINDS.length, index, seed, 'street-kind')}`;
  return `(${pickFrom(PLACES, REGIONS.length, index, seed, 'place')} || ${street} || (1 + ${pick(index, seed, 'house', 300)})::VARCHAR || '号')`;
}

/** The county code of each generated place, for region columns that must agree with addresses. */
export function regionCodeSql(index: string, seed: number, salt = 'place'): string {
  return pickFrom(REGION_CODES, REGIONS.length, index, seed, salt);
}
