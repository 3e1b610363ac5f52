import { RegistrarBackend, type SipServiceDeps } from '../registrar-backend.js';
import { autoAnswerFor, credentialsFor } from '../device-credentials.js';
import { splitCommas } from '../message.js';
import { LOCAL_USER } from '../notify.js';
import { sdpAnswer } from '../quickcall.js';
import { quickCallFrom, sipUser } from '../quickcall-from.js';
import type { NotifyOptions, NotifyResult, QuickCallOptions, QuickCallResult } from '../service.js';
import { randomToken } from '../stack.js';
import { deliveryTarget } from '../target.js';
import { SipStartError } from '../transport.js';
import { createSrf, type SrfDialogLike, type SrfLike, type SrfRequestLike, type SrfResponseLike } from './srf-adapter.js';

/**
 * The drachtio-srf backend: same behaviour as the embedded one, with SIP itself handled by a
 * drachtio-server (inbound connection, `srf.connect`). REGISTER goes through the very same Registrar
 * (digest/IP policy, nonce checks, binding table) as the embedded backend; NOTIFY uses `srf.request` with
 * `auth` (answers a phone's challenge) and `proxy` (NAT-safe target); quick call is srf's 3PCC
 * `createUAC` without SDP + an in-dialog REFER. Production needs a drachtio-server; tests use a fake one.
 */
export class DrachtioSipService extends RegistrarBackend {
  private srf?: SrfLike;
  private hostport = '';

  constructor(
    deps: SipServiceDeps,
    private readonly makeSrf: () => SrfLike = createSrf,
  ) {
    super(deps);
  }

  async start(): Promise<void> {
    if (this.srf) return;
    const target = this.deps.config.sip.drachtio;
    if (!target) throw new SipStartError('SIP_BACKEND=drachtio needs DRACHTIO_HOST and DRACHTIO_SECRET');
    const srf = this.makeSrf();
    srf.register((req, res) => this.onRegister(req, res));
    srf.options((_req, res) => res.send(200));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error('no answer within 10 s')), 10_000);
      const fail = (err: Error) => {
        clearTimeout(timer);
        try {
          srf.disconnect();
        } catch {
          // not connected
        }
        reject(new SipStartError(`SIP: cannot use drachtio-server at ${target.host}:${target.port}: ${err.message}`));
      };
      srf.on('connect', (err: Error | null, hostport: string) => {
        if (err) return fail(err);
        clearTimeout(timer);
        this.hostport = hostport;
        resolve();
      });
      srf.on('error', (err: Error) => {
        if (!this.srf) fail(err);
        else this.deps.log.warn('drachtio connection error', { error: err.message });
      });
      srf.connect({ host: target.host, port: target.port, secret: target.secret });
    });
    this.srf = srf;
    this.table.startSweeping();
    this.deps.log.debug('sip listening', { backend: 'drachtio', server: `${target.host}:${target.port}`, hostport: this.hostport });
  }

  async stop(): Promise<void> {
    this.table.stopSweeping();
    const srf = this.srf;
    this.srf = undefined;
    if (srf) {
      srf.removeAllListeners();
      srf.on('error', () => undefined);
      try {
        srf.disconnect();
      } catch {
        // already gone
      }
    }
  }

  private onRegister(req: SrfRequestLike, res: SrfResponseLike): void {
    try {
      const decision = this.register({
        requestUri: req.uri,
        to: req.get('To'),
        from: req.get('From'),
        authorization: req.has('Authorization') ? req.get('Authorization') : undefined,
        contacts: req.has('Contact') ? splitCommas(req.get('Contact') ?? '') : [],
        expires: req.has('Expires') ? req.get('Expires') : undefined,
        userAgent: req.has('User-Agent') ? req.get('User-Agent') : undefined,
        source: { address: req.source_address, port: Number(req.source_port) },
      });
      res.send(decision.status, decision.reason, { headers: Object.fromEntries(decision.headers) });
    } catch (err) {
      this.deps.log.error('drachtio register failed', { error: err });
      res.send(500, 'Server Error');
    }
  }

  async notify(accountId: string, deviceId: string, options: NotifyOptions): Promise<NotifyResult> {
    const registration = this.table.get(accountId, deviceId);
    const srf = this.srf;
    if (!registration || !srf) return { sent: false, reason: registration ? 'sip stopped' : 'not registered' };
    if (/[\r\n]/.test(options.event)) return { sent: false, reason: 'invalid event' };
    const credentials = credentialsFor(this.deps.directory, accountId, deviceId);
    const target = deliveryTarget(registration);
    const aor = `sip:${registration.username}@${registration.realm}`;
    const headers: Record<string, string> = {
      From: `<sip:${LOCAL_USER}@${registration.realm}>;tag=${randomToken(6)}`,
      To: `<${aor}>`,
      Event: options.event,
      'Subscription-State': 'terminated',
      'X-Kazoo-AOR': aor,
    };
    if (options.body) headers['Content-Type'] = options.body.content_type;
    let challenged = false;
    const req = await srf.request(registration.contact, {
      method: 'NOTIFY',
      headers,
      body: options.body?.data,
      auth: credentials,
      proxy: `sip:${target.address}:${target.port}`,
    });
    // With `auth`, srf answers a 401/407 itself: it emits 'authenticate' with the re-sent request and moves
    // our 'response' listener there, so the response we get is the final one. drachtio-server times out
    // unanswered requests (408); our own guard only covers a lost server connection.
    const response = await new Promise<{ status: number; reason: string }>((resolve) => {
      const guard = setTimeout(() => resolve({ status: 408, reason: 'Request Timeout' }), 40_000);
      guard.unref();
      req.on('response', (res) => {
        clearTimeout(guard);
        resolve(res);
      });
      req.on('authenticate', () => {
        challenged = true;
      });
    });
    this.deps.log.info('sip notify', { account_id: accountId, device_id: deviceId, event: options.event, status: response.status, backend: 'drachtio' });
    return { sent: true, status: response.status, reason: response.reason, authenticated: challenged && response.status < 300 ? true : undefined };
  }

  async quickCall(accountId: string, deviceId: string, number: string, options: QuickCallOptions): Promise<QuickCallResult> {
    const registration = this.table.get(accountId, deviceId);
    const srf = this.srf;
    if (!registration || !srf) return { callId: '', outcome: 'not_registered' };
    const realm = registration.realm;
    const target = deliveryTarget(registration);
    const callId = `${randomToken(12)}@drachtio`;
    const headers: Record<string, string> = {
      'Call-ID': callId,
      From: quickCallFrom(options.callerIdName, options.callerIdNumber, number, realm),
      To: `<sip:${registration.username}@${realm}>`,
      Subject: 'QuickCall',
      'X-Kazoo-AOR': `sip:${registration.username}@${realm}`,
      ...autoAnswerFor(this.deps.provisioning, accountId, deviceId, options.autoAnswer, this.deps.log),
    };
    let inviteReq: SrfRequestLike | undefined;
    let timedOut = false;
    const ring = setTimeout(() => {
      timedOut = true;
      inviteReq?.cancel?.();
    }, options.timeoutSeconds * 1000);
    let dialog: SrfDialogLike;
    try {
      const uac = await srf.createUAC(
        registration.contact,
        { headers, proxy: `sip:${target.address}:${target.port}`, auth: credentialsFor(this.deps.directory, accountId, deviceId), noAck: true },
        { cbRequest: (_err, req) => (inviteReq = req) },
      );
      if ('ack' in uac) dialog = await uac.ack(sdpAnswer(uac.sdp, this.hostport.replace(/^\w+\//, '').replace(/:\d+$/, '') || '0.0.0.0'));
      else dialog = uac;
    } catch (err) {
      const status = (err as { status?: number }).status;
      return { callId, outcome: timedOut || status === 487 || status === 408 ? 'timeout' : 'rejected', status };
    } finally {
      clearTimeout(ring);
    }
    if (timedOut) {
      await Promise.resolve(dialog.destroy()).catch(() => undefined);
      return { callId, outcome: 'timeout', status: 200 };
    }
    dialog.on('notify', (_req, res) => res.send(200));
    try {
      const refer = await dialog.request({ method: 'REFER', headers: { 'Refer-To': `<sip:${sipUser(number)}@${realm}>`, 'Referred-By': `<sip:${LOCAL_USER}@${realm}>` } });
      if (refer.status >= 200 && refer.status < 300) {
        const hangup = setTimeout(() => void Promise.resolve(dialog.destroy()).catch(() => undefined), options.timeoutSeconds * 1000 + 60_000);
        hangup.unref();
        dialog.on('destroy', () => clearTimeout(hangup));
        return { callId, outcome: 'answered', status: 200, referStatus: refer.status };
      }
      await Promise.resolve(dialog.destroy()).catch(() => undefined);
      return { callId, outcome: 'failed', status: 200, referStatus: refer.status };
    } catch (err) {
      await Promise.resolve(dialog.destroy()).catch(() => undefined);
      return { callId, outcome: 'failed', status: 200, referStatus: (err as { status?: number }).status };
    }
  }
}
