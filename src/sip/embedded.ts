import os from 'node:os';
import { header, headerValues, type SipRequest } from './message.js';
import { sendNotify } from './notify.js';
import { DialogTable, quickCall } from './quickcall.js';
import { RegistrarBackend } from './registrar-backend.js';
import type { NotifyOptions, NotifyResult, QuickCallOptions, QuickCallResult } from './service.js';
import { SipStack, type Endpoint, type Respond } from './stack.js';
import { UdpTransport } from './transport.js';
import type { Credentials } from './uac.js';
import { autoAnswerFor, credentialsFor } from './device-credentials.js';

export type { ObservableSipService, SipServiceDeps } from './registrar-backend.js';

const ALLOW = 'REGISTER, OPTIONS, NOTIFY, BYE, ACK, CANCEL';

/** The default backend: a registrar and UAC on one UDP socket, no other process needed. */
export class EmbeddedSipService extends RegistrarBackend {
  private transport?: UdpTransport;
  private stack?: SipStack;
  private readonly dialogs = new DialogTable();

  async start(): Promise<void> {
    if (this.transport) return;
    const { address, port, publicAddress, maxDatagram } = this.deps.config.sip;
    const transport = await UdpTransport.bind(address, port, (err) => this.deps.log.warn('sip socket error', { error: err.message }), maxDatagram);
    const bound = transport.address();
    const local: Endpoint = { address: publicAddress ?? advertisedAddress(bound.address), port: bound.port };
    this.transport = transport;
    this.stack = new SipStack(transport, local, (req, source, respond) => this.onRequest(req, source, respond), this.deps.log, {
      responseCacheBytes: this.deps.config.sip.responseCacheBytes,
    });
    this.table.startSweeping();
    this.deps.log.debug('sip listening', { backend: 'embedded', address: bound.address, port: bound.port });
  }

  async stop(): Promise<void> {
    this.table.stopSweeping();
    this.stack?.close();
    await this.transport?.close();
    this.transport = undefined;
    this.stack = undefined;
  }

  /** The bound UDP address (useful when SIP_PORT=0). */
  address(): { address: string; port: number } | undefined {
    return this.transport?.address();
  }

  /** Datagram counters (received/dropped/…), for tests and the bench. */
  stats(): Record<string, number> {
    const buffers = this.transport?.bufferSizes();
    return {
      ...(this.stack?.stats ?? {}),
      responseCacheBytes: this.stack?.cachedResponseBytes ?? 0,
      recvBufferBytes: buffers?.recv ?? 0,
      sendBufferBytes: buffers?.send ?? 0,
    };
  }

  async notify(accountId: string, deviceId: string, options: NotifyOptions): Promise<NotifyResult> {
    const registration = this.table.get(accountId, deviceId);
    if (!registration || !this.stack) return { sent: false, reason: registration ? 'sip stopped' : 'not registered' };
    const result = await sendNotify(this.stack, registration, this.credentials(accountId, deviceId), options);
    this.deps.log.info('sip notify', { account_id: accountId, device_id: deviceId, event: options.event, status: result.status });
    return result;
  }

  async quickCall(accountId: string, deviceId: string, number: string, options: QuickCallOptions): Promise<QuickCallResult> {
    const registration = this.table.get(accountId, deviceId);
    if (!registration || !this.stack) return { callId: '', outcome: 'not_registered' };
    const headers = autoAnswerFor(this.deps.provisioning, accountId, deviceId, options.autoAnswer, this.deps.log);
    return quickCall(this.stack, this.dialogs, registration, this.credentials(accountId, deviceId), number, options, headers, this.deps.log);
  }

  private credentials(accountId: string, deviceId: string): Credentials | undefined {
    return credentialsFor(this.deps.directory, accountId, deviceId);
  }

  private onRequest(req: SipRequest, source: Endpoint, respond: Respond): void {
    switch (req.method) {
      case 'REGISTER': {
        const decision = this.register({
          requestUri: req.uri,
          to: header(req.headers, 'to'),
          from: header(req.headers, 'from'),
          authorization: header(req.headers, 'authorization'),
          contacts: headerValues(req.headers, 'contact'),
          expires: header(req.headers, 'expires'),
          userAgent: header(req.headers, 'user-agent'),
          source,
        });
        respond(decision.status, decision.reason, decision.headers);
        return;
      }
      case 'OPTIONS':
        respond(200, 'OK', [['Allow', ALLOW], ['Accept', 'application/sdp']]);
        return;
      case 'ACK':
        this.dialogs.handle(req, respond);
        return;
      case 'CANCEL':
        respond(481, 'Call/Transaction Does Not Exist');
        return;
      default:
        if (this.dialogs.handle(req, respond)) return;
        if (['BYE', 'NOTIFY', 'INFO', 'UPDATE', 'REFER', 'PRACK'].includes(req.method)) respond(481, 'Call/Transaction Does Not Exist');
        else respond(405, 'Method Not Allowed', [['Allow', ALLOW]]);
    }
  }
}

/** When bound to a wildcard, advertise the first non-internal IPv4 address (override with SIP_PUBLIC_ADDRESS). */
function advertisedAddress(bound: string): string {
  if (bound !== '0.0.0.0' && bound !== '::') return bound;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}
