/**
 * How a delimited text file is written: its field delimiter and how quoted fields escape a quote.
 * Sniffed by trusted code in the server from the start of the file, then handed to DuckDB
 * explicitly (`auto_detect = false`): what reads the file is exactly what was decided, and DuckDB's
 * own sniffer (native code on untrusted bytes, and lenient: docs/decisions.md) never runs on it.
 * Pure: no I/O.
 */

/** Delimiters government and office exports use, in the order a tie is broken. */
export const DELIMITERS = [',', ';', '\t', '|'] as const;
export type Delimiter = (typeof DELIMITERS)[number];

/**
 * Inside a quoted field, a quote is written doubled (`""`, RFC 4180, Excel) or after a backslash
 * (`\"`, MySQL and some Java exports). The quote itself is always `"`: nothing else is in use.
 */
export const ESCAPES = ['"', '\\'] as const;
export type Escape = (typeof ESCAPES)[number];

export interface CsvDialect {
  delimiter: Delimiter;
  escape: Escape;
}

export const DEFAULT_DIALECT: CsvDialect = { delimiter: ',', escape: '"' };

/** Records read to decide; the header plus this many rows is plenty to tell delimiters apart. */
const SNIFF_RECORDS = 200;

/**
 * The records of `text` under a dialect (at most `maxRecords`), or null when the text does not
 * parse under it: a character between a closing quote and the next delimiter, or (when `complete`)
 * a quote left open at the end. When the text is only the start of a file (`complete` false) the
 * last record may be cut and is dropped. Line ends are \n or \r\n; quoted fields may span lines.
 */
export function parseRecords(text: string, dialect: CsvDialect, options: { complete: boolean; maxRecords: number }): string[][] | null {
  const { delimiter, escape } = dialect;
  const records: string[][] = [];
  let fields: string[] = [];
  let field = '';
  let quoted = false;
  let closed = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    fields.push(field);
    records.push(fields);
    fields = [];
    field = '';
    closed = false;
  };
  for (; i < text.length && records.length < options.maxRecords; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === escape && escape !== '"' && (text[i + 1] === '"' || text[i + 1] === escape)) {
        field += text[i + 1];
        i += 1;
      } else if (ch === '"' && text[i + 1] === '"' && escape === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') {
        quoted = false;
        closed = true;
      } else field += ch;
    } else if (ch === delimiter) {
      fields.push(field);
      field = '';
      closed = false;
    } else if (ch === '\n' || (ch === '\r' && text[i + 1] === '\n')) {
      if (ch === '\r') i += 1;
      endRecord();
    } else if (closed) {
      // `"a"b`: text after a closing quote means the quote was not one under this dialect.
      return null;
    } else if (ch === '"' && field === '') quoted = true;
    else field += ch;
  }
  if (records.length >= options.maxRecords) return records;
  if (quoted && options.complete) return null;
  // The rest is a last record without a line end (complete), or a record cut by the sample's end.
  if (options.complete && (field !== '' || fields.length > 0 || closed)) endRecord();
  return records;
}

/**
 * The dialect of a file from its start (`sample`; `complete` when it is the whole file): among the
 * delimiters and escapes that parse, the one giving every record the same number of fields, and
 * the most fields; ties go to the comma and to RFC 4180 quoting. A file whose records never split
 * (one column) is read as comma-separated.
 */
export function sniffDialect(sample: string, complete: boolean): CsvDialect {
  let best: { dialect: CsvDialect; fields: number; consistent: number } | undefined;
  for (const escape of ESCAPES) {
    for (const delimiter of DELIMITERS) {
      const dialect = { delimiter, escape };
      // A quote left open at the end is the strict read's to report (with its line): decide on the rest.
      const records = parseRecords(sample, dialect, { complete, maxRecords: SNIFF_RECORDS })
        ?? (complete ? parseRecords(sample, dialect, { complete: false, maxRecords: SNIFF_RECORDS }) : null);
      if (!records || records.length === 0) continue;
      const fields = records[0]!.length;
      // A delimiter that splits nothing says nothing (every one-column reading is consistent).
      if (fields < 2) continue;
      // Records agreeing with the header: all of them for a well-formed file; a ragged row still
      // leaves the right delimiter ahead, and the strict read then names that row.
      const consistent = records.filter((r) => r.length === fields).length / records.length;
      const better = !best || consistent > best.consistent || (consistent === best.consistent && fields > best.fields);
      if (better) best = { dialect, fields, consistent };
    }
  }
  return best?.dialect ?? DEFAULT_DIALECT;
}

/** How the dialect is named in messages and the audit: `comma`, `semicolon`, `tab`, `pipe`. */
export function delimiterName(delimiter: Delimiter): string {
  return { ',': 'comma', ';': 'semicolon', '\t': 'tab', '|': 'pipe' }[delimiter];
}
