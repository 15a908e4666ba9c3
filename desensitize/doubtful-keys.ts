import { datePrefixSql } from './identifiers.js';
import { onText } from './policy.js';
import { quoteIdentifier, sqlString, twoStepSelect, type SqlRule } from './sql.js';
import { hmacSha256HexSql, isEntityKeySql, TOKEN_HEX_CHARS, tokenNormalization, type TokenNormalization } from './tokens.js';

/**
 * Entity keys that are no one person's for sure, judged over the whole domain. An entity key is the
 * domain's (one HMAC of the normalized identifier in every dataset), so a key shared by several
 * people anywhere is shared everywhere: publish makes its rows keyless in every table
 * (`splitEntityKeys`, sandbox/engine/publish.ts; docs/sandbox.md, "Rows without a key").
 *
 * What tells: things one person has only one of, its witnesses: a birth date, and (for any
 * identifier but a resident ID itself) a resident ID. An identifier is doubtful when the rows that
 * carry it, in any of its columns of any dataset, disagree on a witness of one kind or lack it on
 * one row: a clerk's mobile beside 12 walk-ins' birth dates or resident IDs (or beside 12 `未登记`),
 * a market's credit code beside 12 stall holders' resident IDs.
 *
 * SECURITY: a clerk's own mobile written for 12 counter payers counted as one person, so a cell
 * leaving out one of them left out "no one" and a difference of two answers gave that payer's
 * amount (red-team passes 28a, 30a). Judged one dataset and one entity column at a time it still
 * did: in a second dataset whose birth dates agreed (filled from the account, pass 31a), with one
 * row there and another date elsewhere, beside 12 resident IDs in a dataset keyed by them, once a
 * later version of the dataset no longer showed it (pass 32a), with the dates beside a column that
 * was not the entity, the resident IDs beside the entity, in a dataset keyed by credit codes (32b).
 */

/** A dataset version as the doubt reads it. */
export interface DoubtSource {
  /** Its raw table (an attached dataset file's `data`). */
  from: string;
  /**
   * Its identifier columns judged, with their kinds' normalization (entityNormalization): its entity
   * column and its other identifier columns of people (an enterprise's code beside a person's row,
   * an employer's, is no identifier of the row's entity).
   */
  identifiers: readonly IdentifierColumn[];
  /** Its birth-date columns, shown or not. */
  birthDates: readonly string[];
  /** Its resident-ID columns, shown or not. */
  residentIds: readonly string[];
  /** The day the version was ingested (YYYY-MM-DD): no one is born after it. */
  recordedOn: string;
}

export interface IdentifierColumn {
  column: string;
  normalization: TokenNormalization;
}

/**
 * The SQL of the doubtful keys (one column, `entity`, keyed like the entity keys with `key`), or
 * undefined when no source has an identifier beside a witness. Identifiers are compared normalized
 * (a mobile with +86, a 15-digit resident ID, a Gmail address with dots are the key they make) and
 * keyed at the end: an HMAC per doubtful value, not per row. A witness that is none (a missing,
 * unreadable or default birth date; a resident ID that is no key, such as `未登记`) counts as
 * disagreeing with the others, as the rows might be anyone's. A value that is no identifier (a
 * placeholder) may be judged too: it is keyless anyway.
 */
export function compileDoubtfulKeys(sources: readonly DoubtSource[], key: Buffer): string | undefined {
  const pairs: string[] = [];
  for (const source of sources) {
    const identifiers = source.identifiers.map((identifier, i) => ({ name: `i${i}`, ...normalized(identifier), how: identifier.normalization }));
    const dates = source.birthDates.map((name, i) => ({ name: `d${i}`, column: quoteIdentifier(name), rule: birthDateWitness(source.recordedOn) }));
    const ids = source.residentIds.map((name, i) => ({ name: `r${i}`, column: quoteIdentifier(name), rule: residentIdWitness }));
    // One struct per identifier and witness of the row: its value, the witness's kind and value.
    const structs = identifiers.flatMap((identifier) => [
      ...dates.map((d) => `{e: ${identifier.name}, k: 'birth date', w: CAST(${d.name} AS VARCHAR)}`),
      ...(identifier.how === 'resident_id' ? [] : ids.map((r) => `{e: ${identifier.name}, k: 'resident ID', w: ${r.name}}`)),
    ]);
    if (structs.length === 0) continue;
    pairs.push(`SELECT unnest([${structs.join(', ')}], recursive := true) FROM (${twoStepSelect([...identifiers, ...dates, ...ids], source.from)})`);
  }
  if (pairs.length === 0) return undefined;
  const doubtful = `SELECT DISTINCT e FROM (${pairs.join('\nUNION ALL\n')}) WHERE e <> '' GROUP BY e, k HAVING count(*) > 1 AND (count(w) < count(*) OR min(w) <> max(w))`;
  return `SELECT substr(${hmacSha256HexSql(key, 'e')}, 1, ${TOKEN_HEX_CHARS}) AS entity FROM (${doubtful})`;
}

/** An identifier column as its entity keys compare it: the kind's normalization, before the HMAC. */
function normalized({ column, normalization }: IdentifierColumn): { column: string; rule: SqlRule } {
  return { column: quoteIdentifier(column), rule: onText(tokenNormalization(normalization)) };
}

/** A resident ID as a witness: normalized as its entity keys are, none when it is no key (`未登记`, a placeholder). */
const residentIdWitness: SqlRule = onText({
  prepare: tokenNormalization('resident_id').prepare,
  finish: (prepared) => {
    const id = tokenNormalization('resident_id').finish(prepared);
    return `CASE WHEN ${isEntityKeySql(id, 'resident_id')} THEN ${id} END`;
  },
});

/**
 * A birth date as a witness: read as a date in the forms recognition knows (one person's date written
 * two ways is one date), and none (NULL) when unreadable or a form's default for "unknown": any 1
 * January, 1970-01-01, a date before 1901 or after the day the data was recorded (`recordedOn`,
 * YYYY-MM-DD: fixed per dataset version, so that the SQL, and the tables built with it, do not change
 * from day to day). SECURITY: twelve walk-ins under one clerk's mobile, all dated 1900-01-01 (pass
 * 30a) or 9999-12-31 (pass 31a), agreed and counted as one person.
 */
function birthDateWitness(recordedOn: string): SqlRule {
  return {
    prepare: (column) => datePrefixSql(`CAST(${column} AS VARCHAR)`),
    finish: (date) => `CASE WHEN ${date} < DATE '1901-01-01' OR ${date} > DATE ${sqlString(recordedOn)} OR ${date} = DATE '1970-01-01' OR (month(${date}) = 1 AND day(${date}) = 1) THEN NULL ELSE ${date} END`,
  };
}
