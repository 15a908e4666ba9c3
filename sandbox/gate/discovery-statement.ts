import { randomUUID } from 'node:crypto';
import type { Json } from './ast-walk.js';
import { reject } from './sql-rejection.js';

/**
 * Discovery statements (`SHOW TABLES`, `DESCRIBE`, `SUMMARIZE`) and `information_schema`, recognized
 * on DuckDB's own parse (`json_serialize_sql`), never by a second parser. Pure: no I/O.
 *
 * DuckDB parses `DESCRIBE t` as `SELECT * FROM <SHOW_REF>`; the gate refuses a SHOW_REF (it would
 * list every attached catalog), so these statements are answered by trusted code in the engine from
 * a listing of exactly the query's environment (`sandbox/engine/discovery.ts`). Only the bare forms
 * are recognized here: anything more (`SELECT … FROM (DESCRIBE t) WHERE …`) goes to the gate and is
 * refused there.
 */

/** A table name as written: parts that were not written are ''. */
export interface WrittenTableName {
  catalog: string;
  schema: string;
  table: string;
}

export type DiscoveryStatement =
  | { kind: 'show_tables'; all: boolean }
  | { kind: 'describe_table' | 'summarize_table'; name: WrittenTableName }
  /** `query` is the inner statement's parse; the engine renders it and runs it through the whole gate. */
  | { kind: 'describe_query' | 'summarize_query'; query: Json };

/** Texts worth parsing for a discovery statement (a cheap filter: the parse decides). */
export const DISCOVERY_HINT = /\b(describe|desc|show|summarize)\b/i;
export const INFORMATION_SCHEMA_HINT = /information_schema/i;

/** What `json_serialize_sql` returns. */
export interface SerializedSql {
  error: boolean;
  error_message?: string;
  statements?: { node: Json }[];
}

type JsonObject = { [key: string]: Json };

const isObject = (value: Json | undefined): value is JsonObject => value !== null && typeof value === 'object' && !Array.isArray(value);
const isEmptyList = (value: Json | undefined) => Array.isArray(value) && value.length === 0;

/**
 * The discovery statement `parsed` is, or undefined when it is not one (then the gate decides).
 * Refuses SHOW forms other than SHOW TABLES (SHOW DATABASES, SHOW TABLES FROM …) with a message
 * that says what is available.
 */
export function discoveryStatement(parsed: SerializedSql): DiscoveryStatement | undefined {
  if (parsed.error || parsed.statements?.length !== 1) return undefined;
  const node = parsed.statements[0]!.node;
  if (!isObject(node) || !isBareStarSelect(node)) return undefined;
  const from = node.from_table;
  if (!isObject(from) || from.type !== 'SHOW_REF' || from.alias !== '' || from.sample !== null) return undefined;
  switch (from.show_type) {
    case 'SHOW_UNQUALIFIED':
      if (from.table_name === '"tables"') return { kind: 'show_tables', all: false };
      // `SHOW ALL TABLES`, and `DESCRIBE` alone.
      if (from.table_name === '__show_tables_expanded') return { kind: 'show_tables', all: true };
      break;
    case 'DESCRIBE':
    case 'SUMMARY': {
      const verb = from.show_type === 'DESCRIBE' ? 'describe' : 'summarize';
      if (!isObject(from.query)) break;
      const name = bareTableOf(from.query);
      return name ? { kind: `${verb}_table`, name } : { kind: `${verb}_query`, query: from.query };
    }
    default:
      break;
  }
  // SECURITY: other SHOW forms list databases, settings or other catalogs: refused.
  reject('SBX_ERR_SQL_FORBIDDEN_CONSTRUCT', 'this SHOW statement is not available in the sandbox: use SHOW TABLES, DESCRIBE <table or query>, SUMMARIZE <table or query> or information_schema.tables / columns');
}

/** `SELECT * FROM <from>` and nothing else: no filter, grouping, ordering, CTE or column list. */
function isBareStarSelect(node: JsonObject): boolean {
  if (node.type !== 'SELECT_NODE' || !isEmptyList(node.modifiers) || !isEmptyList(node.group_expressions) || !isEmptyList(node.group_sets)) return false;
  if (node.where_clause !== null || node.having !== null || node.qualify !== null || node.sample !== null) return false;
  if (!isObject(node.cte_map) || !isEmptyList(node.cte_map.map)) return false;
  const list = node.select_list;
  if (!Array.isArray(list) || list.length !== 1) return false;
  const star = list[0];
  return isObject(star) && star.class === 'STAR' && star.relation_name === '' && star.expr === null && star.columns === false
    && isEmptyList(star.exclude_list) && isEmptyList(star.replace_list)
    && (star.rename_list === undefined || isEmptyList(star.rename_list))
    && (star.qualified_exclude_list === undefined || isEmptyList(star.qualified_exclude_list));
}

/** The table of `SELECT * FROM t` (as `DESCRIBE t` parses), or undefined for any other query. */
function bareTableOf(query: JsonObject): WrittenTableName | undefined {
  if (!isBareStarSelect(query)) return undefined;
  const from = query.from_table;
  if (!isObject(from) || from.type !== 'BASE_TABLE' || from.alias !== '' || from.sample !== null || from.at_clause !== null || !isEmptyList(from.column_name_alias)) return undefined;
  return { catalog: String(from.catalog_name ?? ''), schema: String(from.schema_name ?? ''), table: String(from.table_name ?? '') };
}

/** The trusted listing tables `information_schema.tables` and `.columns` are answered from (temp catalog of the query's connection). */
export const LISTING_TABLES = { tables: 'information_schema_tables', columns: 'information_schema_columns' } as const;
export type ListingView = keyof typeof LISTING_TABLES;

/** Deeper than any SQL the gate lets through (its AST depth cap is far lower). */
const MAX_REWRITE_DEPTH = 400;

/**
 * Points every `information_schema.tables` / `.columns` reference of a parsed SELECT at the trusted
 * listing tables (`temp.main.information_schema_*`, filled by the engine with exactly the env's
 * tables), keeping the name the query used as alias. Any other information_schema view is refused.
 * Returns a rewritten copy and the views used (none: the query does not read information_schema).
 * What it returns is rendered and then checked by the whole gate, with `temp` as an extra catalog.
 */
export function rewriteInformationSchema(node: Json): { node: Json; views: Set<ListingView> } {
  const views = new Set<ListingView>();
  const copy = (value: Json, depth: number): Json => {
    if (depth > MAX_REWRITE_DEPTH) reject('SBX_ERR_SQL_TOO_COMPLEX', 'the query nests too deeply: flatten it, e.g. with CTEs');
    if (Array.isArray(value)) return value.map((item) => copy(item, depth + 1));
    if (!isObject(value)) return value;
    const out: JsonObject = {};
    for (const [key, child] of Object.entries(value)) out[key] = copy(child, depth + 1);
    if (out.type === 'BASE_TABLE' && typeof out.schema_name === 'string' && out.schema_name.toLowerCase() === 'information_schema') {
      const catalog = String(out.catalog_name ?? '').toLowerCase();
      const view = String(out.table_name ?? '').toLowerCase();
      // SECURITY: only the two views answered from the env's listing; the real ones list every catalog.
      if ((catalog !== '' && catalog !== 'system') || (view !== 'tables' && view !== 'columns')) {
        reject('SBX_ERR_SQL_FORBIDDEN_TABLE', 'of information_schema, only information_schema.tables and information_schema.columns are available');
      }
      views.add(view as ListingView);
      out.catalog_name = 'temp';
      out.schema_name = 'main';
      out.table_name = LISTING_TABLES[view as ListingView];
      if (out.alias === '') out.alias = view;
    }
    return out;
  };
  return { node: copy(node, 0), views };
}

/**
 * JSON of DuckDB's parse, read and written back without losing integers: JavaScript numbers stop at
 * 2^53, and the parse holds 64-bit values (`query_location` is 2^64 - 1 when unknown; BIGINT
 * constants), which `json_deserialize_sql` then refuses or renders changed. Integers of 16 digits or
 * more are carried as strings tagged with a random marker (unguessable, so no string literal of the
 * query can pose as one) and restored as numbers when written back.
 */
export function readParseJson(text: string): { value: Json; write: (value: Json) => string } {
  const marker = `${randomUUID()}:`;
  let out = '';
  let i = 0;
  const number = /-?\d+(\.\d+)?([eE][+-]?\d+)?/y;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      number.lastIndex = i;
      const token = number.exec(text)?.[0] ?? ch;
      out += /^-?\d{16,}$/.test(token) ? `"${marker}${token}"` : token;
      i += token.length;
    } else {
      out += ch;
      i += 1;
    }
  }
  const restore = new RegExp(`"${marker}(-?\\d+)"`, 'g');
  return { value: JSON.parse(out) as Json, write: (value) => JSON.stringify(value).replace(restore, '$1') };
}
