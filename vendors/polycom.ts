import { alertInfoText, cleanMac, pickLanguage, type KeyKind, type PlacedKey, type ProvisionInput, type VendorFile, type VendorProfile } from './types.js';
import { polycomFamilies, polycomModels } from './polycom-models.js';

/**
 * Polycom SoundPoint IP / SoundStation IP / VVX / Trio (UC Software 4.x–7.x parameter names). Facts:
 * ../shared/reference/vendors.md §1.1, §2.1, §2.4, §3.1 and vendor-peers.md §1b/§2. The phone fetches its master
 * `<mac>.cfg` (an <APPLICATION CONFIG_FILES=…/>), then the files it lists; without a per-MAC master it falls back to
 * `000000000000.cfg`, which we serve without secrets. Every family reads the same two files (same format), so one
 * template serves all; conference models (SoundStation, Trio) just get no key layout.
 */

/** Kazoo codec → UC 4+ `voice.codecPref.<name>`. */
const CODECS: Record<string, string> = {
  PCMU: 'G711_Mu', PCMA: 'G711_A', G722: 'G722', G729: 'G729_AB', OPUS: 'Opus',
  'G7221@16000h': 'G7221.24kbps', 'G7221@32000h': 'G7221_C.48kbps',
};
const ALL_CODECS = ['G711_Mu', 'G711_A', 'G722', 'G729_AB', 'Opus', 'G7221.24kbps', 'G7221_C.48kbps', 'Siren14.48kbps'];

/** attendant.resourceList.N.type (Kazoo provisioner_v5 mapping); line keys have no resource-list form. */
const KEY_TYPES: Partial<Record<KeyKind, string>> = { presence: 'normal', speed_dial: 'normal', parking: 'automata', personal_parking: 'automata' };

/** reg.N.server.M.transport. */
const TRANSPORTS = { udp: 'UDPOnly', tcp: 'TCPOnly', tls: 'TLS', dns_srv: 'DNSnaptr' } as const;

/** tone.dtmf.viaRtp / tone.dtmf.rfc2833Control / voIpProt.SIP.dtmfViaSignaling.rfc2976 per Kazoo-side DTMF mode. */
const DTMF = {
  rfc2833: { viaRtp: 1, rfc2833: 1, sipInfo: 0 },
  inband: { viaRtp: 1, rfc2833: 0, sipInfo: 0 },
  info: { viaRtp: 0, rfc2833: 0, sipInfo: 1 },
} as const;

const LANGUAGES: Record<string, string> = {
  'en-us': 'English_United_States', 'en-gb': 'English_United_Kingdom', 'en-ca': 'English_Canada', en: 'English_United_States',
  'fr-ca': 'French_Canada', fr: 'French_France', de: 'German_Germany', es: 'Spanish_Spain', it: 'Italian_Italy',
  nl: 'Dutch_Netherlands', 'pt-br': 'Portuguese_Brazil', pt: 'Portuguese_Portugal', pl: 'Polish_Poland', ru: 'Russian_Russia',
};

/** Only the combined image may be named in the default master: a part-number image would reach every model. */
const GENERIC_FIRMWARE = { 'sip.ld': 'sip.ld' };

/**
 * e.g. "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 (SN:0004f2000000) Type/Application",
 * "FileTransport PolycomRealPresenceTrio-Trio_8800-UA/5.4.3.2007".
 */
const UA = /Polycom\w*?-(\w*?)-UA\/[\d.]+/i;
/** "(SN:<mac>)" with device.prov.tagSerialNo=1; UC 4.1 appends it to the version instead ("-UA/4.1.4.7430_0004f2abcdef"). */
const SN = /\(SN:([0-9a-fA-F]{12})\)|-UA\/[\d.]+_([0-9a-fA-F]{12})\b/;

/** Files the phone PUTs (logs into LOG_FILE_DIRECTORY, overrides into OVERRIDES_DIRECTORY): kept, bounded, never a 405. */
const upload = (suffix: string, contentType: string): VendorFile => ({
  template: `mac-${suffix}`,
  pattern: new RegExp(`^(?!0{12})(?<mac>[0-9a-f]{12})-${suffix.replace('.', '\\.')}$`),
  perDevice: true,
  upload: true,
  format: 'xml',
  contentType,
  nameFor: () => undefined,
});

/**
 * One key of the phone's flexible line-key layout (lineKey.N.*). Line: index = the registration. BLF: index 0, as
 * the peers write it; the phone then takes the resource-list entries in order, which is why they are numbered in
 * slot order (were the index read as an entry number instead, it would name the same entry).
 */
interface LayoutKey {
  slot: number;
  category: 'Line' | 'BLF';
  index: number;
}

/** "Park <name>" on personal-park keys, as Kazoo's provisioner labels them. */
function keyLabel(k: PlacedKey): string {
  return k.kind === 'personal_parking' && !/^park /i.test(k.label) ? `Park ${k.label}` : k.label;
}

/**
 * Keys at the slot their Kazoo index names. Body keys: slot = index. Expansion keys continue the numbering after the
 * body's keys, module by module. Every non-line key gets a resource-list entry, numbered in slot order. Gaps up to the
 * last key are Unassigned, so nothing shifts. A phone without flexible line keys (SoundPoint IP on UC 4.0 may lack
 * them) falls back to its own order, line keys then the resource list: the same order, compacted.
 */
function layout(input: ProvisionInput) {
  const info = input.modelInfo;
  if (info && info.lineKeys === 0 && !info.expansion) return { keys: [], gaps: [], resources: [] };
  const bodyKeys = info?.lineKeys ?? Math.max(0, ...input.lineKeys.map((k) => k.index));
  const keysEach = info?.expansion?.keysEach ?? 0;
  const placed = [
    ...input.lineKeys.map((k) => ({ k, slot: k.index })),
    ...input.expansionKeys.map((k) => ({ k, slot: bodyKeys + ((k.module ?? 1) - 1) * keysEach + (k.position ?? k.index) })),
  ].sort((a, b) => a.slot - b.slot);
  const keys: LayoutKey[] = [];
  const resources: { n: number; address: string; label: string; type: string }[] = [];
  for (const { k, slot } of placed) {
    if (k.kind === 'line') keys.push({ slot, category: 'Line', index: 1 });
    else {
      const n = resources.length + 1;
      resources.push({ n, address: k.value, label: keyLabel(k), type: KEY_TYPES[k.kind]! });
      keys.push({ slot, category: 'BLF', index: 0 });
    }
  }
  const used = new Set(keys.map((k) => k.slot));
  const last = keys.length ? keys[keys.length - 1]!.slot : 0;
  const gaps = Array.from({ length: last }, (_, i) => i + 1).filter((s) => !used.has(s));
  return { keys, gaps, resources };
}

/** device.prov.serverType / serverName: the scheme apart, the rest as host/path (how Polycom takes it). */
function provisioningServer(url: string): { type: string; name: string } {
  const m = /^(https?):\/\/(.*)$/i.exec(url);
  return m ? { type: m[1]!.toLowerCase() === 'https' ? 'HTTPS' : 'HTTP', name: m[2]! } : { type: 'HTTP', name: url };
}

export const polycom: VendorProfile = {
  id: 'polycom',
  brands: ['polycom', 'poly'],
  ouis: ['0004f2', '00907a', '64167f', '482567'],
  sampleModel: 'VVX400',
  catalogue: polycomModels,
  families: polycomFamilies,
  files: [
    {
      template: '000000000000.cfg',
      pattern: /^(?<common>0{12})\.cfg$/,
      perDevice: false,
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: () => undefined, // only phones without a per-MAC master fetch it
      acceptCommon: () => ({ model: '' }),
    },
    {
      template: 'mac.cfg',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})\.cfg$/,
      perDevice: true,
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: ({ mac }) => `${mac}.cfg`,
    },
    {
      template: 'mac-user.cfg',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})-user\.cfg$/,
      perDevice: true,
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: ({ mac }) => `${mac}-user.cfg`,
    },
    // Contact directory: the phone asks for its own, then the site-wide one. Both are the account's users.
    {
      template: 'mac-directory.xml',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})-directory\.xml$/,
      perDevice: true,
      scope: 'phonebook',
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: ({ mac }) => `${mac}-directory.xml`,
    },
    {
      template: '000000000000-directory.xml',
      pattern: /^(?<common>0{12})-directory\.xml$/,
      perDevice: false,
      scope: 'phonebook',
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: () => undefined, // a phone with its own directory file never needs this one
      acceptCommon: () => ({ model: '' }),
    },
    upload('app.log', 'text/plain; charset=utf-8'),
    upload('boot.log', 'text/plain; charset=utf-8'),
    upload('phone.cfg', 'text/xml; charset=utf-8'),
    upload('web.cfg', 'text/xml; charset=utf-8'),
  ],
  parseUserAgent(ua) {
    if (!/polycom/i.test(ua)) return undefined;
    const m = UA.exec(ua);
    const sn = SN.exec(ua);
    return { model: m?.[1] ? m[1].replace(/_/g, '').toUpperCase() : undefined, mac: cleanMac(sn?.[1] ?? sn?.[2]) };
  },
  // Polycom knows one event; with checkSync.alwaysReboot=0 (our templates) it reboots only when files changed.
  checkSyncEvent: () => 'check-sync',
  // Matched by the autoAnswer ring class rule in the user template (the info= token).
  autoAnswerHeaders: () => ({ 'Alert-Info': '<http://127.0.0.1>;info=autoanswer' }),
  variables(input) {
    const s = input.settings;
    const order = [...new Set(input.codecs.map((c) => CODECS[c]).filter((c): c is string => !!c))];
    const codecs = [...order, ...ALL_CODECS.filter((c) => !order.includes(c))].map((name) => ({
      name,
      priority: order.indexOf(name) + 1, // 0 = not used
    }));
    // Ring rules match the info= token of Kazoo's Alert-Info, as every peer writes them (never the raw header).
    const alerts = [
      { value: input.ringtones.internal ? alertInfoText(input.ringtones.internal) : '', cls: 'custom1', ringer: 'ringer2' },
      { value: input.ringtones.external ? alertInfoText(input.ringtones.external) : '', cls: 'custom2', ringer: 'ringer3' },
    ].filter((a) => a.value);
    const tz = input.timezone;
    const dstRule = (r: { month: number; week: number; dayOfWeek: number; hour: number }) => ({
      month: r.month,
      // With fixedDayEnable=0 the date is the first day of the week-of-month window (1, 8, 15, 22).
      date: r.week >= 5 ? 1 : (r.week - 1) * 7 + 1,
      time: r.hour,
      dayOfWeek: r.dayOfWeek + 1, // 1 = Sunday
      lastInMonth: r.week >= 5 ? 1 : 0,
    });
    const resync = s.provisioning.resync;
    const fwd = s.callForward;
    return {
      expires: input.sip.expireSeconds,
      transport: TRANSPORTS[s.sipServer.transport],
      // DNSnaptr resolves NAPTR/SRV only when no port is given (0 = none).
      port: s.sipServer.transport === 'dns_srv' ? 0 : s.sipServer.port,
      codecs,
      ...layout(input),
      alertInfo: alerts.map((a, i) => ({ ...a, n: i + 1 })),
      mwiSubscribe: input.mwiUnsolicited ? '' : `${input.sip.username}@${input.sip.server}`,
      dtmf: DTMF[s.dtmfMode],
      srtp: { enable: s.srtp.enabled ? 1 : 0, offer: s.srtp.enabled ? 1 : 0, require: s.srtp.required ? 1 : 0 },
      callWaiting: s.callWaiting ? 1 : 0,
      dnd: s.dnd ? 1 : 0,
      forward: {
        contact: fwd.enabled ? fwd.number : '',
        always: fwd.enabled && fwd.always ? 1 : 0,
        busy: fwd.enabled && fwd.busy ? 1 : 0,
        noAnswer: fwd.enabled && fwd.noAnswer ? 1 : 0,
      },
      prov: provisioningServer(s.provisioning.url),
      polling: resync.window
        ? { mode: 'random', period: 86400, time: resync.window.start, timeRandomEnd: resync.window.end }
        : { mode: 'rel', period: (resync.intervalMinutes ?? 1440) * 60, time: '', timeRandomEnd: '' },
      timezone: tz
        ? {
            gmtOffset: tz.standardOffsetSeconds,
            dst: tz.dst ? 1 : 0,
            start: tz.dst ? dstRule(tz.dst.start) : undefined,
            stop: tz.dst ? dstRule(tz.dst.end) : undefined,
          }
        : undefined,
      language: pickLanguage(LANGUAGES, input.language, 'English_United_States'),
    };
  },
  commonVariables: () => ({ genericFirmware: GENERIC_FIRMWARE }),
};
