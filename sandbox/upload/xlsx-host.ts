/**
 * A short-lived child process of the API server that turns one uploaded .xlsx workbook into a
 * UTF-8 CSV (comma, RFC 4180 quoting, first row the header), which the CSV path then reads like
 * any other upload. Started by `convert-xlsx.ts` with a capped heap; receives one request over IPC,
 * answers `{ok, value}` or `{ok: false, code, message}`, and exits. Whatever a malicious workbook
 * does here (exhaust the heap, spin, crash the parser) ends this process only, never the server.
 */
import fs from 'node:fs';
import { readSheet } from 'read-excel-file/node';
import { isDomainError, DomainError } from '../../core/errors.js';
import { sheetSpan, worksheetPath } from './sheet-span.js';
import { checkZip, type ZipLimits } from './zip-check.js';

export interface XlsxRequest {
  input: string;
  output: string;
  /** A sheet name, or its 1-based position; the first sheet when absent. */
  sheet?: string;
  limits: ZipLimits & { maxColumns: number; maxCells: number };
}

export interface XlsxResult {
  rows: number;
  columns: number;
}

type Cell = string | number | boolean | Date | null;

// The kernel's OOM killer picks this process before the server if memory ever runs out.
try {
  fs.writeFileSync('/proc/self/oom_score_adj', '1000');
} catch {
  // Not Linux, or not allowed: the heap cap and the parent's memory watch remain.
}

process.once('message', (request: XlsxRequest) => {
  convert(request).then(
    (value) => reply({ ok: true, value }),
    (error: unknown) => reply(isDomainError(error)
      ? { ok: false, code: error.code, message: error.message }
      : { ok: false, code: 'UPL_ERR_MALFORMED', message: `the file is not a readable .xlsx workbook: ${describe(error)}` }),
  );
});

function reply(message: unknown): void {
  process.send!(message, () => process.exit(0));
}

async function convert(request: XlsxRequest): Promise<XlsxResult> {
  // SECURITY: every entry is inflated under its declared size and the total bounded before the
  // workbook reader (which trusts the sizes in the archive) sees the file.
  const entries = checkZip(fs.readFileSync(request.input), request.limits, (name) => name === 'xl/workbook.xml' || name === 'xl/_rels/workbook.xml.rels' || /^xl\/worksheets\/[^/]+\.xml$/.test(name));
  const entryText = (name: string) => entries.find((e) => e.name === name)?.content?.toString('utf8');
  const workbook = entryText('xl/workbook.xml');
  if (workbook === undefined) throw new DomainError('UPL_ERR_MALFORMED', 'the file is a ZIP archive but not an .xlsx workbook (no xl/workbook.xml)');
  const sheet = request.sheet === undefined ? undefined : /^[1-9][0-9]{0,3}$/.test(request.sheet) ? Number(request.sheet) : request.sheet;
  // SECURITY: the reader builds a dense grid: a sheet spanning past the limits is refused before it.
  const target = worksheetPath(workbook, entryText('xl/_rels/workbook.xml.rels') ?? '', sheet);
  // When the sheet cannot be told from the workbook (the reader will then refuse it), every sheet is held to the limits.
  for (const entry of entries.filter((e) => e.content && (target === undefined ? /^xl\/worksheets\//.test(e.name) : e.name === target))) {
    const span = sheetSpan(entry.content!.toString('utf8'));
    if (span.columns > request.limits.maxColumns) throw new DomainError('UPL_ERR_TOO_MANY_COLUMNS', `the sheet has cells in column ${span.columns}; at most ${request.limits.maxColumns} columns`);
    if (span.rows * span.columns > request.limits.maxCells) {
      throw new DomainError('UPL_ERR_XLSX_TOO_LARGE', `the sheet spans ${span.rows} rows × ${span.columns} columns; at most ${request.limits.maxCells} cells are read from a workbook: split it, or save it as CSV`);
    }
  }
  let rows: Cell[][];
  try {
    rows = (await readSheet(request.input, sheet as string | number)) as unknown as Cell[][];
  } catch (error) {
    if ((error as Error).name === 'SheetNotFoundError') {
      const sheets = ((error as { sheets?: string[] }).sheets ?? []).slice(0, 20).map((s) => JSON.stringify(s)).join(', ');
      throw new DomainError('UPL_ERR_SHEET_NOT_FOUND', `the workbook has no sheet ${JSON.stringify(request.sheet)}; its sheets are ${sheets || 'numbered from 1'}`);
    }
    throw error;
  }
  const [header, ...data] = rows;
  if (!header || header.every((cell) => cell === null)) throw new DomainError('UPL_ERR_EMPTY', 'the sheet is empty: its first row must name the columns');
  if (header.length > request.limits.maxColumns) throw new DomainError('UPL_ERR_TOO_MANY_COLUMNS', `row 1: ${header.length} columns; at most ${request.limits.maxColumns}`);
  // Government sheets often keep blank rows between blocks: they are not records.
  const records = data.filter((row) => row.some((cell) => cell !== null));
  const withTime = header.map((_, k) => records.some((row) => row[k] instanceof Date && hasTime(row[k])));
  const out = fs.openSync(request.output, 'w', 0o600);
  try {
    let buffer = `${header.map((cell) => csvField(cell === null ? '' : text(cell, false))).join(',')}\n`;
    for (const row of records) {
      if (row.length > header.length) throw new DomainError('UPL_ERR_BAD_HEADER', `row 1: column ${header.length + 1} has values below it but no name`);
      buffer += `${header.map((_, k) => { const cell = row[k] ?? null; return cell === null ? '' : csvField(text(cell, withTime[k]!)); }).join(',')}\n`;
      if (buffer.length > 1 << 20) {
        fs.writeSync(out, buffer);
        buffer = '';
      }
    }
    fs.writeSync(out, buffer);
  } finally {
    fs.closeSync(out);
  }
  return { rows: records.length, columns: header.length };
}

/**
 * A cell as the CSV path's type inference expects it: integers and decimals as digits, dates as
 * YYYY-MM-DD (or YYYY-MM-DD HH:MM:SS when any date of the column has a time), booleans as
 * true/false. Numbers keep JavaScript's shortest round-trip form, so 0.1 stays 0.1.
 */
function text(cell: Exclude<Cell, null>, timestamp: boolean): string {
  if (cell instanceof Date) {
    if (Number.isNaN(cell.getTime())) return '';
    const ms = snapToSecond(cell.getTime());
    const iso = new Date(ms).toISOString();
    return timestamp ? `${iso.slice(0, 10)} ${iso.slice(11, ms % 1000 === 0 ? 19 : 23)}` : iso.slice(0, 10);
  }
  return String(cell);
}

function hasTime(date: Date): boolean {
  return snapToSecond(date.getTime()) % 86_400_000 !== 0;
}

/**
 * Excel keeps a time as a fraction of a day, which the reader turns into milliseconds rounding
 * down: 09:30 arrives as 09:29:59.999. Within a millisecond of a whole second is that second.
 */
function snapToSecond(ms: number): number {
  const second = Math.round(ms / 1000) * 1000;
  return Math.abs(ms - second) <= 1 ? second : ms;
}

function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function describe(error: unknown): string {
  const message = String((error as Error)?.message ?? error).split('\n')[0]!.slice(0, 200);
  return message || 'it could not be parsed';
}
