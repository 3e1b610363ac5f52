import net from 'node:net';
import { parseUri } from './message.js';
import type { Registration } from './service.js';

/**
 * Where to physically send a request for a registered phone. The Contact is used when its host is the
 * very address the REGISTER came from (no NAT between us: the phone told the truth, and its listening port
 * may differ from the port it sent REGISTER from); otherwise the phone is behind NAT (or gave a name we
 * should not resolve) and only the REGISTER's source address:port reaches it.
 */
export function deliveryTarget(registration: Registration): { address: string; port: number } {
  const uri = parseUri(registration.contact);
  const host = uri?.host.replace(/^\[|\]$/g, '');
  if (uri && host && net.isIP(host) && host === registration.source.address) {
    return { address: host, port: uri.port ?? (uri.scheme === 'sips' ? 5061 : 5060) };
  }
  return { ...registration.source };
}
