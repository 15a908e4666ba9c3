import { createHash } from 'node:crypto';
import { z } from 'zod';
import { canonicalJson } from './canonical-json.js';

/** Who did something. `system` is the platform itself (seeding, checkpoints, reconciliation). */
export const AuditActorSchema = z.object({
  sub: z.string(),
  role: z.enum(['supervisor', 'operator', 'applicant', 'system']),
  org: z.string(),
});
export type AuditActor = z.infer<typeof AuditActorSchema>;

export const SYSTEM_ACTOR: AuditActor = { sub: 'indomain', role: 'system', org: 'platform' };

export const AuditEntrySchema = z.object({
  seq: z.number().int().positive(),
  ts: z.string(),
  actor: AuditActorSchema,
  action: z.string(),
  target: z.string(),
  details: z.record(z.string(), z.unknown()),
  prevHash: z.string(),
  hash: z.string(),
});
export type AuditEntry = z.infer<typeof AuditEntrySchema>;

/** What a caller supplies; sequence, time and hashes are the chain's to assign. */
export interface AuditEntryInput {
  actor: AuditActor;
  action: string;
  target: string;
  details?: Record<string, unknown>;
}

export const GENESIS_HASH = '0'.repeat(64);

/** The chain's head: the last entry's sequence and hash (0 and GENESIS_HASH when empty). */
export interface AuditHead {
  seq: number;
  hash: string;
}

/**
 * SHA-256 over the canonical encoding of everything in the entry except its own hash. Changing any
 * field, including the sequence number or the link to the previous entry, changes the hash.
 */
export function hashAuditEntry(entry: Omit<AuditEntry, 'hash'>): string {
  const body = canonicalJson({
    seq: entry.seq,
    ts: entry.ts,
    actor: entry.actor,
    action: entry.action,
    target: entry.target,
    details: entry.details,
    prevHash: entry.prevHash,
  });
  return createHash('sha256').update(body, 'utf8').digest('hex');
}

/** Builds the next entry after `head`. Pure: the caller supplies the time. */
export function chainAuditEntry(head: AuditHead, input: AuditEntryInput, ts: string): AuditEntry {
  // Round-trip through canonical JSON so that what is hashed is exactly what will be stored and read back.
  const details = JSON.parse(canonicalJson(input.details ?? {})) as Record<string, unknown>;
  const unhashed = { seq: head.seq + 1, ts, actor: input.actor, action: input.action, target: input.target, details, prevHash: head.hash };
  return { ...unhashed, hash: hashAuditEntry(unhashed) };
}
