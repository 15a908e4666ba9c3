import type { DuckDBConnection } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { entityCandidates, isNumberType, personNumberColumns, isTemporalType, normalizedKeysSql, quoteIdentifier, type Recognition } from '../../desensitize/index.js';

/**
 * Who a dataset's rows are about, for ingest (issue #11: "the dataset's resident-ID or USCC column,
 * declared in the catalog, defaulting from recognition"): which column people are counted on, how
 * its values are compared, and the profile figures counted in people rather than rows. Runs in the
 * trusted ingest's DuckDB connection over its `data` table.
 */

/** The column-level figures this module sets on a profile. */
interface CountedColumn {
  name: string;
  nullShare: number;
  nullPeople?: { valued: number; nulls: number };
}

/** Sets `nullPeople` on every column with some nulls: one pass grouped by person for all of them. */
export async function countNullPeople(connection: DuckDBConnection, columns: CountedColumn[], people: People): Promise<void> {
  const partial = columns.filter((c) => c.nullShare > 0 && c.nullShare < 1);
  if (partial.length === 0) return;
  const flags = partial.map((c, j) => `bool_or(${quoteIdentifier(c.name)} IS NOT NULL) AS v${j}, bool_or(${quoteIdentifier(c.name)} IS NULL) AS n${j}`);
  const counts = partial.map((_, j) => `count(*) FILTER (WHERE v${j}), count(*) FILTER (WHERE n${j})`);
  const [row = []] = (await connection.runAndReadAll(
    `SELECT ${counts.join(', ')} FROM (SELECT ${flags.join(', ')} FROM ${people.from} WHERE ${people.key} IS NOT NULL GROUP BY ${people.key})`,
  )).getRowsJS();
  partial.forEach((c, j) => (c.nullPeople = { valued: Number(row[2 * j] ?? 0), nulls: Number(row[2 * j + 1] ?? 0) }));
}

/** Kinds whose values are never numbers (every other kind may be: IDs, codes, phone and card numbers, YYYYMMDD birth dates). */
const TEXT_ONLY_KINDS: ReadonlySet<string> = new Set(['free_text', 'name', 'address', 'email', 'plate']);

/**
 * Recognition judges values as text; a kind that cannot be held by the column's type is no finding:
 * a column of BMI values (DOUBLE) whose digits passed Luhn was "free text", and its twin of
 * generated sentences failed to build for good (red-team pass 23a).
 */
export function fitsType(recognition: Recognition | null, type: string): Recognition | null {
  if (!recognition) return null;
  if (isTemporalType(type)) return recognition.kind === 'birth_date' ? recognition : null;
  if (isNumberType(type)) return TEXT_ONLY_KINDS.has(recognition.kind) ? null : recognition;
  // Text, and any other type (an ENUM of names): recognition stands.
  return recognition;
}

/** Recognized kinds that can hold the same value for many people: never the column people are counted on. */
const NOT_AN_ENTITY: ReadonlySet<string> = new Set(['name', 'address', 'free_text', 'birth_date']);

/** The column a dataset version counts people on, and its kind (recognized, or `subject_id` when named). */
export interface EntityColumn {
  column: string;
  kind: string;
}

/** Where a dataset's people are counted: the relation to read and its key expression (the normalized identifier). */
export interface People {
  from: string;
  key: string;
}

/** The key column of `__people`, the dataset's rows with their person's normalized identifier. */
const PERSON_KEY = quoteIdentifier('__indomain_person_key');

/**
 * The dataset's people as the entity keys count them: the entity column normalized by its kind
 * (entityNormalization). SECURITY: counted on the raw text, one person whose ID was written 34 ways
 * was 34 people, and the twin copied their rare diagnosis and exact income (red-team pass 22a).
 * Distinct values are normalized once; when every value is already in its normal form (clean
 * data, the usual case) the column itself is the key, and no join is paid.
 */
export async function personKeys(connection: DuckDBConnection, column: string, kind: string): Promise<People> {
  const c = quoteIdentifier(column);
  await connection.run(`CREATE OR REPLACE TEMP TABLE __person_map AS SELECT __t, k FROM (${normalizedKeysSql(kind, c, 'data')})`);
  const [[differ] = [0]] = (await connection.runAndReadAll('SELECT count(*) FROM __person_map WHERE __t IS DISTINCT FROM k')).getRowsJS();
  if (Number(differ) === 0) {
    await connection.run('DROP TABLE __person_map');
    return { from: 'data', key: c };
  }
  await connection.run(`CREATE OR REPLACE TEMP VIEW __people AS SELECT data.*, m.k AS ${PERSON_KEY} FROM data LEFT JOIN __person_map m ON CAST(data.${c} AS VARCHAR) = m.__t`);
  return { from: '__people', key: PERSON_KEY };
}

/**
 * The column a version's people or enterprises are counted on (the issue's "declared in the catalog,
 * defaulting from recognition"): the one the supervisor names (any column but a name, address, note
 * or birth date); else the previous version's, where it is still there as the same kind; else
 * the only candidate (a recognized identifier, or a person's number by its header, personNumberColumns,
 * which then is a `subject_id`); else the strongest one when every other candidate names the same
 * entities (present on the same rows, and one value of each going with one value of the other, like a
 * resident's ID and mobile). Candidates that do not pair up may be about different people (a
 * patient's mobile and the prescriber's resident ID): counting on the wrong one let one patient's rare
 * diagnosis count as 10 "people" (red-team pass 21a), so the ingest is refused until one is named.
 */
export async function settleEntity(connection: DuckDBConnection, columns: { name: string; piiKind: string | null }[], declared: string | undefined, previous: EntityColumn | undefined): Promise<EntityColumn | undefined> {
  const settled = await settleEntityOfVersion(connection, columns, declared, previous);
  if (settled === undefined) return undefined;
  // A named column recognition knows nothing of (an outpatient number) is an identifier from now on,
  // of kind `subject_id`: tokenized by default, never in row-level answers (red-team pass 23a).
  const kind = columns.find((c) => c.name === settled)?.piiKind ?? 'subject_id';
  // SECURITY: entity keys are keyed hashes of one kind's values: counted on another kind, the same
  // person has other keys, and differencing against answers and releases over earlier versions
  // compared nobody (a payer's v1 total against v2's without them, red-team pass 23a).
  // A `subject_id` is an organization's own numbering: another column of that kind is another
  // numbering of the same people (医保号 after 住院号), other keys as surely (red-team pass 41a).
  if (previous && (kind !== previous.kind || (kind === 'subject_id' && settled !== previous.column))) {
    throw new DomainError('CAT_ERR_ENTITY_CHANGED', `the previous version counted people on "${previous.column}" (${previous.kind}); this one would count them on "${settled}" (${kind}), which earlier answers and releases cannot be compared with: name ${kind === previous.kind ? `"${previous.column}"` : `a ${previous.kind} column`} in \`entity\`, or ingest it as a new dataset`);
  }
  return { column: settled, kind };
}

/**
 * Candidates of one kind ordered by the rows whose value is an entity key (isEntityKey), most first,
 * kinds kept in their order: of a resident-ID column stored as DOUBLE (its last digits lost, so its
 * check characters wrong: no keys) and the same IDs as DECIMAL(20,0), people are counted on the
 * latter, not on whichever comes first in the file.
 */
async function mostKeyedFirst<T extends { name: string; piiKind: string | null }>(connection: DuckDBConnection, candidates: T[]): Promise<T[]> {
  if (new Set(candidates.map((c) => c.piiKind)).size === candidates.length) return candidates;
  const keyed = new Map<T, number>();
  for (const candidate of candidates) {
    const [[rows] = [0]] = (await connection.runAndReadAll(`SELECT coalesce(sum(__n) FILTER (WHERE k IS NOT NULL), 0) FROM (${normalizedKeysSql(candidate.piiKind ?? 'subject_id', quoteIdentifier(candidate.name), 'data')})`)).getRowsJS();
    keyed.set(candidate, Number(rows));
  }
  const kinds = [...new Set(candidates.map((c) => c.piiKind))];
  return kinds.flatMap((kind) => candidates.filter((c) => c.piiKind === kind).sort((a, b) => keyed.get(b)! - keyed.get(a)!));
}

async function settleEntityOfVersion(connection: DuckDBConnection, columns: { name: string; piiKind: string | null }[], declared: string | undefined, previous: EntityColumn | undefined): Promise<string | undefined> {
  if (declared !== undefined) {
    const column = columns.find((c) => c.name === declared);
    if (!column) throw new DomainError('CAT_ERR_ENTITY_COLUMN', 'the column named in `entity` is not in the file');
    // SECURITY: a name, an address, a note or a birth date is no key of one person: nothing is counted on it.
    if (column.piiKind !== null && NOT_AN_ENTITY.has(column.piiKind)) throw new DomainError('CAT_ERR_ENTITY_COLUMN', `column "${column.name}" holds ${column.piiKind.replace('_', ' ')}, which does not identify one person or enterprise`);
    return column.name;
  }
  // The previous version's column, where it is still there as the same kind, comes first: people
  // are counted as before, once the other identifiers pair with it (a version whose kept column now
  // holds the doctors' phones, beside the patients' new IDs, was counted on doctors, pass 24a).
  const kept = columns.find((c) => c.name === previous?.column && (c.piiKind === previous.kind || (previous.kind === 'subject_id' && c.piiKind === null)));
  // Recognized identifiers first, then a person's numbers by header (a 住院号): a number beside a
  // doctor's resident ID that does not pair with it refuses the ingest, as two identifiers do.
  const candidates = [...await mostKeyedFirst(connection, entityCandidates(columns).filter((c) => c !== kept)), ...personNumberColumns(columns).filter((c) => c !== kept)];
  const [first, ...others] = kept ? [kept, ...candidates] : candidates;
  if (!first || others.length === 0) return first?.name;
  const a = quoteIdentifier(first.name);
  const pairs = others.map((other) => {
    const b = quoteIdentifier(other.name);
    const both = `${a} IS NOT NULL AND ${b} IS NOT NULL`;
    // One to one where both are present, and present on the same rows: a second identifier recorded
    // on a few rows only (an elder's mobile at intake, beside the caregivers' IDs) paired one to one
    // on those and said nothing of the others (red-team pass 23a).
    return `count(*) FILTER ((${a} IS NULL) <> (${b} IS NULL)) = 0
      AND count(DISTINCT ${a}) FILTER (${both}) = count(DISTINCT (${a}, ${b})) FILTER (${both}) AND count(DISTINCT ${b}) FILTER (${both}) = count(DISTINCT (${a}, ${b})) FILTER (${both})`;
  });
  const [paired = []] = (await connection.runAndReadAll(`SELECT ${pairs.join(', ')} FROM data`)).getRowsJS();
  const apart = others.filter((_, i) => paired[i] !== true);
  // SECURITY: fail closed: with candidates that may be about different entities, nothing is counted on a guess.
  if (apart.length > 0) {
    throw new DomainError('CAT_ERR_ENTITY_AMBIGUOUS',
      `columns ${[first, ...apart].map((c) => `"${c.name}" (${c.piiKind ?? (c === kept ? previous?.kind : 'a person\'s number')})`).join(', ')} do not pair one to one on every row (a value of one goes with several of another, or one is missing where another is present), so they may be about different people or enterprises; name the column each row is about in the metadata's \`entity\``);
  }
  return first.name;
}
