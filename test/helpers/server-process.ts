import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { NO_LOAD_SHEDDING_ENV } from './test-app.js';

const MAIN = path.resolve('dist/server/main.js');

export interface ServerProcess {
  child: ChildProcess;
  url: string;
  /** Everything the process printed on stdout so far. */
  stdout(): string;
  /** Resolves with the exit code (or signal) when the process ends. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts the built server (`dist/server/main.js`, as `npm start` does) on 127.0.0.1 with an
 * OS-chosen port, and resolves once it prints its listening line (development mode). Load shedding
 * is off unless `env` sets it, as in `startTestApp`. The start deadline is generous: a busy machine
 * starts slowly, and the tests here are about behaviour, not start-up time.
 */
export async function startServerProcess(env: Record<string, string>, timeoutMs = 60_000): Promise<ServerProcess> {
  const child = spawn(process.execPath, [MAIN], {
    env: { PATH: process.env.PATH ?? '', INDOMAIN_HOST: '127.0.0.1', INDOMAIN_PORT: '0', INDOMAIN_LOG_LEVEL: 'warn', ...NO_LOAD_SHEDDING_ENV, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start in ${timeoutMs} ms:\n${out}\n${err}`)), timeoutMs);
    const onData = () => {
      const match = /indomain listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (match) {
        clearTimeout(timer);
        child.stdout!.off('data', onData);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code ?? signal}) before listening:\n${out}\n${err}`));
    });
  });
  return { child, url, stdout: () => out, exited };
}
