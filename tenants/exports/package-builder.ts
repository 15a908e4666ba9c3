import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { exportVersionDirectory, FingerprintSchema, PACKAGE_DIR, writeFileAtomic, type DeliveredFile } from '../../sandbox/index.js';
import type { ExportRecord, ExportVersionRecord, ReviewRecord, Withheld } from './export-model.js';
import { CheckSchema, WithheldSchema } from './export-model.js';

/**
 * The delivered package of an approved export version: the data file (written by the trusted engine
 * process, `export-files.ts`) and `manifest.json`, which says where the data came from (the seeds
 * require 注明数据来源和获取日期: sources with providers and acquisition dates), how it was computed
 * (SQL), what was checked, who approved it and when, until when it is valid, and the SHA-256 of the
 * data file.
 */
export const MANIFEST_FILE = 'manifest.json';

export const SourceDatasetSchema = z.object({
  dataset: z.string(),
  name: z.string().nullable(),
  version: z.number().int(),
  provider: z.string().nullable(),
  acquiredAt: z.string().nullable(),
});
export type SourceDataset = z.infer<typeof SourceDatasetSchema>;

export const ManifestSchema = z.object({
  exportId: z.string(),
  version: z.number().int(),
  tenant: z.string(),
  recipient: z.string(),
  purpose: z.string(),
  format: z.string(),
  sources: z.array(SourceDatasetSchema),
  sql: z.string(),
  mitigation: z.unknown().nullable(),
  /** What suppression withheld from the data file (rows removed, cells shown as null); null when nothing was. */
  withheld: WithheldSchema.nullable().default(null),
  rows: z.number().int(),
  columns: z.array(z.object({ name: z.string(), type: z.string() })),
  checks: z.array(CheckSchema),
  outcome: z.string(),
  justifications: z.record(z.string(), z.string()),
  reviews: z.array(z.object({ reviewer: z.string(), organization: z.string(), decision: z.string(), comment: z.string().nullable(), at: z.string() })),
  packagedAt: z.string(),
  validUntil: z.string(),
  maxDownloads: z.number().int(),
  dataFile: z.object({ name: z.string(), sha256: z.string(), bytes: z.number().int() }),
  snapshotSha256: z.string(),
  /** How the data file identifies its recipient (re-keyed tokens, marked columns, tolerance): never the key. */
  fingerprint: FingerprintSchema,
  notes: z.array(z.string()),
});
export type Manifest = z.infer<typeof ManifestSchema>;

/**
 * The manifest as a caller may read it: the exporting tenant's operators get no row count, snapshot
 * hash, or data file hash and size (the size says the row count), as the export's detail gives
 * them none: "四区 without one person's payments above X" has 1,964 rows or 1,960 (red-team pass
 * 17b); nor the fingerprint's plan, which is measured on the rows (the decimals every value of a
 * column needs, whether every text value looks like a token: pass 18b).
 */
export const ManifestViewSchema = ManifestSchema.extend({
  rows: z.number().int().nullable(),
  snapshotSha256: z.string().nullable(),
  dataFile: z.object({ name: z.string(), sha256: z.string().nullable(), bytes: z.number().int().nullable() }),
  fingerprint: FingerprintSchema.nullable(),
});
export type ManifestView = z.infer<typeof ManifestViewSchema>;

export function buildManifest(input: {
  record: ExportRecord;
  version: ExportVersionRecord;
  sources: SourceDataset[];
  reviews: ReviewRecord[];
  justifications: Record<string, string>;
  delivered: DeliveredFile;
  packagedAt: string;
  validUntil: string;
  maxDownloads: number;
}): Manifest {
  const { record, version } = input;
  return {
    exportId: record.id,
    version: version.version,
    tenant: record.tenantId,
    recipient: record.recipient,
    purpose: record.purpose,
    format: record.format,
    sources: input.sources,
    sql: version.sql,
    mitigation: version.mitigation,
    withheld: version.mitigation?.withheld ?? null,
    rows: version.rowCount,
    columns: version.columns,
    checks: version.checks,
    outcome: version.outcome,
    justifications: input.justifications,
    reviews: input.reviews.map((r) => ({ reviewer: r.reviewerSub, organization: r.reviewerOrg, decision: r.decision, comment: r.comment, at: r.createdAt })),
    packagedAt: input.packagedAt,
    validUntil: input.validUntil,
    maxDownloads: input.maxDownloads,
    dataFile: { name: path.basename(input.delivered.file), sha256: input.delivered.sha256, bytes: input.delivered.bytes },
    snapshotSha256: version.snapshot.sha256,
    fingerprint: input.delivered.fingerprint,
    notes: [
      ...(record.format === 'csv' ? ['UTF-8 with BOM; in text cells, = + - @ (or a tab, carriage return or line feed) at the start or after a ; , tab, carriage return or line feed are prefixed with \' so that spreadsheets show them as text (CSV injection)'] : []),
      ...withheldNote(version.mitigation?.withheld ?? null),
    ],
  };
}

/** How the manifest's note on what suppression withheld begins. */
export const WITHHELD_NOTE = 'disclosure control withheld';

/** The recipient is told that cells were withheld (shown as empty) and rows removed: never silent. */
function withheldNote(withheld: Withheld | null): string[] {
  if (!withheld) return [];
  return [`${WITHHELD_NOTE} ${withheld.cells} ${withheld.cells === 1 ? 'cell' : 'cells'} (empty in the data file) and removed ${withheld.rows} ${withheld.rows === 1 ? 'row' : 'rows'} describing too few people or enterprises, or protecting those that do (secondary suppression)`];
}

/** Writes `package/manifest.json` next to the data file (read-only afterwards). */
export function writeManifest(dataDir: string, manifest: Manifest): void {
  const dir = path.join(exportVersionDirectory(dataDir, manifest.exportId, manifest.version), PACKAGE_DIR);
  writeFileAtomic(path.join(dir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, 0o400);
}

export function readManifest(dataDir: string, exportId: string, version: number): Manifest {
  const file = path.join(exportVersionDirectory(dataDir, exportId, version), PACKAGE_DIR, MANIFEST_FILE);
  return ManifestSchema.parse(JSON.parse(fs.readFileSync(file, 'utf8')));
}

/** Removes a version's package (a failed approval, or expiry: the data file goes, the manifest stays when asked). */
export function removePackage(dataDir: string, exportId: string, version: number, options: { keepManifest: boolean }): void {
  const dir = path.join(exportVersionDirectory(dataDir, exportId, version), PACKAGE_DIR);
  if (!fs.existsSync(dir)) return;
  for (const name of fs.readdirSync(dir)) {
    if (options.keepManifest && name === MANIFEST_FILE) continue;
    fs.rmSync(path.join(dir, name), { force: true });
  }
  if (!options.keepManifest) fs.rmSync(dir, { recursive: true, force: true });
}
