import { describe, expect, it } from 'vitest';
import { isRefusedWebhookAddress, readWebhookUrl } from './webhook-address.js';

describe('isRefusedWebhookAddress (server-side request forgery, issue 19 item 2)', () => {
  it.each([
    '127.0.0.1', '127.255.255.254', '10.0.0.1', '172.16.0.1', '172.31.255.255', '192.168.0.10', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fe80::1', 'fc00::1', 'fd12:3456::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '64:ff9b::7f00:1', 'not an address',
  ])('refuses %s', (address) => {
    expect(isRefusedWebhookAddress(address)).toBe(true);
  });

  it.each(['93.184.215.14', '1.1.1.1', '172.32.0.1', '192.169.0.1', '2606:4700::1111'])('allows %s', (address) => {
    expect(isRefusedWebhookAddress(address)).toBe(false);
  });
});

describe('readWebhookUrl', () => {
  it('takes http and https URLs only, without credentials or fragment', () => {
    expect(readWebhookUrl('https://crm.example.com/hooks?x=1').ok).toBe(true);
    for (const url of ['ftp://example.com/', 'javascript:alert(1)', 'https://a:b@example.com/', 'https://example.com/#x', '/relative', 'gopher://x']) {
      expect(readWebhookUrl(url).ok, url).toBe(false);
    }
  });
});
