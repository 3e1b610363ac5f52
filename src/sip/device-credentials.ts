import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { Directory } from '../store/directory.js';
import type { Credentials } from './uac.js';

/**
 * Device facts both backends need when they originate requests: the device's own SIP credentials (to
 * answer a phone that challenges our NOTIFY/INVITE) and the vendor's auto-answer headers.
 */
export function credentialsFor(directory: Directory, accountId: string, deviceId: string): Credentials | undefined {
  const sip = directory.getDevice(accountId, deviceId)?.sip;
  if (!sip?.username || !sip.password) return undefined;
  return { username: sip.username, password: sip.password };
}

/** Generic auto-answer header understood by most desk phones when provisioning has no vendor-specific one. */
export const GENERIC_AUTO_ANSWER: Record<string, string> = { 'Call-Info': 'answer-after=0', 'Alert-Info': 'info=alert-autoanswer' };

export function autoAnswerFor(
  provisioning: Pick<ProvisioningService, 'autoAnswerHeaders'> | undefined,
  accountId: string,
  deviceId: string,
  wanted: boolean,
  log: Logger,
): Record<string, string> {
  if (!wanted) return {};
  try {
    const headers = provisioning?.autoAnswerHeaders(accountId, deviceId);
    if (headers && Object.keys(headers).length > 0) return headers;
  } catch (err) {
    log.warn('auto-answer headers unavailable', { account_id: accountId, device_id: deviceId, error: (err as Error).message });
  }
  return GENERIC_AUTO_ANSWER;
}
