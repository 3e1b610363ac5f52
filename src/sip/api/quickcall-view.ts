import type { AccountDoc, DeviceDoc } from '../../domain/types.js';
import type { QuickCallResult } from '../service.js';
import type { QuickCallRequest } from './quickcall-request.js';

/**
 * The quickcall answer in the shape of Kazoo's originate request (seed "Execute a quick call":
 * application_name "transfer", application_data.route, endpoints[…], outbound_caller_id_*, timeout…),
 * plus what really happened on the wire (outcome, call_id, sip_status, refer_status).
 */
export function quickCallView(account: AccountDoc, device: DeviceDoc, q: QuickCallRequest, result: QuickCallResult): Record<string, unknown> {
  const sipUser = device.sip?.username ?? '';
  const codecs = device.media?.audio?.codecs ?? ['PCMU', 'PCMA'];
  return {
    application_data: { route: q.number },
    application_name: 'transfer',
    call_id: result.callId || undefined,
    continue_on_fail: false,
    custom_channel_vars: {
      account_id: account.id,
      authorizing_id: device.id,
      authorizing_type: 'device',
      inherit_codec: 'false',
      retain_cid: 'true',
    },
    dial_endpoint_method: 'simultaneous',
    endpoints: [
      {
        codecs,
        custom_channel_vars: {
          account_id: account.id,
          authorizing_id: device.id,
          auto_answer: q.autoAnswer,
          media_encryption_enforce_security: false,
          ...(device.owner_id ? { owner_id: device.owner_id } : {}),
          sip_invite_domain: account.realm,
        },
        custom_sip_headers: { x_kazoo_aor: `sip:${sipUser}@${account.realm}` },
        endpoint_id: device.id,
        invite_format: device.sip?.invite_format ?? 'username',
        outbound_call_id: result.callId ? `${result.callId}-quickcall` : undefined,
        ...(device.presence_id ? { presence_id: device.presence_id } : {}),
        to_did: q.number,
        to_realm: account.realm,
        to_user: sipUser,
        to_username: sipUser,
      },
    ],
    export_custom_channel_vars: ['Account-ID', 'Retain-CID', 'Authorizing-ID', 'Authorizing-Type'],
    ignore_early_media: q.ignoreEarlyMedia,
    media: q.media,
    outbound_callee_id_name: device.caller_id?.internal?.name ?? device.name,
    outbound_callee_id_number: device.caller_id?.internal?.number ?? sipUser,
    outbound_caller_id_name: q.callerIdName,
    outbound_caller_id_number: q.callerIdNumber,
    outcome: result.outcome,
    refer_status: result.referStatus,
    sip_status: result.status,
    timeout: q.timeoutSeconds,
  };
}
