import { cleanMac, pickLanguage, type KeyKind, type VendorProfile } from './types.js';
import { polycomFamilies, polycomModels } from './polycom-models.js';

/**
 * Polycom SoundPoint IP / VVX (UC Software 4.x–6.x parameter names). Facts: ../shared/reference/vendors.md §1.1, §2.1,
 * §2.4, §3.1. The phone fetches its master `<mac>.cfg` (an <APPLICATION CONFIG_FILES=…/>), then the files it lists;
 * without a per-MAC master it falls back to `000000000000.cfg`, which we serve without secrets.
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

const LANGUAGES: Record<string, string> = {
  'en-us': 'English_United_States', 'en-gb': 'English_United_Kingdom', 'en-ca': 'English_Canada', en: 'English_United_States',
  'fr-ca': 'French_Canada', fr: 'French_France', de: 'German_Germany', es: 'Spanish_Spain', it: 'Italian_Italy',
  nl: 'Dutch_Netherlands', 'pt-br': 'Portuguese_Brazil', pt: 'Portuguese_Portugal', pl: 'Polish_Poland', ru: 'Russian_Russia',
};

/** e.g. "FileTransport PolycomVVX-VVX_400-UA/4.1.4.7430 (SN:0004f2000000) Type/Application". */
const UA = /Polycom\w*?-(\w*?)-UA\/[\d.]+/i;
const SN = /\(SN:([0-9a-fA-F]{12})\)/;

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
  ],
  parseUserAgent(ua) {
    if (!/polycom/i.test(ua)) return undefined;
    const m = UA.exec(ua);
    return { model: m?.[1] ? m[1].replace(/_/g, '').toUpperCase() : undefined, mac: cleanMac(SN.exec(ua)?.[1]) };
  },
  // Polycom knows one event; with checkSync.alwaysReboot=0 (our templates) it reboots only when files changed.
  checkSyncEvent: () => 'check-sync',
  // Matched by voIpProt.SIP.alertInfo.3 (class autoAnswer) in the user template.
  autoAnswerHeaders: () => ({ 'Alert-Info': '<http://127.0.0.1>;info=autoanswer' }),
  variables(input) {
    const order = [...new Set(input.codecs.map((c) => CODECS[c]).filter((c): c is string => !!c))];
    const codecs = [...order, ...ALL_CODECS.filter((c) => !order.includes(c))].map((name) => ({
      name,
      priority: order.indexOf(name) + 1, // 0 = not used
    }));
    // Feature keys then combo keys share one resource list (Polycom has no typed line keys in this mode).
    const resources = [...input.featureKeys, ...input.comboKeys]
      .filter((k) => KEY_TYPES[k.kind])
      .map((k, i) => ({ n: i + 1, address: k.value, label: k.label, type: KEY_TYPES[k.kind]! }));
    const alerts = [
      { value: input.ringtones.internal, cls: 'custom1', ringer: 'ringer2' },
      { value: input.ringtones.external, cls: 'custom2', ringer: 'ringer3' },
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
    return {
      expires: input.sip.expireSeconds,
      transport: TRANSPORTS[input.settings.sipServer.transport],
      codecs,
      resources,
      alertInfo: alerts.map((a, i) => ({ ...a, n: i + 1 })),
      mwiSubscribe: input.mwiUnsolicited ? '' : `${input.sip.username}@${input.sip.server}`,
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
  commonVariables: () => ({}),
};
