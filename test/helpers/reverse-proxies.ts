import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type ReverseProxyName = 'caddy' | 'nginx';

export const reverseProxyNames: ReverseProxyName[] = ['caddy', 'nginx'];

export interface ReverseProxyOptions {
  /** The workspace's url, which the proxy serves: `http://portal.test:<port>`. */
  workspaceUrl: string;
  porticoPort: number;
  appPort: number;
}

export interface RunningReverseProxy {
  name: ReverseProxyName;
  /** Where it listens: `http://127.0.0.1:<port>`. */
  address: string;
  /** The configuration file it runs, as generated. */
  configuration: string;
  /** SIGTERM, then waits until the process has gone; its temp folder is removed. */
  stop(): Promise<void>;
}

const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
const readmeSection = '## Protect an app with forward authentication';
const fenceLanguages: Record<ReverseProxyName, string> = { caddy: 'caddyfile', nginx: 'nginx' };
/** Debian's packages, which .ci/run installs. */
const binaries: Record<ReverseProxyName, string> = { caddy: '/usr/bin/caddy', nginx: '/usr/sbin/nginx' };

/** A free loopback port, for a process that takes its port from a configuration file. */
export async function freeLoopbackPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** The configuration README.md documents for the proxy, placeholders and all: what users copy is what the tests run. */
export function documentedConfiguration(name: ReverseProxyName): string {
  const readme = readFileSync(readmePath, 'utf8');
  const start = readme.indexOf(`\n${readmeSection}\n`);
  if (start < 0) throw new Error(`README.md has no section "${readmeSection}"`);
  const end = readme.indexOf('\n## ', start + 1);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const fence = `\n\`\`\`${fenceLanguages[name]}\n`;
  const blockStart = section.indexOf(fence);
  if (blockStart < 0) throw new Error(`README.md's "${readmeSection}" has no \`\`\`${fenceLanguages[name]} block`);
  const body = section.slice(blockStart + fence.length);
  return body.slice(0, body.indexOf('\n```\n') + 1);
}

/** The documented configuration with its placeholders filled in. */
function filledConfiguration(name: ReverseProxyName, options: ReverseProxyOptions, proxyPort: number): string {
  const workspace = new URL(options.workspaceUrl);
  const values: Record<string, string> = {
    WORKSPACE_URL: workspace.origin,
    WORKSPACE_HOST: workspace.hostname,
    WORKSPACE_ADDRESS: workspace.host,
    LISTEN: `127.0.0.1:${proxyPort}`,
    PORTICO_PORT: String(options.porticoPort),
    APP_PORT: String(options.appPort),
  };
  const filled = documentedConfiguration(name).replace(/\b(WORKSPACE_URL|WORKSPACE_HOST|WORKSPACE_ADDRESS|LISTEN|PORTICO_PORT|APP_PORT)\b/g, (placeholder) => values[placeholder]!);
  if (/\b[A-Z]{2,}_[A-Z_]+\b/.test(filled)) throw new Error(`a placeholder is left in the ${name} configuration:\n${filled}`);
  return filled;
}

/**
 * The whole file and command line for the proxy: the documented site block inside what a test
 * needs around it (loopback only; no admin endpoint, certificates, daemon or system paths; every
 * file in `folder`).
 */
function commandFor(name: ReverseProxyName, siteConfiguration: string, folder: string): { configuration: string; command: string; args: string[]; env: Record<string, string> } {
  if (name === 'caddy') {
    const configuration = `{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n\n${siteConfiguration}`;
    const file = join(folder, 'Caddyfile');
    writeFileSync(file, configuration);
    // Caddy keeps its data and autosaved configuration under these: inside the temp folder.
    const env = { HOME: folder, XDG_CONFIG_HOME: join(folder, 'config'), XDG_DATA_HOME: join(folder, 'data') };
    return { configuration, command: binaries.caddy, args: ['run', '--config', file, '--adapter', 'caddyfile'], env };
  }
  // Run as root (as tests here are), nginx would hand its workers to `nobody`, who cannot enter
  // the private temp folder its buffers live in.
  const user = process.getuid?.() === 0 ? 'user root;\n' : '';
  const configuration = [
    `${user}worker_processes 1;`,
    `error_log ${join(folder, 'error.log')} warn;`,
    'events { worker_connections 256; }',
    'http {',
    '    access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((kind) => `    ${kind}_temp_path ${join(folder, kind)};`),
    siteConfiguration.replace(/^(?=.)/gm, '    '),
    '}',
    '',
  ].join('\n');
  const file = join(folder, 'nginx.conf');
  writeFileSync(file, configuration);
  const args = ['-p', `${folder}/`, '-c', file, '-e', join(folder, 'error.log'), '-g', `daemon off; pid ${join(folder, 'nginx.pid')};`];
  return { configuration, command: binaries.nginx, args, env: {} };
}

/** Answers whether the proxy serves Portico's `/healthz` on the workspace's address yet. */
function healthy(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/healthz', headers: { host }, agent: false, timeout: 1000 }, (response) => {
      response.resume();
      resolve(response.statusCode === 200);
    });
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(false));
  });
}

/**
 * Starts Debian's Caddy or nginx on a free loopback port with the README's configuration, in a
 * temp folder of its own, and waits until it passes Portico's `/healthz` through.
 */
export async function startReverseProxy(name: ReverseProxyName, options: ReverseProxyOptions): Promise<RunningReverseProxy> {
  const folder = mkdtempSync(join(tmpdir(), `portico-${name}-`));
  const proxyPort = Number(new URL(options.workspaceUrl).port);
  const { configuration, command, args, env } = commandFor(name, filledConfiguration(name, options, proxyPort), folder);
  const child: ChildProcess = spawn(command, args, { cwd: folder, env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  let spawnError = null as Error | null;
  // A binary that is not there never exits: its 'error' ends it as far as we are concerned.
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', (error) => {
      spawnError = error;
      resolve();
    });
  });
  let running = true;
  void exited.then(() => (running = false));
  // Should the test process end before stop(), the proxy ends with it.
  const stopOnExit = () => {
    if (running) child.kill('SIGTERM');
  };
  process.once('exit', stopOnExit);

  const stop = async () => {
    process.removeListener('exit', stopOnExit);
    if (running) child.kill('SIGTERM');
    const timer = setTimeout(() => {
      if (running) child.kill('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
    rmSync(folder, { recursive: true, force: true });
  };

  const host = new URL(options.workspaceUrl).host;
  const deadline = Date.now() + 20_000;
  try {
    for (;;) {
      if (spawnError) throw new Error(`${name} could not be started (${spawnError.message}): install Debian's ${name} package (apt-get install -y ${name}), as .ci/run does`);
      if (!running) throw new Error(`${name} exited before serving:\n${output.join('')}${errorLog(folder)}`);
      if (Date.now() > deadline) throw new Error(`${name} did not serve ${options.workspaceUrl} within 20 s:\n${output.join('')}${errorLog(folder)}`);
      if (await healthy(proxyPort, host)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { name, address: `http://127.0.0.1:${proxyPort}`, configuration, stop };
}

function errorLog(folder: string): string {
  try {
    return readFileSync(join(folder, 'error.log'), 'utf8');
  } catch {
    return '';
  }
}
