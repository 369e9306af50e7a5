import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

function runNode(script: string, env: Record<string, string>, cwd = root) {
  const result = spawnSync(process.execPath, [script], { cwd, env: { ...process.env, ...env }, encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

// issue 13 item 8: `npm test` failed on a fresh machine in test/browser.test.ts because Chromium
// was not there. The pretest step brings it (as root) or says in one line what is missing and the
// one command that installs it, and fails before any test runs.
describe('npm test on a fresh machine: the pretest step', () => {
  const script = join(root, 'scripts', 'check-test-prerequisites.mjs');

  it('is silent when Chromium and PostgreSQL are there', () => {
    const result = runNode(script, {});
    expect(result).toMatchObject({ status: 0, stdout: '', stderr: '' });
  });

  it('names a missing Chromium in one line and fails', () => {
    const result = runNode(script, { CHROMIUM_PATH: '/nonexistent/chromium' });
    expect(result.status).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^pretest: Chromium is not at CHROMIUM_PATH=\/nonexistent\/chromium; /)]);
  });

  it('names a PostgreSQL that does not answer in one line and fails', () => {
    const result = runNode(script, { PORTICO_TEST_POSTGRES_URL: 'postgres://postgres@127.0.0.1:1/postgres' });
    expect(result.status).toBe(1);
    expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^pretest: PostgreSQL does not answer at PORTICO_TEST_POSTGRES_URL; /)]);
  });

  it('runs before the tests: `npm test` stops there, before building or testing anything', () => {
    const result = spawnSync('npm', ['test', '--silent'], { cwd: root, env: { ...process.env, CHROMIUM_PATH: '/nonexistent/chromium' }, encoding: 'utf8' });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('pretest: Chromium is not at CHROMIUM_PATH=/nonexistent/chromium');
    expect(result.stdout).not.toContain('RUN');
  });
});

// issue 13 item 8: `npm start` ran tsc every time (about two seconds); it builds only when a
// source file, tsconfig.json, package.json or package-lock.json changed since the last good build.
describe('npm start: build only when something changed', () => {
  const project = mkdtempSync(join(tmpdir(), 'portico-build-if-changed-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it('skips tsc on an unchanged tree, builds after an edit, and never skips past a failed build', { timeout: 180_000 }, () => {
    mkdirSync(join(project, 'scripts'));
    mkdirSync(join(project, 'src', 'cli'), { recursive: true });
    copyFileSync(join(root, 'scripts', 'build-if-changed.mjs'), join(project, 'scripts', 'build-if-changed.mjs'));
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'));
    writeFileSync(join(project, 'package.json'), '{"type":"module"}\n');
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, skipLibCheck: true, rootDir: 'src', outDir: 'dist', types: [] }, include: ['src'] }));
    const source = join(project, 'src', 'cli', 'main.ts');
    const output = join(project, 'dist', 'cli', 'main.js');
    const build = () => runNode(join(project, 'scripts', 'build-if-changed.mjs'), {}, project);
    // Sources dated in the past, as after a checkout: the build that follows is newer than all of them.
    const setSource = (text: string, secondsAgo: number) => {
      writeFileSync(source, text);
      const at = new Date(Date.now() - secondsAgo * 1000);
      utimesSync(source, at, at);
    };

    setSource('export const answer: number = 1;\n', 60);
    expect(build().status).toBe(0);
    expect(existsSync(output)).toBe(true);

    // Unchanged: the output is not written again.
    const past = new Date(Date.now() - 30_000);
    utimesSync(output, past, past);
    expect(build().status).toBe(0);
    expect(statSync(output).mtimeMs).toBe(past.getTime());

    // An edit (saved after the last build) is built.
    setSource('export const answer: number = 2;\n', 0);
    expect(build().status).toBe(0);
    expect(statSync(output).mtimeMs).toBeGreaterThan(past.getTime());

    // A type error stops the start, and the next start tries again rather than running the old build.
    setSource('export const answer: number = "two";\n', 0);
    expect(build().status).not.toBe(0);
    expect(build().status).not.toBe(0);
    setSource('export const answer: number = 3;\n', 0);
    expect(build().status).toBe(0);
  });
});
