import { z } from 'zod';
import { GENESIS_HASH, hashAuditEntry, type AuditEntry, type AuditHead } from './audit-entry.js';
import type { AnchorReading } from './anchor.js';
import type { AuditVerifier } from './signing-key.js';

export const CHECKPOINT_ACTION = 'audit.checkpoint';

export const CheckpointDetailsSchema = z.object({
  coversSeq: z.number().int().nonnegative(),
  coversHash: z.string(),
  keyId: z.string(),
  signature: z.string(),
});
export type CheckpointDetails = z.infer<typeof CheckpointDetailsSchema>;

export function checkpointMessage(covers: AuditHead, keyId: string): Record<string, unknown> {
  return { kind: 'indomain.audit.checkpoint', seq: covers.seq, hash: covers.hash, keyId };
}

/** Why verification stopped. Each names one kind of tampering. */
export const VerifyFailureSchema = z.enum([
  'missing_entry', // a sequence number is absent: an entry was deleted
  'broken_link', // an entry does not point at its predecessor's hash: entries were reordered or replaced
  'hash_mismatch', // an entry's content no longer matches its hash: it was edited
  'bad_checkpoint', // a signed checkpoint does not match the chain or its signature fails: history was rewritten
  'truncated', // the chain ends before (or differs at) the externally anchored head: the tail was cut
  'bad_anchor', // the anchor file itself is unreadable or its signature fails
]);
export type VerifyFailure = z.infer<typeof VerifyFailureSchema>;

export const VerifyReportSchema = z.object({
  ok: z.boolean(),
  entries: z.number().int(),
  head: z.object({ seq: z.number().int(), hash: z.string() }),
  checkpoints: z.number().int(),
  anchoredSeq: z.number().int().nullable(),
  firstBadSeq: z.number().int().optional(),
  reason: VerifyFailureSchema.optional(),
  message: z.string().optional(),
});
export type VerifyReport = z.infer<typeof VerifyReportSchema>;

/**
 * Walks the whole chain in sequence order and stops at the first problem. Pure: it reads the entries
 * it is given, the anchor reading and a verifier for checkpoint signatures.
 *
 * Only hashes since the last checkpoint are kept in memory, since a checkpoint always covers an
 * entry after the previous checkpoint.
 */
export async function verifyAuditChain(
  entries: AsyncIterable<AuditEntry>,
  options: { verifier: AuditVerifier | undefined; anchor: AnchorReading },
): Promise<VerifyReport> {
  let head: AuditHead = { seq: 0, hash: GENESIS_HASH };
  let checkpoints = 0;
  let count = 0;
  let recentHashes = new Map<number, string>();
  const anchoredSeq = options.anchor.kind === 'valid' ? options.anchor.anchor.seq : null;
  let anchoredHash: string | undefined = anchoredSeq === 0 ? GENESIS_HASH : undefined;
  const fail = (firstBadSeq: number, reason: VerifyFailure, message: string): VerifyReport => ({
    ok: false, entries: count, head, checkpoints, anchoredSeq, firstBadSeq, reason, message,
  });

  if (options.anchor.kind === 'invalid') return fail(0, 'bad_anchor', options.anchor.reason);

  for await (const entry of entries) {
    const expectedSeq = head.seq + 1;
    if (entry.seq !== expectedSeq) {
      return fail(expectedSeq, 'missing_entry', `entry ${expectedSeq} is missing (next present is ${entry.seq})`);
    }
    if (entry.prevHash !== head.hash) {
      return fail(entry.seq, 'broken_link', `entry ${entry.seq} does not link to entry ${head.seq}`);
    }
    const { hash, ...unhashed } = entry;
    if (hashAuditEntry(unhashed) !== hash) {
      return fail(entry.seq, 'hash_mismatch', `entry ${entry.seq} was changed after it was written`);
    }
    if (entry.action === CHECKPOINT_ACTION) {
      const problem = checkCheckpoint(entry, recentHashes, options.verifier);
      if (problem) return fail(entry.seq, 'bad_checkpoint', `checkpoint ${entry.seq}: ${problem}`);
      checkpoints += 1;
      recentHashes = new Map();
    }
    recentHashes.set(entry.seq, entry.hash);
    if (entry.seq === anchoredSeq) anchoredHash = entry.hash;
    head = { seq: entry.seq, hash: entry.hash };
    count += 1;
  }

  if (options.anchor.kind === 'none' && count > 0) {
    // Every log is anchored from its genesis: a log with entries and no anchor lost it.
    return fail(0, 'bad_anchor', 'the anchor file is missing');
  }
  if (options.anchor.kind === 'valid') {
    const { anchor } = options.anchor;
    if (head.seq < anchor.seq) {
      return fail(head.seq + 1, 'truncated', `the log ends at ${head.seq} but entry ${anchor.seq} was anchored: entries were cut off`);
    }
    if (anchoredHash !== anchor.hash) {
      return fail(anchor.seq, 'truncated', `entry ${anchor.seq} differs from the anchored one: the log was cut and regrown`);
    }
  }
  return { ok: true, entries: count, head, checkpoints, anchoredSeq };
}

function checkCheckpoint(entry: AuditEntry, recentHashes: Map<number, string>, verifier: AuditVerifier | undefined): string | undefined {
  const parsed = CheckpointDetailsSchema.safeParse(entry.details);
  if (!parsed.success) return 'malformed details';
  const details = parsed.data;
  if (!verifier) return 'no audit public key to verify it with';
  if (details.keyId !== verifier.keyId) return `signed by unknown key ${details.keyId}`;
  const covered = details.coversSeq === 0 ? GENESIS_HASH : recentHashes.get(details.coversSeq);
  if (covered !== details.coversHash) return `it covers entry ${details.coversSeq}, whose hash has changed`;
  if (!verifier.verify(checkpointMessage({ seq: details.coversSeq, hash: details.coversHash }, details.keyId), details.signature)) {
    return 'its signature does not verify';
  }
  return undefined;
}
