/**
 * Argument parsing shared by the CLIs: Node's own `util.parseArgs` (strict: unknown options and
 * positionals are errors), `--help` printing the usage on stdout with status 0, and any parse
 * error printing one line and the usage on stderr with status 2, never a stack trace.
 * Deliberately light: it imports nothing but node:util, so `--help` answers before anything heavy
 * (DuckDB, the control plane) is loaded.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

export const USAGE_ERROR_EXIT = 2;

export function parseCliArgs<O extends Options>(name: string, usage: string, options: O, argv: string[] = process.argv.slice(2)) {
  return parse(name, usage, options, argv, false).values;
}

/** As parseCliArgs, with exactly one positional argument (a file), named in the usage error when missing. */
export function parseCliArgsWithFile<O extends Options>(name: string, usage: string, options: O, argv: string[] = process.argv.slice(2)) {
  const { values, positionals } = parse(name, usage, options, argv, true);
  if (positionals.length === 0) usageError(name, usage, 'no file given');
  if (positionals.length > 1) usageError(name, usage, `Unexpected argument '${positionals[1]}': give one file`);
  return { values, file: positionals[0]! };
}

function parse<O extends Options>(name: string, usage: string, options: O, argv: string[], allowPositionals: boolean) {
  let parsed: { values: Record<string, string | boolean | (string | boolean)[] | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals });
  } catch (error) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION, _INVALID_OPTION_VALUE, _UNEXPECTED_POSITIONAL: their message names the argument.
    usageError(name, usage, (error as Error).message);
  }
  if (parsed.values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return { values: parsed.values as { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string }, positionals: parsed.positionals };
}

/** One line saying what is wrong, then the usage; exit status 2. */
export function usageError(name: string, usage: string, problem: string): never {
  process.stderr.write(`${name}: ${problem}\n\n${usage}\n`);
  process.exit(USAGE_ERROR_EXIT);
}
