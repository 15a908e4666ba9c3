import { GENESIS_HASH, SYSTEM_ACTOR, type AuditEntry } from './audit-entry.js';
import { readAnchor, writeAnchor } from './anchor.js';
import type { AuditSigner } from './signing-key.js';
import { CHECKPOINT_ACTION, checkpointMessage, verifyAuditChain, type VerifyReport } from './verify-chain.js';
import type { AuditFilter, ControlStore, StoreReader } from '../store/control-store.js';

export interface AuditServiceDeps {
  store: ControlStore;
  signer: AuditSigner;
  dataDir: string;
  /** Append a signed checkpoint after this many entries. */
  checkpointEvery: number;
  log: { error(obj: object, msg: string): void };
}

/**
 * Queries and verification of the audit chain, and its checkpoints: a signed entry every
 * `checkpointEvery` entries (and on `checkpoint()`), whose sequence and hash are also written to the
 * anchor file outside the database, so that history rewrites and tail truncation are detectable.
 */
export async function createAuditService(deps: AuditServiceDeps) {
  const { store, signer } = deps;
  let lastCheckpointSeq = await findLastCheckpointSeq(store.reader);
  let inFlight: Promise<void> | undefined;
  // SECURITY: if the anchor no longer matches the log, someone cut or rewrote it while we were
  // down. Keep the old anchor as evidence (never overwrite it) and record the alert in the chain.
  const anchorProblem = await checkAnchorAgainstLog(store.reader, deps.dataDir, signer);
  if (!anchorProblem && readAnchor(deps.dataDir, signer).kind === 'none') writeAnchor(deps.dataDir, { seq: 0, hash: GENESIS_HASH }, signer);
  if (anchorProblem) {
    deps.log.error({ problem: anchorProblem }, 'audit anchor does not match the log: the anchor is frozen; run audit:verify');
    await store.mutate((tx) => tx.appendAudit({ actor: SYSTEM_ACTOR, action: 'audit.integrity_alert', target: 'audit', details: { problem: anchorProblem } }));
  }

  function checkpoint(): Promise<void> {
    inFlight ??= store
      .mutate(async (tx) => {
        const covers = tx.auditHead();
        if (covers.seq === lastCheckpointSeq || covers.seq === 0) return;
        const signature = signer.sign(checkpointMessage(covers, signer.keyId));
        const entry = await tx.appendAudit({
          actor: SYSTEM_ACTOR,
          action: CHECKPOINT_ACTION,
          target: 'audit',
          details: { coversSeq: covers.seq, coversHash: covers.hash, keyId: signer.keyId, signature },
        });
        tx.afterCommit(() => {
          lastCheckpointSeq = entry.seq;
          if (!anchorProblem) writeAnchor(deps.dataDir, entry, signer);
        });
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  }

  store.onCommit((head) => {
    if (head.seq - lastCheckpointSeq > deps.checkpointEvery) {
      checkpoint().catch((error: unknown) => deps.log.error({ err: error }, 'audit checkpoint failed'));
    }
  });

  return {
    checkpoint,
    query: (filter: AuditFilter): Promise<AuditEntry[]> => store.reader.queryAudit(filter),
    verify: (): Promise<VerifyReport> => verifyStoredChain(store.reader, deps.dataDir, signer),
  };
}

export type AuditService = Awaited<ReturnType<typeof createAuditService>>;

/** Verifies the chain in a store against the anchor in `dataDir`. Reads the anchor first. */
export function verifyStoredChain(reader: StoreReader, dataDir: string, verifier: Parameters<typeof verifyAuditChain>[1]['verifier']): Promise<VerifyReport> {
  const anchor = readAnchor(dataDir, verifier);
  return verifyAuditChain(reader.scanAudit(), { verifier, anchor });
}

/** Quick start-up check: the anchored entry must still be in the log with its hash. */
async function checkAnchorAgainstLog(reader: StoreReader, dataDir: string, signer: AuditSigner): Promise<string | undefined> {
  const reading = readAnchor(dataDir, signer);
  if (reading.kind === 'invalid') return reading.reason;
  if (reading.kind === 'none') return (await reader.auditHead()).seq > 0 ? 'the anchor file is missing' : undefined;
  const [entry] = await reader.queryAudit({ afterSeq: reading.anchor.seq - 1, limit: 1 });
  if (entry?.seq !== reading.anchor.seq || entry.hash !== reading.anchor.hash) return `anchored entry ${reading.anchor.seq} is missing or changed`;
  return undefined;
}

async function findLastCheckpointSeq(reader: StoreReader): Promise<number> {
  let last = 0;
  let afterSeq: number | undefined;
  // Checkpoints are a small fraction of the log; page through them once at start.
  for (;;) {
    const page = await reader.queryAudit({ action: CHECKPOINT_ACTION, limit: 1000, ...(afterSeq === undefined ? {} : { afterSeq }) });
    if (page.length === 0) return last;
    last = page[page.length - 1]!.seq;
    afterSeq = last;
  }
}
