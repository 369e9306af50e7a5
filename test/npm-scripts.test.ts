import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
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

  // Review of issue 13 item 8: every connection error read as "not running", so a server that
  // answered "no such role" was reported as down and, as root, started again (which failed).
  describe('a PostgreSQL that answers but refuses us is named as such, and never started', () => {
    const sandbox = mkdtempSync(join(tmpdir(), 'portico-pretest-'));
    afterAll(() => rmSync(sandbox, { recursive: true, force: true }));
    // Stand-ins for the commands the script may run: they log the call and fail, as the real
    // pg_ctlcluster does on a cluster that is already running.
    const fakeBin = join(sandbox, 'bin');
    const calls = join(sandbox, 'calls.log');
    mkdirSync(fakeBin);
    for (const command of ['pg_ctlcluster', 'apt-get']) {
      writeFileSync(join(fakeBin, command), `#!/bin/sh\necho "${command} $*" >> '${calls}'\nexit 1\n`);
      chmodSync(join(fakeBin, command), 0o755);
    }
    const withFakes = { PATH: `${fakeBin}:${process.env.PATH ?? ''}` };
    // The script with its built-in defaults replaced, beside a node_modules that holds pg.
    const scriptWith = (from: string, to: string) => {
      const folder = mkdtempSync(join(sandbox, 'project-'));
      symlinkSync(join(root, 'node_modules'), join(folder, 'node_modules'));
      const original = readFileSync(script, 'utf8');
      expect(original).toContain(from);
      writeFileSync(join(folder, 'check.mjs'), original.replace(from, to));
      return join(folder, 'check.mjs');
    };
    const unknownRole = 'postgres://nosuchuser_xyz@127.0.0.1:5432/postgres';

    it('a URL whose role does not exist: the refusal (SQLSTATE 28000) in one line, no start attempt', () => {
      const result = runNode(script, { ...withFakes, PORTICO_TEST_POSTGRES_URL: unknownRole });
      expect(result.status).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^pretest: PostgreSQL at PORTICO_TEST_POSTGRES_URL answered but refused the tests: role "nosuchuser_xyz" does not exist \(SQLSTATE 28000\); fix the user, password or database in PORTICO_TEST_POSTGRES_URL\.$/),
      ]);
      expect(existsSync(calls)).toBe(false);
    });

    it('the default server refusing (as when it wants a password): pg_hba.conf named, pg_ctlcluster never run, even as root', () => {
      const check = scriptWith("'postgres://postgres@127.0.0.1:5432/postgres'", `'${unknownRole}'`);
      const result = runNode(check, withFakes);
      expect(result.status).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        expect.stringMatching(/^pretest: PostgreSQL at 127\.0\.0\.1:5432 answered but refused the tests: role "nosuchuser_xyz" does not exist \(SQLSTATE 28000\); .*pg_hba\.conf.*PORTICO_TEST_POSTGRES_URL/),
      ]);
      expect(existsSync(calls)).toBe(false);
    });

    it('a missing Chromium on a machine without apt-get: one line saying what to do, no apt-get suggested or run', () => {
      const check = scriptWith("'/usr/bin/chromium'", "'/nonexistent/chromium'");
      const noAptGet = join(sandbox, 'empty-bin');
      mkdirSync(noAptGet);
      const result = runNode(check, { PATH: noAptGet });
      expect(result.status).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual([
        'pretest: Chromium is missing at /nonexistent/chromium (the browser tests need it); install Chromium and set CHROMIUM_PATH to its binary.',
      ]);
    });

    it('a missing nginx on a machine without apt-get: one line naming it and where it must be, no apt-get run', () => {
      const check = scriptWith("nginx: '/usr/sbin/nginx'", "nginx: '/nonexistent/nginx'");
      const noAptGet = join(sandbox, 'no-apt-get');
      mkdirSync(noAptGet);
      const result = runNode(check, { PATH: noAptGet });
      expect(result.status).toBe(1);
      expect(result.stderr.trimEnd().split('\n')).toEqual(['pretest: nginx is missing (the forward-authentication tests run it); install nginx so that /nonexistent/nginx exists.']);
    });
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
    // A whole second: file times are kept in fractions that a millisecond float may not round-trip.
    const past = new Date(Math.floor(Date.now() / 1000) * 1000 - 30_000);
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

// Review of issue 13 item 8: `npm run build` (and so `npm install`'s prepare step) ran plain tsc,
// which wrote no stamp, so the README's first `npm start` after `npm install` compiled everything.
describe('npm start after npm install: the build npm install ran counts', () => {
  const project = mkdtempSync(join(tmpdir(), 'portico-prepare-'));
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  it("after `npm install`'s prepare step (npm run build), npm start's build step does not run tsc; npm run build always does", { timeout: 180_000 }, () => {
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    mkdirSync(join(project, 'scripts'));
    mkdirSync(join(project, 'src', 'cli'), { recursive: true });
    copyFileSync(join(root, 'scripts', 'build-if-changed.mjs'), join(project, 'scripts', 'build-if-changed.mjs'));
    symlinkSync(join(root, 'node_modules'), join(project, 'node_modules'));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', strict: true, skipLibCheck: true, rootDir: 'src', outDir: 'dist', types: [] }, include: ['src'] }));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'portico-prepare-test', private: true, type: 'module', scripts: { build: scripts.build, prepare: scripts.prepare } }));
    writeFileSync(join(project, 'src', 'cli', 'main.ts'), 'export const answer: number = 1;\n');
    // Checked-out files are older than the build that follows.
    const past = new Date(Date.now() - 60_000);
    for (const file of ['tsconfig.json', 'package.json', join('src', 'cli', 'main.ts')]) utimesSync(join(project, file), past, past);
    const output = join(project, 'dist', 'cli', 'main.js');
    const npm = (script: string) => spawnSync('npm', ['run', script, '--silent'], { cwd: project, encoding: 'utf8' });
    // npm start's first step, as package.json writes it.
    const startBuildStep = scripts.start!.split('&&')[0]!.trim();
    expect(startBuildStep).toContain('build-if-changed.mjs');

    expect(npm('prepare').status).toBe(0);
    expect(existsSync(output)).toBe(true);
    // A whole second: file times are kept in fractions that a millisecond float may not round-trip.
    const earlier = new Date(Math.floor(Date.now() / 1000) * 1000 - 30_000);
    utimesSync(output, earlier, earlier);
    expect(spawnSync('sh', ['-c', startBuildStep], { cwd: project, encoding: 'utf8' }).status).toBe(0);
    expect(statSync(output).mtimeMs).toBe(earlier.getTime());

    // `npm run build` is the explicit build: it compiles even when nothing looks changed.
    expect(npm('build').status).toBe(0);
    expect(statSync(output).mtimeMs).toBeGreaterThan(earlier.getTime());
  });
});
