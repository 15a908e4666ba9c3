import fs from 'node:fs';
import path from 'node:path';
import { AuditEntrySchema, type AuditEntry, type AuditHead } from '../audit/audit-entry.js';

/**
 * The audit journal: an append-only file of audit entries, one JSON line each, where commits that
 * only append audit entries (the query log, checkpoints) become durable with one `write` and one
 * `fdatasync`. A DuckDB commit costs about 0.9 ms of CPU however small it is, six times the
 * journal's; the query log pays it once per batch of a thousand entries instead, when the store
 * moves journaled entries into its `audit_log` table (docs/decisions.md, "the audit journal").
 *
 * The journal holds the chain's continuation past the table's head, so the chain is always the
 * table followed by the journal. Entries the table already has (a crash between a move's commit
 * and the journal's truncation) are skipped on reading.
 */
export const AUDIT_JOURNAL_FILE = 'audit-journal.jsonl';

export class AuditJournal {
  private constructor(
    private readonly handle: fs.promises.FileHandle,
    /** Bytes of whole, acknowledged lines: a failed append is cut back to this. */
    private bytes: number,
  ) {}

  /** Opens for appending, cutting off whatever follows the last whole line (a torn write). */
  static async open(file: string, validBytes: number): Promise<AuditJournal> {
    const existed = fs.existsSync(file);
    const handle = await fs.promises.open(file, 'a', 0o600);
    try {
      await handle.truncate(validBytes);
      await handle.datasync();
      // A new file's directory entry must be durable too, or a crash could lose the whole journal.
      if (!existed) syncDirectory(path.dirname(file));
    } catch (error) {
      await handle.close();
      throw error;
    }
    return new AuditJournal(handle, validBytes);
  }

  /**
   * Appends entries durably. On failure the file is cut back to its last acknowledged line, so no
   * entry of a failed batch can be recovered later; when even that fails, the journal can no longer
   * be trusted and the error says so (`JournalBrokenError`).
   */
  async append(entries: readonly AuditEntry[]): Promise<void> {
    const data = Buffer.from(entries.map((entry) => `${JSON.stringify(entry)}\n`).join(''), 'utf8');
    try {
      const { bytesWritten } = await this.handle.write(data);
      if (bytesWritten !== data.length) throw new Error(`short write to the audit journal (${bytesWritten} of ${data.length} bytes)`);
      await this.handle.datasync();
      this.bytes += data.length;
    } catch (error) {
      try {
        await this.handle.truncate(this.bytes);
      } catch {
        throw new JournalBrokenError(error);
      }
      throw error;
    }
  }

  /** Empties the journal once its entries are committed to the table. */
  async clear(): Promise<void> {
    await this.handle.truncate(0);
    await this.handle.datasync();
    this.bytes = 0;
  }

  close(): Promise<void> {
    return this.handle.close();
  }
}

/** An append failed and could not be undone: the journal may end in entries nobody acknowledged. */
export class JournalBrokenError extends Error {
  constructor(cause: unknown) {
    super(`the audit journal could not be restored after a failed write: ${(cause as Error).message ?? String(cause)}`, { cause });
  }
}

export interface JournalReading {
  /** Entries past `head`, in file order. */
  entries: AuditEntry[];
  /** Bytes up to the end of the last whole line; anything after it is a torn final write. */
  validBytes: number;
}

/**
 * Reads the journal's entries past the table's head. A last line without its newline is a write
 * that was never acknowledged and is ignored. A line that is not an entry, or entries past the head
 * out of sequence order, mean the file was damaged or edited: reading fails rather than guess (the
 * service then refuses to start). A gap in the sequence is kept, for verification to name.
 */
export function readJournal(file: string, head: AuditHead): JournalReading {
  if (!fs.existsSync(file)) return { entries: [], validBytes: 0 };
  const text = fs.readFileSync(file);
  const end = text.lastIndexOf(0x0a) + 1;
  const entries: AuditEntry[] = [];
  const lines = text.subarray(0, end).toString('utf8').split('\n');
  lines.pop();
  const damaged = (line: number, what: string) =>
    new Error(`line ${line} of the audit journal ${file} ${what}: the file was damaged or edited; keep it as evidence and run audit:verify`);
  lines.forEach((line, index) => {
    let entry: AuditEntry;
    try {
      entry = AuditEntrySchema.parse(JSON.parse(line));
    } catch {
      throw damaged(index + 1, 'is not an audit entry');
    }
    const last = entries.at(-1)?.seq ?? head.seq;
    if (entry.seq > last) entries.push(entry);
    // SECURITY: invariant 5: two entries claiming one sequence number cannot both enter the chain.
    else if (entries.length > 0) throw damaged(index + 1, `repeats or reorders sequence number ${entry.seq}`);
  });
  return { entries, validBytes: end };
}

function syncDirectory(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
