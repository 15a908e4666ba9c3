/**
 * CSV injection (OWASP "CSV Injection"): a spreadsheet opening a CSV runs a cell starting with `=`,
 * `+`, `-` or `@` (and, in some versions, a tab, carriage return, line feed or NUL) as a formula,
 * which can fetch URLs or run commands on the recipient's machine. Such a cell is prefixed with a
 * single quote, which Excel and WPS show as text. So is every such character that follows a `,`, `;`,
 * tab, carriage return or line feed inside a cell: where `;` is the list separator (European
 * locales), Excel and WPS split the line there, and a quoted CSV field does not stop it (red-team
 * pass 14b: `a;=HYPERLINK(...)` became a formula cell); text pasted into a sheet, or read as
 * tab-separated, is split at tabs and line ends (pass 17b: `a<TAB>=HYPERLINK(...)`). Applied to text
 * cells only: a cell of a numeric column (`-3`, `1e5`) is a number to the spreadsheet, never a
 * formula, and stays as it is. `restoreCsvCell` undoes it (for `trace`).
 */
const FORMULA_START = /(?<=^|[;,\t\r\n])(?=[=+\-@\t\r\n\0])/g;

export function neutralizeCsvCell(value: string): string {
  return value.replace(FORMULA_START, "'");
}

/** The cell as it was before `neutralizeCsvCell`. */
export function restoreCsvCell(value: string): string {
  return value.replace(/(?<=^|[;,\t\r\n])'(?=[=+\-@\t\r\n\0])/g, '');
}

/**
 * The same rule as DuckDB SQL over a text expression (RE2 reads `\t` and `\r` in the pattern; DuckDB
 * string literals keep backslashes as they are). RE2 has no lookahead, so a match takes the
 * character it prefixes, which may itself start the next pair (a tab before `=`): a second pass
 * prefixes those. Each pass prefixes every other pair of a run, so two give what the lookahead does.
 */
export function neutralizeCsvCellSql(textExpression: string): string {
  const pass = (text: string) => `regexp_replace(${text}, '(^|[;,\\t\\r\\n])([=+\\-@\\t\\r\\n\\x00])', '\\1''\\2', 'g')`;
  return pass(pass(textExpression));
}
