import fs from 'node:fs';
import path from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { quoteIdentifier, recognizeColumn, type Recognition } from '../../desensitize/index.js';
import type { PreparedUpload } from '../upload/prepare-upload.js';
import { readUpload } from './read-upload.js';

/** What profiling says about one column of an ingested dataset. */
export interface ColumnProfile {
  name: string;
  type: string;
  nullShare: number;
  distinctEstimate: number;
  min: string | null;
  max: string | null;
  /** The most frequent values, only for columns not recognized as personal data. */
  topValues: { value: string; count: number }[] | null;
  pii: Recognition | null;
}

export interface IngestResult {
  version: number;
  file: string;
  rows: number;
  columns: ColumnProfile[];
}

const TOP_VALUES = 5;

/**
 * Trusted ingest of a raw dataset into `domain/<id>/v<version>.duckdb` (table `data`): the file is
 * read by the same strict reader as uploads, written to a `.building` file, profiled, then renamed,
 * so a half-built version never appears. Runs on an engine worker thread; never in a tenant engine.
 */
export async function ingestDataset(task: { datasetDir: string; version: number; upload?: PreparedUpload | undefined; sql?: string | undefined; today: string; sampleSize: number }): Promise<IngestResult> {
  const file = `v${task.version}.duckdb`;
  const building = path.join(task.datasetDir, `${file}.building`);
  fs.mkdirSync(task.datasetDir, { recursive: true });
  const removeBuilding = () => {
    fs.rmSync(building, { force: true });
    fs.rmSync(`${building}.wal`, { force: true });
  };
  removeBuilding();
  // Either an uploaded file (read by the strict reader) or trusted generating SQL (the demo domain).
  const rows = task.upload ? await readUpload(task.upload) : undefined;
  let result: IngestResult;
  try {
    const instance = await DuckDBInstance.create(building, { threads: '1', autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' });
    try {
      const connection = await instance.connect();
      try {
        if (rows) {
          await connection.run(`CREATE TABLE data (${rows.columns.map((c) => `${quoteIdentifier(c.name)} ${c.type}`).join(', ')})`);
          const appender = await connection.createAppender('data');
          try {
            for await (const chunk of rows.chunks()) appender.appendDataChunk(chunk);
            appender.flushSync();
          } finally {
            appender.closeSync();
          }
        } else {
          await connection.run(`CREATE TABLE data AS ${task.sql}`);
        }
        const described = (await connection.runAndReadAll('DESCRIBE data')).getRowsJS().map(([name, type]) => ({ name: String(name), type: String(type) }));
        const count = Number((await connection.runAndReadAll('SELECT count(*) FROM data')).getRowsJS()[0]?.[0] ?? 0);
        const columns: ColumnProfile[] = [];
        for (const column of described) columns.push(await profileColumn(connection, column, count, task));
        await connection.run('CHECKPOINT');
        result = { version: task.version, file, rows: count, columns };
      } finally {
        connection.closeSync();
      }
    } finally {
      instance.closeSync();
    }
  } catch (error) {
    removeBuilding();
    throw error;
  } finally {
    rows?.close();
  }
  fs.renameSync(building, path.join(task.datasetDir, file));
  return result;
}

async function profileColumn(connection: DuckDBConnection, column: { name: string; type: string }, rows: number, task: { today: string; sampleSize: number }): Promise<ColumnProfile> {
  const c = quoteIdentifier(column.name);
  const stats = (await connection.runAndReadAll(`SELECT count(${c}), approx_count_distinct(${c}), min(${c})::VARCHAR, max(${c})::VARCHAR FROM data`)).getRowsJS()[0] ?? [];
  const sample = (await connection.runAndReadAll(
    `SELECT ${c}::VARCHAR FROM data WHERE ${c} IS NOT NULL USING SAMPLE reservoir(${task.sampleSize} ROWS) REPEATABLE (42)`,
  )).getRowsJS().map((r) => (r[0] === null ? null : String(r[0])));
  const pii = recognizeColumn(column.name, sample, task.today);
  // Top values would print identifiers into the catalog: only for columns with no personal data.
  const topValues = pii ? null : (await connection.runAndReadAll(
    `SELECT ${c}::VARCHAR AS v, count(*) AS n FROM data WHERE ${c} IS NOT NULL GROUP BY 1 ORDER BY n DESC, v LIMIT ${TOP_VALUES}`,
  )).getRowsJS().map(([value, count]) => ({ value: String(value), count: Number(count) }));
  const nonNull = Number(stats[0] ?? 0);
  return {
    name: column.name,
    type: column.type,
    nullShare: rows === 0 ? 0 : Math.round(((rows - nonNull) / rows) * 10_000) / 10_000,
    distinctEstimate: Number(stats[1] ?? 0),
    // SECURITY: min and max of a personal-data column would be an identifier: not kept.
    min: pii ? null : (stats[2] as string | null) ?? null,
    max: pii ? null : (stats[3] as string | null) ?? null,
    topValues,
    pii,
  };
}
