import type { NotifyResult, QuickCallResult, Registration, SipService } from './service.js';

/** SIP_BACKEND=none: nothing listens, nothing is registered, and every send says so. */
export class DisabledSipService implements SipService {
  async start(): Promise<void> {}
  async stop(): Promise<void> {}
  registrations(): Registration[] {
    return [];
  }
  registrationOf(): Registration | undefined {
    return undefined;
  }
  async notify(): Promise<NotifyResult> {
    return { sent: false, reason: 'sip disabled' };
  }
  async quickCall(): Promise<QuickCallResult> {
    return { callId: '', outcome: 'not_registered' };
  }
}
