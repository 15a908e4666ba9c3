import fs from 'node:fs';
import path from 'node:path';
import { traceLeak, type TraceReport } from '../../tenants/index.js';
import { downloadedVia } from './export-probes.js';
import type { TestApp } from './test-app.js';

/**
 * Leaks and their traces, for the red-team files that attack `trace`: `leak` writes a file into
 * `dir`, `trace` runs traceLeak over the app's data dir (an unreadable file as `{error: code}`),
 * `named` lists a report's matches as `recipient:export:method`; `csvText` and `csvRows` read a
 * delivered CSV as a spreadsheet shows it (no byte order mark; CRLF lines, the header left out).
 */
export function traceProbes(app: () => TestApp, master: () => Buffer, dir: () => string) {
  return {
    trace: (file: string): Promise<TraceReport | { error: string }> =>
      traceLeak({ dataDir: app().dataDir, file, tokenMaster: master(), downloaded: downloadedVia(app) }).catch((error: { code?: string }) => ({ error: String(error.code ?? error) })),
    named: (report: TraceReport | { error: string }) => ('found' in report && report.found ? report.matches.map((m) => `${m.recipient}:${m.export}:${m.method}`) : []),
    leak(name: string, content: string | Buffer): string {
      const file = path.join(dir(), name);
      fs.writeFileSync(file, content);
      return file;
    },
    csvText: (body: Buffer) => body.toString('utf8').replace(/^\uFEFF/, ''),
    csvRows: (text: string) => text.split('\r\n').filter(Boolean).slice(1).map((line) => line.split(',')),
  };
}
