import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import net from 'node:net';

/**
 * A PostgreSQL cluster of its own, on its own port, that a test may stop and start without
 * touching the machine's main server (which other tests are using at the same time).
 */
export interface ThrowawayPostgres {
  url: string;
  stop(): void;
  start(): void;
  destroy(): void;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export async function createThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const version = readdirSync('/etc/postgresql').sort().at(-1)!;
  const name = `portico_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const port = await freePort();
  const run = (command: string, args: string[]) => execFileSync(command, args, { stdio: 'pipe', timeout: 60_000 });
  run('pg_createcluster', [version, name, '-p', String(port), '--', '--auth=trust']);
  const cluster = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: () => run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'start']),
    stop: () => run('pg_ctlcluster', ['--skip-systemctl-redirect', version, name, 'stop', '-m', 'fast']),
    destroy: () => run('pg_dropcluster', ['--stop', version, name]),
  };
  cluster.start();
  return cluster;
}
