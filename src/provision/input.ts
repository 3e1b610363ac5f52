import type { DeviceDoc, FeatureKey, DeviceRef, UserDoc } from '../domain/types.js';
import type { KeyKind, ProvisionInput, ProvisionLine, ResolvedKey, VendorProfile } from '../../vendors/types.js';
import { placeKeys, resolveModel } from './catalogue.js';
import type { FirmwareStore } from './firmware.js';
import { clean } from './sanitize.js';
import { resolveSettings, type GeneratedPasswords, type RequestOrigin, type ServerDefaults } from './settings.js';
import { timezoneInfo } from './timezone.js';

/** Kazoo's voicemail feature code: where the phone's message key dials. */
const VOICEMAIL_NUMBER = '*97';
const KINDS = new Set<KeyKind>(['presence', 'speed_dial', 'parking', 'personal_parking', 'line']);
/**
 * Highest key index read from a device's combo_keys/feature_keys: a guard against absurd slots only. Where a key
 * may go is the model's business (placeKeys drops what it cannot hold, the save refuses it when the model is known);
 * the largest catalogue model holds 240 feature keys, so the guard must not cut below that.
 */
const MAX_KEYS = 1000;

/** Users whose documents shaped the output, with their revisions (part of the render cache key). */
export type UserLookup = (accountId: string, userId: string) => UserDoc | undefined;
export type UserDeps = Map<string, string | undefined>;

function userName(u: UserDoc): string {
  return [u.first_name, u.last_name].filter(Boolean).join(' ') || u.username || '';
}

function presenceOf(u: UserDoc | undefined): string {
  return clean(u?.presence_id ?? u?.username ?? '');
}

function resolveKeys(
  keys: Record<string, FeatureKey | null> | undefined,
  accountId: string,
  getUser: UserLookup,
  deps: UserDeps,
): ResolvedKey[] {
  if (!keys || typeof keys !== 'object') return [];
  const out: ResolvedKey[] = [];
  for (const [slot, key] of Object.entries(keys)) {
    if (!/^\d+$/.test(slot) || !key || typeof key !== 'object' || !KINDS.has(key.type)) continue;
    const index = Number(slot) + 1; // Kazoo stores keys 0-based
    if (index > MAX_KEYS) continue;
    const raw = key.value;
    const given = raw !== null && typeof raw === 'object' ? raw : { value: raw, label: undefined };
    const value = clean(given.value);
    let label = clean(given.label, 64);
    let resolved = '';
    switch (key.type) {
      case 'presence':
      case 'personal_parking': {
        const user = value ? getUser(accountId, value) : undefined;
        deps.set(value, user?._rev);
        const presence = presenceOf(user);
        if (!presence) continue; // a key watching nobody is worse than no key
        const local = presence.split('@')[0]!;
        resolved = key.type === 'presence' ? presence : `*3${local}`;
        // Kazoo labels a personal-park key "Park <user>" (provisioner_v5 get_user(…, <<"Park ">>)).
        label ||= `${key.type === 'personal_parking' ? 'Park ' : ''}${clean(user ? userName(user) : '', 59) || local}`;
        break;
      }
      case 'parking': {
        const slotNo = Number(value);
        if (!Number.isInteger(slotNo) || slotNo < 1 || slotNo > 10) continue;
        resolved = `*3${slotNo}`;
        label ||= `Park ${slotNo}`;
        break;
      }
      case 'speed_dial':
        if (!value) continue;
        resolved = value;
        label ||= value;
        break;
      case 'line':
        resolved = '';
        break;
    }
    out.push({ index, kind: key.type, value: resolved, label });
  }
  return out.sort((a, b) => a.index - b.index);
}

/**
 * The phone's extra accounts from the copies its document keeps (src/devices/device-lines.ts): slot n (0-based) is
 * account n+1. Accounts beyond what the model has are left out (a fallback family may hold fewer than was saved).
 */
function linesOf(device: DeviceDoc, accountRealm: string, accounts: number | undefined, baseExpire: number): ProvisionLine[] {
  const out: ProvisionLine[] = [];
  for (const copy of device.pvt_lines ?? []) {
    const account = copy.slot + 1;
    if (!Number.isInteger(account) || account < 2 || (accounts !== undefined && account > accounts)) continue;
    const expire = Number(copy.expire_seconds ?? baseExpire);
    out.push({
      account,
      deviceId: copy.device_id,
      sip: {
        server: clean(copy.realm) || clean(accountRealm),
        username: clean(copy.username, 64),
        password: clean(copy.password, 64),
        expireSeconds: Number.isFinite(expire) && expire > 0 ? Math.round(expire) : 300,
      },
      displayName: clean(copy.name, 64),
    });
  }
  return out;
}

/** What the input needs beyond the documents: the server's defaults, the request's origin, the firmware present. */
export interface InputEnv {
  server: ServerDefaults;
  origin: RequestOrigin;
  firmware?: FirmwareStore;
}

/** Server defaults for renders outside a phone request (template checks, tests). */
export const OFFLINE_ENV: InputEnv = { server: { sipPort: 5060, registrarServes: false }, origin: { host: 'localhost', scheme: 'http' } };

/** The vendor-neutral model of a device (see vendors/types.ts ProvisionInput). */
export function buildInput(
  ref: DeviceRef,
  getUser: UserLookup,
  choice: { profile: VendorProfile; model: string; family: string },
  env: InputEnv = OFFLINE_ENV,
): { input: ProvisionInput; users: UserDeps } {
  const { account, device } = ref;
  const { model, family } = choice;
  const modelInfo = resolveModel(choice.profile, model, family);
  const users: UserDeps = new Map();
  const expire = Number(device.sip?.expire_seconds ?? device.sip?.registration_expiration ?? 300);
  const codecs = Array.isArray(device.media?.audio?.codecs) ? device.media!.audio!.codecs!.map((c) => clean(c, 32)) : [];
  const comboKeys = resolveKeys(device.provision?.combo_keys, account.id, getUser, users);
  const featureKeys = resolveKeys(device.provision?.feature_keys, account.id, getUser, users);
  const input: ProvisionInput = {
    mac: device.mac_address ?? '',
    account: { id: account.id, name: clean(account.name), realm: clean(account.realm) },
    device: { id: device.id, name: clean(device.name) },
    model,
    family: modelInfo?.family ?? family,
    modelInfo,
    sip: {
      // Kazoo's find_realm: the device's own sip.realm over the account's.
      server: clean(device.sip?.realm) || clean(account.realm),
      username: clean(device.sip?.username, 64),
      password: clean(device.sip?.password, 64),
      expireSeconds: Number.isFinite(expire) && expire > 0 ? Math.round(expire) : 300,
    },
    displayName: clean(device.caller_id?.internal?.name, 64) || clean(device.name, 64),
    lines: linesOf(device, account.realm, modelInfo?.sipAccounts, expire),
    codecs: codecs.length ? codecs : ['PCMU', 'PCMA'],
    comboKeys,
    featureKeys,
    ...placeKeys(modelInfo, comboKeys, featureKeys),
    settings: resolveSettings(device, account, env.server, env.origin, (device as { pvt_phone_passwords?: GeneratedPasswords }).pvt_phone_passwords),
    firmware: undefined,
    directory: [],
    ringtones: { internal: clean(device.ringtones?.internal), external: clean(device.ringtones?.external) },
    // Kazoo inherits time zone and language from the account when the device has none.
    timezone: timezoneInfo(clean(device.timezone, 64) || clean(account.timezone, 64) || undefined),
    language: (clean(device.language, 16) || clean(account.language, 16)).toLowerCase(),
    mwiUnsolicited: (device.mwi_unsolicited_updates ?? (device as Record<string, unknown>).mwi_unsolicitated_updates ?? true) !== false,
    voicemailNumber: VOICEMAIL_NUMBER,
  };
  // The model's own image, else its family's (e.g. a combined image that fits every model of the family).
  const familyFirmware = modelInfo ? choice.profile.families?.[modelInfo.family]?.firmware : undefined;
  const firmware = [modelInfo?.firmware, familyFirmware].find((f) => f && env.firmware?.has(f));
  if (firmware) input.firmware = { file: firmware, url: `${input.settings.provisioning.url}${firmware}` };
  return { input, users };
}
