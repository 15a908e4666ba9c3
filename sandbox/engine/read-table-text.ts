import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { DomainError } from '../../core/errors.js';
import { quoteIdentifier, sqlString } from '../../desensitize/index.js';
import { convertXlsx } from '../upload/convert-xlsx.js';

/**
 * A table file of any delivered format (CSV, Parquet or XLSX, known by its first bytes, not its
 * name) as text cells: what `trace` compares, so that a value reads the same whichever format
 * carried it (a DOUBLE as its shortest decimal text, a DECIMAL with its scale). Workbooks are read
 * by the upload path's guarded child process (`convert-xlsx.ts`: archive checks, memory and time
 * limits), since a leaked file is untrusted. In-memory DuckDB of the caller's own; nothing is
 * written but a temporary CSV for a workbook, removed before returning.
 */
export interface TextTable {
  format: 'csv' | 'parquet' | 'xlsx';
  columns: string[];
  rows: (string | null)[][];
}

/** Rows read at most: a trace needs a sample of a file, not all of a huge one. */
export const TRACE_MAX_ROWS = 2_000_000;
/** Cells read at most (rows × columns): 2M rows of 40 columns took 80 s and 5.9 GB (red-team pass 14b). */
const TRACE_MAX_CELLS = 20_000_000;
/** A file larger than this is refused: a leaked part of it suffices (and Node reads no file over 2 GiB whole). */
const TRACE_MAX_BYTES = 1024 ** 3;
const XLSX_MAX_COLUMNS = 1_000;

export function sniffTableFormat(file: string): TextTable['format'] {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    const read = fs.readSync(fd, head, 0, 4, 0);
    if (read === 4 && head.toString('latin1') === 'PAR1') return 'parquet';
    if (read >= 2 && head[0] === 0x50 && head[1] === 0x4b) return 'xlsx';
    return 'csv';
  } finally {
    fs.closeSync(fd);
  }
}

export async function readTableText(file: string): Promise<TextTable> {
  if (fs.statSync(file).size > TRACE_MAX_BYTES) throw new DomainError('EXP_ERR_TRACE_UNREADABLE', `the file is larger than ${TRACE_MAX_BYTES / 1024 ** 3} GiB: trace a part of it (a tenth of the rows suffices)`);
  const format = sniffTableFormat(file);
  const encoding = format === 'csv' ? await textEncoding(file) : undefined;
  if (format === 'parquet') return { format, ...await readWithDuckDb(file, format) };
  if (format === 'csv' && encoding === 'utf-8') return { format, ...await readWithDuckDb(file, format) };
  const temp = fs.mkdtempSync(path.join(os.tmpdir(), 'indomain-trace-'));
  try {
    const csv = path.join(temp, 'sheet.csv');
    if (format === 'xlsx') await convertXlsx(file, csv, { maxColumns: XLSX_MAX_COLUMNS, owner: 'trace' });
    // DuckDB reads UTF-8 only: other encodings are copied to UTF-8 first (red-team passes 28b, 29a).
    else await transcode(file, csv, encoding!);
    return { format, ...await readWithDuckDb(csv, 'csv') };
  } finally {
    fs.rmSync(temp, { recursive: true, force: true });
  }
}

/**
 * A text file's encoding: UTF-16 by its byte order mark (Excel's and WPS's "Unicode 文本"), UTF-8
 * when it is valid UTF-8 (read as a stream), else GB18030 (GBK's superset: what they save as
 * "CSV (逗号分隔)" on a Chinese system).
 */
async function textEncoding(file: string): Promise<'utf-8' | 'utf-16le' | 'utf-16be' | 'gb18030'> {
  const head = Buffer.alloc(2);
  const fd = fs.openSync(file, 'r');
  try {
    fs.readSync(fd, head, 0, 2, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
  if (head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    for await (const chunk of fs.createReadStream(file)) decoder.decode(chunk as Buffer, { stream: true });
    decoder.decode();
    return 'utf-8';
  } catch {
    return 'gb18030';
  }
}

/** Copies a text file in `encoding` to UTF-8, as a stream. */
async function transcode(from: string, to: string, encoding: string): Promise<void> {
  const decoder = new TextDecoder(encoding);
  const out = fs.openSync(to, 'w');
  try {
    for await (const chunk of fs.createReadStream(from)) fs.writeSync(out, decoder.decode(chunk as Buffer, { stream: true }));
    fs.writeSync(out, decoder.decode());
  } finally {
    fs.closeSync(out);
  }
}

async function readWithDuckDb(file: string, format: 'csv' | 'parquet'): Promise<Omit<TextTable, 'format'>> {
  const instance = await DuckDBInstance.create(':memory:', { threads: '1', memory_limit: '1024MB', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
  const connection = await instance.connect();
  try {
    const source = format === 'parquet'
      ? `read_parquet(${sqlString(file)})`
      : `read_csv(${sqlString(file)}, all_varchar = true, header = true)`;
    const described = (await connection.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowsJS() as [string, string][];
    const columns = described.map(([name]) => name);
    if (columns.length === 0) return { columns, rows: [] };
    const select = columns.map((name) => `CAST(${quoteIdentifier(name)} AS VARCHAR)`).join(', ');
    const reader = await connection.runAndReadAll(`SELECT ${select} FROM ${source} LIMIT ${Math.min(TRACE_MAX_ROWS, Math.floor(TRACE_MAX_CELLS / columns.length))}`);
    return { columns, rows: reader.getRowsJS() as (string | null)[][] };
  } catch (error) {
    if (error instanceof DomainError) throw error;
    // Not DuckDB's message: a parse error quotes the file's content.
    throw new DomainError('EXP_ERR_TRACE_UNREADABLE', 'the file cannot be read as a CSV, Parquet or XLSX table');
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
