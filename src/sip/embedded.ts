import os from 'node:os';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { ProvisioningService } from '../provision/service.js';
import type { Directory } from '../store/directory.js';
import { header, headerValues, type SipRequest } from './message.js';
import { sendNotify } from './notify.js';
import { DialogTable, quickCall } from './quickcall.js';
import { Registrar } from './registrar.js';
import { RegistrationTable, type RegistrationListener } from './registry.js';
import type { NotifyOptions, NotifyResult, QuickCallOptions, QuickCallResult, Registration, SipService } from './service.js';
import { SipStack, type Endpoint, type Respond } from './stack.js';
import { UdpTransport } from './transport.js';
import type { Credentials } from './uac.js';
import { autoAnswerFor, credentialsFor } from './device-credentials.js';

export interface SipServiceDeps {
  config: Config;
  log: Logger;
  directory: Directory;
  provisioning?: Pick<ProvisioningService, 'checkSyncEvent' | 'autoAnswerHeaders'>;
}

/** Extra surface beyond the SipService contract: bound address (port 0 in tests) and change events. */
export interface ObservableSipService extends SipService {
  onRegistration(listener: RegistrationListener): () => void;
}

const ALLOW = 'REGISTER, OPTIONS, NOTIFY, BYE, ACK, CANCEL';

/** The default backend: a registrar and UAC on one UDP socket, no other process needed. */
export class EmbeddedSipService implements ObservableSipService {
  private transport?: UdpTransport;
  private stack?: SipStack;
  private readonly table: RegistrationTable;
  private readonly registrar: Registrar;
  private readonly dialogs = new DialogTable();

  constructor(private readonly deps: SipServiceDeps) {
    this.table = new RegistrationTable(deps.directory);
    this.registrar = new Registrar(deps.directory, this.table, { minExpires: deps.config.sip.minExpires, maxExpires: deps.config.sip.maxExpires }, deps.log);
  }

  async start(): Promise<void> {
    if (this.transport) return;
    const { address, port, publicAddress } = this.deps.config.sip;
    const transport = await UdpTransport.bind(address, port, (err) => this.deps.log.warn('sip socket error', { error: err.message }));
    const bound = transport.address();
    const local: Endpoint = { address: publicAddress ?? advertisedAddress(bound.address), port: bound.port };
    this.transport = transport;
    this.stack = new SipStack(transport, local, (req, source, respond) => this.onRequest(req, source, respond), this.deps.log);
    this.table.startSweeping();
    this.deps.log.info('sip listening', { backend: 'embedded', address: bound.address, port: bound.port });
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
    return { ...(this.stack?.stats ?? {}) };
  }

  onRegistration(listener: RegistrationListener): () => void {
    return this.table.onChange(listener);
  }

  registrations(accountId: string): Registration[] {
    return this.table.list(accountId);
  }

  registrationOf(accountId: string, deviceId: string): Registration | undefined {
    return this.table.get(accountId, deviceId);
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
        const decision = this.registrar.handle({
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
