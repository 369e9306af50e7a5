import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Addresses a webhook may not reach unless WEBHOOK_ALLOW_PRIVATE=true: Portico's own machine and
 * the networks behind it, so an owner's URL cannot make Portico probe them (server-side request
 * forgery, OWASP ASVS 12.6.1). Node's BlockList also matches IPv4-mapped IPv6 (`::ffff:127.0.0.1`)
 * against the IPv4 ranges.
 */
const refusedAddresses = new BlockList();
for (const [network, bits] of [
  ['0.0.0.0', 8], // "this network", the unspecified address
  ['10.0.0.0', 8], // private (RFC 1918)
  ['100.64.0.0', 10], // carrier-grade NAT, shared address space (RFC 6598)
  ['127.0.0.0', 8], // loopback
  ['169.254.0.0', 16], // link-local, cloud metadata services (169.254.169.254)
  ['172.16.0.0', 12], // private (RFC 1918)
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16], // private (RFC 1918)
  ['198.18.0.0', 15], // benchmarking
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, and the broadcast address
] as const) {
  refusedAddresses.addSubnet(network, bits, 'ipv4');
}
for (const [network, bits] of [
  ['::', 128], // unspecified
  ['::1', 128], // loopback
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
  ['64:ff9b::', 96], // NAT64: an IPv4 address in disguise; refused rather than decoded
  ['2002::', 16], // 6to4: likewise
] as const) {
  refusedAddresses.addSubnet(network, bits, 'ipv6');
}

/** True for an IP address a webhook may not be sent to (loopback, private, link-local, unique local, unspecified …). */
export function isRefusedWebhookAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  return refusedAddresses.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export type WebhookUrlCheck = { ok: true; url: URL } | { ok: false; reason: string };

/** The host of a URL as an address or a name, without IPv6 brackets. */
export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

/** Checks the shape of a webhook URL: absolute http(s), no credentials, no fragment. */
export function readWebhookUrl(raw: string): WebhookUrlCheck {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return { ok: false, reason: 'it is not an absolute URL such as https://crm.example.com/portico-events' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return { ok: false, reason: `the scheme must be https: or http:, not ${url.protocol}` };
  if (url.username || url.password) return { ok: false, reason: 'it must not hold a user name or password (the signature proves who sends)' };
  if (url.hash) return { ok: false, reason: 'it must not have a #fragment' };
  if (!url.hostname) return { ok: false, reason: 'the host is missing' };
  if (raw.length > 2000) return { ok: false, reason: 'it is longer than 2000 characters' };
  return { ok: true, url };
}

export type AddressResolution = { ok: true; addresses: { address: string; family: number }[] } | { ok: false; reason: string };

/**
 * The addresses a webhook to this host would go to, each checked: an address literal as is, a
 * name through the system resolver. Any refused address refuses the whole name, so a record set
 * that mixes a public and a private address cannot be used to reach the private one.
 */
export async function resolveWebhookHost(host: string, allowPrivate: boolean): Promise<AddressResolution> {
  let addresses: { address: string; family: number }[];
  if (isIP(host) !== 0) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (error) {
      const code = (error as { code?: string }).code;
      return { ok: false, reason: `the host ${host} could not be resolved${code ? ` (${code})` : ''}` };
    }
    if (addresses.length === 0) return { ok: false, reason: `the host ${host} has no address` };
  }
  if (!allowPrivate) {
    const refused = addresses.find((entry) => isRefusedWebhookAddress(entry.address));
    if (refused) {
      return {
        ok: false,
        reason: `${refused.address === host ? host : `${host} resolves to ${refused.address}, which`} is a loopback, private, link-local or otherwise internal address; set WEBHOOK_ALLOW_PRIVATE=true to allow it`,
      };
    }
  }
  return { ok: true, addresses };
}
