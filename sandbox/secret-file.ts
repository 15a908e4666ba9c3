import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { flushDirectory, writeFlushed } from './atomic-write.js';

/**
 * The secrets the service keeps in `<dataDir>/secrets/` (token master, audit signing key,
 * development HS256 secret): created once, atomically, owner-only; checked for mode and content on
 * every load. Synchronous, on the calling thread; it runs at start, before any request.
 */

/**
 * A secret (or its directory) that must not be used: wrong mode, wrong length, not a key. Its
 * message is one line naming the file, what is wrong and what to do; entry points print it and exit
 * with status 2 instead of a stack trace.
 */
export class SecretFileError extends Error {
  constructor(
    readonly file: string,
    readonly problem: string,
    readonly remedy: string,
  ) {
    super(`${file} ${problem}: ${remedy}`);
    this.name = 'SecretFileError';
  }
}

export interface SecretFileSpec {
  /** Content for a new file; called only when the file does not exist yet. */
  generate(): string | Buffer;
  /** What is wrong with the content ("is 5 bytes, expected 32"), or undefined when it is usable. */
  check(content: Buffer): string | undefined;
  /** What the operator should do when the content is wrong (restore, regenerate…). */
  remedy: string;
}

/** Group and others: none of these bits may be set on a secret or on the secrets dir. */
const GROUP_OTHER = 0o077;

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/**
 * Returns the secret in `file`, creating it with `spec.generate()` when it does not exist. Two
 * processes racing to create it end up with the same secret: the first to link its file wins. Throws
 * SecretFileError when the file or its directory is readable by group or others, or when
 * `spec.check` finds the content unusable.
 */
export function loadOrCreateSecretFile(file: string, spec: SecretFileSpec): Buffer {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const dirMode = fs.statSync(dir).mode;
  // SECURITY: a secrets dir others can list or enter exposes the secrets' names and, with a lax file mode, their content.
  if (dirMode & GROUP_OTHER) throw new SecretFileError(dir, `has mode ${octal(dirMode)}, open to group or others`, `run chmod 700 ${dir}`);
  if (!fs.existsSync(file)) createFileOnce(file, spec.generate(), 0o600);
  return readSecretFile(file, spec);
}

/** Mode and content come from one open file, so what was checked is what is returned. */
function readSecretFile(file: string, spec: Pick<SecretFileSpec, 'check' | 'remedy'>): Buffer {
  // Before opening: a FIFO would block the start, a device would never end the read.
  if (!fs.statSync(file).isFile()) throw new SecretFileError(file, 'is not a regular file', spec.remedy);
  const fd = fs.openSync(file, 'r');
  try {
    const stat = fs.fstatSync(fd);
    // SECURITY: private key material readable by group or others is refused, not used: anyone who read it can forge
    // tokens, signatures or pseudonyms. Owner-only modes stricter than 0600 (0400) are fine.
    if (stat.mode & GROUP_OTHER) {
      throw new SecretFileError(file, `has mode ${octal(stat.mode)}, readable by group or others`, `run chmod 600 ${file}, and treat the secret as exposed if anyone else could read it`);
    }
    const content = fs.readFileSync(fd);
    const problem = spec.check(content);
    if (problem) throw new SecretFileError(file, problem, spec.remedy);
    return content;
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Creates `file` with `content` unless it exists, atomically: readers and a crash see no file or the
 * whole file, never a partial one. The content goes to a temp file in the same directory, flushed,
 * then hard-linked to its name: unlike a rename, a link fails when the name exists, so a process
 * that loses a race keeps the winner's file instead of replacing it. Returns whether this call
 * created the file.
 */
export function createFileOnce(file: string, content: string | Buffer, mode = 0o600): boolean {
  const dir = path.dirname(file);
  const temp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    writeFlushed(temp, content, mode, 'wx');
    try {
      fs.linkSync(temp, file);
      created = true;
    } catch (error) {
      // Another process created it first: keep theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  } finally {
    fs.rmSync(temp, { force: true });
  }
  flushDirectory(dir);
  return created;
}
