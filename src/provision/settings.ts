import type { AccountDoc, DeviceDoc } from '../domain/types.js';
import type { ProvisionSettings } from '../../vendors/types.js';
import { clean } from './sanitize.js';
import { accountUrlKey } from './url-key.js';
import { mergeVendorParams } from './vendor-params.js';

/**
 * The phone settings of one device, resolved once: the device's provision.settings, else its account's
 * provisioning.settings, else the server default (Kazoo's device → account → system order). Shape of both
 * documents: src/schema/provision_settings.json. Kazoo's own device fields (call_waiting, do_not_disturb,
 * call_forward, media.encryption, sip.realm) are read where Kazoo keeps them.
 */

/** What the server knows that no document says. */
export interface ServerDefaults {
  /** SIP_PORT: the embedded registrar's port, and the default port phones register to. */
  sipPort: number;
  /** True when the embedded registrar serves the accounts (SIP_BACKEND=embedded). */
  registrarServes: boolean;
  /** SIP_PUBLIC_ADDRESS. */
  publicAddress?: string;
  /** PROVISION_BASE_URL, without a trailing slash. */
  baseUrl?: string;
}

/** The request the file is rendered for: its Host (name[:port]) and scheme. */
export interface RequestOrigin {
  host: string;
  scheme: 'http' | 'https';
}

export type SettingsDoc = Record<string, unknown>;

/** Generated per device on save (src/devices/phone-passwords.ts): used when no document sets a password. */
export interface GeneratedPasswords {
  admin?: string;
  user?: string;
}

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

export function deviceSettingsDoc(device: DeviceDoc): SettingsDoc {
  return obj(device.provision?.settings);
}

export function accountSettingsDoc(account: AccountDoc): SettingsDoc {
  return obj((account.provisioning as Record<string, unknown> | undefined)?.settings);
}

/** Host name of a Host header value ("[::1]:8000" → "::1", "phones.example.com:8000" → "phones.example.com"). */
export function hostName(host: string): string {
  const v6 = /^\[([^\]]+)\]/.exec(host);
  if (v6) return v6[1]!;
  const colon = host.lastIndexOf(':');
  return colon > 0 && host.indexOf(':') === colon ? host.slice(0, colon) : host;
}

function hostPort(value: string, fallbackPort: number): { host: string; port: number } {
  const m = /^(.+?)(?::(\d{1,5}))?$/.exec(value)!;
  return { host: m[1]!, port: m[2] ? Number(m[2]) : fallbackPort };
}

export function resolveSettings(
  device: DeviceDoc,
  account: AccountDoc,
  server: ServerDefaults,
  origin: RequestOrigin,
  generated: GeneratedPasswords = {},
): ProvisionSettings {
  const d = deviceSettingsDoc(device);
  const a = accountSettingsDoc(account);
  /** First set value of a setting (a nested one by its sub-key), device before account. */
  const pick = <T>(key: string, sub?: string): T | undefined => {
    for (const doc of [d, a]) {
      const v = sub ? obj(doc[key])[sub] : doc[key];
      if (v !== undefined && v !== null && v !== '') return v as T;
    }
    return undefined;
  };
  const str = (v: unknown, max = 253) => (typeof v === 'string' ? clean(v, max) : '');
  const realm = str(device.sip?.realm) || str(account.realm);
  // The embedded registrar: phones address the account's realm (it names the account) and send to our public
  // address, so the outbound proxy defaults to it; SIP_PORT is the port either way.
  const registrarHost = clean(server.publicAddress ?? '', 253) || hostName(origin.host);
  const port = pick<number>('sip_server', 'port') ?? server.sipPort;
  const proxy = pick<string>('outbound_proxy');
  const outboundProxy = proxy
    ? hostPort(str(proxy, 260), port)
    : server.registrarServes && !pick<string>('sip_server', 'host') && registrarHost
      ? { host: registrarHost, port: server.sipPort }
      : undefined;

  const encryption = obj(device.media?.encryption);
  const methods = Array.isArray(encryption.methods) ? encryption.methods : [];
  const forward = obj(device.call_forward);
  // Objects that are one choice (a schedule, a VLAN) come whole from the nearest document that has them.
  const resync = obj(pick<Record<string, unknown>>('resync'));
  const window = resync.window as { start: string; end: string } | undefined;
  const interval = resync.interval_minutes as number | undefined;
  const httpAuth = account.provisioning?.http_auth;
  const urlKey = accountUrlKey(account);
  const base = str(pick<string>('provisioning_url'), 256).replace(/\/+$/, '') || server.baseUrl || `${origin.scheme}://${origin.host}/provision`;
  const vlan = obj(pick<Record<string, unknown>>('vlan'));
  const vlanId = typeof vlan.id === 'number' ? vlan.id : undefined;

  return {
    sipServer: {
      host: str(pick<string>('sip_server', 'host')) || realm,
      port,
      transport: pick<ProvisionSettings['sipServer']['transport']>('sip_server', 'transport') ?? 'udp',
    },
    outboundProxy,
    natKeepaliveSeconds: pick<number>('nat_keepalive_seconds') ?? 30,
    registrationRetrySeconds: pick<number>('registration_retry_seconds') ?? 30,
    dtmfMode: pick<ProvisionSettings['dtmfMode']>('dtmf_mode') ?? 'rfc2833',
    srtp: { enabled: methods.includes('srtp'), required: methods.includes('srtp') && encryption.enforce_security === true },
    callWaiting: obj(device.call_waiting).enabled !== false,
    dnd: obj(device.do_not_disturb).enabled === true,
    callForward: {
      enabled: forward.enabled === true && typeof forward.number === 'string' && forward.number !== '',
      number: str(forward.number, 35),
      // Kazoo's device call_forward is unconditional unless failover (forward when the device does not answer).
      always: forward.failover !== true,
      noAnswer: forward.failover === true,
      busy: forward.failover === true,
    },
    dialPlan: str(pick<string>('dial_plan'), 512),
    provisioning: {
      url: `${base}/${urlKey ? `${urlKey}/` : ''}`,
      resync: window ? { window: { start: window.start, end: window.end } } : { intervalMinutes: interval ?? 1440 },
      auth:
        httpAuth?.username && httpAuth.password ? { username: clean(httpAuth.username, 64), password: clean(httpAuth.password, 128) } : undefined,
    },
    passwords: {
      admin: str(pick<string>('admin_password'), 64) || generated.admin || '',
      user: str(pick<string>('user_password'), 64) || generated.user || '',
    },
    ntpServer: str(pick<string>('ntp_server')) || 'pool.ntp.org',
    syslogServer: str(pick<string>('syslog_server'), 260),
    vlan: vlanId ? { id: vlanId, priority: typeof vlan.priority === 'number' ? vlan.priority : 0 } : undefined,
    // Parameter by parameter: a device sets one value without repeating its account's others.
    vendorParams: mergeVendorParams(a.vendor_params, d.vendor_params),
  };
}
