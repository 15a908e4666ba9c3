/** Every error code is documented in docs/errors.md with the status the server really uses. */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../../core/errors.js';
import { HTTP_STATUS_BY_CODE } from '../../../server/errors.js';

describe('error codes', () => {
  const rows = fs
    .readFileSync('docs/errors.md', 'utf8')
    .split('\n')
    .map((line) => /^\| `([A-Z_]+)` \| (\d{3}) \|/.exec(line))
    .filter((match): match is RegExpExecArray => match !== null)
    .map((match) => ({ code: match[1]!, status: Number(match[2]) }));

  it('documents each code exactly once, and nothing that does not exist', () => {
    expect(rows.map((r) => r.code).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('documents the status the server answers with', () => {
    for (const row of rows) expect(HTTP_STATUS_BY_CODE[row.code as keyof typeof HTTP_STATUS_BY_CODE], row.code).toBe(row.status);
  });

  it('follows the naming rule AREA_ERR_THING', () => {
    for (const code of ERROR_CODES) expect(code).toMatch(/^[A-Z]{3,4}_ERR_[A-Z_]+$/);
  });
});
