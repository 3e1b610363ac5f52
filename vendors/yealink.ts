import { alertInfoText, cleanMac, hoursOffset, pickLanguage, type KeyKind, type VendorProfile } from './types.js';
import { yealinkDeskFamilies, yealinkFamilies, yealinkModels } from './yealink-models.js';

/**
 * Yealink T2x/T3x/T4x/T5x, CP9xx and W-series DECT bases (firmware ≥ V82 parameter names). Facts:
 * ../shared/reference/vendors.md §1.2, §2.2, §2.4, §2.5 and vendor-peers.md. Phones (fw ≥ V81) fetch `<mac>.boot`,
 * which names the per-model common file `y0000000000XX.cfg` (no secrets) and then `<mac>.cfg` (desk layout, or the
 * DECT layout for the `wdect` family); `<mac>-phonebook.xml` is the remote phonebook the config points at.
 */

/** Model → id of the common file `y0000000000<id>.cfg`. */
const MODEL_IDS: Record<string, string> = Object.fromEntries(
  yealinkModels.filter((m) => m.commonFileId).map((m) => [m.model, m.commonFileId!]),
);
/** Reverse table: the first model listed for an id names it. */
const ID_MODELS: Record<string, string> = {};
for (const [model, id] of Object.entries(MODEL_IDS)) ID_MODELS[id] ??= model;

const commonFileName = (id: string) => `y${id.padStart(12, '0')}.cfg`;
/**
 * The common boot file's lines: each common file once, for the models that use it (`[T46S, T48S]include:config`,
 * the boot file's model selector). The common boot file cannot name a MAC file: a phone gets that from its own
 * `<mac>.boot`, which every known device has.
 */
const BOOT_INCLUDES = Object.entries(
  Object.entries(MODEL_IDS).reduce<Record<string, string[]>>((acc, [model, id]) => ((acc[id] ??= []).push(model), acc), {}),
).map(([id, models]) => ({ models: models.join(', '), file: commonFileName(id) }));

/** Kazoo codec → Yealink codec key (account.1.codec.<key>.*). */
const CODECS: Record<string, string> = { PCMU: 'pcmu', PCMA: 'pcma', G722: 'g722', G729: 'g729', OPUS: 'opus' };
/** Every codec key we switch off unless the device asks for it (phones ship with several enabled). */
const ALL_CODECS = ['pcmu', 'pcma', 'g722', 'g729', 'opus', 'ilbc', 'g726_16', 'g726_24', 'g726_32', 'g726_40', 'g723_53', 'g723_63'];

/** linekey.N.type codes (Kazoo provisioner_v5 mapping). */
const KEY_TYPES: Record<KeyKind, number> = { presence: 16, speed_dial: 13, parking: 10, personal_parking: 10, line: 15 };

/** account.N.sip_server.M.transport_type. */
const TRANSPORTS = { udp: 0, tcp: 1, tls: 2, dns_srv: 3 } as const;
/** account.N.dtmf.type: 0 in-band, 1 RFC 2833, 2 SIP INFO (Wazo _SIP_DTMF_MODE, FusionPBX template comments). */
const DTMF = { inband: 0, rfc2833: 1, info: 2 } as const;
/** Alert-Info text `ringN` (Kazoo's ringtones) plays RingN.wav; Yealink has ringers 1..8. */
const RING_TEXT = /^ring([1-8])$/i;
/** Default ringers when the text names none: internal calls ring 2, external ring 3 (the profile's old mapping). */
const DEFAULT_RINGERS = [2, 3];

/** custom.handset.language (DECT handsets): Wazo's codes (0 English, 1 French, 2 German, 3 Italian, 6 Spanish). */
const HANDSET_LANGUAGES: Record<string, string> = { en: '0', fr: '1', de: '2', it: '3', es: '6' };

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
      // Fetched first (firmware ≥ V81): names the common file and the phone's own, in that order.
      template: 'mac.boot',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})\.boot$/,
      perDevice: true,
      format: 'lines',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ mac }) => `${mac}.boot`,
    },
    {
      template: 'common.cfg',
      pattern: /^y(?<common>\d{12})\.cfg$/,
      perDevice: false,
      format: 'keyvalue',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ model }) => (MODEL_IDS[model] ? commonFileName(MODEL_IDS[model]!) : undefined),
      acceptCommon: (common) => {
        const model = ID_MODELS[String(Number(common))];
        return model ? { model } : undefined;
      },
    },
    {
      template: 'mac.cfg',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})\.cfg$/,
      perDevice: true,
      families: yealinkDeskFamilies,
      format: 'keyvalue',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ mac }) => `${mac}.cfg`,
    },
    {
      // DECT bases: same name, their own layout (handsets, no line keys, handset language).
      template: 'dect-mac.cfg',
      pattern: /^(?!0{12})(?<mac>[0-9a-f]{12})\.cfg$/,
      perDevice: true,
      families: ['wdect'],
      format: 'keyvalue',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      nameFor: ({ mac }) => `${mac}.cfg`,
    },
    {
      template: 'common.boot',
      pattern: /^(?<common>y0{12})\.boot$/,
      perDevice: false,
      format: 'lines',
      header: '#!version:1.0.0.1',
      contentType: 'text/plain; charset=utf-8',
      // A known device fetches its <mac>.boot; the common one is for phones the server does not know yet.
      nameFor: () => undefined,
      acceptCommon: () => ({ model: '' }),
    },
    {
      // Remote phonebook (YealinkIPPhoneDirectory): the account's users, referenced from <mac>.cfg.
      template: 'phonebook.xml',
      pattern: /^(?<mac>[0-9a-f]{12})-phonebook\.xml$/,
      perDevice: true,
      scope: 'phonebook',
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: ({ mac }) => `${mac}-phonebook.xml`,
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
      // Kazoo labels a personal-park key "Park <name>" (provisioner_v5 get_user(…, <<"Park ">>)).
      label: k.kind === 'personal_parking' && !/^park /i.test(k.label) ? `Park ${k.label}` : k.label,
      line: 1,
    });
    // One rule per distinct text (two rules on one text would write the same match twice).
    const alerts = [input.ringtones.internal, input.ringtones.external]
      .map((v, i) => {
        const text = v ? alertInfoText(v) : '';
        const named = RING_TEXT.exec(text);
        return { text, ringer: named ? Number(named[1]) : DEFAULT_RINGERS[i]! };
      })
      .filter((a, i, all) => a.text && all.findIndex((b) => b.text === a.text) === i)
      .map((a, i) => ({ ...a, n: i + 1 }));
    const tz = input.timezone;
    const s = input.settings;
    const fwd = s.callForward;
    const commonId = input.modelInfo?.known ? input.modelInfo.commonFileId : undefined;
    return {
      expires: input.sip.expireSeconds,
      transport: TRANSPORTS[s.sipServer.transport],
      dtmf: DTMF[s.dtmfMode],
      // SIP INFO carries DTMF-Relay bodies (Wazo and FusionPBX both write 1 with type 2).
      dtmfInfoType: 1,
      // account.N.srtp_encryption: 0 off, 1 optional, 2 compulsory.
      srtp: s.srtp.required ? 2 : s.srtp.enabled ? 1 : 0,
      natKeepalive: s.natKeepaliveSeconds > 0 ? 1 : 0,
      dnd: s.dnd ? 1 : 0,
      forward: {
        always: fwd.enabled && fwd.always && fwd.number ? 1 : 0,
        busy: fwd.enabled && fwd.busy && fwd.number ? 1 : 0,
        noAnswer: fwd.enabled && fwd.noAnswer && fwd.number ? 1 : 0,
        target: fwd.number,
      },
      bootIncludes: commonId ? [commonFileName(commonId)] : [],
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
      handsetLanguage: pickLanguage(HANDSET_LANGUAGES, input.language, '0'),
    };
  },
  commonVariables: (model) => ({ model, modelId: MODEL_IDS[model] ?? '', bootIncludes: BOOT_INCLUDES }),
};
