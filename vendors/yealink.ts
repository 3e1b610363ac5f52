import { alertInfoText, cleanMac, hoursOffset, pickLanguage, type KeyKind, type VendorProfile } from './types.js';
import { yealinkFamilies, yealinkModels } from './yealink-models.js';

/**
 * Yealink T2x/T4x/T5x (firmware ≥ V82 parameter names). Facts: ../shared/reference/vendors.md §1.2, §2.2, §2.4, §2.5.
 * Phones fetch `y0000000000XX.cfg` (per-model common file, no secrets) then `<mac>.cfg`.
 */

/** Model → id of the common file `y0000000000<id>.cfg`. */
const MODEL_IDS: Record<string, string> = Object.fromEntries(
  yealinkModels.filter((m) => m.commonFileId).map((m) => [m.model, m.commonFileId!]),
);
/** Reverse table: the first model listed for an id names it. */
const ID_MODELS: Record<string, string> = {};
for (const [model, id] of Object.entries(MODEL_IDS)) ID_MODELS[id] ??= model;

/** Kazoo codec → Yealink codec key (account.1.codec.<key>.*). */
const CODECS: Record<string, string> = { PCMU: 'pcmu', PCMA: 'pcma', G722: 'g722', G729: 'g729', OPUS: 'opus' };
/** Every codec key we switch off unless the device asks for it (phones ship with several enabled). */
const ALL_CODECS = ['pcmu', 'pcma', 'g722', 'g729', 'opus', 'ilbc', 'g726_16', 'g726_24', 'g726_32', 'g726_40', 'g723_53', 'g723_63'];

/** linekey.N.type codes (Kazoo provisioner_v5 mapping). */
const KEY_TYPES: Record<KeyKind, number> = { presence: 16, speed_dial: 13, parking: 10, personal_parking: 10, line: 15 };

/** account.N.sip_server.M.transport_type. */
const TRANSPORTS = { udp: 0, tcp: 1, tls: 2, dns_srv: 3 } as const;

const LANGUAGES: Record<string, string> = {
  en: 'English', fr: 'French', de: 'German', es: 'Spanish', it: 'Italian', nl: 'Dutch', pt: 'Portuguese',
  pl: 'Polish', tr: 'Turkish', ru: 'Russian',
};

const UA = /^(?:yealink[\s-]+)?(?:sip[\s-]+)?(?:vp-)?((?:t|w|vp|cp)\d+[\w-]*)\s+[\d.]+(?:\s+(\S+))?/i;

/** DST rule as "month/week/day-of-week/hour" (week 5 = last, day 1..7 = Monday..Sunday). UNCONFIRMED on hardware. */
const rule = (r: { month: number; week: number; dayOfWeek: number; hour: number }) =>
  `${r.month}/${r.week}/${r.dayOfWeek === 0 ? 7 : r.dayOfWeek}/${r.hour}`;

export const yealink: VendorProfile = {
  id: 'yealink',
  brands: ['yealink'],
  ouis: ['001565', '805ec0', 'c4fc22', '44dbd2', 'e434d7', '805e0c', '249ad8', '3497d7', '644f56', 'b061a9', 'ec1da9', 'f01653'],
  sampleModel: 'T46S',
  catalogue: yealinkModels,
  families: yealinkFamilies,
  files: [
    {
      template: 'common.cfg',
      pattern: /^y(?<common>\d{12})\.cfg$/,
      perDevice: false,
      format: 'keyvalue',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ model }) => (MODEL_IDS[model] ? `y${MODEL_IDS[model]!.padStart(12, '0')}.cfg` : undefined),
      acceptCommon: (common) => {
        const model = ID_MODELS[String(Number(common))];
        return model ? { model } : undefined;
      },
    },
    {
      template: 'mac.cfg',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})\.cfg$/,
      perDevice: true,
      format: 'keyvalue',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ mac }) => `${mac}.cfg`,
    },
  ],
  parseUserAgent(ua) {
    if (!/yealink/i.test(ua) && !/^vp\d/i.test(ua)) return undefined;
    const m = UA.exec(ua);
    if (!m) return {};
    return { model: m[1]!.toUpperCase(), mac: cleanMac(m[2]) };
  },
  // Templates set sip.notify_reboot_enable = 0: a plain resync re-provisions, reboot=true reboots.
  checkSyncEvent: (reboot) => `check-sync;reboot=${reboot ? 'true' : 'false'}`,
  autoAnswerHeaders: ({ realm }) => ({ 'Call-Info': `<sip:${realm}>;answer-after=0`, 'Alert-Info': 'info=alert-autoanswer' }),
  variables(input) {
    const wanted = input.codecs.map((c) => CODECS[c]).filter((c): c is string => !!c);
    const order = [...new Set(wanted)];
    const codecs = [...order, ...ALL_CODECS.filter((c) => !order.includes(c))].map((name) => {
      const pos = order.indexOf(name);
      return { name, enable: pos >= 0 ? 1 : 0, priority: pos >= 0 ? pos + 1 : 0 };
    });
    const key = (k: (typeof input.comboKeys)[number]) => ({
      n: k.index,
      type: KEY_TYPES[k.kind],
      value: k.value,
      label: k.label,
      line: 1,
    });
    const alerts = [input.ringtones.internal, input.ringtones.external]
      .map((v, i) => ({ text: v ? alertInfoText(v) : '', ringer: i + 2 }))
      .filter((a) => a.text)
      .map((a, i) => ({ ...a, n: i + 1 }));
    const tz = input.timezone;
    return {
      expires: input.sip.expireSeconds,
      transport: TRANSPORTS[input.settings.sipServer.transport],
      codecs,
      lineKeys: input.lineKeys.map(key),
      // Expansion-module keys (module/position from the catalogue); without a module they are body keys above.
      expansionKeys: input.expansionKeys.map((k) => ({ ...key(k), module: k.module, n: k.position })),
      alertInfo: alerts,
      subscribeMwi: input.mwiUnsolicited ? 0 : 1,
      timezone: tz
        ? {
            zone: hoursOffset(tz.standardOffsetSeconds),
            summerTime: tz.dst ? 1 : 0,
            dstType: 1,
            start: tz.dst ? rule(tz.dst.start) : '',
            end: tz.dst ? rule(tz.dst.end) : '',
            offsetMinutes: tz.dst ? Math.round(tz.dst.offsetSeconds / 60) : 0,
          }
        : undefined,
      language: pickLanguage(LANGUAGES, input.language, 'English'),
    };
  },
  commonVariables: (model) => ({ model, modelId: MODEL_IDS[model] ?? '' }),
};
