import fs from 'node:fs';
import path from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';

/**
 * Progress of a dataset ingest, passed from the engine worker (which runs the load) to the API
 * server (which answers GET /v1/datasets/:id) through a small file next to the version being built:
 * they live in different processes, and a file needs no new channel between them.
 */
export type IngestStage = 'checking' | 'loading' | 'profiling';

export interface IngestProgress {
  stage: IngestStage;
  /** DuckDB's estimate for the running statement, 0–100; null when it has none. */
  percent: number | null;
}

export function ingestProgressPath(datasetDir: string, version: number): string {
  return path.join(datasetDir, `v${version}.progress.json`);
}

const INTERVAL_MS = 250;

/** Reports the stage, and DuckDB's own progress of the running statement, until stopped. */
export async function trackIngestProgress(connection: DuckDBConnection, file: string): Promise<{ stage(stage: IngestStage): void; stop(): void }> {
  // DuckDB tracks query progress only with its progress bar on; printing stays off.
  await connection.run('SET enable_progress_bar = true');
  await connection.run('SET enable_progress_bar_print = false');
  await connection.run('SET progress_bar_time = 0');
  let stage: IngestStage = 'loading';
  const write = () => {
    const { percentage } = connection.progress;
    const progress: IngestProgress = { stage, percent: percentage >= 0 ? Math.round(percentage * 10) / 10 : null };
    // Rename over the old file: a reader never sees half of it. Not fsynced: it is only a hint.
    fs.writeFileSync(`${file}.tmp`, JSON.stringify(progress));
    fs.renameSync(`${file}.tmp`, file);
  };
  write();
  const timer = setInterval(write, INTERVAL_MS);
  return {
    stage(next) {
      stage = next;
      write();
    },
    stop() {
      clearInterval(timer);
      fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.tmp`, { force: true });
    },
  };
}

/** The last progress a worker wrote, or null (none yet, or finished). */
export function readIngestProgress(file: string): IngestProgress | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as IngestProgress;
    return typeof parsed.stage === 'string' ? parsed : null;
  } catch {
    return null;
  }
}
