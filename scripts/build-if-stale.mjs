#!/usr/bin/env node
/**
 * `npm start`, `npm run token` and `npm run audit:verify` run this first (and `npm install` /
 * `npm ci` as `prepare`): it compiles with tsc only when `dist/` is missing or a source is newer
 * than the last build, so a built checkout starts without recompiling. Plain JavaScript because it
 * runs before anything is compiled. Prints nothing when dist is current.
 *
 * "Newer than the last build": the newest mtime among the sources tsc compiles (the folders of
 * tsconfig.json's `include`, plus tsconfig.json and package.json) against the newest of
 * `dist/.tsbuildinfo` (rewritten by every `npm run build` that changed something) and
 * `dist/.build-stamp` (written here after each build, so a source touched without a change does
 * not make every start rebuild). A deleted source does not count; `npm run build` then.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const STAMP = path.join(dist, '.build-stamp');
const SOURCE = /\.(ts|mts|cts|json)$/;

/** The newest mtime (ms) under `entry`, skipping node_modules and dist. */
function newest(entry) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  if (!stat.isDirectory()) return SOURCE.test(entry) ? stat.mtimeMs : 0;
  let max = 0;
  for (const name of fs.readdirSync(entry)) {
    if (name === 'node_modules' || name === 'dist' || name.startsWith('.')) continue;
    max = Math.max(max, newest(path.join(entry, name)));
  }
  return max;
}

function mtime(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return 0;
  }
}

function sourcesNewest() {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  const roots = (tsconfig.include ?? []).map((pattern) => path.join(root, pattern.split('/')[0]));
  return Math.max(mtime(path.join(root, 'tsconfig.json')), mtime(path.join(root, 'package.json')), ...roots.map(newest));
}

const built = Math.max(mtime(path.join(dist, '.tsbuildinfo')), mtime(STAMP));
const entry = path.join(dist, 'server', 'main.js');
const stale = built === 0 || !fs.existsSync(entry) || sourcesNewest() > built;
if (!stale) process.exit(0);

let tsc;
try {
  tsc = createRequire(path.join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  // A production install without devDependencies: run what was shipped in dist, if anything was.
  if (fs.existsSync(entry)) {
    process.stderr.write('indomain: sources look newer than dist/, but typescript is not installed; running dist/ as it is\n');
    process.exit(0);
  }
  process.stderr.write('indomain: dist/ is missing and typescript is not installed: run `npm install` (with dev dependencies), then `npm run build`\n');
  process.exit(1);
}
process.stderr.write(`indomain: ${built === 0 ? 'building' : 'sources changed, rebuilding'} (tsc)…\n`);
const started = Date.now();
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.json')], { stdio: 'inherit', cwd: root });
if (result.status !== 0) process.exit(result.status ?? 1);
fs.mkdirSync(dist, { recursive: true });
fs.writeFileSync(STAMP, `${new Date().toISOString()}\n`);
process.stderr.write(`indomain: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
