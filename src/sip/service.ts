/**
 * The project's SIP interface, implemented by the embedded backend (default) and the drachtio-srf backend.
 * HTTP never talks to a SIP stack directly; it goes through this.
 */
export interface Registration {
  accountId: string;
  deviceId: string;
  username: string;
  realm: string;
  contact: string;
  /** Where the REGISTER came from (NAT-safe target for NOTIFY/INVITE). */
  source: { address: string; port: number };
  expiresAt: number;
  userAgent?: string;
  /**
   * In a cluster (DATABASE_URL): the node that received the REGISTER and whose socket reaches the phone. Unset on
   * a binding made here; set on one learnt from another node, and on one this node took over.
   */
  node?: string;
}

export interface NotifyOptions {
  event: string;
  body?: { content_type: string; data: string };
}

export interface NotifyResult {
  /** False when the device is not registered (nothing was sent). */
  sent: boolean;
  /** Final SIP status from the phone, when sent. */
  status?: number;
  reason?: string;
  /** True when the phone challenged and we answered with its credentials. */
  authenticated?: boolean;
}

export interface QuickCallOptions {
  autoAnswer: boolean;
  callerIdName: string;
  callerIdNumber: string;
  timeoutSeconds: number;
}

export interface QuickCallResult {
  callId: string;
  /** 'answered' once the phone took the call and the REFER was accepted; otherwise why not. */
  outcome: 'answered' | 'timeout' | 'rejected' | 'not_registered' | 'failed';
  status?: number;
  referStatus?: number;
}

/**
 * A request that cannot leave as one UDP datagram. RFC 3261 §18.1.1 would switch to TCP above ~1,300
 * bytes; the embedded backend has no TCP, so a message over its datagram limit is refused here, loudly,
 * instead of being dropped by the kernel without a word. `notify` rejects with it.
 */
export class SipMessageTooLargeError extends Error {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super(`SIP message of ${size} bytes does not fit in one UDP datagram (at most ${limit} bytes)`);
    this.name = 'SipMessageTooLargeError';
  }
}

export interface SipService {
  start(): Promise<void>;
  stop(): Promise<void>;
  registrations(accountId: string): Registration[];
  registrationOf(accountId: string, deviceId: string): Registration | undefined;
  notify(accountId: string, deviceId: string, options: NotifyOptions): Promise<NotifyResult>;
  quickCall(accountId: string, deviceId: string, number: string, options: QuickCallOptions): Promise<QuickCallResult>;
}
