import { entityNormalization, isEntityKeySql, tokenNormalization } from './tokens.js';

/**
 * Shared synthetic populations for the dev twin (issue #10): identifier columns of one kind draw
 * their values from one population per kind, so that twins of different datasets join where the
 * real datasets do, at close to the real rates. Pure planning: which entities each twin column
 * holds and how many rows each entity gets, from profile statistics that reveal no value (overlap
 * rates between columns and a coarse rows-per-key histogram, measured at ingest).
 *
 * Entity `e` of kind K is one synthetic value, the kind's generator at index `e` under the kind's
 * population seed: every twin that holds entity `e` holds the same value. Each column occupies a
 * range of entities as long as its real distinct count; ranges are placed so that their overlaps
 * have the measured sizes (layoutPopulation). A twin smaller than its dataset keeps the entities
 * whose sampling hash falls under its scale: the same entities in every dataset sampled at that
 * scale, so overlap rates survive the sampling in both directions.
 */

/**
 * Personal-data kinds that identify one person or organization and that datasets join on. Names
 * and addresses are not among them: many people share a name, and joins on them are not what the
 * twin promises (their twins come from the generators, as before).
 */
export const JOIN_KINDS = ['resident_id', 'uscc', 'mobile', 'bank_card', 'email', 'plate', 'passport', 'fixed_line'] as const;
export type JoinKind = (typeof JOIN_KINDS)[number];

export function isJoinKind(kind: string | null | undefined): kind is JoinKind {
  return (JOIN_KINDS as readonly string[]).includes(kind ?? '');
}

/**
 * How two identifiers are compared when overlaps and people are counted: as the entity keys compare
 * them (entityNormalization: compacted, 15-digit resident IDs upgraded, mobiles without their 86 or
 * 0086 prefix, e-mails upper-cased). A query over `from` giving, for each distinct non-null value of `column` (of
 * any type), its text `__t`, its rows `__n` and its normalized key `k`. Rows are grouped on the raw
 * value first, so that only distinct values are normalized (a fifth of the work for five payments
 * per person); then in three projections: each step mentions its input many times, and nested in
 * one expression they multiply into thousands of copies that DuckDB's optimizer does not finish.
 */
export function normalizedKeysSql(kind: string, column: string, from: string): string {
  const how = entityNormalization(kind);
  const rule = tokenNormalization(how);
  const grouped = `SELECT CAST(${column} AS VARCHAR) AS __t, count(*) AS __n FROM ${from} WHERE ${column} IS NOT NULL GROUP BY ${column}`;
  // Values already in their normal form (most IDs, codes, numbers as stored) skip the full
  // normalization, ten times dearer: digits and capitals, or for mobiles their bare 11 digits.
  const normal = how === 'mobile' ? '1[3-9][0-9]{9}' : '[0-9A-Z]+';
  const prepared = `CASE WHEN regexp_full_match(__t, '${normal}') THEN __t ELSE ${rule.prepare('__t')} END`;
  // SECURITY: a value of no identifier's shape (a placeholder: '未登记', '0') is no key (isEntityKey).
  return `SELECT __t, __n, CASE WHEN ${isEntityKeySql('__f', how)} THEN __f END AS k FROM (SELECT __t, __n, ${rule.finish('__p')} AS __f FROM (SELECT __t, ${prepared} AS __p, __n FROM (${grouped})))`;
}

/** The normalized keys of `column` (normalizedKeysSql) as `k` with their rows `n`. */
export function joinKeysSql(kind: JoinKind, column: string, from: string): string {
  return `SELECT k, sum(__n) AS n FROM (${normalizedKeysSql(kind, column, from)}) WHERE k IS NOT NULL GROUP BY k`;
}

/** One bucket of the rows-per-key histogram: keys with `(2^(b-1), 2^b]` rows (b = 0: exactly 1). */
export interface RowsPerKeyBucket {
  /** The bucket's upper bound (1, 2, 4, 8, …). */
  upTo: number;
  /** Share of the column's distinct keys in the bucket, rounded. */
  share: number;
  /** Mean rows per key within the bucket, rounded to 0.1. */
  mean: number;
}

/** What ingest keeps about a join-kind column's keys: counts and shares only, never a value or a hash of one. */
export interface KeyProfile {
  /** Distinct normalized values, rounded to three significant digits. */
  distinct: number;
  rowsPerKey: RowsPerKeyBucket[];
}

/** Overlap of a column with a column of the same kind in another dataset's version, measured at ingest. */
export interface KeyLink {
  dataset: string;
  version: number;
  column: string;
  /** Share of this column's distinct values found in the other column. */
  distinctHere: number;
  /** Share of the other column's distinct values found in this column. */
  distinctThere: number;
  /** Share of this column's non-null rows whose value is found in the other column. */
  rowsHere: number;
  /** Share of the other column's non-null rows whose value is found in this column. */
  rowsThere: number;
  /** The overlap, or a part outside it, was 1 to 9 identifiers: no rates (all 0: the twins are disjoint). */
  withheld?: boolean;
}

/** Rates are kept to 0.1 percentage point: enough for the twin, and no more than that of the data. */
export function roundRate(rate: number): number {
  return Math.round(rate * 1000) / 1000;
}

/** Counts to three significant digits. */
export function roundCount(count: number): number {
  if (count < 1000) return Math.round(count);
  const unit = 10 ** (Math.floor(Math.log10(count)) - 2);
  return Math.round(count / unit) * unit;
}

/** A twin column keyed to a population: where its entities sit and how many rows each gets. */
export interface TwinKeyPlan {
  column: string;
  kind: JoinKind;
  /** Seed of the kind's population (identical for every dataset in one domain). */
  populationSeed: number;
  /** Entity range [from, to): as many entities as the real column has distinct values. */
  from: number;
  to: number;
  /** Entities kept, per million (the twin's scale); the same hash decides for every dataset. */
  keepPerMillion: number;
  rowsPerKey: RowsPerKeyBucket[];
  /** Seed of this column's own draws (rows per entity, order). */
  seed: number;
}

/** One granted dataset's identifier columns, as the refinery finds them in the catalog. */
export interface KeyedDataset {
  id: string;
  version: number;
  rows: number;
  columns: { name: string; kind: JoinKind; nullShare: number; keys: KeyProfile; links: KeyLink[] }[];
}

export interface TwinPlan {
  /** Twin rows to generate (the primary key plan decides them when there is one). */
  rows: number;
  /** Key plans, the identifier column held by the most people first (it lays out the rows); none for a column of fewer than 10. */
  keys: TwinKeyPlan[];
}

/** Distinct identifiers a column needs to be a key plan of the twin (the disclosure threshold). */
const MIN_KEY_PEOPLE = 10;

/**
 * Twin plans for a set of datasets (one tenant's grants). Each dataset is scaled to at most
 * `maxRows`; datasets linked through a shared identifier share the smallest of their scales (so
 * that overlaps keep their rates both ways), except that no twin falls below `minRows` rows (or the
 * dataset's own size): that floor can skew the rates of a tiny dataset linked to a huge one.
 */
export function planTwins(datasets: readonly KeyedDataset[], options: { maxRows: number; minRows: number; populationSeed: (kind: JoinKind) => number; seedOf: (dataset: KeyedDataset) => number }): Map<string, TwinPlan> {
  const own = (d: KeyedDataset) => (d.rows <= options.maxRows ? 1 : options.maxRows / d.rows);
  const nodes = datasets.flatMap((d) => d.columns.map((c) => ({ dataset: d, column: c, id: `${d.id}.${c.name}` })));
  const overlaps = measuredOverlaps(nodes.map((n) => ({ id: n.id, dataset: n.dataset.id, version: n.dataset.version, column: n.column.name, kind: n.column.kind, links: n.column.links })));

  // Components of datasets linked by a non-empty overlap share a scale.
  const parent = new Map(datasets.map((d) => [d.id, d.id]));
  const find = (id: string): string => (parent.get(id) === id ? id : find(parent.get(id)!));
  for (const [key, overlap] of overlaps) {
    if (overlap.distinctHere <= 0) continue;
    const [a, b] = key.split('\u0000').map((id) => id.slice(0, id.indexOf('.')));
    parent.set(find(a!), find(b!));
  }
  const componentScale = new Map<string, number>();
  for (const d of datasets) componentScale.set(find(d.id), Math.min(componentScale.get(find(d.id)) ?? 1, own(d)));

  const ranges = new Map<string, { from: number; to: number }>();
  for (const kind of JOIN_KINDS) {
    const ofKind = nodes.filter((n) => n.column.kind === kind && n.column.keys.distinct > 0);
    const placed = layoutPopulation(ofKind.map((n) => ({ id: n.id, size: n.column.keys.distinct })), (a, b) => overlaps.get(pairKey(a, b))?.distinctHere);
    for (const [id, range] of placed) ranges.set(id, range);
  }

  const plans = new Map<string, TwinPlan>();
  for (const d of datasets) {
    const floor = d.rows <= options.minRows ? 1 : options.minRows / d.rows;
    const scale = Math.min(1, Math.max(componentScale.get(find(d.id))!, floor));
    // SECURITY: the column held by the most people lays out the rows, and one held by fewer than 10
    // is no key plan (its twin column is empty, twinNullShare): a second mobile held by 3 people (4
    // with one more) laid out a twin of 3 rows, or 4 (red-team pass 41b).
    const keys = d.columns.map((c, k) => ({ c, k }))
      .filter(({ c }) => c.keys.distinct >= MIN_KEY_PEOPLE)
      .sort((a, b) => b.c.keys.distinct - a.c.keys.distinct || a.k - b.k)
      .flatMap(({ c, k }): TwinKeyPlan[] => {
        const range = ranges.get(`${d.id}.${c.name}`);
        if (!range) return [];
        return [{
          column: c.name, kind: c.kind, populationSeed: options.populationSeed(c.kind), ...range,
          keepPerMillion: Math.max(1, Math.round(scale * 1_000_000)), rowsPerKey: c.keys.rowsPerKey, seed: options.seedOf(d) + 104_729 * (k + 1),
        }];
      });
    plans.set(d.id, { rows: d.rows === 0 ? 0 : Math.max(1, Math.round(d.rows * scale)), keys });
  }
  return plans;
}

function pairKey(a: string, b: string): string {
  return `${a}\u0000${b}`;
}

/**
 * For each ordered pair of same-kind columns, the overlap shares measured at ingest between the
 * two current versions: the link stored with whichever of the two was ingested later (it was
 * measured against the other's then current version). Pairs with no such link are absent.
 */
function measuredOverlaps(nodes: { id: string; dataset: string; version: number; column: string; kind: JoinKind; links: KeyLink[] }[]): Map<string, { distinctHere: number }> {
  const result = new Map<string, { distinctHere: number }>();
  for (const a of nodes) {
    for (const link of a.links) {
      if (link.withheld) continue;
      const b = nodes.find((n) => n.dataset === link.dataset && n.version === link.version && n.column === link.column && n.kind === a.kind);
      if (!b || b.dataset === a.dataset) continue;
      result.set(pairKey(a.id, b.id), { distinctHere: link.distinctHere });
      result.set(pairKey(b.id, a.id), { distinctHere: link.distinctThere });
    }
  }
  return result;
}

/**
 * Places one range per column on the entity line so that each pair's overlap comes close to the
 * measured one: `share(a, b)` is the share of a's distinct values found in b (undefined: not
 * measured, taken as disjoint). Largest column first at 0; each next one at the candidate offset
 * (disjoint after everything, or an offset that gives the exact overlap with one column already
 * placed) with the least squared error over the rates in both directions against all placed
 * columns.
 *
 * What it guarantees: a kind shared by two columns gets its overlap exactly, and each new column
 * matches at least one placed column exactly unless another candidate has less total error. Beyond
 * that it is greedy: three columns whose sets can be drawn as intervals (nested sets such as payers
 * inside residents, partial overlaps in a chain, disjoint sets) come out exact, as the unit tests
 * and the test domain show; sets no intervals can draw (three sets each sharing half of itself with
 * each of the others), or an early choice between two mirror-image offsets that a fourth column
 * would have needed the other way round, give the least-error compromise at each step, not the best
 * overall.
 */
export function layoutPopulation(columns: readonly { id: string; size: number }[], share: (a: string, b: string) => number | undefined): Map<string, { from: number; to: number }> {
  const order = [...columns].sort((a, b) => b.size - a.size || a.id.localeCompare(b.id));
  const placed: { id: string; from: number; size: number }[] = [];
  const overlapOf = (fromA: number, sizeA: number, fromB: number, sizeB: number) => Math.max(0, Math.min(fromA + sizeA, fromB + sizeB) - Math.max(fromA, fromB));
  for (const column of order) {
    const targets = placed.map((p) => {
      const here = share(column.id, p.id);
      const there = share(p.id, column.id);
      // The overlap size both shares describe (they agree up to rounding); absent: disjoint.
      const estimates = [here === undefined ? undefined : here * column.size, there === undefined ? undefined : there * p.size].filter((v): v is number => v !== undefined);
      const size = estimates.length === 0 ? 0 : Math.round(estimates.reduce((s, v) => s + v, 0) / estimates.length);
      return { placed: p, overlap: Math.min(size, column.size, p.size) };
    });
    const end = placed.reduce((max, p) => Math.max(max, p.from + p.size), 0);
    const candidates = new Set<number>([end]);
    for (const { placed: p, overlap } of targets) {
      candidates.add(p.from + p.size - overlap);
      candidates.add(p.from - column.size + overlap);
    }
    let best = { from: end, error: Infinity };
    for (const from of [...candidates].sort((a, b) => a - b)) {
      const error = targets.reduce((sum, { placed: p, overlap }) => {
        const got = overlapOf(from, column.size, p.from, p.size);
        return sum + ((got - overlap) / column.size) ** 2 + ((got - overlap) / p.size) ** 2;
      }, 0);
      if (error < best.error - 1e-12) best = { from, error };
    }
    placed.push({ id: column.id, from: best.from, size: column.size });
  }
  // Entity indexes from 0.
  const shift = Math.min(0, ...placed.map((p) => p.from));
  return new Map(placed.map((p) => [p.id, { from: p.from - shift, to: p.from - shift + p.size }]));
}
