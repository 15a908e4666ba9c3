import zlib from 'node:zlib';
import { DomainError } from '../../core/errors.js';

/**
 * A check of an uploaded ZIP archive (an .xlsx workbook is one) before any ZIP reader unpacks it,
 * so that no reader can be made to allocate more than the limits: every entry is really inflated,
 * bounded by its declared size, and must produce exactly that size and CRC; the declared sizes
 * together stay under `maxUncompressedBytes`. The archive must also read the same way from the
 * front (local headers, as a streaming reader such as read-excel-file's does) and from the back
 * (the central directory): entries back to back from byte 0, the same names, methods and sizes, so
 * no entry is hidden from one reader and seen by the other. Works on the file in memory: the caller
 * bounds its size first. Throws UPL_ERR_MALFORMED or UPL_ERR_XLSX_TOO_LARGE.
 */
export interface ZipLimits {
  maxEntries: number;
  maxUncompressedBytes: number;
}

export interface ZipEntry {
  name: string;
  uncompressedBytes: number;
  /** The inflated content, for the entries `keep` selected. */
  content?: Buffer;
}

const SIG = { local: 0x04034b50, central: 0x02014b50, end: 0x06054b50, descriptor: 0x08074b50 } as const;
const STORED = 0;
const DEFLATED = 8;
const FLAG_ENCRYPTED = 0x1;
const FLAG_DESCRIPTOR = 0x8;

const malformed = (why: string) => new DomainError('UPL_ERR_MALFORMED', `the file is not a readable .xlsx workbook: ${why}`);

interface CentralEntry {
  name: string;
  flags: number;
  method: number;
  crc: number;
  compressedBytes: number;
  uncompressedBytes: number;
  localOffset: number;
}

export function checkZip(zip: Buffer, limits: ZipLimits, keep: (name: string) => boolean = () => false): ZipEntry[] {
  const entries = readCentralDirectory(zip, limits);
  let declared = 0;
  for (const entry of entries) {
    if (entry.flags & FLAG_ENCRYPTED) throw malformed('it is encrypted (save it without a password)');
    if (entry.method !== STORED && entry.method !== DEFLATED) throw malformed(`entry ${entry.name} uses an unsupported compression method`);
    declared += entry.uncompressedBytes;
    // SECURITY: a zip bomb announces its size honestly or not at all: refused before inflating.
    if (declared > limits.maxUncompressedBytes) throw tooLarge(limits);
  }
  // Front to back, as a streaming reader sees it.
  let offset = 0;
  const contents = new Map<string, Buffer>();
  const ordered = [...entries].sort((a, b) => a.localOffset - b.localOffset);
  for (const entry of ordered) {
    // SECURITY: no bytes between entries: nothing a streaming reader would find that the directory hides.
    if (entry.localOffset !== offset) throw malformed('its entries are not stored back to back');
    const checked = checkLocalEntry(zip, entry, limits);
    if (keep(entry.name)) contents.set(entry.name, checked.content);
    offset = checked.next;
  }
  if (offset !== centralDirectoryStart(zip)) throw malformed('there are bytes between its last entry and its directory');
  return entries.map((e) => ({ name: e.name, uncompressedBytes: e.uncompressedBytes, ...(contents.has(e.name) ? { content: contents.get(e.name)! } : {}) }));
}

function tooLarge(limits: ZipLimits): DomainError {
  return new DomainError('UPL_ERR_XLSX_TOO_LARGE', `the workbook unpacks to more than ${Math.round(limits.maxUncompressedBytes / 1048576)} MiB: split it, or save it as CSV`);
}

function endRecordOffset(zip: Buffer): number {
  // The end record is 22 bytes plus a comment of at most 65,535.
  for (let at = zip.length - 22; at >= Math.max(0, zip.length - 22 - 0xffff); at--) {
    if (zip.readUInt32LE(at) === SIG.end && at + 22 + zip.readUInt16LE(at + 20) === zip.length) return at;
  }
  throw malformed('it has no ZIP directory');
}

function centralDirectoryStart(zip: Buffer): number {
  return zip.readUInt32LE(endRecordOffset(zip) + 16);
}

function readCentralDirectory(zip: Buffer, limits: ZipLimits): CentralEntry[] {
  if (zip.length < 22) throw malformed('it is too short to be a ZIP archive');
  const end = endRecordOffset(zip);
  const [disk, cdDisk, onDisk, count, size, start] = [zip.readUInt16LE(end + 4), zip.readUInt16LE(end + 6), zip.readUInt16LE(end + 8), zip.readUInt16LE(end + 10), zip.readUInt32LE(end + 12), zip.readUInt32LE(end + 16)];
  // ZIP64 markers: a workbook that needs them is far past every limit.
  if (count === 0xffff || size === 0xffffffff || start === 0xffffffff) throw tooLarge(limits);
  if (disk !== 0 || cdDisk !== 0 || onDisk !== count) throw malformed('it is a multi-part archive');
  if (count > limits.maxEntries) throw malformed(`it has ${count} entries; at most ${limits.maxEntries}`);
  if (start + size !== end) throw malformed('its directory is not where its end record says');
  const entries: CentralEntry[] = [];
  const names = new Set<string>();
  let at = start;
  for (let k = 0; k < count; k++) {
    if (at + 46 > end || zip.readUInt32LE(at) !== SIG.central) throw malformed('its directory is damaged');
    const nameLength = zip.readUInt16LE(at + 28);
    const next = at + 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
    if (next > end) throw malformed('its directory is damaged');
    const entry: CentralEntry = {
      flags: zip.readUInt16LE(at + 8),
      method: zip.readUInt16LE(at + 10),
      crc: zip.readUInt32LE(at + 16),
      compressedBytes: zip.readUInt32LE(at + 20),
      uncompressedBytes: zip.readUInt32LE(at + 24),
      localOffset: zip.readUInt32LE(at + 42),
      name: zip.toString('utf8', at + 46, at + 46 + nameLength),
    };
    if (entry.compressedBytes === 0xffffffff || entry.uncompressedBytes === 0xffffffff || entry.localOffset === 0xffffffff) throw tooLarge(limits);
    if (names.has(entry.name)) throw malformed(`entry ${entry.name} appears twice`);
    names.add(entry.name);
    entries.push(entry);
    at = next;
  }
  if (at !== end) throw malformed('its directory is damaged');
  return entries;
}

/** Checks one entry from its local header through its data (and descriptor); returns its content and where the next begins. */
function checkLocalEntry(zip: Buffer, entry: CentralEntry, limits: ZipLimits): { content: Buffer; next: number } {
  const at = entry.localOffset;
  if (at + 30 > zip.length || zip.readUInt32LE(at) !== SIG.local) throw malformed(`entry ${entry.name} has no local header`);
  const flags = zip.readUInt16LE(at + 6);
  const method = zip.readUInt16LE(at + 8);
  const nameLength = zip.readUInt16LE(at + 26);
  const dataStart = at + 30 + nameLength + zip.readUInt16LE(at + 28);
  const name = zip.toString('utf8', at + 30, at + 30 + nameLength);
  if (name !== entry.name || method !== entry.method || (flags & FLAG_DESCRIPTOR) !== (entry.flags & FLAG_DESCRIPTOR)) {
    throw malformed(`entry ${entry.name} differs between its header and the directory`);
  }
  const withDescriptor = (flags & FLAG_DESCRIPTOR) !== 0;
  if (!withDescriptor && (zip.readUInt32LE(at + 14) !== entry.crc || zip.readUInt32LE(at + 18) !== entry.compressedBytes || zip.readUInt32LE(at + 22) !== entry.uncompressedBytes)) {
    throw malformed(`entry ${entry.name} differs between its header and the directory`);
  }
  // A stored entry of unknown length cannot be read from the front: no writer of workbooks makes one.
  if (withDescriptor && method === STORED) throw malformed(`entry ${entry.name} is stored without a length`);
  const dataEnd = dataStart + entry.compressedBytes;
  if (dataEnd > zip.length) throw malformed(`entry ${entry.name} is cut short`);
  const data = zip.subarray(dataStart, dataEnd);
  let content: Buffer;
  if (method === STORED) {
    if (entry.compressedBytes !== entry.uncompressedBytes) throw malformed(`entry ${entry.name} has inconsistent sizes`);
    content = data;
  } else {
    let inflated: { buffer: Buffer; engine: zlib.InflateRaw };
    try {
      // SECURITY: the output is bounded by the declared size: a lying header cannot make it grow.
      inflated = zlib.inflateRawSync(data, { maxOutputLength: Math.max(1, entry.uncompressedBytes), info: true }) as unknown as { buffer: Buffer; engine: zlib.InflateRaw };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(limits);
      throw malformed(`entry ${entry.name} does not inflate`);
    }
    content = inflated.buffer;
    // The compressed stream must fill its slot exactly: a streaming reader stops where it ends.
    if (inflated.engine.bytesWritten !== entry.compressedBytes) throw malformed(`entry ${entry.name} does not fill its space`);
  }
  if (content.length !== entry.uncompressedBytes) throw malformed(`entry ${entry.name} is not the size its header says`);
  if (zlib.crc32(content) !== entry.crc) throw malformed(`entry ${entry.name} fails its checksum`);
  if (!withDescriptor) return { content, next: dataEnd };
  // Data descriptor: an optional signature, then CRC and both sizes (which must agree).
  let d = dataEnd;
  if (d + 4 <= zip.length && zip.readUInt32LE(d) === SIG.descriptor) d += 4;
  if (d + 12 > zip.length || zip.readUInt32LE(d) !== entry.crc || zip.readUInt32LE(d + 4) !== entry.compressedBytes || zip.readUInt32LE(d + 8) !== entry.uncompressedBytes) {
    throw malformed(`entry ${entry.name} has a damaged data descriptor`);
  }
  return { content, next: d + 12 };
}
