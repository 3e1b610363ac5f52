import type { Logger } from '../log.js';
import { buildRequest, header, parseNameAddr, parseUri, type SipRequest, type SipResponse } from './message.js';
import { LOCAL_USER } from './notify.js';
import { quickCallFrom, sipUser } from './quickcall-from.js';
import type { QuickCallOptions, QuickCallResult, Registration } from './service.js';
import { hostPort, randomToken, syntheticResponse, T1, type Endpoint, type Respond, type SipStack } from './stack.js';
import { deliveryTarget } from './target.js';
import { requestWithAuth, type Credentials } from './uac.js';

/**
 * Quick call by third-party call control: INVITE the phone without SDP (it makes the offer in
 * its 200), ACK with an inactive answer, then REFER it to sip:<number>@<realm> so the phone places the
 * real call itself. Our own ring timer sends CANCEL: the INVITE client transaction (stack.ts) only stops
 * waiting, and telling the phone to stop ringing is the caller's job (RFC 3261 §9.1). The dialog stays known until the phone hangs up, so its sipfrag NOTIFYs and BYE get 200.
 */
export interface DialogState {
  callId: string;
  localTag: string;
  remoteTag?: string;
  remoteTarget: string;
  dest: Endpoint;
  from: string;
  to: string;
  cseq: number;
  done: boolean;
  onInDialog(req: SipRequest, respond: Respond): void;
}

export class DialogTable {
  readonly byCallId = new Map<string, DialogState>();
  /** Answer an in-dialog request; returns false when it belongs to no dialog of ours. */
  handle(req: SipRequest, respond: Respond): boolean {
    const dialog = this.byCallId.get(header(req.headers, 'call-id') ?? '');
    if (!dialog) return false;
    dialog.onInDialog(req, respond);
    return true;
  }
}

export async function quickCall(
  stack: SipStack,
  dialogs: DialogTable,
  registration: Registration,
  credentials: Credentials | undefined,
  number: string,
  options: QuickCallOptions,
  autoAnswerHeaders: Record<string, string>,
  log: Logger,
): Promise<QuickCallResult> {
  const realm = registration.realm;
  const callId = `${randomToken(12)}@${stack.local.address}`;
  const localTag = randomToken(6);
  const from = `${quickCallFrom(options.callerIdName, options.callerIdNumber, number, realm)};tag=${localTag}`;
  const to = `<sip:${registration.username}@${realm}>`;
  const dialog: DialogState = {
    callId,
    localTag,
    remoteTarget: registration.contact,
    dest: deliveryTarget(registration),
    from,
    to,
    cseq: 1,
    done: false,
    onInDialog: (req, respond) => {
      if (req.method === 'ACK') return;
      respond(200, 'OK');
      if (req.method === 'BYE') finish();
      if (req.method === 'NOTIFY' && /^SIP\/2\.0 [2-6]\d\d/.test(req.body.trim())) {
        // Transfer settled: hang up our leg if the phone does not do it itself.
        const t = setTimeout(() => void hangup(), 2000);
        t.unref();
      }
    },
  };
  const finish = () => {
    dialog.done = true;
    clearTimeout(safety);
    dialogs.byCallId.delete(callId);
  };
  const hangup = async () => {
    if (dialog.done || !dialog.remoteTag) return finish();
    dialog.cseq++;
    const bye = inDialogRequest(stack, dialog, 'BYE', []);
    finish();
    await stack.request(bye, dialog.dest).catch(() => undefined);
  };
  dialogs.byCallId.set(callId, dialog);
  const safety = setTimeout(() => void hangup(), options.timeoutSeconds * 1000 + 120_000);
  safety.unref();

  const extra = Object.entries(autoAnswerHeaders).filter(([k, v]) => !/[\r\n]/.test(k + v));
  let invite: SipRequest = buildRequest('INVITE', registration.contact, { via: stack.newVia(), from, to, callId, cseq: 1 }, [
    ['Contact', `<sip:${LOCAL_USER}@${hostPort(stack.local)}>`],
    ['Allow', 'INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS'],
    ['Subject', 'QuickCall'],
    ['X-Kazoo-AOR', `sip:${registration.username}@${realm}`],
    ['User-Agent', 'kazoo-provisioner'],
    ...extra.map(([k, v]): [string, string] => [k, v]),
  ]);

  let answeredOrFailed = false;
  let cancelled = false;
  const ring = setTimeout(() => {
    if (answeredOrFailed) return;
    cancelled = true;
    // CANCEL: same Via (branch) and CSeq number as the INVITE it cancels (RFC 3261 §9.1).
    const cancel = buildRequest('CANCEL', invite.uri, { via: header(invite.headers, 'via'), from, to, callId, cseq: dialog.cseq });
    void stack.request(cancel, dialog.dest).catch(() => undefined);
  }, options.timeoutSeconds * 1000);

  let final: SipResponse;
  let grace: NodeJS.Timeout | undefined;
  try {
    const inviteDone = requestWithAuth(stack, invite, dialog.dest, credentials, { timeoutMs: options.timeoutSeconds * 1000 + 32_000 }, (retry) => {
      invite = retry;
      dialog.cseq++;
    }).then((r) => r.response);
    // A phone that never answered anything cannot be cancelled: give the CANCEL 8*T1 to bring the 487,
    // then report the timeout anyway (the INVITE transaction keeps absorbing late answers in the background).
    const gaveUp = new Promise<SipResponse>((resolve) => {
      const check = () => {
        if (cancelled) grace = setTimeout(() => resolve(syntheticResponse(invite, 408, 'Request Timeout')), 8 * T1);
        else grace = setTimeout(check, 250);
        grace.unref();
      };
      check();
    });
    final = await Promise.race([inviteDone, gaveUp]);
    if (final.status === 408 && cancelled) {
      // If the phone answers after all, hang up that late call.
      void inviteDone.then((late) => {
        if (late.status >= 200 && late.status < 300) lateAnswer(late);
      });
    }
  } finally {
    answeredOrFailed = true;
    clearTimeout(ring);
    clearTimeout(grace);
  }

  function lateAnswer(late: SipResponse): void {
    dialog.remoteTag = parseNameAddr(header(late.headers, 'to') ?? '')?.params.tag ?? undefined;
    dialog.to = header(late.headers, 'to') ?? to;
    const c = parseNameAddr(header(late.headers, 'contact') ?? '');
    if (c && parseUri(c.uri)) dialog.remoteTarget = c.uri;
    const hasOffer = late.body.trim().length > 0;
    stack.sendAck(inDialogRequest(stack, dialog, 'ACK', hasOffer ? [['Content-Type', 'application/sdp']] : [], hasOffer ? sdpAnswer(late.body, stack.local.address) : ''), dialog.dest);
    dialogs.byCallId.set(callId, dialog);
    dialog.done = false;
    void hangup();
  }

  if (final.status < 200 || final.status >= 300) {
    finish();
    const outcome = cancelled || final.status === 487 ? 'timeout' : final.status === 408 ? 'timeout' : 'rejected';
    log.info('quickcall not answered', { call_id: callId, status: final.status, outcome });
    return { callId, outcome, status: final.status };
  }

  const toAddr = parseNameAddr(header(final.headers, 'to') ?? '');
  dialog.remoteTag = toAddr?.params.tag ?? undefined;
  dialog.to = header(final.headers, 'to') ?? to;
  const contact = parseNameAddr(header(final.headers, 'contact') ?? '');
  if (contact && parseUri(contact.uri)) dialog.remoteTarget = contact.uri;

  // ACK for 2xx: a new transaction, answer the phone's offer (inactive: the call is about to be referred).
  const hasOffer = final.body.trim().length > 0 && /application\/sdp/i.test(header(final.headers, 'content-type') ?? '');
  const ack = inDialogRequest(stack, dialog, 'ACK', hasOffer ? [['Content-Type', 'application/sdp']] : [], hasOffer ? sdpAnswer(final.body, stack.local.address) : '');
  stack.sendAck(ack, dialog.dest);

  if (cancelled) {
    // 200 crossed our CANCEL: the phone answered after all, but the API already gave up — hang up.
    await hangup();
    return { callId, outcome: 'timeout', status: final.status };
  }

  dialog.cseq++;
  const refer = inDialogRequest(stack, dialog, 'REFER', [
    ['Refer-To', `<sip:${sipUser(number)}@${realm}>`],
    ['Referred-By', `<sip:${LOCAL_USER}@${realm}>`],
    ['Contact', `<sip:${LOCAL_USER}@${hostPort(stack.local)}>`],
  ]);
  const referResult = await requestWithAuth(stack, refer, dialog.dest, credentials, {}, () => dialog.cseq++);
  const referStatus = referResult.response.status;
  if (referStatus >= 200 && referStatus < 300) {
    log.info('quickcall referred', { call_id: callId, refer_status: referStatus });
    return { callId, outcome: 'answered', status: final.status, referStatus };
  }
  await hangup();
  return { callId, outcome: 'failed', status: final.status, referStatus };
}

function inDialogRequest(stack: SipStack, d: DialogState, method: string, extra: Array<[string, string]>, body = ''): SipRequest {
  return buildRequest(method, d.remoteTarget, { via: stack.newVia(), from: d.from, to: d.to, callId: d.callId, cseq: d.cseq }, extra, body);
}

/** Minimal SDP answer: one inactive stream per offered m-line, first codec only. */
export function sdpAnswer(offer: string, address: string): string {
  const family = address.includes(':') ? 'IP6' : 'IP4';
  const lines = ['v=0', `o=- ${Date.now()} 1 IN ${family} ${address}`, 's=quickcall', `c=IN ${family} ${address}`, 't=0 0'];
  for (const line of offer.split(/\r?\n/)) {
    const m = /^m=(\S+) \d+ (\S+) (\S+)/.exec(line.trim());
    if (!m) continue;
    lines.push(`m=${m[1]} 9 ${m[2]} ${m[3]}`);
    const rtpmap = new RegExp(`^a=rtpmap:${m[3]} .*$`, 'm').exec(offer);
    if (rtpmap) lines.push(rtpmap[0].trim());
    lines.push('a=inactive');
  }
  return lines.join('\r\n') + '\r\n';
}
