/**
 * The token, audit and trace CLIs as an operator meets them, run as child processes of the built code:
 * `--help` prints the usage (status 0); an unknown option, a missing value, a stray argument or a
 * missing claim prints one line saying what is wrong and the usage (status 2), never a stack
 * trace; audit:verify on a dir without a control store names the dir instead of creating a store
 * there. (The token CLI's refusal to invent a secret is in test/security/secrets.test.ts.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/temp-dir.js';

const exec = promisify(execFile);
const temp = makeTempDir();
afterAll(() => temp.remove());

const CLIS = {
  token: { file: path.resolve('dist/server/cli/token.js'), usage: /^usage: npm run -s token -- --role <role> --org <org> --sub <sub> \[--ttl <duration>\]\n[\s\S]*--help/ },
  'audit:verify': { file: path.resolve('dist/server/cli/audit-verify.js'), usage: /^usage: npm run -s audit:verify \[-- --data-dir <dir>\]\n[\s\S]*--help/ },
  trace: { file: path.resolve('dist/server/cli/trace.js'), usage: /^usage: npm run -s trace -- <file> \[--data-dir <dir>\]\n[\s\S]*--help/ },
} as const;

async function run(cli: keyof typeof CLIS, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLIS[cli].file, ...args], { env: { PATH: process.env.PATH ?? '', INDOMAIN_DATA_DIR: temp.dir, ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** A usage error: what is wrong (a line per problem), a blank line, the usage; nothing on stdout; no stack frames. */
function expectUsageError(result: { code: number; stdout: string; stderr: string }, cli: keyof typeof CLIS, problem: RegExp) {
  expect(result.code, result.stderr).toBe(2);
  expect(result.stdout).toBe('');
  const [problems, ...rest] = result.stderr.split('\n\n');
  expect(problems).toMatch(new RegExp(`^${cli}: `));
  expect(problems!.split('\n')[0]).toMatch(problem);
  expect(rest.join('\n\n')).toMatch(CLIS[cli].usage);
  expect(result.stderr).not.toMatch(/^\s+at /m);
  expect(result.stderr).not.toMatch(/TypeError|ERR_PARSE_ARGS|node:internal/);
}

describe.each(Object.keys(CLIS) as (keyof typeof CLIS)[])('%s CLI', (cli) => {
  it('prints its usage on --help and -h, with status 0', async () => {
    for (const flag of ['--help', '-h']) {
      const result = await run(cli, [flag]);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      expect(result.stdout).toMatch(CLIS[cli].usage);
    }
  });

  it('answers an unknown option, a missing value and a stray argument with one line and the usage, status 2', async () => {
    expectUsageError(await run(cli, ['--frobnicate']), cli, /Unknown option '--frobnicate'/);
    // trace takes one file: a second argument is the stray one.
    expectUsageError(await run(cli, cli === 'trace' ? ['leak.csv', 'stray'] : ['stray']), cli, /Unexpected argument 'stray'/);
    const missingValue = cli === 'token' ? ['--role'] : ['--data-dir'];
    expectUsageError(await run(cli, missingValue), cli, new RegExp(`Option '${missingValue[0]} <value>' argument missing`));
  });
});

describe('token CLI', () => {
  it('names each missing or bad claim', async () => {
    const missing = await run('token', ['--role', 'operator']);
    expectUsageError(missing, 'token', /^token: --(sub|org): missing$/);
    expect(missing.stderr.split('\n\n')[0]!.replace(/^token: /, '').split('\n').sort()).toEqual(['--org: missing', '--sub: missing']);
    const bad = await run('token', ['--role', 'admin', '--org', 'demo', '--sub', 'x', '--ttl', 'soon']);
    expectUsageError(bad, 'token', /^token: --role: /);
    expect(bad.stderr).toMatch(/^--ttl: must be a duration such as 30m, 12h or 7d$/m);
  });
});

describe('trace CLI', () => {
  it('names a missing file, and a data dir without a control store, creating nothing there', async () => {
    expectUsageError(await run('trace', []), 'trace', /^trace: no file given$/);
    const empty = path.join(temp.dir, 'trace-empty');
    fs.mkdirSync(empty);
    const leak = path.join(temp.dir, 'leak.csv');
    fs.writeFileSync(leak, 'a,b\n1,2\n');
    const result = await run('trace', [leak, '--data-dir', empty]);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(`trace: no control store in the data dir ${empty} (${path.join(empty, 'control.duckdb')} does not exist)\n`);
    expect(fs.readdirSync(empty)).toEqual([]);
    const missing = await run('trace', [path.join(temp.dir, 'nothing.csv'), '--data-dir', empty]);
    expect(missing).toMatchObject({ code: 2, stdout: '', stderr: `trace: ${path.join(temp.dir, 'nothing.csv')} is not a file\n` });
  });
});

describe('audit:verify CLI', () => {
  it('on a data dir without a control store, names the dir and creates nothing there', async () => {
    const empty = path.join(temp.dir, 'empty');
    fs.mkdirSync(empty);
    const result = await run('audit:verify', ['--data-dir', empty]);
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe(`audit:verify: no control store in the data dir ${empty} (${path.join(empty, 'control.duckdb')} does not exist)\n`);
    expect(fs.readdirSync(empty)).toEqual([]);
  });
});
