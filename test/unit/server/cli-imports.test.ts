/**
 * The CLIs start light (docs/decisions.md): what `token.ts` imports statically, and what
 * `audit-verify.ts` imports before it has checked its arguments, never reaches DuckDB, piscina or
 * Fastify, which took seconds to load on a busy machine. Walks the TypeScript sources' static,
 * non-type imports.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const STATIC_IMPORT = /^(?:import|export)\s+(?!type\b)[^;]*?\bfrom\s+'([^']+)';/gms;
const HEAVY = ['@duckdb/node-api', 'piscina', 'fastify'];

/** Every package a module reaches through static value imports (relative modules followed). */
function packagesReached(entry: string, seen = new Set<string>(), packages = new Set<string>()): Set<string> {
  if (seen.has(entry)) return packages;
  seen.add(entry);
  for (const [, specifier] of fs.readFileSync(entry, 'utf8').matchAll(STATIC_IMPORT)) {
    if (specifier!.startsWith('.')) packagesReached(path.resolve(path.dirname(entry), specifier!.replace(/\.js$/, '.ts')), seen, packages);
    else packages.add(specifier!.startsWith('@') ? specifier!.split('/').slice(0, 2).join('/') : specifier!.split('/')[0]!);
  }
  return packages;
}

describe('the CLIs start light', () => {
  it('token.ts reaches none of DuckDB, piscina, Fastify', () => {
    const reached = packagesReached(path.resolve('server/cli/token.ts'));
    expect(reached).toContain('zod');
    for (const heavy of HEAVY) expect(reached, heavy).not.toContain(heavy);
  });

  it('audit-verify.ts loads the control plane only after its arguments are checked', () => {
    const reached = packagesReached(path.resolve('server/cli/audit-verify.ts'));
    for (const heavy of HEAVY) expect(reached, heavy).not.toContain(heavy);
    expect(fs.readFileSync('server/cli/audit-verify.ts', 'utf8')).toMatch(/parseCliArgs\([\s\S]*await import\('\.\.\/\.\.\/tenants\/index\.js'\)/);
  });

  it('trace.ts loads the control plane only after its arguments are checked', () => {
    const reached = packagesReached(path.resolve('server/cli/trace.ts'));
    for (const heavy of HEAVY) expect(reached, heavy).not.toContain(heavy);
    expect(fs.readFileSync('server/cli/trace.ts', 'utf8')).toMatch(/parseCliArgsWithFile\([\s\S]*await import\('\.\.\/\.\.\/tenants\/index\.js'\)/);
  });

  it('the walk does see a heavy import where there is one', () => {
    expect([...packagesReached(path.resolve('server/app.ts'))]).toEqual(expect.arrayContaining(['fastify', '@duckdb/node-api']));
  });
});
