import net from 'node:net';

/**
 * Who the client of a request is, when the server may sit behind reverse proxies (TRUST_PROXY). Only a peer in
 * the trusted list is believed about X-Forwarded-For, and only as far as the chain of trusted hops goes: the
 * answer is the rightmost address that is not a trusted proxy (each proxy appends the address it was connected
 * from, so everything left of the first untrusted hop may be forged by the client). With no trusted proxies the
 * header is never read: the socket's peer is the client.
 */
export class ClientAddress {
  private readonly trusted = new net.BlockList();
  private readonly any: boolean;

  constructor(trustedProxies: readonly string[]) {
    for (const entry of trustedProxies) {
      const { address, prefix, family } = parseProxyEntry(entry);
      if (prefix === undefined) this.trusted.addAddress(address, family);
      else this.trusted.addSubnet(address, prefix, family);
    }
    this.any = trustedProxies.length > 0;
  }

  /** Whether `peer` is a trusted proxy (then its X-Forwarded-For is worth reading). */
  trusts(peer: string): boolean {
    if (!this.any) return false;
    const family = net.isIP(peer);
    return family !== 0 && this.trusted.check(peer, family === 4 ? 'ipv4' : 'ipv6');
  }

  /**
   * The client of a request from `peer` that carries `header` (its X-Forwarded-For value, duplicates joined with
   * commas as node:http joins them). Walks the hops from the right without splitting the whole value:
   * a long forged list costs only up to its first untrusted hop. A hop that is not an IP address stops the walk at
   * the trusted proxy that passed it on.
   */
  of(peer: string, header: string | readonly string[] | undefined): string {
    let client = peer;
    if (header === undefined || !this.trusts(peer)) return client;
    const forwardedFor = typeof header === 'string' ? header : header.join(',');
    let end = forwardedFor.length;
    while (end > 0) {
      const comma = forwardedFor.lastIndexOf(',', end - 1);
      const hop = forwardedFor.slice(comma + 1, end).trim();
      end = comma < 0 ? 0 : comma;
      if (hop === '' && comma >= 0) continue; // an empty list element (`a,,b`), as RFC 9110 lists allow
      if (net.isIP(hop) === 0) return client;
      client = hop;
      if (!this.trusts(hop)) return client;
    }
    return client;
  }
}

/** One TRUST_PROXY entry: an IPv4/IPv6 address, or a CIDR block of one. */
function parseProxyEntry(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } {
  const slash = entry.indexOf('/');
  const address = slash < 0 ? entry : entry.slice(0, slash);
  const version = net.isIP(address);
  if (version === 0) throw new Error(`"${entry}" is not an IP address or CIDR block`);
  const family = version === 4 ? 'ipv4' : 'ipv6';
  if (slash < 0) return { address, prefix: undefined, family };
  const bits = entry.slice(slash + 1);
  const prefix = Number(bits);
  if (!/^\d{1,3}$/.test(bits) || prefix > (version === 4 ? 32 : 128)) throw new Error(`"${entry}" has an invalid prefix length`);
  return { address, prefix, family };
}

/**
 * TRUST_PROXY's value (comma-separated addresses and CIDR blocks, e.g. `127.0.0.1,10.0.0.0/8`) as a list of
 * entries; throws an Error naming the first bad one. Empty: no proxy is trusted.
 */
export function parseTrustedProxies(text: string): string[] {
  const entries = text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of entries) parseProxyEntry(entry);
  return entries;
}
