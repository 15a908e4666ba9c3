import { loadConfig, type Config } from './config.js';

/** Loads the configuration from the process environment, or exits listing every problem. */
export function configFromProcessEnv(): Config {
  const result = loadConfig(process.env);
  if (!result.ok) {
    process.stderr.write(`indomain: invalid configuration:\n${result.errors.map((e) => `  - ${e}`).join('\n')}\n`);
    process.exit(2);
  }
  return result.config;
}
