import { isIPv4, isIPv6 } from 'node:net';

/**
 * Canonical keys for a client address and the network it sits in, for counting probes: one host of an attacker
 * is rarely alone, so probes are counted per address and per network (IPv4 /24, IPv6 /64 — what one site or one
 * customer line usually gets). An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack listener
 * reports) is the IPv4 address, and IPv6 text is expanded, so one host never counts as two.
 */
export interface ClientKeys {
  address: string;
  network: string;
}

/** Longest textual IPv6 address (with an embedded IPv4 tail); anything longer is not an address. */
const MAX_ADDRESS_TEXT = 45;

type Parsed = { v4: number[] } | { v6: number[] };

function parse(text: string): Parsed | undefined {
  const zone = text.indexOf('%');
  const a = zone >= 0 ? text.slice(0, zone) : text;
  if (a.length > MAX_ADDRESS_TEXT) return undefined;
  if (isIPv4(a)) return { v4: a.split('.').map(Number) };
  if (!isIPv6(a)) return undefined;
  let hex = a;
  const lastColon = a.lastIndexOf(':');
  const tail = a.slice(lastColon + 1);
  if (tail.includes('.')) {
    // An embedded IPv4 tail is the last two groups.
    const [b0, b1, b2, b3] = tail.split('.').map(Number) as [number, number, number, number];
    hex = `${a.slice(0, lastColon + 1)}${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const halves = hex.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest].map((g) => parseInt(g, 16));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return { v4: [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff] };
  }
  return { v6: groups };
}

export function clientKeys(address: string): ClientKeys {
  const p = parse(address);
  if (!p) {
    // Not an IP (a socket already gone reports none): counted under its own text, bounded.
    const key = address.slice(0, MAX_ADDRESS_TEXT);
    return { address: key, network: key };
  }
  if ('v4' in p) {
    const [a, b, c, d] = p.v4;
    return { address: `${a}.${b}.${c}.${d}`, network: `${a}.${b}.${c}.0/24` };
  }
  const g = p.v6.map((x) => x.toString(16));
  return { address: g.join(':'), network: `${g.slice(0, 4).join(':')}::/64` };
}

/** The canonical key of a hand-written address, or undefined when it is none. */
export function canonicalAddress(text: string): string | undefined {
  return parse(text) ? clientKeys(text).address : undefined;
}

/** The canonical key of a hand-written network (`192.0.2.0/24`, `2001:db8::/64`), or undefined when it is none. */
export function canonicalNetwork(text: string): string | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const p = parse(text.slice(0, slash));
  const bits = text.slice(slash + 1);
  if (!p || bits !== ('v4' in p ? '24' : '64')) return undefined;
  return clientKeys(text.slice(0, slash)).network;
}
