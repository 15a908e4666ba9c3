import { typeClassOf, type TypeClass } from './type-classes.js';
import { compilePolicySelect, type ColumnPolicy } from './policy.js';
import { quoteIdentifier } from './sql.js';
import {
  addressSql, bankCardSql, birthDateSql, drawSql, emailSql, fixedLineSql, freeTextSql, mobileSql, nameSql, passportSql, plateSql, regionCodeSql, residentIdSql, usccSql,
} from './synthetic.js';

/**
 * A policy preview: what a proposed policy would make of a handful of synthetic values per column,
 * computed by the refinery's own compiled SQL (`compilePolicySelect`). The values come from the
 * synthetic generators for the column's recognized kind, or, for a column without personal data,
 * from its type and the rule (dates for `year`, region codes for `region_prefix`, numbers around
 * the bucket width): never from the dataset, not even from its profile (top values, minimum and
 * maximum are real values). Pure: the caller runs the two statements in a DuckDB of its own.
 */
export const PREVIEW_ROWS = 5;

/** SECURITY: a column's name, type and kind only, no profile: top values, minimum and maximum are the data's. */
export interface PreviewColumn {
  name: string;
  type: string;
  piiKind: string | null;
  policy: ColumnPolicy;
}

/** The SQL of a preview, and where each column's outputs are in the answer. */
export interface PreviewPlan {
  /** Creates table `preview_source`: `r` (the row) and `c<k>` (column k's synthetic values in its type). */
  createSource: string;
  /** `r` and each `c<k>` as text, in row order: the values before the policy. */
  before: string;
  /** The policy's outputs as text, in row order (the refinery's SELECT over preview_source). */
  after: string;
  /** Per column: its source column, its own output (absent when hidden) and its derived outputs. */
  outputs: { source: string; own: string | undefined; derived: { name: string; output: string }[] }[];
}

/**
 * Builds a preview of `columns` (well-formed, fitting policies: the caller checks first) with a
 * throwaway `tokenKey`, never a tenant's: preview tokens match nothing a tenant holds. Columns are
 * renamed `c0`, `c1` … inside the preview so that no name (or derived `<name>_gender`) can collide.
 */
export function previewPlan(columns: readonly PreviewColumn[], options: { tokenKey: Buffer; today: string; seed: number; rows?: number }): PreviewPlan {
  const rows = options.rows ?? PREVIEW_ROWS;
  const sources = columns.map((column, k) => `${syntheticSql(column, columnSeed(options.seed, column.name))} AS c${k}`);
  const createSource = `CREATE TABLE preview_source AS SELECT i AS r${sources.map((s) => `, ${s}`).join('')} FROM range(${rows}) t(i)`;
  const before = `SELECT ${['r', ...columns.map((_, k) => `CAST(c${k} AS VARCHAR) AS c${k}`)].join(', ')} FROM preview_source ORDER BY r`;
  // The row number passes through as a plain column: the same SELECT the refinery runs, plus r.
  const compiled = compilePolicySelect(
    [{ name: 'r', policy: { kind: 'plain' } }, ...columns.map((column, k) => ({ name: `c${k}`, policy: column.policy }))],
    { tokenKey: options.tokenKey, today: options.today },
    'preview_source',
  )!;
  const outputs = columns.map((column, k) => ({
    source: `c${k}`,
    own: column.policy.kind === 'hidden' ? undefined : `c${k}`,
    derived: (column.policy.derive ?? []).map((d) => ({ name: `${column.name}_${d}`, output: `c${k}_${d}` })),
  }));
  const names = outputs.flatMap((o) => [...(o.own ? [o.own] : []), ...o.derived.map((d) => d.output)]);
  const after = `SELECT ${['r', ...names.map((n) => `CAST(${quoteIdentifier(n)} AS VARCHAR) AS ${quoteIdentifier(n)}`)].join(', ')} FROM (${compiled}) ORDER BY r`;
  return { createSource, before, after, outputs };
}

/** A column's own seed (FNV-1a of its name): its values do not change with the order of the body. */
function columnSeed(seed: number, name: string): number {
  let hash = 2166136261;
  for (const ch of name) hash = Math.imul(hash ^ (ch.codePointAt(0) ?? 0), 16777619) >>> 0;
  return (seed + hash) % 1_000_000_007;
}

/** Which synthetic values a column gets: its kind's generator, else one chosen by the rule and type. */
function syntheticSql(column: PreviewColumn, seed: number): string {
  const typeClass = typeClassOf(column.type);
  const generated = kindSql(column.piiKind, seed) ?? ruleSql(column.policy, typeClass, seed);
  if (generated === undefined) return castTo(typeSql(typeClass, seed), column.type, typeClass);
  // A generated date goes in as the column stores dates: text YYYY-MM-DD, integer YYYYMMDD, DATE.
  const sql = generated.date && typeClass === 'integer' ? `(year(${generated.sql}) * 10000 + month(${generated.sql}) * 100 + day(${generated.sql}))` : generated.sql;
  return castTo(sql, column.type, typeClass);
}

function kindSql(kind: string | null, seed: number): { sql: string; date?: boolean } | undefined {
  switch (kind) {
    case null: return undefined;
    case 'resident_id': return { sql: residentIdSql('i', seed) };
    case 'mobile': return { sql: mobileSql('i', seed) };
    case 'uscc': return { sql: usccSql('i', seed) };
    case 'bank_card': return { sql: bankCardSql('i', seed) };
    case 'name': return { sql: nameSql('i', seed) };
    case 'address': return { sql: addressSql('i', seed) };
    case 'email': return { sql: emailSql('i', seed) };
    case 'plate': return { sql: plateSql('i', seed) };
    case 'passport': return { sql: passportSql('i', seed) };
    case 'fixed_line': return { sql: fixedLineSql('i', seed) };
    case 'birth_date': return { sql: birthDateSql('i', seed), date: true };
    case 'free_text': return { sql: freeTextSql('i', seed) };
    // A kind this version has no generator for: nothing rather than something made up.
    default: return { sql: 'NULL' };
  }
}

/** For a column without personal data, values that the rule reads. */
function ruleSql(policy: ColumnPolicy, typeClass: TypeClass, seed: number): { sql: string; date?: boolean } | undefined {
  const rule = policy.rule ?? '';
  if (policy.kind !== 'generalize') return undefined;
  if (rule === 'year' || rule === 'month' || rule.startsWith('age_band')) {
    // Dates in a column of dates keep its own kind of range; text and integers read as birth dates.
    return typeClass === 'date' || typeClass === 'timestamp' ? undefined : { sql: birthDateSql('i', seed), date: true };
  }
  if (rule.startsWith('region_prefix:')) return { sql: regionCodeSql('i', seed, 'preview-region') };
  const bucket = /^bucket:(\d+(?:\.\d+)?)$/.exec(rule);
  if (bucket) {
    // Spread over twenty buckets, so that the preview shows the width at work.
    const value = `(${drawSql('i', seed, 'preview-quantity', 2_000_000)} * ${Number(bucket[1])} / 100000.0)`;
    return { sql: typeClass === 'integer' ? `round(${value})` : value };
  }
  return undefined;
}

/** Values by type alone, for rules that read any value (plain, keep, tokens). */
function typeSql(typeClass: TypeClass, seed: number): string {
  const draw = (salt: string, n: number) => drawSql('i', seed, salt, n);
  switch (typeClass) {
    case 'text': return `('T' || lpad(CAST(${draw('preview-text', 1_000_000)} AS VARCHAR), 6, '0'))`;
    case 'integer': return `CAST(${draw('preview-integer', 100_000)} AS BIGINT)`;
    case 'decimal': return `(${draw('preview-decimal', 10_000_000)} / 100.0)`;
    case 'date': return birthDateSql('i', seed, { from: 2000, to: 2025 });
    case 'timestamp': return `(CAST(${birthDateSql('i', seed, { from: 2000, to: 2025 })} AS TIMESTAMP) + to_seconds(${draw('preview-time', 86_400)}))`;
    case 'boolean': return `(${draw('preview-boolean', 2)} = 1)`;
    // Lists, structs, blobs and the like: only plain or hidden fit them; the preview shows nothing.
    case 'other': return 'NULL';
  }
}

/**
 * Casts a generated value to the column's type. The catalog's types come from DuckDB itself, but
 * only plain type names are written into SQL here; anything else gets the class's common type.
 */
function castTo(sql: string, type: string, typeClass: TypeClass): string {
  const plainType = /^[A-Za-z][A-Za-z0-9_ ]*(\(\s*\d+\s*(,\s*\d+\s*)?\))?$/.test(type.trim()) ? type.trim() : undefined;
  const target: Record<TypeClass, string> = {
    text: 'VARCHAR', integer: plainType ?? 'BIGINT', decimal: plainType ?? 'DOUBLE', date: 'DATE', timestamp: plainType ?? 'TIMESTAMP', boolean: 'BOOLEAN', other: 'VARCHAR',
  };
  if (typeClass === 'other') return 'NULL';
  return `TRY_CAST(${sql} AS ${target[typeClass]})`;
}
