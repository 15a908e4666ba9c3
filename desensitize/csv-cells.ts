/**
 * CSV injection (OWASP "CSV Injection"): a spreadsheet opening a CSV runs a cell starting with `=`,
 * `+`, `-` or `@` (and, in some versions, a tab or carriage return) as a formula, which can fetch
 * URLs or run commands on the recipient's machine. Such a cell is prefixed with a single quote, which
 * Excel and WPS show as text. Applied to text cells only: a cell of a numeric column (`-3`, `1e5`)
 * is a number to the spreadsheet, never a formula, and stays as it is.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

export function neutralizeCsvCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/**
 * The same rule as DuckDB SQL over a text expression (RE2 reads `\t` and `\r` in the pattern; DuckDB
 * string literals keep backslashes as they are).
 */
export function neutralizeCsvCellSql(textExpression: string): string {
  return `CASE WHEN regexp_matches(${textExpression}, '^[=+\\-@\\t\\r]') THEN '''' || ${textExpression} ELSE ${textExpression} END`;
}
