import { alertInfoText, cleanMac, pickLanguage, type ProvisionInput, type ResolvedModel, type VendorFile, type VendorProfile } from './types.js';
import { grandstreamFamilies, grandstreamModels } from './grandstream-models.js';
import { aliasKeys, lineKeyParams, moduleKeyParams, mpkParams } from './grandstream-keys.js';
import { posixTimezone } from './grandstream-timezone.js';
import { accountParams, type AccountLayout } from './grandstream-accounts.js';

/**
 * Grandstream GXP16xx/17xx/21xx, GRP26xx, WP8xx (desk template), HT80x ATAs and DP75x DECT bases (own templates):
 * P-value XML, <config version="1">. GRP2612-2616 (grp261x): alias items, <config version="2"> (cfgmac-v2.xml). Facts: ../shared/reference/vendors.md §1.3, §2.3, §2.4, §3.3 and
 * vendor-peers.md §1c/§2. The phone asks for `cfg<mac>` (legacy binary, not served), then `cfg<mac>.xml`.
 */

/**
 * Codec payload numbers and the factory order of the choice slots, per family. Slots after the device's codecs
 * are filled with the family's factory list (both peers do so; the slots are mandatory), never with a repeat.
 * OPUS is 123 on GRP26xx (its P98 default) and 125 on GXP17xx (its P57 list): UNCONFIRMED on hardware.
 */
interface CodecTable { codes: Record<string, number>; slots: string[]; factory: number[] }
const BASE_CODES = { PCMU: 0, PCMA: 8, G722: 9, G729: 18, G723: 4, G726: 2, ILBC: 98 };
const SEVEN = ['P57', 'P58', 'P59', 'P60', 'P61', 'P62', 'P46'];
const CODECS: Record<string, CodecTable> = {
  gxp: { codes: BASE_CODES, slots: SEVEN, factory: [0, 8, 4, 18, 9, 98, 2] },
  gxp17xx: { codes: { ...BASE_CODES, OPUS: 125 }, slots: [...SEVEN, 'P98'], factory: [0, 8, 4, 18, 9, 98, 2, 125] },
  grp26xx: { codes: { ...BASE_CODES, OPUS: 123 }, slots: [...SEVEN, 'P98'], factory: [0, 8, 4, 18, 9, 98, 2, 123] },
  // Config v2 has eight choice slots too (account.1.codec.choice.1..8), same factory order (FusionPBX grp261x).
  grp261x: { codes: { ...BASE_CODES, OPUS: 123 }, slots: [...SEVEN, 'P98'], factory: [0, 8, 4, 18, 9, 98, 2, 123] },
  ht80x: { codes: { PCMU: 0, PCMA: 8, G729: 18, G723: 4, G726: 2, ILBC: 97, OPUS: 123 }, slots: SEVEN, factory: [0, 8, 4, 18, 2, 97, 123] },
  ht81x: { codes: { PCMU: 0, PCMA: 8, G729: 18, G723: 4, G726: 2, ILBC: 97, OPUS: 123 }, slots: SEVEN, factory: [0, 8, 4, 18, 2, 97, 123] },
  dp75x: { codes: BASE_CODES, slots: [...SEVEN, 'P98'], factory: [0, 8, 4, 18, 9, 98, 2, 0] },
};

function codecSlots(input: ProvisionInput): { p: string; value: number }[] {
  const table = CODECS[input.modelInfo?.family ?? ''] ?? CODECS.gxp!;
  const order: number[] = [];
  const add = (c: number | undefined) => c !== undefined && !order.includes(c) && order.push(c);
  for (const c of input.codecs) add(table.codes[c.toUpperCase().replace(/[^A-Z0-9]/g, '')]);
  if (order.length === 0) add(0);
  for (const c of table.factory) add(c);
  // A factory list shorter than the slots (ATA: 6 codecs, 7 slots) repeats its first codec: still a codec it has.
  return table.slots.map((p, i) => ({ p, value: order[i] ?? order[0]! }));
}

/**
 * What else differs between the P-value families (Grandstream's own config template of each family):
 * - `accounts`: where SIP accounts go (grandstream-accounts.ts); absent = desk phone, account 1 at P35….
 * - `handsets`: DECT base, account N on handset N.
 * - `firmwareVia`: false where one "upgrade via" (P212) serves config and firmware (no P6767).
 * - `vlan`: false for Wi-Fi phones (no wired VLAN to tag).
 */
interface FamilyTraits { accounts?: AccountLayout; handsets?: boolean; firmwareVia?: false; vlan?: false }
const TRAITS: Record<string, FamilyTraits> = {
  gxp21xx: { firmwareVia: false },
  wp8xx: { vlan: false },
  ht80x: { accounts: 'ports', firmwareVia: false },
  ht81x: { accounts: 'indexed', firmwareVia: false },
  dp75x: { accounts: 'indexed', handsets: true },
};

/**
 * Defaults of the vendor parameters a file writes twice (HT802 port 2 repeats port 1's): the peers' most common
 * value, as the {{vparam}} default in the template and for the second port, so both read one place.
 */
const PEER_DEFAULTS = { P52: '2', P191: '0' } as const;

/** HT8xx P850-P852 (port 2: P860-P862) DTMF order: 100 in-audio, 101 RFC2833, 102 SIP INFO; the chosen one first. */
const DTMF_CODES = { inband: 100, rfc2833: 101, info: 102 } as const;
function dtmfOrder(mode: ProvisionInput['settings']['dtmfMode']): number[] {
  const first = DTMF_CODES[mode];
  return [first, ...Object.values(DTMF_CODES).filter((c) => c !== first)];
}

/** P130 SIP transport; DNS SRV is UDP with P103 (DNS mode) = 1. */
const TRANSPORTS = { udp: 0, tcp: 1, tls: 2, dns_srv: 0 } as const;
/** P183 SRTP mode: 0 off, 1 enabled but not forced, 2 enabled and forced. */
const srtpMode = (s: ProvisionInput['settings']['srtp']) => (s.enabled ? (s.required ? 2 : 1) : 0);

const LANGUAGES: Record<string, string> = {
  en: 'en', fr: 'fr', de: 'de', es: 'es', it: 'it', nl: 'nl', pt: 'pt', pl: 'pl', ru: 'ru', tr: 'tr', ja: 'ja', zh: 'zh',
};

/** "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872", or "Grandstream GXP2000 (…) DevId 000b822726c8". */
/**
 * The phone's own `cfg<mac>.xml`: every family asks for this one name, each gets its family's template (absent
 * `families`: the desk layout for every family without its own).
 */
function phoneConfig(template: string, families?: string[]): VendorFile {
  return {
    template,
    pattern: /^cfg(?<mac>[0-9a-f]{12})\.xml$/,
    perDevice: true,
    ...(families ? { families } : {}),
    format: 'xml',
    contentType: 'text/xml; charset=utf-8',
    nameFor: ({ mac }) => `cfg${mac}.xml`,
  };
}

const UA = /^Grandstream\s+(?:Model\s+HW\s+)?([A-Za-z]+\d+\w*)/i;
const DEVID = /DevId\s+([0-9a-fA-F:]{12,17})/;

/** "https://host:port/path/" → Grandstream's host/path form (P237, P192, P331 want no scheme, no trailing slash). */
function hostPath(url: string): string {
  return url.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
}
/** P212/P6767/P330 protocol codes. */
const PROTOCOL = { http: { upgrade: 1, phonebook: 1 }, https: { upgrade: 2, phonebook: 3 } };

/** Resync: P194 1 = every P193 minutes (60..86400), 2 = daily at the P285 hour. */
function resync(r: ProvisionInput['settings']['provisioning']['resync']) {
  if (r.window) return { mode: 2, minutes: 1440, hour: Number(r.window.start.split(':')[0]) || 0 };
  return { mode: 1, minutes: Math.min(86_400, Math.max(60, r.intervalMinutes ?? 1440)), hour: undefined };
}

/** Syslog level P208: 2 = INFO when a server is set, 0 = none. */
const syslogLevel = (server: string) => (server ? 2 : 0);

/**
 * Config v2 alias values (FusionPBX grp261x option lists; Wazo base_v2 where it writes the item). Codec aliases by
 * payload number; transport `TlsOrTcp` (vendors.md §2.3); the others are the option names of the same settings.
 */
const CODEC_ALIAS: Record<number, string> = { 0: 'PCMU', 8: 'PCMA', 9: 'G.722', 18: 'G.729A/B', 4: 'G.723.1', 98: 'iLBC', 2: 'G.726-32', 123: 'OPUS' };
const TRANSPORT_ALIAS = { udp: 'UDP', tcp: 'TCP', tls: 'TlsOrTcp', dns_srv: 'UDP' } as const;
const SRTP_ALIAS = ['Disabled', 'EnabledButNotForced', 'EnabledAndForced'];
const yesNo = (b: boolean | number) => (b ? 'Yes' : 'No');

function aliases(input: ProvisionInput, v: { codecs: { value: number }[]; srtp: number; mwiSubscribe: number; resyncMode: number; scheme: 'http' | 'https' }) {
  const { dtmfMode, sipServer, syslogServer } = input.settings;
  const keys = aliasKeys(input.modelInfo, { line: input.lineKeys, bank: input.bankKeys, module: input.expansionKeys });
  return {
    transport: TRANSPORT_ALIAS[sipServer.transport],
    dnsMode: sipServer.transport === 'dns_srv' ? 'SRV' : 'ARecord',
    codecs: v.codecs.map((c) => CODEC_ALIAS[c.value] ?? 'PCMU'),
    dtmf: { inAudio: yesNo(dtmfMode === 'inband'), rtp: yesNo(dtmfMode === 'rfc2833'), sip: yesNo(dtmfMode === 'info') },
    srtp: SRTP_ALIAS[v.srtp],
    mwi: yesNo(v.mwiSubscribe),
    callWaiting: yesNo(input.settings.callWaiting),
    // provisioning.auto.mode: every N minutes, or daily from an hour (Wazo's value).
    autoMode: v.resyncMode === 2 ? 'YesUpgradeHourOfDay' : 'YesUpgradeMin',
    protocol: v.scheme.toUpperCase(),
    phonebookMode: v.scheme === 'https' ? 'EnabledUseHTTPS' : 'EnabledUseHTTP',
    syslogLevel: syslogServer ? 'Info' : 'None',
    ...keys,
  };
}

export const grandstream: VendorProfile = {
  id: 'grandstream',
  brands: ['grandstream'],
  ouis: ['000b82', 'c074ad'],
  sampleModel: 'GXP2135',
  catalogue: grandstreamModels,
  families: grandstreamFamilies,
  files: [
    // ATA, DECT and config v2 first: a model fetches the one its family names (the desk file is every other one's).
    phoneConfig('cfgmac-ata.xml', ['ht80x', 'ht81x']),
    phoneConfig('cfgmac-dect.xml', ['dp75x']),
    phoneConfig('cfgmac-v2.xml', ['grp261x']), // GRP261x: config version 2 alias items
    phoneConfig('cfgmac.xml'),
    {
      // P331 points at the provisioning directory; the phone appends /phonebook.xml. Account from the UA's DevId.
      template: 'phonebook.xml',
      pattern: /^(?<common>phonebook)\.xml$/,
      perDevice: false,
      scope: 'phonebook',
      families: ['gxp16xx', 'gxp17xx', 'gxp21xx', 'grp261x', 'grp26xx', 'wp8xx', 'dp75x'],
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: () => 'phonebook.xml',
      acceptCommon: () => ({ model: '' }),
    },
  ],
  parseUserAgent(ua) {
    if (!/^grandstream/i.test(ua)) return undefined;
    return { model: UA.exec(ua)?.[1]?.toUpperCase(), mac: cleanMac(DEVID.exec(ua)?.[1]) };
  },
  // resync re-provisions without a reboot (fusionpbx#3014); a reboot needs check-sync;reboot=true.
  checkSyncEvent: (reboot) => (reboot ? 'check-sync;reboot=true' : 'resync'),
  autoAnswerHeaders: ({ realm }) => ({ 'Call-Info': `<sip:${realm}>;answer-after=0` }),
  variables(input) {
    const model: ResolvedModel | undefined = input.modelInfo;
    // Alert-Info match rules: (P1488 text, P1489 ring tone), (P1490, P1491). Pair semantics UNCONFIRMED on hardware.
    const rules = [input.ringtones.internal, input.ringtones.external].map((v, i) => ({
      text: { p: `P${1488 + 2 * i}`, value: v ? alertInfoText(v) : '' },
      tone: { p: `P${1489 + 2 * i}`, value: v ? i + 1 : 0 },
    }));
    const { sipServer, outboundProxy, provisioning, dtmfMode } = input.settings;
    const srv = sipServer.transport === 'dns_srv';
    const scheme = /^https:/i.test(provisioning.url) ? 'https' : 'http';
    const sync = resync(provisioning.resync);
    const family = model?.family ?? '';
    const codecs = codecSlots(input);
    const srtp = srtpMode(input.settings.srtp);
    const mwiSubscribe = input.mwiUnsolicited ? 0 : 1;
    const traits = TRAITS[family] ?? {};
    // Profile 1's values: written by the templates, and repeated by an HT802's second port (grandstream-accounts.ts).
    const profile = {
      server: srv ? sipServer.host : `${sipServer.host}:${sipServer.port}`,
      transport: TRANSPORTS[sipServer.transport],
      dnsMode: srv ? 1 : 0,
      outboundProxy: outboundProxy ? `${outboundProxy.host}:${outboundProxy.port}` : '',
      expiresMinutes: Math.max(1, Math.round(input.sip.expireSeconds / 60)),
      retry: Math.min(3600, Math.max(1, input.settings.registrationRetrySeconds)),
      mwiSubscribe,
      callWaitingOff: input.settings.callWaiting ? 0 : 1,
      codecs,
      dtmfOrder: dtmfOrder(dtmfMode),
    };
    const chosen = input.settings.vendorParams.grandstream ?? {};
    const peer = (name: keyof typeof PEER_DEFAULTS) => chosen[name] ?? PEER_DEFAULTS[name];
    return {
      ...profile,
      accounts: traits.accounts
        ? accountParams(traits.accounts, input, { ...profile, srtp: chosen.P183 ?? srtp, nat: peer('P52'), callFeatures: peer('P191') }, traits.handsets === true)
        : [],
      peerDefaults: PEER_DEFAULTS,
      lineKeys: lineKeyParams(model, input.lineKeys),
      mpk: mpkParams(model, input.bankKeys),
      moduleKeys: moduleKeyParams(model, input.expansionKeys),
      ringRules: rules,
      timezone: input.timezone ? posixTimezone(input.timezone) : 'auto',
      // ATAs and DECT bases: P64 "customize" names the self-defined zone in P246 (no P64 POSIX string there).
      customZone: input.timezone ? posixTimezone(input.timezone) : '',
      language: pickLanguage(LANGUAGES, input.language, 'auto'),
      dtmf: { inAudio: dtmfMode === 'inband' ? 1 : 0, rfc2833: dtmfMode === 'rfc2833' ? 1 : 0, info: dtmfMode === 'info' ? 1 : 0 },
      srtp,
      keepalive: Math.min(160, Math.max(10, input.settings.natKeepaliveSeconds)),
      provisioning: {
        path: hostPath(provisioning.url),
        via: PROTOCOL[scheme].upgrade,
        resyncMode: sync.mode,
        resyncMinutes: sync.minutes,
        resyncHour: sync.hour,
      },
      firmwareVia: traits.firmwareVia === false ? undefined : PROTOCOL[scheme].upgrade,
      phonebook: { via: PROTOCOL[scheme].phonebook, path: hostPath(provisioning.url), intervalMinutes: 720 },
      syslogLevel: syslogLevel(input.settings.syslogServer),
      vlan: traits.vlan === false ? undefined : input.settings.vlan,
      // Config v2 (grp261x) names for the same values.
      alias: aliases(input, { codecs, srtp, mwiSubscribe, resyncMode: sync.mode, scheme }),
    };
  },
};
