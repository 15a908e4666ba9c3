import { posix } from 'node:path';

/**
 * How far a worksheet spans, read from its XML before the workbook reader parses it. The reader
 * builds a dense grid up to the last row and column that hold a value, so a sheet of a few hundred
 * kilobytes with cells at row 1,048,576 or column XFD would take gigabytes and minutes to refuse;
 * its span, found by a scan of the cell references, refuses it at once. Pure.
 */
export interface SheetSpan {
  rows: number;
  columns: number;
}

/** The archive path of the worksheet the reader will read (`sheet`: a name or 1-based position; the first by default), or undefined if it cannot be told. */
export function worksheetPath(workbookXml: string, relsXml: string, sheet: string | number | undefined): string | undefined {
  const sheets = [...workbookXml.matchAll(/<(?:\w+:)?sheet\b([^>]*)>/g)].map((m) => ({ name: unescapeXml(attribute(m[1]!, 'name') ?? ''), id: attribute(m[1]!, 'r:id') ?? /\b\w+:id="([^"]*)"/.exec(m[1]!)?.[1] }));
  const chosen = sheet === undefined ? sheets[0] : typeof sheet === 'number' ? sheets[sheet - 1] : sheets.find((s) => s.name === sheet);
  if (!chosen?.id) return undefined;
  for (const m of relsXml.matchAll(/<(?:\w+:)?Relationship\b([^>]*)>/g)) {
    if (attribute(m[1]!, 'Id') !== chosen.id) continue;
    const target = attribute(m[1]!, 'Target');
    if (!target) return undefined;
    return target.startsWith('/') ? target.slice(1) : posix.normalize(posix.join('xl', target));
  }
  return undefined;
}

/**
 * The last row and column of a cell that may hold a value. A self-closing `<c r="IV5" s="3"/>` is
 * only formatting: the reader neither keeps it nor widens the grid for it. Rows without cells cost
 * the reader little and are not counted.
 */
export function sheetSpan(sheetXml: string): SheetSpan {
  let rows = 0;
  let columns = 0;
  for (const m of sheetXml.matchAll(/<(?:\w+:)?c\b([^>]*)>/g)) {
    if (m[1]!.endsWith('/')) continue;
    const ref = attribute(m[1]!, 'r');
    const cell = ref ? /^([A-Z]{1,3})(\d+)$/.exec(ref) : null;
    if (!cell) continue;
    columns = Math.max(columns, columnNumber(cell[1]!));
    rows = Math.max(rows, Number(cell[2]));
  }
  return { rows, columns };
}

function columnNumber(letters: string): number {
  let n = 0;
  for (const ch of letters) n = n * 26 + (ch.charCodeAt(0) - 64);
  return n;
}

function attribute(attributes: string, name: string): string | undefined {
  return new RegExp(`(?:^|\\s)${name.replace(':', '\\:')}="([^"]*)"`).exec(attributes)?.[1];
}

function unescapeXml(text: string): string {
  return text.replace(/&(lt|gt|quot|apos|amp);/g, (_, e: string) => ({ lt: '<', gt: '>', quot: '"', apos: "'", amp: '&' })[e]!);
}
