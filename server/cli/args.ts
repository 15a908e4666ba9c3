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
  let values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  try {
    values = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true, allowPositionals: false }).values;
  } catch (error) {
    // ERR_PARSE_ARGS_UNKNOWN_OPTION, _INVALID_OPTION_VALUE, _UNEXPECTED_POSITIONAL: their message names the argument.
    usageError(name, usage, (error as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return values as { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };
}

/** One line saying what is wrong, then the usage; exit status 2. */
export function usageError(name: string, usage: string, problem: string): never {
  process.stderr.write(`${name}: ${problem}\n\n${usage}\n`);
  process.exit(USAGE_ERROR_EXIT);
}
