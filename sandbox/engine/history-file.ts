import fs from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { z } from 'zod';
import type { AnswerHistory, HistoryJournal, StoredCell } from '../disclosure/answer-history.js';

/**
 * The differencing history of a tenant's prod answers, on disk (`answer-history.ts`, issue #11 item
 * 3). Without it a new engine process started with an empty history: after a crash, an
 * out-of-memory kill, a kill past a query's limit, or the stop of an idle process, "N" before and
 * "N-1" after went unnoticed, and a tenant could cause some of these itself.
 *
 * `history.bin` in the tenant's directory: the tenant's SQL cannot read it (the gate refuses every
 * file-reading function, and DuckDB's external access is off), and revoking the tenant wipes it with
 * the directory. It holds what the history holds: per remembered cell, its label, what it showed and
 * its members as 52-bit hashes of entity keys with their contributions' fingerprints; no value.
 *
 * An append-only log of frames: `IDH1`, header length, body length, CRC-32 of header and body, then
 * a JSON header and the body (per cell, its entities then its contributions, as float64). Frames are
 * `run` (a run remembered, numbered by its place among the file's runs) and `touch` (a run made the
 * newest). Forgetting is not written: replaying the same runs under the same bound forgets the same
 * ones. A torn or damaged tail (a crash mid-write) is cut off at the last whole frame. Once the file
 * has grown past three times what the history holds, it is written afresh from the history.
 */
const MAGIC = Buffer.from('IDH1', 'latin1');
const FRAME_BYTES = 16;
/** What one remembered (cell, entity) membership takes in a frame: the entity and its contribution. */
const MEMBER_BYTES = 16;
/** Below this the file is never rewritten (a rewrite costs as much as writing what it holds). */
const REWRITE_FLOOR_BYTES = 8 * 1024 ** 2;

export const HISTORY_FILE = 'history.bin';

const CellHeaderSchema = z.object({
  label: z.string(),
  shows: z.enum(['value', 'existence', 'nothing']),
  alike: z.number().int().nonnegative(),
  size: z.number().int().nonnegative(),
});
const FrameHeaderSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('run'), id: z.string(), cells: z.array(CellHeaderSchema) }),
  z.object({ kind: z.literal('touch'), run: z.number().int().nonnegative() }),
]);

export class HistoryFile implements HistoryJournal {
  /** Frames not yet written, in order. */
  private pending: Buffer[] = [];
  /** Per run number of the history, its place among the file's runs (what `touch` frames name). */
  private readonly placeOf = new Map<number, number>();
  private runsInFile = 0;
  private bytes = 0;
  /** Set when a write failed: the next flush writes the file afresh, so no frame goes missing. */
  private broken = false;

  constructor(private readonly file: string) {}

  static in(dir: string): HistoryFile {
    return new HistoryFile(path.join(dir, HISTORY_FILE));
  }

  remembered(run: number, id: string, cells: readonly StoredCell[]): void {
    this.placeOf.set(run, this.runsInFile++);
    this.pending.push(runFrame(id, cells));
  }

  touched(run: number): void {
    const place = this.placeOf.get(run);
    if (place !== undefined) this.pending.push(frame({ kind: 'touch', run: place }));
  }

  /**
   * Replays the file into an empty `history`, cutting off a torn or damaged tail. A missing file is
   * an empty history. Returns the runs read.
   */
  async load(history: AnswerHistory): Promise<number> {
    let data: Buffer;
    try {
      data = await fs.promises.readFile(this.file);
    } catch {
      return 0;
    }
    const runOf = new Map<number, number>();
    let offset = 0;
    let runs = 0;
    for (;;) {
      const next = readFrame(data, offset);
      if (!next) break;
      if (next.header.kind === 'run') {
        const run = history.restore(next.header.id, next.cells);
        if (run !== undefined) {
          runOf.set(runs, run);
          this.placeOf.set(run, runs);
        }
        runs += 1;
      } else {
        const run = runOf.get(next.header.run);
        if (run !== undefined) history.touch(run);
      }
      offset = next.end;
    }
    this.runsInFile = runs;
    this.bytes = offset;
    // A torn tail is cut off, so that the next frame follows a whole one.
    if (offset < data.length) await fs.promises.truncate(this.file, offset).catch(() => { this.broken = true; });
    return runs;
  }

  /**
   * Writes the pending frames; writes the file afresh from `history` when it has grown past three
   * times what the history holds, or when a write failed before. A failure leaves the history as it
   * is in memory and the file to be written afresh next time.
   */
  async flush(history: AnswerHistory): Promise<void> {
    const frames = this.pending;
    this.pending = [];
    try {
      if (this.broken || (this.bytes > REWRITE_FLOOR_BYTES && this.bytes > 3 * MEMBER_BYTES * Math.max(1, history.size))) {
        await this.rewrite(history);
        return;
      }
      if (frames.length === 0) return;
      const data = Buffer.concat(frames);
      await fs.promises.appendFile(this.file, data, { mode: 0o600 });
      this.bytes += data.length;
    } catch {
      this.broken = true;
    }
  }

  /** The file afresh: the history's runs, oldest first, written to a temp file renamed over it. */
  private async rewrite(history: AnswerHistory): Promise<void> {
    this.placeOf.clear();
    this.runsInFile = 0;
    const frames: Buffer[] = [];
    for (const { run, id, cells } of history.storedRuns()) {
      this.placeOf.set(run, this.runsInFile++);
      frames.push(runFrame(id, cells));
    }
    const data = Buffer.concat(frames);
    const temp = `${this.file}.${process.pid}.tmp`;
    await fs.promises.writeFile(temp, data, { mode: 0o600 });
    await fs.promises.rename(temp, this.file);
    this.bytes = data.length;
    this.broken = false;
  }
}

function runFrame(id: string, cells: readonly StoredCell[]): Buffer {
  const header = { kind: 'run' as const, id, cells: cells.map((c) => ({ label: c.label, shows: c.shows, alike: c.alike, size: c.entities.length })) };
  const body = Buffer.concat(cells.flatMap((c) => [floats(c.entities), floats(c.contributions)]));
  return frame(header, body);
}

function frame(header: z.infer<typeof FrameHeaderSchema>, body = Buffer.alloc(0)): Buffer {
  const head = Buffer.from(JSON.stringify(header), 'utf8');
  const prefix = Buffer.alloc(FRAME_BYTES);
  MAGIC.copy(prefix, 0);
  prefix.writeUInt32LE(head.length, 4);
  prefix.writeUInt32LE(body.length, 8);
  prefix.writeUInt32LE(crc32(body, crc32(head)), 12);
  return Buffer.concat([prefix, head, body]);
}

/** float64 little-endian, whatever the machine's order. */
function floats(values: Float64Array): Buffer {
  const out = Buffer.alloc(values.length * 8);
  for (let i = 0; i < values.length; i++) out.writeDoubleLE(values[i]!, i * 8);
  return out;
}

/** The whole frame at `offset`, or undefined at the end or at anything torn, damaged or not a frame. */
function readFrame(data: Buffer, offset: number): { header: z.infer<typeof FrameHeaderSchema>; cells: StoredCell[]; end: number } | undefined {
  if (offset + FRAME_BYTES > data.length || !data.subarray(offset, offset + 4).equals(MAGIC)) return undefined;
  const headLength = data.readUInt32LE(offset + 4);
  const bodyLength = data.readUInt32LE(offset + 8);
  const end = offset + FRAME_BYTES + headLength + bodyLength;
  if (end > data.length) return undefined;
  const head = data.subarray(offset + FRAME_BYTES, offset + FRAME_BYTES + headLength);
  const body = data.subarray(offset + FRAME_BYTES + headLength, end);
  if (crc32(body, crc32(head)) !== data.readUInt32LE(offset + 12)) return undefined;
  let header: z.infer<typeof FrameHeaderSchema>;
  try {
    header = FrameHeaderSchema.parse(JSON.parse(head.toString('utf8')));
  } catch {
    return undefined;
  }
  if (header.kind === 'touch') return bodyLength === 0 ? { header, cells: [], end } : undefined;
  if (header.cells.reduce((n, c) => n + c.size * MEMBER_BYTES, 0) !== bodyLength) return undefined;
  const cells: StoredCell[] = [];
  let at = 0;
  const read = (size: number) => {
    const values = new Float64Array(size);
    for (let i = 0; i < size; i++) values[i] = body.readDoubleLE(at + i * 8);
    at += size * 8;
    return values;
  };
  for (const c of header.cells) cells.push({ label: c.label, shows: c.shows, alike: c.alike, entities: read(c.size), contributions: read(c.size) });
  return { header, cells, end };
}
