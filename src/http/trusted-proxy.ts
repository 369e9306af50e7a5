import proxyAddr from '@fastify/proxy-addr';
import type { FastifyRequest } from 'fastify';

/**
 * Whether the direct peer of a request is a proxy `TRUST_PROXY` trusts: only then are the
 * `X-Forwarded-*` headers it sends believed. The same rule Fastify applies to `X-Forwarded-For`
 * (http/server.ts), asked of the connection's own address, never of a header.
 */
export function trustedProxyCheck(trustProxy: boolean | number | readonly string[]): (request: FastifyRequest) => boolean {
  if (typeof trustProxy === 'boolean') return () => trustProxy;
  // A hop count trusts the nearest N proxies: the direct peer is the first of them.
  if (typeof trustProxy === 'number') return () => trustProxy >= 1;
  const trusts = proxyAddr.compile([...trustProxy]);
  return (request) => {
    const peer = request.raw.socket.remoteAddress;
    return peer !== undefined && trusts(peer, 0);
  };
}
