import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const cliPath = fileURLToPath(new URL('../../bin/portico.js', import.meta.url));

export interface PorticoProcess {
  /** Where it listens, e.g. `http://127.0.0.1:41234`. */
  address: string;
  process: ChildProcess;
  output: string[];
  /** SIGKILL: the process dies at once, holding whatever it held. */
  kill(): Promise<void>;
  /** SIGTERM: the process shuts down cleanly. */
  stop(): Promise<void>;
}

/** Limits high enough that a test of something else never meets them: every request is served. */
export const generousLimits = {
  LIMIT_EMAIL_COOLDOWN: '0',
  LIMIT_EMAIL_PER_HOUR: '1000000',
  LIMIT_IP_PER_MINUTE: '1000000',
  LIMIT_IP_REDEMPTIONS_PER_5_MINUTES: '1000000',
  LIMIT_WORKSPACE_EMAILS_PER_HOUR: '1000000',
};

/** Starts `portico serve` as its own process (the built CLI, as operators run it) on a free port. */
export async function startPorticoProcess(env: Record<string, string>): Promise<PorticoProcess> {
  const child = spawn(process.execPath, [cliPath, 'serve'], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`portico serve did not start:\n${output.join('')}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output.push(chunk.toString());
      const match = /Portico is listening on (http:\/\/[^\s]+) /.exec(output.join(''));
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`portico serve exited with ${code}:\n${output.join('')}`));
    });
  });
  return {
    address,
    process: child,
    output,
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** Runs one `portico <command>` to its end as its own process (the built CLI), as an operator would beside a running server. */
export async function runPorticoCommand(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [cliPath, ...args], {
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'test', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 30_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (exitCode) => resolve(exitCode));
  });
  return { code, stdout, stderr };
}
