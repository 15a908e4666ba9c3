import { REGIONS } from './data/regions.js';
import { sqlString } from './sql.js';

/**
 * The administrative part at the start of an address: an optional province, then an optional city,
 * then an optional county, each a real name from the vendored GB/T 2260 list (data/regions.ts).
 * What the address mask keeps. Pure.
 *
 * Why names and not suffixes: "up to the first 区 or 县" also stops at 小区, 社区, 开发区, 校区 and
 * 园区, which kept a housing estate, or a street and house number, in the clear. Only a name from
 * the list ends a kept prefix.
 *
 * Matching is greedy group by group (longest province, then longest city, then longest county),
 * which is also how RE2 runs the SQL patterns: anchored optional groups, each trying a longer name
 * before a shorter one (RE2 is leftmost-first, so the order decides).
 * Greedy is the longest prefix for this list: no province, city or county name is a proper prefix
 * of another group's name, except fifteen counties that spell out their city (唐山市汉沽管理区);
 * those also join the city alternatives, so "唐山市" never stops the match short of them. A unit
 * test checks every county of the list.
 */

const unique = (names: readonly string[]): string[] => [...new Set(names.filter((name) => name !== ''))];
const PROVINCES = unique(REGIONS.map(([, province]) => province));
const CITY_NAMES = unique(REGIONS.map(([, , city]) => city));
const COUNTIES = unique(REGIONS.map(([, , , county]) => county));
/** Cities, and the counties whose name starts with their own city's name. */
const CITIES = unique([...CITY_NAMES, ...REGIONS.filter(([, , city, county]) => city !== '' && county.startsWith(city)).map(([, , , county]) => county)]);

const GROUPS = [PROVINCES, CITIES, COUNTIES].map((names) => ({ names: new Set(names), lengths: [...new Set(names.map((n) => n.length))].sort((a, b) => b - a) }));

/** The administrative prefix of `text` (already trimmed); '' when it starts with none. */
export function adminPrefix(text: string): string {
  let end = 0;
  for (const { names, lengths } of GROUPS) {
    // UTF-16 slices: a slice that splits a surrogate pair cannot equal a (well-formed) name.
    const length = lengths.find((n) => names.has(text.slice(end, end + n)));
    if (length !== undefined) end += length;
  }
  return text.slice(0, end);
}

const escapeRe2 = (char: string): string => (/[\\.*+?()[\]{}|^$]/.test(char) ? `\\${char}` : char);

interface TrieNode {
  terminal: boolean;
  children: Map<string, TrieNode>;
}

/**
 * The names as a trie-shaped pattern: `朝阳(?:区|县|市)`, with `(?:…)?` after a node that is itself
 * a name, so that the longer name is tried first and the shorter one is what is left when it
 * fails. Same matches as the flat alternation of the names longest first, in a smaller program:
 * RE2 factors common prefixes only of adjacent alternatives, and longest-first order separates them.
 */
function triePattern(names: readonly string[]): string {
  const root: TrieNode = { terminal: false, children: new Map() };
  for (const name of names) {
    let node = root;
    for (const char of name) {
      let child = node.children.get(char);
      if (!child) node.children.set(char, (child = { terminal: false, children: new Map() }));
      node = child;
    }
    node.terminal = true;
  }
  const write = (node: TrieNode): string => {
    if (node.children.size === 0) return '';
    const branches = [...node.children].map(([char, child]) => escapeRe2(char) + write(child));
    const body = branches.length === 1 ? branches[0]! : `(?:${branches.join('|')})`;
    if (!node.terminal) return body;
    return branches.length === 1 && Array.from(branches[0]!).length === 1 ? `${body}?` : `(?:${body})?`;
  };
  return write(root);
}

const optional = (names: readonly string[]): string => `(?:${triePattern(names)})?`;

/**
 * Counties per pattern. RE2 gives each pattern a memory budget; past it (a trie of 500 to 750
 * county names, measured) its fast automaton cannot start and every value goes through its slow
 * engine. One pattern of all three groups made the address mask about 15 times slower than the old
 * "up to the first 区" rule; these pieces make it about 3 times slower on addresses spread over all
 * 2,978 counties and 1.2 times on one city's (100k values, DuckDB 1.5, one thread).
 */
const COUNTIES_PER_PATTERN = 300;

/** County patterns by ranges of first character (a first character never split); `below`: the range's end. */
function countyPatterns(): { below: number; pattern: string }[] {
  const byFirst = new Map<number, string[]>();
  for (const name of COUNTIES) {
    const first = name.codePointAt(0)!;
    byFirst.set(first, [...(byFirst.get(first) ?? []), name]);
  }
  const ranges: { from: number; names: string[] }[] = [];
  for (const [first, names] of [...byFirst].sort(([a], [b]) => a - b)) {
    const last = ranges.at(-1);
    if (last && last.names.length + names.length <= COUNTIES_PER_PATTERN) last.names.push(...names);
    else ranges.push({ from: first, names: [...names] });
  }
  return ranges.map(({ names }, k) => ({ below: ranges[k + 1]?.from ?? Number.POSITIVE_INFINITY, pattern: `^${optional(names)}` }));
}

const PROVINCE_CITY_PATTERN = `^${optional(PROVINCES)}${optional(CITIES)}`;
const COUNTY_PATTERNS = countyPatterns();

/**
 * The SQL twin of adminPrefix over a trimmed text expression, built once: province and city from
 * the start, then the county from where they end, with only the pattern for the range of the
 * county's first character tried (one more regular expression a value, not one per range).
 * Together the same match as adminPrefix: the split falls between groups, and each pattern tries
 * longer names first. `text` is mentioned several times: pass a column.
 */
export function adminPrefixSql(text: string): string {
  const first = `regexp_extract(${text}, ${sqlString(PROVINCE_CITY_PATTERN)})`;
  const rest = `substr(${text}, length(${first}) + 1)`;
  const branches = COUNTY_PATTERNS.map(({ below, pattern }) => {
    const county = `regexp_extract(${rest}, ${sqlString(pattern)})`;
    return Number.isFinite(below) ? `WHEN unicode(${rest}) < ${below} THEN ${county}` : `ELSE ${county}`;
  });
  return `(${first} || CASE ${branches.join(' ')} END)`;
}
