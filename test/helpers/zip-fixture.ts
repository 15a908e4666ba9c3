import zlib from 'node:zlib';
import writeXlsxFile from 'write-excel-file/node';

/**
 * ZIP archives written byte by byte, for tests of what an upload's ZIP check refuses: sizes that
 * lie, bombs, entries hidden between others. Names are UTF-8 (flag bit 11), times 1980-01-01.
 */
export interface ZipEntrySpec {
  name: string;
  /** The entry's content; or `deflated` with its true `size` and `crc` (for bombs). */
  data?: Buffer;
  deflated?: Buffer;
  size?: number;
  crc?: number;
  /** The uncompressed size the headers announce (default: the true size). */
  declaredSize?: number;
  stored?: boolean;
}

export function buildZip(entries: ZipEntrySpec[], options: { hiddenAfterFirst?: Buffer } = {}): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  entries.forEach((entry, k) => {
    const name = Buffer.from(entry.name);
    const data = entry.data ?? Buffer.alloc(0);
    const compressed = entry.deflated ?? (entry.stored ? data : zlib.deflateRawSync(data));
    const crc = entry.crc ?? zlib.crc32(data);
    const declared = entry.declaredSize ?? entry.size ?? data.length;
    const method = entry.stored ? 0 : 8;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(compressed.length, 18);
    local.writeUInt32LE(declared, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(declared, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, compressed);
    centrals.push(central, name);
    offset += local.length + name.length + compressed.length;
    if (k === 0 && options.hiddenAfterFirst) {
      locals.push(options.hiddenAfterFirst);
      offset += options.hiddenAfterFirst.length;
    }
  });
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/**
 * `mib` MiB of zeros as a raw deflate stream of about 1 KB per MiB, without deflating them all: one
 * MiB deflated with a sync flush (its matches reach back only over zeros) repeated, then an empty
 * final block. With the true size and CRC, for an honest bomb, or a smaller declared size for a
 * lying one.
 */
export function zeroBomb(mib: number): { deflated: Buffer; size: number; crc: number } {
  const oneMib = Buffer.alloc(1 << 20);
  const block = zlib.deflateRawSync(oneMib, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  let crc = 0;
  for (let k = 0; k < mib; k++) crc = zlib.crc32(oneMib, crc);
  return { deflated: Buffer.concat([...Array.from({ length: mib }, () => block), Buffer.from([0x03, 0x00])]), size: mib * (1 << 20), crc };
}

/** The small entries every workbook has, so that a bomb looks like one. */
export const WORKBOOK_ENTRIES: ZipEntrySpec[] = [
  { name: '[Content_Types].xml', data: Buffer.from('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>') },
  { name: 'xl/workbook.xml', data: Buffer.from('<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>') },
];

type CellValue = string | number | boolean | Date | null;

/** A real .xlsx workbook (write-excel-file): one sheet per entry, first row the header; dates shown as yyyy-mm-dd. */
export async function xlsxOf(sheets: { name: string; rows: CellValue[][] }[]): Promise<Buffer> {
  return writeXlsxFile(sheets.map(({ name, rows }) => ({ sheet: name, dateFormat: 'yyyy-mm-dd', data: rows }))).toBuffer();
}

/**
 * A minimal workbook written by hand around a given sheet XML (`<sheetData>` content), for sheets
 * no spreadsheet program would write: cells at the far right edge, rows far apart.
 */
export function workbookWithSheetData(sheetData: string): Buffer {
  const main = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
  const relationships = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
  return buildZip([
    { name: '[Content_Types].xml', data: Buffer.from('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>') },
    { name: '_rels/.rels', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${relationships}/officeDocument" Target="xl/workbook.xml"/></Relationships>`) },
    { name: 'xl/workbook.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="${main}" xmlns:r="${relationships}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>`) },
    { name: 'xl/_rels/workbook.xml.rels', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="${relationships}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>`) },
    { name: 'xl/worksheets/sheet1.xml', data: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="${main}"><sheetData>${sheetData}</sheetData></worksheet>`) },
  ]);
}
