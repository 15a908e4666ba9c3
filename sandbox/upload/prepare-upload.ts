import { isUtf8 } from 'node:buffer';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { DomainError } from '../../core/errors.js';
import { convertXlsx } from './convert-xlsx.js';
import { DEFAULT_DIALECT, parseRecords, sniffDialect, type CsvDialect, type Delimiter, type Escape } from './csv-dialect.js';

/**
 * What the engine needs to import an uploaded file: a Parquet file, or a UTF-8 delimited text file
 * with its dialect and header. A workbook arrives here already converted to such a file
 * (`source: 'xlsx'`); `bytes` and `sha256` are always those of the file as uploaded.
 */
export type PreparedUpload =
  | { format: 'parquet'; path: string; bytes: number; sha256: string }
  | {
    format: 'csv'; path: string; bytes: number; sha256: string; encoding: TextEncoding; columns: string[];
    delimiter: Delimiter; escape: Escape; source: 'csv' | 'xlsx';
  };

/** How an uploaded text file was encoded (it is read as UTF-8 after conversion). */
export type TextEncoding = 'utf-8' | 'gb18030' | 'utf-16le' | 'utf-16be';

export const UPLOAD_LIMITS = { maxColumns: 200, maxHeaderBytes: 64 * 1024 } as const;

const PARQUET_MAGIC = Buffer.from('PAR1');
/** A ZIP archive's first local header: how an .xlsx workbook begins. */
const ZIP_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);
/** An OLE2 compound file: legacy .xls, and password-protected .xlsx. */
const OLE2_MAGIC = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]);
const UTF16LE_BOM = Buffer.from([0xff, 0xfe]);
const UTF16BE_BOM = Buffer.from([0xfe, 0xff]);
const CHUNK_BYTES = 1 << 20;
/** How much of a text file the dialect is sniffed from. */
const SNIFF_BYTES = 256 * 1024;

/**
 * Trusted preparation of an uploaded file, outside any tenant engine: recognizes Parquet and .xlsx
 * by their magic bytes. A workbook is converted to CSV in a child process (`convert-xlsx.ts`: first
 * sheet, or `options.sheet`). Otherwise the file is delimited text: decoded strictly as UTF-8 or,
 * failing that, as UTF-16 when it starts with a byte order mark (Excel's "Unicode text") or as
 * GB18030 (a superset of GBK, common in government exports), into a UTF-8 copy;
 * its delimiter (comma, semicolon, tab, pipe) and quoting are sniffed (`csv-dialect.ts`) and its
 * header parsed. `utf8Path` is where a transcoded or converted copy goes; `owner` who waits for a
 * workbook's conversion (convertXlsx). Throws UPL_ERR_* for what the uploader can fix.
 */
export async function prepareUpload(rawPath: string, utf8Path: string, options: { sheet?: string | undefined; owner: string }): Promise<PreparedUpload> {
  const { size: bytes } = fs.statSync(rawPath);
  if (bytes === 0) throw new DomainError('UPL_ERR_EMPTY', 'the file is empty');
  // One read for the hash and the UTF-8 check: the file may be gigabytes.
  const { sha256, utf8 } = await hashAndCheckUtf8(rawPath);
  if (startsWith(rawPath, PARQUET_MAGIC)) return { format: 'parquet', path: rawPath, bytes, sha256 };
  if (startsWith(rawPath, OLE2_MAGIC)) {
    throw new DomainError('UPL_ERR_UNSUPPORTED_FORMAT', 'a legacy Excel file (.xls) or a password-protected workbook: save it as .xlsx without a password, or as CSV');
  }
  if (startsWith(rawPath, ZIP_MAGIC)) {
    await convertXlsx(rawPath, utf8Path, { sheet: options.sheet, maxColumns: UPLOAD_LIMITS.maxColumns, owner: options.owner });
    return { format: 'csv', path: utf8Path, bytes, sha256, encoding: 'utf-8', columns: readHeader(utf8Path, DEFAULT_DIALECT), ...DEFAULT_DIALECT, source: 'xlsx' };
  }

  let path = rawPath;
  let encoding: TextEncoding = 'utf-8';
  // Excel's "Unicode text" export: UTF-16 with a byte order mark (tab-separated).
  const utf16 = startsWith(rawPath, UTF16LE_BOM) ? 'utf-16le' : startsWith(rawPath, UTF16BE_BOM) ? 'utf-16be' : undefined;
  if (!utf8 && utf16) {
    try {
      await transcode(rawPath, utf8Path, utf16);
    } catch {
      throw new DomainError('UPL_ERR_ENCODING', `the file starts as UTF-16 (${utf16 === 'utf-16le' ? 'little' : 'big'}-endian) but is not valid UTF-16 text`);
    }
    path = utf8Path;
    encoding = utf16;
  } else if (!utf8) {
    if (!(await decodesAsGb18030(rawPath))) throw new DomainError('UPL_ERR_ENCODING', 'the file is neither UTF-8 nor GBK/GB18030 text');
    await transcode(rawPath, utf8Path, 'gb18030');
    path = utf8Path;
    encoding = 'gb18030';
  }
  const { text, complete } = readStart(path, SNIFF_BYTES);
  const dialect = sniffDialect(text, complete);
  return { format: 'csv', path, bytes, sha256, encoding, columns: readHeader(path, dialect), ...dialect, source: 'csv' };
}

/** The first `maxBytes` of a UTF-8 file as text (a character cut at the end is dropped), and whether that is all of it. */
function readStart(file: string, maxBytes: number): { text: string; complete: boolean } {
  const fd = fs.openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(maxBytes);
    const read = fs.readSync(fd, buffer, 0, buffer.length, 0);
    const complete = read < maxBytes || fs.fstatSync(fd).size === read;
    const bytes = buffer.subarray(0, read);
    return { text: bytes.subarray(0, bytes.length - incompleteTail(bytes)).toString('utf8'), complete };
  } finally {
    fs.closeSync(fd);
  }
}

function startsWith(file: string, magic: Buffer): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(magic.length);
    return fs.readSync(fd, head, 0, head.length, 0) === head.length && head.equals(magic);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * SHA-256 and strict UTF-8 validity in one pass. buffer.isUtf8 (simdutf) is about 10× faster than
 * a fatal TextDecoder; a character cut by a chunk boundary is carried over to the next chunk.
 */
async function hashAndCheckUtf8(file: string): Promise<{ sha256: string; utf8: boolean }> {
  const hash = createHash('sha256');
  let utf8 = true;
  let carry = Buffer.alloc(0);
  for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) {
    hash.update(chunk as Buffer);
    if (!utf8) continue;
    const bytes = carry.length > 0 ? Buffer.concat([carry, chunk as Buffer]) : (chunk as Buffer);
    const cut = incompleteTail(bytes);
    utf8 = isUtf8(bytes.subarray(0, bytes.length - cut));
    carry = Buffer.from(bytes.subarray(bytes.length - cut));
  }
  return { sha256: hash.digest('hex'), utf8: utf8 && carry.length === 0 };
}

/** How many bytes at the end of `bytes` begin a UTF-8 character that continues past it (0–3). */
export function incompleteTail(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(3, bytes.length); back++) {
    const byte = bytes[bytes.length - back]!;
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}

async function decodesAsGb18030(file: string): Promise<boolean> {
  const decoder = new TextDecoder('gb18030', { fatal: true });
  try {
    for await (const chunk of fs.createReadStream(file, { highWaterMark: CHUNK_BYTES })) decoder.decode(chunk as Buffer, { stream: true });
    decoder.decode();
    return true;
  } catch {
    return false;
  }
}

async function transcode(from: string, to: string, encoding: Exclude<TextEncoding, 'utf-8'>): Promise<void> {
  const decoder = new TextDecoder(encoding, { fatal: true });
  const out = fs.createWriteStream(to);
  try {
    for await (const chunk of fs.createReadStream(from, { highWaterMark: CHUNK_BYTES })) {
      if (!out.write(decoder.decode(chunk as Buffer, { stream: true }))) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
    }
    out.write(decoder.decode());
  } finally {
    await new Promise<void>((resolve, reject) => out.end((error?: Error | null) => (error ? reject(error) : resolve())));
  }
}

/** Parses the first record as the header: names, unique, at most UPLOAD_LIMITS.maxColumns. */
export function readHeader(file: string, dialect: CsvDialect): string[] {
  const { text, complete } = readStart(file, UPLOAD_LIMITS.maxHeaderBytes);
  const records = parseRecords(text, dialect, { complete, maxRecords: 1 });
  if (records === null) throw new DomainError('UPL_ERR_BAD_HEADER', 'line 1: a quoted column name is not terminated, or text follows its closing quote');
  const [columns] = records;
  if (!columns) {
    if (complete) throw new DomainError('UPL_ERR_BAD_HEADER', 'line 1: a quoted column name is not terminated');
    throw new DomainError('UPL_ERR_BAD_HEADER', 'line 1: the header row is longer than 64 KB');
  }
  if (columns.length === 0 || columns.every((c) => c.trim() === '')) throw new DomainError('UPL_ERR_BAD_HEADER', 'line 1: a header row naming the columns is required');
  if (columns.length > UPLOAD_LIMITS.maxColumns) throw new DomainError('UPL_ERR_TOO_MANY_COLUMNS', `line 1: ${columns.length} columns; at most ${UPLOAD_LIMITS.maxColumns}`);
  const seen = new Set<string>();
  columns.forEach((name, i) => {
    const trimmed = name.trim();
    if (trimmed === '') throw new DomainError('UPL_ERR_BAD_HEADER', `line 1, column ${i + 1}: the column has no name`);
    if (seen.has(trimmed.toLowerCase())) throw new DomainError('UPL_ERR_BAD_HEADER', `line 1, column ${i + 1}: the name ${JSON.stringify(trimmed)} is used twice`);
    seen.add(trimmed.toLowerCase());
  });
  return columns.map((c) => c.trim());
}
