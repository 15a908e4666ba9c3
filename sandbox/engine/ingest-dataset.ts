import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import {
  isJoinKind, isNumberType, isTemporalType, joinKeysSql, quoteIdentifier, recognizeColumn, roundCount, rowsOfPeople, roundRate, sqlString, type JoinKind, type KeyLink, type KeyProfile, type Recognition,
} from '../../desensitize/index.js';
import { castSql, inferTypes, malformedCsv, MISFIT, readCsvSql } from '../upload/csv-sql.js';
import { UPLOAD_LIMITS, type PreparedUpload } from '../upload/prepare-upload.js';
import { countNullPeople, fitsType, personKeys, settleEntity, type EntityColumn, type People } from './ingest-people.js';
import { ingestProgressPath, trackIngestProgress } from './ingest-progress.js';

/** What profiling says about one column of an ingested dataset. */
export interface ColumnProfile {
  name: string;
  type: string;
  nullShare: number;
  distinctEstimate: number;
  min: string | null;
  max: string | null;
  /**
   * The most frequent values, only for columns not recognized as personal data; with `people`, the
   * distinct people or enterprises holding each, when the dataset has an identifier to count them by.
   */
  topValues: { value: string; count: number; people?: number }[] | null;
  /** Deciles (10th to 90th percentile) of numbers and dates not recognized as personal data. */
  quantiles: string[] | null;
  /** The fewest distinct people or enterprises in any tenth the deciles cut (with an identifier to count them by). */
  quantilePeople?: number;
  /**
   * Numbers and dates: the values that 10 people (rows, without an identifier) reach at either end:
   * the 10th smallest of the people's smallest values and the 10th largest of their largest. Null
   * with fewer than 10. The twin's range, where min and max are one person's own (pass 21a).
   */
  ends?: { low: string; high: string } | null;
  pii: Recognition | null;
  /**
   * Columns with some nulls, in a dataset with people: the distinct people with a value and with a
   * null in it. The twin copies the null share only where both are 10 or more (pass 22a: the share of
   * one person's HIV notes).
   */
  nullPeople?: { valued: number; nulls: number };
  /** Identifier columns of a join kind: distinct count and rows-per-key histogram (no value). */
  keys?: KeyProfile;
  /** Identifier columns of a join kind: overlap rates with same-kind columns of other datasets. */
  links?: KeyLink[];
}

/** Another dataset's current version whose identifier columns a new version's are compared with. */
export interface LinkTarget {
  dataset: string;
  version: number;
  path: string;
  columns: { name: string; kind: string }[];
  /** The pair's link as first measured (this dataset's column, the target's), carried forward. */
  known?: { column: string; kind: string; other: string; link: Omit<KeyLink, 'dataset' | 'version' | 'column'> }[] | undefined;
}

export interface IngestResult {
  version: number;
  file: string;
  rows: number;
  columns: ColumnProfile[];
  /** The column people or enterprises are counted on (declared, or settled from recognition); null: none. */
  entity: string | null;
}

const TOP_VALUES = 5;
const DECILES = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/** Types whose values have an order worth describing by quantiles: numbers, dates and timestamps (not lists of them). */
const isOrderedType = (type: string): boolean => isNumberType(type) || isTemporalType(type);
/** Distinct estimates up to this are replaced by exact counts (see exactSmallCounts). */
const EXACT_DISTINCT_UP_TO = 10_000;
/** Rows read to guess each CSV column's type; every row is then checked as it loads. */
const TYPE_SAMPLE_ROWS = 10_000;

/**
 * Trusted ingest of a raw dataset into `domain/<id>/v<version>.duckdb` (table `data`), in one
 * DuckDB instance at DuckDB speed: a CSV is parsed once, straight into the table, with column types
 * guessed from its first rows and checked on every row in the same pass (a misfit falls back to
 * inferring from all rows); then profiled in a few whole-table queries. Written to a `.building`
 * file and renamed, so a half-built version never appears. Reports progress next to it
 * (ingest-progress.ts).
 * Runs on an engine worker thread; never in a tenant engine.
 */
export async function ingestDataset(task: { datasetDir: string; version: number; upload?: PreparedUpload | undefined; sql?: string | undefined; today: string; sampleSize: number; entity?: string | undefined; previousEntity?: EntityColumn | undefined; linkTo?: LinkTarget[] | undefined }): Promise<IngestResult> {
  const file = `v${task.version}.duckdb`;
  const building = path.join(task.datasetDir, `${file}.building`);
  fs.mkdirSync(task.datasetDir, { recursive: true });
  const removeBuilding = () => {
    fs.rmSync(building, { force: true });
    fs.rmSync(`${building}.wal`, { force: true });
  };
  removeBuilding();
  let result: IngestResult;
  try {
    const instance = await DuckDBInstance.create(building, { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    try {
      const connection = await instance.connect();
      const progress = await trackIngestProgress(connection, ingestProgressPath(task.datasetDir, task.version));
      try {
        if (task.upload?.format === 'csv') await loadCsv(connection, task.upload);
        else if (task.upload) await loadParquet(connection, task.upload.path);
        else await connection.run(`CREATE TABLE data AS ${task.sql}`);
        progress.stage('profiling');
        const { rows, columns, entity } = await profile(connection, task);
        await profileKeys(connection, columns, task.linkTo ?? [], { now: entity, before: task.previousEntity?.column });
        await connection.run('CHECKPOINT');
        result = { version: task.version, file, rows, columns, entity: entity ?? null };
      } finally {
        progress.stop();
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } catch (error) {
    removeBuilding();
    throw error;
  }
  fs.renameSync(building, path.join(task.datasetDir, file));
  return result;
}

async function loadCsv(connection: DuckDBConnection, upload: Extract<PreparedUpload, { format: 'csv' }>): Promise<void> {
  const csv = readCsvSql(upload);
  const load = (types: string[], strict: boolean) =>
    connection.run(`CREATE OR REPLACE TABLE data AS SELECT ${upload.columns.map((name, i) => castSql(name, types[i]!, strict)).join(', ')} FROM ${csv}`);
  try {
    await connection.run(`CREATE TEMP TABLE type_sample AS SELECT * FROM ${csv} LIMIT ${TYPE_SAMPLE_ROWS}`);
    const guessed = await inferTypes(connection, 'type_sample', upload.columns);
    await connection.run('DROP TABLE type_sample');
    try {
      await load(guessed, true);
    } catch (error) {
      if (!(error as Error).message?.includes(MISFIT)) throw error;
      // A later row does not fit the type its first rows suggested: infer from every row (slower, rare).
      await load(await inferTypes(connection, csv, upload.columns), false);
    }
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw malformedCsv((error as Error).message ?? '');
  }
}

async function loadParquet(connection: DuckDBConnection, file: string): Promise<void> {
  const select = `SELECT * FROM read_parquet(${sqlString(file)})`;
  try {
    const described = await connection.runAndReadAll(`DESCRIBE ${select}`);
    if (described.currentRowCount > UPLOAD_LIMITS.maxColumns) throw new DomainError('UPL_ERR_TOO_MANY_COLUMNS', `${described.currentRowCount} columns; at most ${UPLOAD_LIMITS.maxColumns}`);
    await connection.run(`CREATE TABLE data AS ${select}`);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    throw new DomainError('UPL_ERR_MALFORMED', 'the Parquet file cannot be read');
  }
}

/**
 * Profiles every column: one whole-table pass for counts, distinct estimates, minima, maxima and
 * deciles; one sample for PII recognition (topped up per column where it holds too few values);
 * top values only for columns not recognized as personal data.
 */
async function profile(connection: DuckDBConnection, task: { today: string; sampleSize: number; entity?: string | undefined; previousEntity?: EntityColumn | undefined }): Promise<{ rows: number; columns: ColumnProfile[]; entity: string | undefined }> {
  const described = (await connection.runAndReadAll('DESCRIBE data')).getRowsJS().map(([name, type]) => ({ name: String(name), type: String(type) }));
  const stats = described.map(({ name, type }) => {
    const c = quoteIdentifier(name);
    // Approximate (t-digest) deciles, for the synthetic twin's distributions.
    const deciles = isOrderedType(type) ? `approx_quantile(${c}, [${DECILES.join(', ')}])::VARCHAR[]` : 'NULL::VARCHAR[]';
    return `count(${c}), approx_count_distinct(${c}), min(${c})::VARCHAR, max(${c})::VARCHAR, ${deciles}`;
  });
  const [total, ...values] = (await connection.runAndReadAll(`SELECT count(*), ${stats.join(', ')} FROM data`)).getRowsJS()[0] ?? [];
  const rows = Number(total ?? 0);
  const distinct = await exactSmallCounts(connection, described.map((column, k) => ({ name: column.name, estimate: Number(values[k * 5 + 1] ?? 0) })));
  const sample = (await connection.runAndReadAll(
    `SELECT ${described.map(({ name }) => `${quoteIdentifier(name)}::VARCHAR`).join(', ')} FROM data USING SAMPLE reservoir(${task.sampleSize} ROWS) REPEATABLE (42)`,
  )).getRowsJS();
  const recognized: (Recognition | null)[] = [];
  for (const [k, column] of described.entries()) {
    const nonNull = Number((values[k * 5] as bigint | null) ?? 0);
    let seen = sample.map((row) => row[k]).filter((v) => v !== null).map(String);
    if (seen.length < Math.min(task.sampleSize, nonNull) / 2) seen = await sampleNonNull(connection, column.name, task.sampleSize);
    recognized.push(fitsType(recognizeColumn(column.name, seen, task.today), column.type));
  }
  // SECURITY: the dev twin draws from these figures; counted in people (the dataset's identifier),
  // not rows: one person's 40 rows made a rare diagnosis "frequent" and two deciles their income
  // (red-team pass 20b).
  const settled = await settleEntity(connection, described.map((c, k) => ({ name: c.name, piiKind: recognized[k]?.kind ?? null })), task.entity, task.previousEntity);
  const entity = settled?.column;
  const named = described.findIndex((c) => c.name === entity);
  if (settled && recognized[named] === null) recognized[named] = { kind: settled.kind as Recognition['kind'], confidence: 1, matchShare: 1 };
  const people = settled === undefined ? undefined : await personKeys(connection, settled.column, settled.kind);
  // About people but with no identifier to count them by (names and addresses only, say, or rows of
  // people by their traits: rowsOfPeople): rows do not stand for people, so no ends are measured (the
  // twin then draws no range: fail closed).
  const profiled = described.map((c, k) => ({ name: c.name, type: c.type, piiKind: recognized[k]?.kind ?? null, distinct: distinct[k]! }));
  // A dataset whose earlier versions counted people is about people too (red-team pass 41b: a version
  // without the IDs measured one person's 40 rows as 40 "people" at the ends).
  const uncountable = entity === undefined && (recognized.some((r) => r !== null) || rowsOfPeople(profiled, rows) || task.previousEntity !== undefined);
  const columns: ColumnProfile[] = [];
  for (const [k, column] of described.entries()) {
    const [count, , min, max, deciles] = values.slice(k * 5, k * 5 + 5) as [bigint, bigint, string | null, string | null, string[] | null];
    const nonNull = Number(count ?? 0);
    const pii = recognized[k] ?? null;
    const quantiles = pii || nonNull === 0 ? null : deciles ?? null;
    columns.push({
      name: column.name,
      type: column.type,
      nullShare: rows === 0 ? 0 : Math.round(((rows - nonNull) / rows) * 10_000) / 10_000,
      distinctEstimate: distinct[k]!,
      // SECURITY: min, max and quantiles of a personal-data column would be identifiers: not kept.
      min: pii ? null : min ?? null,
      max: pii ? null : max ?? null,
      quantiles,
      ...(quantiles && people !== undefined ? { quantilePeople: await fewestPeoplePerTenth(connection, column, quantiles, people) } : {}),
      ...(!pii && nonNull > 0 && isOrderedType(column.type) ? { ends: uncountable ? null : await endsOfTen(connection, column.name, people) } : {}),
      // Top values would print identifiers into the catalog: only for columns with no personal data.
      topValues: pii ? null : await topValues(connection, column, people),
      pii,
    });
  }
  if (people) await countNullPeople(connection, columns, people);
  return { rows, columns, entity };
}

/**
 * Distinct counts: DuckDB's HyperLogLog estimate, replaced by the exact count where the estimate is
 * small. Small counts are the ones a reader checks (18 districts where there are 16 looks wrong;
 * the estimate was 25% off at 1,000), and counting them exactly is cheap: the hash table is small.
 */
async function exactSmallCounts(connection: DuckDBConnection, columns: { name: string; estimate: number }[]): Promise<number[]> {
  const small = columns.flatMap((column, k) => (column.estimate > 0 && column.estimate <= EXACT_DISTINCT_UP_TO ? [k] : []));
  if (small.length === 0) return columns.map((column) => column.estimate);
  const [exact = []] = (await connection.runAndReadAll(
    `SELECT ${small.map((k) => `count(DISTINCT ${quoteIdentifier(columns[k]!.name)})`).join(', ')} FROM data`,
  )).getRowsJS();
  const counts = columns.map((column) => column.estimate);
  small.forEach((k, i) => (counts[k] = Number(exact[i])));
  return counts;
}

/** A sample of one sparse column's non-null values (the shared sample holds too few of them). */
async function sampleNonNull(connection: DuckDBConnection, name: string, size: number): Promise<string[]> {
  const c = quoteIdentifier(name);
  return (await connection.runAndReadAll(`SELECT ${c}::VARCHAR FROM data WHERE ${c} IS NOT NULL USING SAMPLE reservoir(${size} ROWS) REPEATABLE (42)`))
    .getRowsJS().map((r) => String(r[0]));
}

async function topValues(connection: DuckDBConnection, column: { name: string; type: string }, people: People | undefined): Promise<{ value: string; count: number; people?: number }[]> {
  const c = quoteIdentifier(column.name);
  // Grouped on the typed value, cast to text after: casting every row first costs 4–8× more.
  const top = (await connection.runAndReadAll(`SELECT v::VARCHAR, n FROM (SELECT ${c} AS v, count(*) AS n FROM data WHERE ${c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ${TOP_VALUES}) ORDER BY n DESC, v`))
    .getRowsJS().map(([value, count]) => ({ value: String(value), count: Number(count) }));
  if (people === undefined || top.length === 0) return top;
  // The people holding each, counted for these few values only (a distinct count per group of every
  // value would cost a hash table per group). A value that cannot be read back gets no count: the
  // twin then leaves it out (fail closed).
  const counted = await connection.runAndReadAll(
    `SELECT ${c}::VARCHAR, count(DISTINCT ${people.key}) FROM ${people.from} WHERE ${c} IN (${top.map((t) => `CAST(${sqlString(t.value)} AS ${column.type})`).join(', ')}) GROUP BY ${c}`,
  ).then((reader) => new Map(reader.getRowsJS().map(([value, people]) => [String(value), Number(people)])), () => new Map<string, number>());
  return top.map((t) => (counted.has(t.value) ? { ...t, people: counted.get(t.value)! } : t));
}

/**
 * The values 10 people reach at either end of a column (`ColumnProfile.ends`); rows stand for people
 * in a dataset without an identifier.
 */
async function endsOfTen(connection: DuckDBConnection, name: string, people: People | undefined): Promise<{ low: string; high: string } | null> {
  const c = quoteIdentifier(name);
  const per = people === undefined
    ? `SELECT ${c} AS lo, ${c} AS hi FROM data WHERE ${c} IS NOT NULL`
    : `SELECT min(${c}) AS lo, max(${c}) AS hi FROM ${people.from} WHERE ${c} IS NOT NULL AND ${people.key} IS NOT NULL GROUP BY ${people.key}`;
  const [row] = (await connection.runAndReadAll(`WITH per AS (${per})
    SELECT (SELECT lo FROM per ORDER BY lo LIMIT 1 OFFSET ${MIN_PEOPLE - 1})::VARCHAR, (SELECT hi FROM per ORDER BY hi DESC LIMIT 1 OFFSET ${MIN_PEOPLE - 1})::VARCHAR`)).getRowsJS();
  const [low, high] = row ?? [];
  return low === null || low === undefined || high === null || high === undefined ? null : { low: String(low), high: String(high) };
}

/**
 * The fewest distinct people (`entity`) among the rows of any tenth the deciles cut the column into
 * (below the first, between two, above the last; a decile's own value counts in the tenths on both
 * sides of it): a tenth of one person's rows would give the twin that person's values.
 */
async function fewestPeoplePerTenth(connection: DuckDBConnection, column: { name: string; type: string }, deciles: readonly string[], people: People): Promise<number> {
  const c = quoteIdentifier(column.name);
  const bound = (decile: string) => `CAST(${sqlString(decile)} AS ${column.type})`;
  const edges: (string | undefined)[] = [undefined, ...deciles, undefined];
  const counts = edges.slice(0, -1).map((low, t) => {
    const high = edges[t + 1];
    const within = [...(low === undefined ? [] : [`${c} >= ${bound(low)}`]), ...(high === undefined ? [] : [`${c} <= ${bound(high)}`])];
    return `count(DISTINCT ${people.key}) FILTER (WHERE ${within.join(' AND ')})`;
  });
  const [row] = (await connection.runAndReadAll(`SELECT ${counts.join(', ')} FROM ${people.from} WHERE ${c} IS NOT NULL`)).getRowsJS();
  return Math.min(...(row ?? [0]).map(Number));
}

/** People (identifiers) a figure of the profile must cover before the twin draws on it: the disclosure threshold. */
const MIN_PEOPLE = 10;

/**
 * Buckets of the rows-per-key histogram merged, from the heaviest down, until each holds at least
 * MIN_PEOPLE keys: a bucket of one key is that person's exact row count in its mean, which the
 * twin reproduces (red-team pass 20b). A histogram of fewer keys in all is one bucket.
 */
export function mergeSmallBuckets(buckets: readonly { upTo: number; keys: number; mean: number }[]): { upTo: number; keys: number; mean: number }[] {
  const merged: { upTo: number; keys: number; mean: number }[] = [];
  let pending: { upTo: number; keys: number; rows: number } | undefined;
  for (const bucket of [...buckets].reverse()) {
    const rows = bucket.keys * bucket.mean + (pending?.rows ?? 0);
    const keys = bucket.keys + (pending?.keys ?? 0);
    const upTo = pending?.upTo ?? bucket.upTo;
    if (keys >= MIN_PEOPLE) {
      merged.unshift({ upTo, keys, mean: rows / keys });
      pending = undefined;
    } else pending = { upTo, keys, rows };
  }
  if (pending) {
    const lowest = merged.shift();
    const keys = pending.keys + (lowest?.keys ?? 0);
    const rows = pending.rows + (lowest ? lowest.keys * lowest.mean : 0);
    merged.unshift({ upTo: lowest?.upTo ?? pending.upTo, keys, mean: rows / keys });
  }
  return merged;
}

/** Keys with (2^(b-1), 2^b] rows fall in bucket b; keys with one row in bucket 0. */
const BUCKET_SQL = 'CASE WHEN n = 1 THEN 0 ELSE CAST(ceil(log2(n)) AS INTEGER) END';

/**
 * Issue #10: what the dev twin needs to keep joins, measured here on the raw data in the trusted
 * process. For each identifier column of a join kind: its distinct normalized values and a coarse
 * histogram of rows per value, and for each column of the same kind in another dataset's current
 * version, the shares of distinct values and of rows found on the other side, both ways.
 * SECURITY: only rounded counts and rates leave this function, never a value or a hash of one.
 */
async function profileKeys(connection: DuckDBConnection, columns: ColumnProfile[], linkTo: LinkTarget[], entity: EntityContinuity): Promise<void> {
  const attached = new Map<string, string>();
  try {
    for (const column of columns) {
      const kind = column.pii?.kind;
      if (!isJoinKind(kind)) continue;
      const c = quoteIdentifier(column.name);
      await connection.run(`CREATE OR REPLACE TEMP TABLE __keys AS ${joinKeysSql(kind, c, 'data')}`);
      // SECURITY: rows per key capped at what the 10th-heaviest key reaches (everyone's at the
      // lightest's with fewer keys), as the ends of a column are: one patient's 1,000 visits merged
      // into the 3-visit bucket made its mean 14.7, and the twin repeated it (red-team pass 25b).
      // SECURITY: the cap is the 10th-heaviest person's count rounded down to one significant figure
      // when 10 or more (37 and 41 visits gave the twin's heavy entities 37 and 41 rows exactly,
      // red-team pass 41b; 30 and 40 now stand for ten counts each). Below 10 it is the count itself.
      const tenth = `coalesce((SELECT n FROM __keys ORDER BY n DESC LIMIT 1 OFFSET ${MIN_PEOPLE - 1}), (SELECT min(n) FROM __keys))`;
      const cap = `(SELECT CASE WHEN t < 10 THEN t ELSE CAST(floor(t / 10 ** floor(log10(t))) * 10 ** floor(log10(t)) AS BIGINT) END FROM (SELECT ${tenth} AS t))`;
      const buckets = mergeSmallBuckets((await connection.runAndReadAll(`SELECT ${BUCKET_SQL} AS b, count(*), avg(n) FROM (SELECT least(n, ${cap}) AS n FROM __keys) GROUP BY b ORDER BY b`)).getRowsJS()
        .map(([b, keys, mean]) => ({ upTo: 2 ** Number(b), keys: Number(keys), mean: Number(mean) })));
      const distinct = buckets.reduce((sum, b) => sum + b.keys, 0);
      column.keys = {
        distinct: roundCount(distinct),
        rowsPerKey: buckets.map((b) => ({ upTo: b.upTo, share: roundRate(b.keys / distinct), mean: Math.round(b.mean * 10) / 10 })),
      };
      column.links = [];
      for (const target of linkTo) {
        for (const other of target.columns.filter((o) => o.kind === kind)) {
          const where = { dataset: target.dataset, version: target.version, column: other.name };
          // SECURITY: a pair is measured once: two versions one person apart measured afresh moved dev's
          // overlap by that person (a resident who left was an HIV patient: red-team pass 37b).
          const known = knownLink(target, other.name, column.name, kind, columns, entity);
          if (known) {
            column.links.push({ ...where, ...known.link });
            continue;
          }
          const alias = await attach(connection, attached, target);
          if (!alias) continue;
          // SECURITY: a rate over a few identifiers is those people's membership (the one person of a
          // watchlist, 1 of 1 in the visits): only rates over enough of them on both sides (pass 20b);
          // a pair withheld stays withheld (carried like a measured one).
          column.links.push({ ...where, ...(await measureOverlap(connection, kind, `${alias}.data`, other.name) ?? WITHHELD_LINK) });
        }
      }
    }
  } finally {
    await connection.run('DROP TABLE IF EXISTS __keys');
    for (const alias of attached.values()) await connection.run(`DETACH ${alias}`);
  }
}

/** The entity column of the version being ingested and of the version before it (undefined: none). */
interface EntityContinuity {
  now: string | undefined;
  before: string | undefined;
}

/**
 * The pair's link carried forward: the one of this column; else, for this version's entity column,
 * the link of the previous version's entity column (the column that continues it, renamed or not,
 * beside other columns of its kind: a guardian's resident ID beside the renamed `id_no` had the
 * pair measured afresh, pass 39a); else, when this version has one column of the kind and the pair
 * one link of it, that link whatever the column was called (a renamed identifier column measured
 * afresh moved dev's overlap by the one person who left: pass 38a).
 */
function knownLink(target: LinkTarget, other: string, column: string, kind: JoinKind, columns: readonly ColumnProfile[], entity: EntityContinuity): NonNullable<LinkTarget['known']>[number] | undefined {
  const ofPair = (target.known ?? []).filter((k) => k.other === other);
  const named = ofPair.find((k) => k.column === column);
  if (named) return named;
  const continued = column === entity.now ? ofPair.find((k) => k.column === entity.before && k.kind === kind) : undefined;
  if (continued) return continued;
  const ofKind = ofPair.filter((k) => k.kind === kind);
  return ofKind.length === 1 && columns.filter((c) => c.pii?.kind === kind).length === 1 ? ofKind[0] : undefined;
}

/** Attaches another dataset's raw file read-only, once; undefined when it cannot be opened (then no link is measured). */
async function attach(connection: DuckDBConnection, attached: Map<string, string>, target: LinkTarget): Promise<string | undefined> {
  const known = attached.get(target.path);
  if (known) return known;
  const alias = `__other${attached.size}`;
  try {
    await connection.run(`ATTACH ${sqlString(target.path)} AS ${alias} (READ_ONLY)`);
  } catch {
    return undefined;
  }
  attached.set(target.path, alias);
  return alias;
}

/** A pair whose overlap or a part outside it is 1 to 9 identifiers: disjoint in the twins. */
const WITHHELD_LINK = { distinctHere: 0, distinctThere: 0, rowsHere: 0, rowsThere: 0, withheld: true } as const;

/** Overlap of `__keys` (this column) with a column of another dataset, as rounded shares. */
async function measureOverlap(connection: DuckDBConnection, kind: JoinKind, table: string, name: string): Promise<Omit<KeyLink, 'dataset' | 'version' | 'column'> | undefined> {
  const c = quoteIdentifier(name);
  const [row] = (await connection.runAndReadAll(`WITH b AS (${joinKeysSql(kind, c, table)})
    SELECT count(a.k), count(b.k), count(*) FILTER (WHERE a.k IS NOT NULL AND b.k IS NOT NULL),
      coalesce(sum(a.n), 0), coalesce(sum(a.n) FILTER (WHERE b.k IS NOT NULL), 0), coalesce(sum(b.n), 0), coalesce(sum(b.n) FILTER (WHERE a.k IS NOT NULL), 0)
    FROM __keys a FULL OUTER JOIN b ON a.k = b.k`)).getRowsJS();
  const [here, there, both, rowsHere, matchedHere, rowsThere, matchedThere] = (row ?? []).map(Number);
  // SECURITY: every part the rates describe (the overlap, and what lies outside it on either side)
  // is none or 10 identifiers or more: an overlap of one person among 10 and 200 was placed in the
  // twins as one shared entity (pass 21a).
  const parts = [both!, here! - both!, there! - both!];
  if (!here || !there || here < MIN_PEOPLE || there < MIN_PEOPLE || parts.some((n) => n > 0 && n < MIN_PEOPLE)) return undefined;
  return {
    distinctHere: roundRate(both! / here), distinctThere: roundRate(both! / there),
    rowsHere: roundRate(matchedHere! / rowsHere!), rowsThere: roundRate(matchedThere! / rowsThere!),
  };
}
