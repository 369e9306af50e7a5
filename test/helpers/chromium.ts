import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, driven by playwright-core. Tests run as root on a closed network: no sandbox,
 * and none of Chromium's background connections. `*.test` host names resolve to loopback, so each
 * workspace has its own address as it would in production.
 */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
      '--host-resolver-rules=MAP *.test 127.0.0.1',
    ],
  });
}
