import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { binomialTailLog10, fingerprintKeys, markAgreement, restoreCsvCell, shownNumber, tokenAgreement, type FingerprintKeys } from '../../desensitize/index.js';
import { exportVersionDirectory, PACKAGE_DIR, readTableText, type TextTable } from '../../sandbox/index.js';
import { exportFingerprintKey } from '../token-keys.js';
import { MANIFEST_FILE, ManifestSchema } from './package-builder.js';

/**
 * Tracing a leaked file back to the export and recipient it was delivered to (issue 11, item 6),
 * from the packages under `<dataDir>/exports/` and the token master. Reads only; runs on the
 * operator's machine inside the domain (`npm run -s trace`).
 *
 * Three kinds of evidence, per delivered package:
 * - re-keyed tokens: a distinct value whose tag verifies under the package's key (chance 2^-32);
 * - numeric marks: the share of values whose last kept decimal agrees with the package's keyed bits
 *   (chance at most 1/2 per distinct high part, `markAgreement`), per leaked column, at each unit
 *   the manifest names;
 * - released cells (aggregates, and row-level files without a mark): the share of the leaked rows
 *   found among the rows of the delivered file, columns matched by their values, not their names.
 *
 * The first two give a probability that the agreement is chance, corrected (Bonferroni) for every
 * package, column and unit tried; a package is named only when that is below 10^-6. The third is a
 * share, and names a package when at least 90% of the leaked rows are released rows of it.
 */
export const CLAIM_LOG10 = -6;
export const CELL_SHARE_CLAIM = 0.9;
/** Distinct released rows a leaked file must hold before its cells name a package. */
export const CELL_MIN_ROWS = 3;
const TOKEN_CHANCE = 2 ** -32;

export const TraceMatchSchema = z.object({
  export: z.string(),
  version: z.number().int(),
  recipient: z.string(),
  /** For fingerprints: 1 − the corrected chance probability. For released cells: the share of leaked rows found. */
  confidence: z.number(),
  method: z.enum(['tokens', 'marks', 'released-cells']),
  evidence: z.string(),
  /**
   * For released cells: every organization that held them, the recipient and the exporting tenant
   * (its operators computed them; an aggregate's prod answer gives the same cells). Cells name an
   * export, not who leaked it; marks and tokens are the recipient's alone.
   */
  heldBy: z.array(z.string()).optional(),
});
export type TraceMatch = z.infer<typeof TraceMatchSchema>;

const TracedFileSchema = z.object({ format: z.string(), rows: z.number().int(), columns: z.number().int() });
/**
 * Packages the file matches that were approved but never downloaded: no recipient received them, so
 * none is named; such a leak came from inside the domain (shown apart for the supervisor).
 */
const NotDeliveredSchema = z.array(TraceMatchSchema);
export const TraceReportSchema = z.union([
  TraceMatchSchema.extend({ found: z.literal(true), file: TracedFileSchema, matches: z.array(TraceMatchSchema), notDelivered: NotDeliveredSchema }),
  z.object({ found: z.literal(false), message: z.literal('no fingerprint found'), file: TracedFileSchema, packagesSearched: z.number().int(), notDelivered: NotDeliveredSchema }),
]);
export type TraceReport = z.infer<typeof TraceReportSchema>;

/** A manifest written before fingerprints existed has no `fingerprint` section: it is still matched on cells. */
const StoredManifestSchema = ManifestSchema.partial({ fingerprint: true });
type StoredManifest = z.infer<typeof StoredManifestSchema>;

interface DeliveredPackage {
  manifest: StoredManifest;
  dataFile: string;
}

/**
 * Every package with a readable manifest under `<dataDir>/exports/`. An expired package keeps its
 * manifest (its data file is deleted): its fingerprint can still be traced, its cells no longer.
 */
export function listDeliveredPackages(dataDir: string): DeliveredPackage[] {
  const root = path.join(dataDir, 'exports');
  if (!fs.existsSync(root)) return [];
  const out: DeliveredPackage[] = [];
  for (const exportId of fs.readdirSync(root).sort()) {
    if (!/^exp-[0-9a-f]{16}$/.test(exportId)) continue;
    for (const entry of fs.readdirSync(path.join(root, exportId)).sort()) {
      const version = /^v(\d+)$/.exec(entry)?.[1];
      if (!version) continue;
      const dir = path.join(exportVersionDirectory(dataDir, exportId, Number(version)), PACKAGE_DIR);
      const file = path.join(dir, MANIFEST_FILE);
      if (!fs.existsSync(file)) continue;
      let content: unknown;
      try {
        content = JSON.parse(fs.readFileSync(file, 'utf8'));
      } catch {
        continue;
      }
      const parsed = StoredManifestSchema.safeParse(content);
      if (parsed.success) out.push({ manifest: parsed.data, dataFile: path.join(dir, parsed.data.dataFile.name) });
    }
  }
  return out;
}

/**
 * Traces a leaked file to the packages it came from. `downloaded` says whether a package of an
 * export was ever downloaded (the control store's export_downloads): a recipient is named only for
 * what it received. SECURITY: an approved package nobody downloaded was named as a leak's source,
 * first when its export id sorted first (red-team pass 28b).
 */
export async function traceLeak(input: { dataDir: string; file: string; tokenMaster: Buffer; downloaded: (exportId: string) => Promise<boolean> }): Promise<TraceReport> {
  const leaked = await readTableText(input.file);
  const packages = listDeliveredPackages(input.dataDir);
  const described = { format: leaked.format, rows: leaked.rows.length, columns: leaked.columns.length };
  // Every package tried is one more chance for a coincidence.
  const candidates = Math.log10(Math.max(1, packages.length));
  const matches: TraceMatch[] = [];
  for (const { manifest, dataFile } of packages) {
    const base = { export: manifest.exportId, version: manifest.version, recipient: manifest.recipient };
    if (manifest.fingerprint) {
      const keys = fingerprintKeys(exportFingerprintKey(input.tokenMaster, manifest.exportId, manifest.recipient));
      const tokens = tokenEvidence(leaked, keys);
      const marks = markEvidence(leaked, keys, [...new Set(manifest.fingerprint.markedColumns.map((c) => c.decimals))]);
      const best = [tokens, marks].filter((e) => e !== undefined).sort((a, b) => a.log10 - b.log10)[0];
      if (best && best.log10 + candidates <= CLAIM_LOG10) {
        const chance = best.log10 + candidates;
        matches.push({ ...base, confidence: 1 - 10 ** chance, method: best.method, evidence: `${best.text}; chance of this by coincidence ≤ 1e${Math.ceil(chance)}` });
        continue;
      }
    }
    if (!fs.existsSync(dataFile)) continue;
    const share = cellShare(leaked, await readTableText(dataFile));
    if (share && share.share >= CELL_SHARE_CLAIM) {
      matches.push({
        ...base, confidence: share.share, method: 'released-cells', heldBy: [manifest.recipient, manifest.tenant],
        evidence: `${share.matched} of ${leaked.rows.length} rows are rows of the delivered file (${share.columns} columns matched by value); these cells were held by the recipient and by the exporting tenant ${manifest.tenant}, whose operators computed them: they name the export, not who leaked it`,
      });
    }
  }
  const rank = (m: TraceMatch) => (m.method === 'released-cells' ? 1 : 0);
  matches.sort((a, b) => rank(a) - rank(b) || b.confidence - a.confidence);
  const delivered = new Map<string, boolean>();
  for (const id of new Set(matches.map((m) => m.export))) delivered.set(id, await input.downloaded(id));
  const named = matches.filter((m) => delivered.get(m.export));
  const notDelivered = matches.filter((m) => !delivered.get(m.export));
  if (named.length === 0) return { found: false, message: 'no fingerprint found', file: described, packagesSearched: packages.length, notDelivered };
  return { found: true, ...named[0]!, file: described, matches: named, notDelivered };
}

interface Evidence {
  method: 'tokens' | 'marks';
  log10: number;
  text: string;
}

function tokenEvidence(leaked: TextTable, keys: FingerprintKeys): Evidence | undefined {
  const { trials, agreed } = tokenAgreement(keys, leaked.rows.flatMap((row) => row.filter((cell) => cell !== null)));
  if (agreed === 0) return undefined;
  return { method: 'tokens', log10: binomialTailLog10(trials, agreed, TOKEN_CHANCE), text: `${agreed} of ${trials} distinct token values carry this recipient's tag` };
}

/**
 * The strongest single column: for each leaked column and each unit the package was marked in, the
 * agreement of the values' last digits with the keyed bits (`markAgreement`). Corrected for the
 * columns × units tried.
 */
function markEvidence(leaked: TextTable, keys: FingerprintKeys, decimalsTried: number[]): Evidence | undefined {
  if (decimalsTried.length === 0) return undefined;
  let best: { log10: number; column: string; trials: number; agreed: number } | undefined;
  const cells = (c: number) => leaked.rows.map((row) => row[c]).filter((cell): cell is string => cell !== null && cell !== undefined);
  // Each column, and the whole file's cells together: a file turned round (transposed, pivoted)
  // holds the marked values across many columns of a few values each (red-team pass 29a).
  const series = [...leaked.columns.map((name, c) => ({ name: `column ${name}`, texts: cells(c) })), { name: 'the whole file', texts: leaked.columns.flatMap((_, c) => cells(c)) }];
  for (const { name, texts } of series) {
    for (const decimals of decimalsTried) {
      const { trials, agreed } = markAgreement(keys, texts, decimals);
      const log10 = binomialTailLog10(trials, agreed, 0.5);
      if (trials > 0 && (!best || log10 < best.log10)) best = { log10, column: name, trials, agreed };
    }
  }
  if (!best) return undefined;
  const tried = Math.log10(series.length * decimalsTried.length);
  return { method: 'marks', log10: best.log10 + tried, text: `${best.agreed} of ${best.trials} independent values of ${best.column} carry this recipient's mark` };
}

/**
 * Which share of the leaked rows are rows of a delivered file, whatever the order of rows and
 * columns, the column names and the encoding: each leaked column is paired with the delivered column
 * sharing most of its values (at least half), then rows are compared on the paired columns.
 */
export function cellShare(leaked: TextTable, released: TextTable): { share: number; matched: number; columns: number } | undefined {
  if (leaked.rows.length === 0 || released.rows.length === 0) return undefined;
  const leakedValues = leaked.columns.map((_, c) => new Set(leaked.rows.map((row) => canonicalCell(row[c]))));
  const releasedValues = released.columns.map((_, c) => new Set(released.rows.map((row) => canonicalCell(row[c]))));
  const pairs: [number, number][] = [];
  const taken = new Set<number>();
  const overlaps = leakedValues.flatMap((values, l) => releasedValues.map((other, r) => ({ l, r, overlap: [...values].filter((v) => other.has(v)).length / values.size })));
  overlaps.sort((a, b) => b.overlap - a.overlap);
  const paired = new Set<number>();
  for (const { l, r, overlap } of overlaps) {
    if (overlap < 0.5 || paired.has(l) || taken.has(r)) continue;
    pairs.push([l, r]);
    paired.add(l);
    taken.add(r);
  }
  // SECURITY: tracing must not name a recipient on evidence anyone can make up: one shared column
  // says little (a list of districts, a column of "1"), whatever the leaked file's width, and neither
  // do one or two rows (a guess of a total). Two columns or more make rows; three distinct rows or
  // more of them, all released, make a match.
  if (pairs.length < 2) return undefined;
  const releasedRows = new Set(released.rows.map((row) => pairs.map(([, r]) => canonicalCell(row[r])).join('\u0001')));
  const keys = leaked.rows.map((row) => pairs.map(([l]) => canonicalCell(row[l])).join('\u0001'));
  const matched = keys.filter((key) => releasedRows.has(key)).length;
  if (new Set(keys.filter((key) => releasedRows.has(key))).size < CELL_MIN_ROWS) return undefined;
  return { share: matched / leaked.rows.length, matched, columns: pairs.length };
}

/** A cell as every format writes it: numbers by value, the CSV-injection quote removed, timestamps with a space. */
function canonicalCell(cell: string | null | undefined): string {
  if (cell === null || cell === undefined) return '';
  const restored = restoreCsvCell(cell.trim());
  // Numbers as shown (grouped, another locale's separators); never a text with letters ('3区' is no 3).
  const text = /\p{L}/u.test(restored) ? restored : shownNumber(restored);
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) return String(Number(text));
  const timestamp = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}:\d{2})(\.0+)?Z?$/.exec(text);
  if (timestamp) return `${timestamp[1]} ${timestamp[2]}`;
  return text;
}
