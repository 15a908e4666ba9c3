import fs from 'node:fs';
import path from 'node:path';
import { luhnCheckDigit, residentIdCheckChar } from '../../desensitize/index.js';
import { openDatabase, type Row } from '../../sandbox/index.js';
import { BOUNDARY, multipartForm } from './multipart.js';
import { SUPERVISOR, type TestApp } from './test-app.js';

/** Catalog metadata for a general, shareable dataset; override what a test needs. */
export function datasetMeta(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id, name: `${id} 数据集`, provider: '市数据局', grade: 'general', shareAttribute: 'conditional', openAttribute: 'none',
    updateFrequency: 'monthly', acquiredAt: '2026-10-31', ...overrides,
  };
}

/**
 * A residents CSV with valid resident IDs, names, mobiles, cards, districts and amounts. Up to 9,000
 * rows, one row per person (each identifier column pairs one to one with the others); past that the
 * resident IDs repeat while mobiles and cards do not (name `entity` then).
 */
export function residentsCsv(rows: number): { csv: string; ids: string[]; mobiles: string[]; names: string[]; cards: string[] } {
  const surnames = ['张', '李', '王', '欧阳', '赵'];
  const given = ['伟', '芳', '娜娜', '强', '敏'];
  const districts = ['长安区', '桥西区', '新华区'];
  const ids: string[] = [];
  const mobiles: string[] = [];
  const names: string[] = [];
  const cards: string[] = [];
  const lines = ['id_card,name,mobile,bank_card,district,amount'];
  for (let i = 0; i < rows; i++) {
    const first17 = `130102${1950 + (i % 50)}0${1 + (i % 9)}1${i % 10}${String(i % 1000).padStart(3, '0')}`;
    const id = first17 + residentIdCheckChar(first17);
    const mobile = `1${3 + (i % 7)}${String(100_000_000 + i * 7919).slice(-9)}`;
    const name = surnames[i % surnames.length]! + given[(i * 3) % given.length]!;
    const cardPayload = `622202${String(1_000_000_000_00 + i).slice(-12)}`;
    ids.push(id);
    mobiles.push(mobile);
    names.push(name);
    cards.push(`${cardPayload}${luhnCheckDigit(cardPayload)}`);
    lines.push(`${id},${name},${mobile},${cards[i]},${districts[i % 3]},${(i * 37) % 1000}.5`);
  }
  return { csv: `${lines.join('\n')}\n`, ids, mobiles, names, cards };
}

export function ingest(t: TestApp, meta: Record<string, unknown> | string, content: Buffer, claims = SUPERVISOR) {
  return t.app.inject({
    method: 'POST', url: '/v1/datasets',
    payload: multipartForm({ meta: typeof meta === 'string' ? meta : JSON.stringify(meta) }, { filename: 'data.csv', content }),
    headers: { authorization: `Bearer ${t.token(claims)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
  });
}

/** Writes the rows of a SELECT as a Parquet file (DuckDB in memory); returns its bytes. */
export async function parquetOf(file: string, select: string): Promise<Buffer> {
  const db = await openDatabase(':memory:');
  const connection = await db.connect();
  try {
    await connection.run(`COPY (${select}) TO '${file}' (FORMAT parquet)`);
  } finally {
    connection.close();
    db.close();
  }
  return fs.readFileSync(file);
}

/** Rows of a query over a dataset's raw file (`domain/<id>/v<version>.duckdb`, table `data`), read-only. */
export async function rawDatasetRows(dataDir: string, id: string, sql: string, version = 1): Promise<Row[]> {
  const db = await openDatabase(path.join(dataDir, 'domain', id, `v${version}.duckdb`), { readOnly: true });
  const connection = await db.connect();
  try {
    return await connection.all(sql);
  } finally {
    connection.close();
    db.close();
  }
}
