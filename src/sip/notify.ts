import { makeHeaders, type SipRequest } from './message.js';
import type { NotifyOptions, NotifyResult, Registration } from './service.js';
import { hostPort, randomToken, type SipStack } from './stack.js';
import { deliveryTarget } from './target.js';
import { requestWithAuth, type Credentials } from './uac.js';

/**
 * Out-of-dialog NOTIFY (check-sync and friends) from the registrar's own address/port — phones set to
 * "accept SIP only from the registrar" drop anything else — to the registered Contact, physically sent
 * to the address the REGISTER came from (NAT-safe).
 */
export const LOCAL_USER = 'provisioning';

export async function sendNotify(
  stack: SipStack,
  registration: Registration,
  credentials: Credentials | undefined,
  options: NotifyOptions,
): Promise<NotifyResult> {
  if (/[\r\n]/.test(options.event) || (options.body && /[\r\n]/.test(options.body.content_type))) {
    return { sent: false, reason: 'invalid event' };
  }
  const aor = `sip:${registration.username}@${registration.realm}`;
  const req: SipRequest = {
    kind: 'request',
    method: 'NOTIFY',
    uri: registration.contact,
    headers: makeHeaders([
      ['Via', stack.newVia()],
      ['Max-Forwards', 70],
      ['From', `<sip:${LOCAL_USER}@${registration.realm}>;tag=${randomToken(6)}`],
      ['To', `<${aor}>`],
      ['Call-ID', `${randomToken(12)}@${stack.local.address}`],
      ['CSeq', '1 NOTIFY'],
      ['Contact', `<sip:${LOCAL_USER}@${hostPort(stack.local)}>`],
      ['Event', options.event],
      ['Subscription-State', 'terminated'],
      ['X-Kazoo-AOR', aor],
      ['User-Agent', 'kazoo-provisioner'],
      ['Content-Type', options.body?.content_type],
    ]),
    body: options.body?.data ?? '',
  };
  const { response, authenticated } = await requestWithAuth(stack, req, deliveryTarget(registration), credentials);
  return { sent: true, status: response.status, reason: response.reason, authenticated: authenticated || undefined };
}
