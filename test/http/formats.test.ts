/**
 * Formats as a client meets them: a date that does not exist says so; audit filters take plain
 * dates (whole days in INDOMAIN_TIMEZONE) as well as timestamps; 64-bit integers reach a JavaScript
 * client without losing a digit; the OpenAPI document describes the multipart bodies, well enough
 * that a client built from it (as /docs is) uploads a file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectStatus } from '../helpers/expect-status.js';
import { BOUNDARY, multipartForm } from '../helpers/multipart.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { licenseAround, startTestApp, SUPERVISOR, type TestApp } from '../helpers/test-app.js';

const OPERATOR = { role: 'operator', org: 'acme', sub: 'olga' } as const;

describe('formats', () => {
  let t: TestApp;
  // Today (UTC) D, at 15:30Z and 16:30Z: in Asia/Shanghai (the default zone, UTC+8) 23:30 on D and 00:30
  // on D+1. Today's, so that the fixtures' licenses (around the real date) are valid by this clock too.
  const D = new Date().toISOString().slice(0, 10);
  const next = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);
  const late = new Date(`${D}T15:30:00Z`);
  const afterMidnight = new Date(`${D}T16:30:00Z`);
  let now = late;
  beforeAll(async () => {
    t = await startTestApp({ clock: () => now });
    await licenseTenantWithData(t, 'acme', [residents('FMT', 10)]);
  });
  afterAll(() => t.close({ remove: true }));

  describe('dates', () => {
    const problems = async (body: object) => {
      const res = await t.call(SUPERVISOR, 'POST', '/v1/tenants', body);
      expect(res.statusCode).toBe(400);
      expect(res.json().code).toBe('REQ_ERR_VALIDATION');
      return res.json().details.problems as { field: string; problem: string }[];
    };

    it('says a well-written date does not exist, and a badly written one how to write it', async () => {
      expect(await problems({ id: 'feb', name: 'feb', licenseFrom: '2026-02-30', licenseTo: '2026-13-01' })).toEqual([
        { field: 'body.licenseFrom', problem: '2026-02-30 does not exist: February 2026 has 28 days' },
        { field: 'body.licenseTo', problem: '2026-13-01 does not exist: there is no month 13' },
      ]);
      expect(await problems({ id: 'feb', name: 'feb', licenseFrom: '2028-02-30', licenseTo: '30/02/2026' })).toEqual([
        { field: 'body.licenseFrom', problem: '2028-02-30 does not exist: February 2028 has 29 days' },
        { field: 'body.licenseTo', problem: 'must be a date written YYYY-MM-DD' },
      ]);
      // A leap day that exists is a date like any other.
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'leap', name: 'leap', licenseFrom: '2028-02-29', licenseTo: '2028-03-31' }), 201);
    });
  });

  describe('audit filters', () => {
    type Entry = { action: string; target: string; ts: string };
    const creates = async (qs: string) => {
      const res = expectStatus(await t.call(SUPERVISOR, 'GET', `/v1/audit?action=tenant.create&limit=1000&${qs}`), 200);
      return (res.json().entries as Entry[]).filter((e) => /^tenant:day[12]$/.test(e.target)).map((e) => e.target);
    };

    it('take a plain date as the whole day in INDOMAIN_TIMEZONE, and timestamps as before', async () => {
      now = late;
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'day1', name: 'day1', ...licenseAround(now, -1, 100) }), 201);
      now = afterMidnight;
      expectStatus(await t.call(SUPERVISOR, 'POST', '/v1/tenants', { id: 'day2', name: 'day2', ...licenseAround(now, -1, 100) }), 201);
      now = late;

      expect(await creates(`from=${D}&to=${D}`)).toEqual(['tenant:day1']);
      expect(await creates(`from=${next(D, 1)}&to=${next(D, 1)}`)).toEqual(['tenant:day2']);
      expect(await creates(`from=${D}`)).toEqual(['tenant:day1', 'tenant:day2']);
      expect(await creates(`to=${D}`)).toEqual(['tenant:day1']);
      expect(await creates(`from=${next(D, -1)}&to=${next(D, -1)}`)).toEqual([]);
      // Timestamps keep their meaning: `to` exclusive, to the millisecond.
      expect(await creates(`from=${encodeURIComponent(`${next(D, 1)}T00:00:00+08:00`)}`)).toEqual(['tenant:day2']);
      expect(await creates(`to=${encodeURIComponent(afterMidnight.toISOString())}`)).toEqual(['tenant:day1']);
    });

    it('refuse a date that does not exist, and anything neither date nor timestamp', async () => {
      for (const [qs, problem] of [
        ['from=2026-02-30', '2026-02-30 does not exist: February 2026 has 28 days'],
        ['to=yesterday', 'must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with its offset (2026-11-30T08:00:00+08:00)'],
        ['from=2026-03-10T10:00:00', 'must be a date (YYYY-MM-DD) or an ISO 8601 timestamp with its offset (2026-11-30T08:00:00+08:00)'],
      ] as const) {
        const res = await t.call(SUPERVISOR, 'GET', `/v1/audit?${qs}`);
        expect(res.statusCode, qs).toBe(400);
        expect(res.json().details.problems, qs).toEqual([{ field: `querystring.${qs.split('=')[0]}`, problem }]);
      }
      const reversed = await t.call(SUPERVISOR, 'GET', `/v1/audit?from=${next(D, 2)}&to=${D}`);
      expect(reversed.statusCode).toBe(400);
      expect(reversed.json().code).toBe('AUD_ERR_BAD_FILTER');
    });
  });

  describe('64-bit integers in answers', () => {
    it('come as decimal strings, every digit kept; 32-bit integers and doubles as numbers', async () => {
      const sql = `SELECT 9007199254740993::BIGINT AS big, -9007199254740993::BIGINT AS negative, 42::BIGINT AS small,
        18446744073709551615::UBIGINT AS ubig, 170141183460469231731687303715884105727::HUGEINT AS huge,
        2147483647::INTEGER AS i32, 0.5::DOUBLE AS d, 12345678901234567.89::DECIMAL(19,2) AS dec,
        [9007199254740993, 1]::BIGINT[] AS list, count(*) AS n FROM residents`;
      const res = expectStatus(await t.call(OPERATOR, 'POST', '/v1/query', { sql, env: 'prod' }), 200);
      // The raw text, before any JSON.parse: the digits are there as written.
      expect(res.body).toContain('"9007199254740993"');
      const body = res.json();
      expect(body.columns.map((c: { type: string }) => c.type)).toEqual(['BIGINT', 'BIGINT', 'BIGINT', 'UBIGINT', 'HUGEINT', 'INTEGER', 'DOUBLE', 'DECIMAL(19,2)', 'BIGINT[]', 'BIGINT']);
      expect(body.rows).toEqual([[
        '9007199254740993', '-9007199254740993', '42', '18446744073709551615', '170141183460469231731687303715884105727',
        2147483647, 0.5, '12345678901234567.89', ['9007199254740993', '1'], '10',
      ]]);
      // What a JavaScript client does with them: BigInt() of the string is exact, where a JSON number would not be.
      expect(BigInt(body.rows[0][0]) - 1n).toBe(9007199254740992n);
      expect(JSON.parse('9007199254740993')).toBe(9007199254740992);
    });
  });

  describe('the OpenAPI document', () => {
    type FormSchema = { type: string; properties: Record<string, { type: string; format?: string; example?: string }>; required: string[] };
    const formOf = (doc: { paths: Record<string, { post: { requestBody: { required: boolean; content: Record<string, { schema: FormSchema }> } } }> }, url: string) => {
      const body = doc.paths[url]!.post.requestBody;
      expect(body.required).toBe(true);
      expect(Object.keys(body.content)).toEqual(['multipart/form-data']);
      return body.content['multipart/form-data']!.schema;
    };

    it('describes the multipart bodies of POST /v1/uploads and POST /v1/datasets, file parts as binary', async () => {
      const doc = expectStatus(await t.app.inject({ method: 'GET', url: '/openapi.json' }), 200).json();
      expect(formOf(doc, '/v1/uploads')).toMatchObject({
        type: 'object', required: ['name', 'file'],
        properties: { name: { type: 'string', pattern: '^[a-z][a-z0-9_]{0,62}$' }, file: { type: 'string', format: 'binary' } },
      });
      expect(formOf(doc, '/v1/datasets')).toMatchObject({
        type: 'object', required: ['meta', 'file'],
        properties: { meta: { type: 'string' }, file: { type: 'string', format: 'binary' } },
      });
      // The documented example metadata is itself accepted (a supervisor can send it from /docs as is).
      const meta = JSON.parse(formOf(doc, '/v1/datasets').properties.meta!.example!);
      expect(meta).toMatchObject({ id: expect.any(String), acquiredAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/) });
    });

    it('is served with /docs, whose assets load (swagger-ui through @fastify/static)', async () => {
      const page = await t.app.inject({ method: 'GET', url: '/docs/' });
      expect(page.statusCode).toBe(200);
      expect(page.headers['content-type']).toMatch(/^text\/html/);
      const css = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-ui.css' });
      expect(css.statusCode).toBe(200);
      expect(css.body.length).toBeGreaterThan(1000);
    });

    it('is enough to upload: a form built from the document alone is accepted', async () => {
      const doc = expectStatus(await t.app.inject({ method: 'GET', url: '/openapi.json' }), 200).json();
      const form = formOf(doc, '/v1/uploads');
      const fields: Record<string, string> = {};
      let fileField: string | undefined;
      for (const name of form.required) {
        const property = form.properties[name]!;
        if (property.format === 'binary') fileField = name;
        else fields[name] = property.example ?? 'from_docs';
      }
      expect(fileField).toBe('file');
      const res = await t.app.inject({
        method: 'POST', url: '/v1/uploads',
        payload: multipartForm(fields, { filename: 'households.csv', content: Buffer.from('district,households\n长安区,1200\n') }),
        headers: { authorization: `Bearer ${t.token(OPERATOR)}`, 'content-type': `multipart/form-data; boundary=${BOUNDARY}` },
      });
      expect(res.statusCode, res.body).toBe(201);
      expect(res.json()).toMatchObject({ name: fields.name, rows: 1 });
    });
  });
});
