import { buildRequest } from './message.js';
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
  const req = buildRequest(
    'NOTIFY',
    registration.contact,
    { via: stack.newVia(), from: `<sip:${LOCAL_USER}@${registration.realm}>;tag=${randomToken(6)}`, to: `<${aor}>`, callId: `${randomToken(12)}@${stack.local.address}`, cseq: 1 },
    [
      ['Contact', `<sip:${LOCAL_USER}@${hostPort(stack.local)}>`],
      ['Event', options.event],
      ['Subscription-State', 'terminated'],
      ['X-Kazoo-AOR', aor],
      ['User-Agent', 'kazoo-provisioner'],
      ['Content-Type', options.body?.content_type],
    ],
    options.body?.data ?? '',
  );
  const { response, authenticated } = await requestWithAuth(stack, req, deliveryTarget(registration), credentials);
  return { sent: true, status: response.status, reason: response.reason, authenticated: authenticated || undefined };
}
