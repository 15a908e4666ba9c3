import type { Claims } from '../../tenants/index.js';
import type { TestApp } from './test-app.js';

/** A prod answer as an operator reads it: its status, and its rows and disclosure, or its error. */
export interface ProdAnswer {
  status: number;
  code?: string;
  message?: string;
  rows: unknown[][];
  disclosure?: { kind: string; withheldRows: number | null; suppressedCells: number; reasons: string[] };
}

/** Asks `sql` in prod as `who` (up to 10,000 rows); an error is a status with its code and message, no rows. */
export function prodAsker(app: () => TestApp, who: Claims): (sql: string) => Promise<ProdAnswer> {
  return async (sql) => {
    const res = await app().call(who, 'POST', '/v1/query', { sql, env: 'prod', maxRows: 10_000 });
    const body = res.json() as Omit<ProdAnswer, 'status'>;
    return res.statusCode === 200
      ? { status: 200, rows: body.rows, ...(body.disclosure ? { disclosure: body.disclosure } : {}) }
      : { status: res.statusCode, ...(body.code ? { code: body.code } : {}), ...(body.message ? { message: body.message } : {}), rows: [] };
  };
}
