/**
 * Functions that take SQL, or the name of a table, setting, function, type or file, as a string are
 * dynamic SQL by another name: they bind and plan outside the gate's checks (json_serialize_plan
 * planned the other env's tables, read settings through current_setting inside its string, ignored
 * the join cap and returned raw binder messages). This test derives every such function from
 * DuckDB's own catalog (`duckdb_functions()`: parameter names, function names and descriptions)
 * and fails when the gate allows one that is not recorded below as harmless with a reason, so a
 * new DuckDB version cannot slip one in. It also attacks json_serialize_plan through the HTTP API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALLOWED_FUNCTIONS } from '../../sandbox/gate/allowed-functions.js';
import { useMemoryConnection } from '../helpers/memory-connection.js';
import { licenseTenantWithData, residents } from '../helpers/tenant-fixture.js';
import { startTestApp, type TestApp } from '../helpers/test-app.js';

/** A parameter whose name says it is SQL or names a catalog object, setting, function, type or file. */
const NAME_PARAMETER = /sql|query|statement|plan|table|setting|option|variable|function|func|macro|catalog|schema|database|name|type|path|file|collation|extension|secret/i;
/** A function whose own name says it deals in those. */
const NAME_FUNCTION = /sql|query|plan|setting|variable|table|catalog|schema|database|macro|extension|secret|pragma|log|type|path|file|collat/i;
const DESCRIPTION = /\bsql\b|query|statement|planner|setting|table name|function name|catalog|schema|database|file/i;

/**
 * Allowed functions the derivation flags, each shown harmless: none of them binds, plans or looks
 * up a catalog object by the string it receives.
 */
const PROVEN_HARMLESS: Record<string, string> = {
  parse_path: 'splits a path string into parts; reads no file',
  parse_dirname: 'string manipulation of a path; reads no file',
  parse_dirpath: 'string manipulation of a path; reads no file',
  parse_filename: 'string manipulation of a path; reads no file',
  get_type: 'the type of a value the query already has',
  typeof: 'the type name of a value the query already has',
  icu_sort_key: 'a sort key for a string under a collation name (ICU data, not the catalog)',
  union_extract: 'a member of a union value, by its tag',
  struct_extract: 'a field of a struct value, by its name',
  struct_extract_at: 'a field of a struct value, by its position',
  variant_extract: 'a field of a variant value, by its name',
  variant_typeof: 'the type name of a variant value',
  json_transform: 'reshapes a JSON value by a constant structure description (no catalog lookup)',
  json_transform_strict: 'as json_transform',
  from_json: 'as json_transform',
  from_json_strict: 'as json_transform',
  json_type: 'the JSON type of a value at a path',
  json_structure: 'the structure of a JSON value',
  json_group_structure: 'the structure of JSON values',
  alias: 'the alias of the expression the query wrote',
  st_setcrs: 'tags a geometry with a coordinate reference system name',
  st_crs: 'reads the CRS tag of a geometry value',
  make_timestamptz: 'a time zone name, not a catalog object',
  timezone: 'a time zone name, not a catalog object',
  'enum_range': 'the values of the enum type of a value the query already has',
  enum_range_boundary: 'as enum_range',
  enum_first: 'as enum_range',
  enum_last: 'as enum_range',
  enum_code: 'as enum_range',
  variant_to_parquet_variant: 'converts a variant value in memory; writes no file',
  is_histogram_other_bin: 'tests a value against the histogram "other" bin',
  strftime: 'a format string for a date, not a name',
  strptime: 'a format string for a date, not a name',
  try_strptime: 'a format string for a date, not a name',
  json_extract_path: 'a JSON path into a value, not a file path',
  json_extract_path_text: 'as json_extract_path',
  regexp_extract: 'regular-expression flags ("options"), not settings',
  regexp_extract_all: 'as regexp_extract',
  regexp_matches: 'as regexp_extract',
  regexp_replace: 'as regexp_extract',
  regexp_split_to_array: 'as regexp_extract',
  str_split_regex: 'as regexp_extract',
  string_split_regex: 'as regexp_extract',
  decode: 'converts a blob value to text',
  encode: 'converts a text value to a blob',
};

const db = useMemoryConnection();

describe('functions that take SQL or names as strings', () => {
  it('are never allowed unless recorded as harmless, derived from duckdb_functions()', async () => {
    const rows = await db.connection.all<{ name: string; parameters: string; types: string; description: string | null }>(
      `SELECT function_name AS name, parameters::VARCHAR AS parameters, parameter_types::VARCHAR AS types, description
       FROM duckdb_functions() WHERE schema_name = 'main' AND function_type IN ('scalar', 'aggregate', 'macro')`,
    );
    const flagged = new Set<string>();
    for (const row of rows) {
      const takesText = /VARCHAR|ANY|JSON/.test(row.types);
      const byParameter = takesText && NAME_PARAMETER.test(row.parameters);
      const byName = takesText && NAME_FUNCTION.test(row.name);
      const byDescription = takesText && DESCRIPTION.test(row.description ?? '');
      if (byParameter || byName || byDescription) flagged.add(row.name);
    }
    // The derivation finds what the attack used, so it can fail.
    for (const known of ['json_serialize_plan', 'json_serialize_sql', 'current_setting', 'list_aggregate', 'getvariable']) expect(flagged, known).toContain(known);
    // icu_collate_<locale>(text): the string under an ICU locale's collation; no catalog lookup.
    const harmless = (name: string) => name in PROVEN_HARMLESS || /^icu_collate_[a-z_]+$/.test(name);
    const allowedUnproven = [...flagged].filter((name) => ALLOWED_FUNCTIONS.has(name) && !harmless(name)).sort();
    expect(allowedUnproven).toEqual([]);
  });

  it('lists no function DuckDB does not have (the allow-list is not stale)', async () => {
    const rows = await db.connection.all<{ name: string }>("SELECT DISTINCT function_name AS name FROM duckdb_functions() WHERE schema_name = 'main'");
    const known = new Set(rows.map((r) => r.name));
    expect([...ALLOWED_FUNCTIONS].filter((name) => !known.has(name))).toEqual([]);
    expect(Object.keys(PROVEN_HARMLESS).filter((name) => !known.has(name))).toEqual([]);
  });
});

describe('json_serialize_plan through the API', () => {
  const OPERATOR = { role: 'operator', org: 'acme', sub: 'mallory' } as const;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ env: { INDOMAIN_QUERY_MAX_REJECTIONS_PER_MINUTE: '100000' } });
    await licenseTenantWithData(t, 'acme', [residents('PRODSECRET')]);
  });
  afterAll(() => t.close({ remove: true }));

  it.each([
    ['the other env', 'dev', "SELECT json_serialize_plan('SELECT name FROM granted.residents')"],
    ['a setting inside the string', 'prod', "SELECT json_serialize_plan('SELECT current_setting(''temp_directory'')')"],
    ['a binder message', 'prod', "SELECT json_serialize_plan('SELECT nosuchcolumn FROM residents')"],
    ['the same through list_aggregate', 'prod', "SELECT list_aggregate([1, 2], 'sum')"],
  ])('is refused: %s', async (_label, env, sql) => {
    const res = await t.call(OPERATOR, 'POST', '/v1/query', { sql, env });
    expect(res.statusCode).toBe(400);
    expect(res.json().code).toBe('SBX_ERR_SQL_FORBIDDEN_FUNCTION');
    expect(res.body).not.toMatch(/PRODSECRET|temp|tmp|nosuchcolumn|\/work|\/tmp/);
  });
});
