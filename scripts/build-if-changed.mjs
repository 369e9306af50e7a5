#!/usr/bin/env node
// `npm start`'s build step (issue 13 item 8): running tsc costs about two seconds even when nothing
// changed, several times what the server needs to start. Skip it when the last successful build is
// newer than every source file, tsconfig.json, package.json and package-lock.json.
// `npm run build` (and so `npm install`'s prepare and `npm test`) runs this with --force: it always
// runs tsc, and writes the stamp too, so the first `npm start` after `npm install` starts at once.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const stamp = join(root, 'dist', '.last-good-build');
const entryPoint = join(root, 'dist', 'cli', 'main.js');

function newestSourceMtimeMs() {
  let newest = 0;
  for (const file of ['tsconfig.json', 'package.json', 'package-lock.json']) {
    if (existsSync(join(root, file))) newest = Math.max(newest, statSync(join(root, file)).mtimeMs);
  }
  const walk = (folder) => {
    // A folder's own mtime moves when a file in it is added, deleted or renamed.
    newest = Math.max(newest, statSync(folder).mtimeMs);
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) walk(path);
      // Tests are not compiled into dist (tsconfig.json excludes them).
      else if (!entry.name.endsWith('.test.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
    }
  };
  walk(join(root, 'src'));
  return newest;
}

function upToDate() {
  if (!existsSync(stamp) || !existsSync(entryPoint)) return false;
  return statSync(stamp).mtimeMs > newestSourceMtimeMs();
}

const unknown = process.argv.slice(2).filter((argument) => argument !== '--force');
if (unknown.length > 0) {
  process.stderr.write(`build: unknown argument ${unknown[0]}; the only one is --force (always run tsc).\n`);
  process.exit(2);
}
const force = process.argv.includes('--force');

if (force || !upToDate()) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  if (!existsSync(tsc)) {
    process.stderr.write('build: TypeScript is not in node_modules; run npm install (with dev dependencies) first.\n');
    process.exit(1);
  }
  // No stamp while building: a failed or interrupted build leaves none, so the next start builds.
  rmSync(stamp, { force: true });
  // The stamp takes the time the build started: a file saved during the build is newer, so the
  // next start builds again.
  const startedAt = new Date();
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
  mkdirSync(join(root, 'dist'), { recursive: true });
  writeFileSync(stamp, 'written by scripts/build-if-changed.mjs after a successful tsc\n');
  utimesSync(stamp, startedAt, startedAt);
}
