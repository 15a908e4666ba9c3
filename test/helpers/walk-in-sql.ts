/**
 * SQL fragments of the red-team files that attack shared keys (30a onwards): 150 payers (`p`) and
 * a clerk's 12 walk-ins (`i`), from which each file crafts its datasets.
 */

/** The payers (`p`, 0–149) and the walk-ins (`i`, 0–11), as FROM items. */
export const PEOPLE = '(SELECT range AS p FROM range(150))';
export const WALK_INS = '(SELECT range AS i FROM range(12))';
/** A payer's birth date and payment. */
export const BORN = `DATE '1970-01-01' + CAST((p * 97) % 14000 AS INTEGER)`;
export const AMOUNT = `CAST(100 + (p * 37) % 50 AS DECIMAL(10,2))`;
/** Twelve walk-ins' own birth dates, all different and none a 1 January (which the witness reads as none). */
export const OWN = `DATE '1952-02-03' + CAST(i * 29 AS INTEGER)`;
/** A walk-in's payment: the victim (the first walk-in) paid `amount`, the others 81–91. */
export const victimAmount = (amount: number): string => `CAST(CASE WHEN i = 0 THEN ${amount} ELSE 80 + i END AS DECIMAL(10,2))`;
/** A reference number: a letter and six digits of `n`. */
export const ref = (letter: string, n: string): string => `'${letter}' || lpad(CAST(${n} AS VARCHAR), 6, '0')`;
/**
 * A clerk's own identifier written for the 12 walk-ins, as rows of (identifier, reference, district,
 * birth date, amount): dated from the identifier's account (`account`, the same for all 12: they
 * agree), the first walk-in paying `amount`.
 */
export const clerkWalkIns = (clerk: string, letter: string, district: string, account: string, amount: number): string =>
  `SELECT '${clerk}', ${ref(letter, 'i')}, '${district}', DATE '${account}', ${victimAmount(amount)} FROM ${WALK_INS}`;
/** A passport number of no placeholder's shape: a letter and eight digits of `n`. */
export const passportOf = (letter: string, n: string): string => `'${letter}' || lpad(CAST(10000000 + (${n} * 7919) % 89999999 AS VARCHAR), 8, '0')`;
/**
 * A dataset of `columns`: the payers' rows (their mobile `payerMobile`, then `payers`) and the 12
 * walk-ins' rows under the clerk's identifier `clerk` (then `walkInValues`).
 */
export const beside = (columns: string, payers: string, clerk: string, walkInValues: string, payerMobile: string): string => `SELECT ${columns} FROM (
    SELECT ${payerMobile}, ${payers} FROM ${PEOPLE}
    UNION ALL SELECT '${clerk}', ${walkInValues} FROM ${WALK_INS}) t(${columns})`;
/** How many distinct values `column` holds on the rows of `sql` whose `key` is `value` (SQL), read from the truth. */
export async function distinctUnder(real: (sql: string) => Promise<Record<string, unknown>[]>, sql: string, key: string, value: string, column: string): Promise<number> {
  return Number((await real(`SELECT count(DISTINCT ${column}) AS n FROM (${sql}) WHERE ${key} = ${value}`))[0]!.n);
}
