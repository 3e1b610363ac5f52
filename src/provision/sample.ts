import type { AccountDoc, DeviceDoc, DeviceRef, UserDoc } from '../domain/types.js';
import type { VendorProfile } from '../../vendors/types.js';
import { buildInput } from './input.js';

/**
 * The device an uploaded template is test-rendered for before it is accepted. It exercises every feature a
 * template can use, and its values carry XML/markup specials (& < > " ') so that an XML template which
 * bypasses escaping (e.g. {{{triple}}}) produces a file that does not parse and is refused.
 */
const SAMPLE_USER: UserDoc = {
  id: 'sampleuser00000000000000000000001', _rev: '1-sample', pvt_type: 'user', pvt_account_id: 'sampleaccount0000000000000000001',
  pvt_created: 0, pvt_modified: 0, username: 'alice', first_name: 'Alice & "Al"', last_name: "<O'Neil>", presence_id: '1001',
};

export function sampleContext(profile: VendorProfile, accountRealm = 'sample.example.com'): Record<string, unknown> {
  const account = {
    id: SAMPLE_USER.pvt_account_id, _rev: '1-sample', pvt_type: 'account', pvt_account_id: SAMPLE_USER.pvt_account_id,
    pvt_created: 0, pvt_modified: 0, name: 'Sample & <Co>', realm: accountRealm, pvt_tree: [], pvt_api_key: 'x',
  } as AccountDoc;
  const device = {
    id: 'sampledevice000000000000000000001', _rev: '1-sample', pvt_type: 'device', pvt_account_id: account.id,
    pvt_created: 0, pvt_modified: 0, name: `Desk "A" & <B> 'C'`, mac_address: `${profile.ouis[0] ?? '000000'}a1b2c3`,
    sip: { username: 'user_1001', password: `p&<>"'ss`, expire_seconds: 3600 },
    caller_id: { internal: { name: `Front & "Desk" <1>` } },
    media: { audio: { codecs: ['OPUS', 'G722', 'PCMU', 'PCMA', 'G729'] } },
    provision: {
      feature_keys: { '0': { type: 'presence', value: SAMPLE_USER.id }, '1': { type: 'parking', value: 1 } },
      combo_keys: {
        '0': { type: 'line' }, '1': { type: 'presence', value: SAMPLE_USER.id }, '2': { type: 'speed_dial', value: { label: 'Lobby & Co', value: '2000' } },
        '3': { type: 'parking', value: '2' }, '4': { type: 'personal_parking', value: SAMPLE_USER.id },
      },
    },
    ringtones: { internal: '<http://127.0.0.1>;info=internal', external: '<http://127.0.0.1>;info=external' },
    timezone: 'America/New_York',
    language: 'en-us',
    mwi_unsolicited_updates: false,
  } as DeviceDoc;
  const ref: DeviceRef = { account, device };
  const { input } = buildInput(ref, (_a, id) => (id === SAMPLE_USER.id ? SAMPLE_USER : undefined), { profile, model: profile.sampleModel, family: '' });
  return { ...input, vendor: profile.id, v: profile.variables(input) };
}

export function sampleCommonContext(profile: VendorProfile, model: string): Record<string, unknown> {
  return { mac: '', model, vendor: profile.id, account: undefined, v: profile.commonVariables?.(model) ?? {} };
}
