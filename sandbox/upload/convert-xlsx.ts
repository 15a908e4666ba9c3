import { fork } from 'node:child_process';
import fs from 'node:fs';
import { DomainError, ERROR_CODES, type ErrorCode } from '../../core/errors.js';
import type { XlsxRequest, XlsxResult } from './xlsx-host.js';

/**
 * Converts an uploaded .xlsx workbook to a UTF-8 CSV in a child process (`xlsx-host.ts`), so that
 * no workbook can take the API server down: the child's heap is capped, its memory is watched and
 * it is killed past its deadline; any of these ends only the child, and the upload gets a 4xx. The
 * archive is checked before the workbook reader sees it (`zip-check.ts`). At most
 * `XLSX_LIMITS.concurrent` conversions run at once, one per owner; more wait their turn.
 */
export const XLSX_LIMITS = {
  /** Workbooks larger than this are refused before unpacking (413). */
  maxFileBytes: 64 * 1024 * 1024,
  /** What the archive may unpack to, all entries together: about 3 million cells. */
  maxUncompressedBytes: 128 * 1024 * 1024,
  maxEntries: 10_000,
  /** Rows × columns of the sheet read (the reader builds the whole grid in memory). */
  maxCells: 8_000_000,
  /** The child's JavaScript heap (the parsed sheet lives there). */
  heapMb: 2048,
  /** Its whole memory, checked every few hundred milliseconds. */
  rssMb: 2048 + 128 + 512,
  /** read-excel-file reads roughly 20,000 cells a second on a busy two-core machine. */
  timeoutMs: 5 * 60_000,
  concurrent: 2,
} as const;

const MEMORY_CHECK_EVERY_MS = 250;
const PAGE_BYTES = 4096;

let running = 0;
const waiting: (() => void)[] = [];
/** Per owner, the end of its last conversion: an owner's next one starts after it. */
const ownerTails = new Map<string, Promise<void>>();

/**
 * Runs `work` in one of the conversion slots, one conversion per owner at a time: an owner's
 * workbooks wait behind each other, and only the first of each waits for a slot, in arrival order,
 * so a second owner's workbook is next once a slot frees whatever the first has queued. SECURITY:
 * invariant 9: one tenant's four large workbooks held both slots of the whole platform for minutes,
 * and another tenant's three-row upload, or the authority's ingest, waited behind all of them
 * (red-team pass 33b).
 */
async function turn<T>(owner: string, work: () => Promise<T>): Promise<T> {
  const previous = ownerTails.get(owner) ?? Promise.resolve();
  let done!: () => void;
  const tail = previous.then(() => new Promise<void>((resolve) => (done = resolve)));
  ownerTails.set(owner, tail);
  await previous;
  try {
    return await inSlot(work);
  } finally {
    done();
    if (ownerTails.get(owner) === tail) ownerTails.delete(owner);
  }
}

/** Runs `work` in one of the conversion slots; a finished conversion hands its slot to the next in line. */
async function inSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= XLSX_LIMITS.concurrent) await new Promise<void>((resolve) => waiting.push(resolve));
  else running += 1;
  try {
    return await work();
  } finally {
    const next = waiting.shift();
    if (next) next();
    else running -= 1;
  }
}

/**
 * `owner` is who waits for the conversion (a tenant's id, or the domain's own work): one conversion
 * per owner runs at a time (see turn).
 */
export function convertXlsx(input: string, output: string, options: { sheet?: string | undefined; maxColumns: number; owner: string }): Promise<XlsxResult> {
  const { size } = fs.statSync(input);
  if (size > XLSX_LIMITS.maxFileBytes) {
    return Promise.reject(new DomainError('UPL_ERR_XLSX_TOO_LARGE', `the workbook is larger than ${XLSX_LIMITS.maxFileBytes / 1048576} MiB: split it, or save it as CSV`));
  }
  const request: XlsxRequest = {
    input, output, ...(options.sheet === undefined ? {} : { sheet: options.sheet }),
    limits: { maxEntries: XLSX_LIMITS.maxEntries, maxUncompressedBytes: XLSX_LIMITS.maxUncompressedBytes, maxColumns: options.maxColumns, maxCells: XLSX_LIMITS.maxCells },
  };
  return turn(options.owner, () => runChild(request)).catch((error: unknown) => {
    // Nothing half-done: a partial CSV is never read.
    fs.rmSync(output, { force: true });
    throw error;
  });
}

function runChild(request: XlsxRequest): Promise<XlsxResult> {
  return new Promise((resolve, reject) => {
    const child = fork(hostEntryUrl(), [], {
      execArgv: [`--max-old-space-size=${XLSX_LIMITS.heapMb}`],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    let stopped: 'deadline' | 'memory' | undefined;
    let answered = false;
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      if (stderr.length < 4096) stderr += chunk;
    });
    // SECURITY: a limit the child cannot talk its way out of: killed at the deadline or past its memory.
    const deadline = setTimeout(() => stop('deadline'), XLSX_LIMITS.timeoutMs);
    const watch = setInterval(() => {
      try {
        const rssBytes = Number(fs.readFileSync(`/proc/${child.pid}/statm`, 'utf8').split(' ')[1]) * PAGE_BYTES;
        if (rssBytes > XLSX_LIMITS.rssMb * 1048576) stop('memory');
      } catch {
        // Gone, or no /proc: the exit handler decides.
      }
    }, MEMORY_CHECK_EVERY_MS);
    const stop = (why: 'deadline' | 'memory') => {
      stopped ??= why;
      child.kill('SIGKILL');
    };
    const settle = () => {
      clearTimeout(deadline);
      clearInterval(watch);
    };
    child.on('message', (message: { ok: true; value: XlsxResult } | { ok: false; code: string; message: string }) => {
      answered = true;
      settle();
      if (message.ok) resolve(message.value);
      else reject(new DomainError(knownCode(message.code), message.message));
    });
    child.on('error', (error) => {
      settle();
      if (!answered) reject(error);
    });
    // 'close', not 'exit': it comes after the IPC channel has delivered the answer.
    child.on('close', () => {
      settle();
      if (answered) return;
      answered = true;
      const outOfMemory = stopped === 'memory' || /heap out of memory|Allocation failed/i.test(stderr);
      reject(stopped === 'deadline'
        ? new DomainError('UPL_ERR_XLSX_TOO_LARGE', `the workbook took longer than ${XLSX_LIMITS.timeoutMs / 1000} s to read: split it, or save it as CSV`)
        : outOfMemory
          ? new DomainError('UPL_ERR_XLSX_TOO_LARGE', 'the workbook needs more memory to read than an upload may use: split it, or save it as CSV')
          : new DomainError('UPL_ERR_MALFORMED', 'the file is not a readable .xlsx workbook: its reader stopped on it'));
    });
    child.send(request);
  });
}

/** Codes come back as strings from another process: only known ones are rebuilt. */
function knownCode(code: string): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'UPL_ERR_MALFORMED';
}

/**
 * The host's entry point as built JavaScript. Under the test runner this module is the TypeScript
 * source, so the host is taken from `dist/` (the tests build first), as for the engine host.
 */
function hostEntryUrl(): URL {
  const here = new URL(import.meta.url);
  if (here.pathname.endsWith('.js')) return new URL('./xlsx-host.js', here);
  return new URL('../../dist/sandbox/upload/xlsx-host.js', here);
}
