import { alertInfoText, cleanMac, pickLanguage, type KeyKind, type TimezoneInfo, type VendorProfile } from './types.js';
import { grandstreamFamilies, grandstreamModels } from './grandstream-models.js';

/**
 * Grandstream GXP16xx/21xx, GRP26xx (P-value XML, <config version="1">). Facts: ../shared/reference/vendors.md §1.3,
 * §2.3, §2.4, §3.3. The phone asks for `cfg<mac>` (legacy binary, not served), then `cfg<mac>.xml`.
 */

/** Kazoo codec → RTP payload number written into the codec slots. OPUS 123 is the GRP26xx default (UNCONFIRMED vs 125). */
const CODECS: Record<string, number> = { PCMU: 0, PCMA: 8, G722: 9, G729: 18, OPUS: 123 };
/** Codec preference slots, choice 1..8. */
const CODEC_SLOTS = ['P57', 'P58', 'P59', 'P60', 'P61', 'P62', 'P46', 'P98'];

/** Multi-purpose keys (Kazoo feature_keys) and line keys (combo_keys) modes, per Kazoo's provisioner mapping. */
const MPK_MODES: Partial<Record<KeyKind, number>> = { presence: 1, speed_dial: 0, parking: 9, personal_parking: 1 };
const LINE_KEY_MODES: Record<KeyKind, number> = { line: 0, presence: 11, speed_dial: 10, parking: 19, personal_parking: 11 };
/** MPK n uses P(322+n) and P(300+3n-2..300+3n); that block collides beyond key 7. */
const MAX_MPK = 7;
/** Line key n uses P(1363+2(n-1)), P(1364+…), P(1465+…), P(1466+…); 32 keys stay clear of collisions. */
const MAX_LINE_KEYS = 32;

/** P130 SIP transport (DNS SRV is a lookup mode of UDP here: P103 = 1 in the vendor keys to come). */
const TRANSPORTS = { udp: 0, tcp: 1, tls: 2, dns_srv: 0 } as const;

const LANGUAGES: Record<string, string> = {
  en: 'en', fr: 'fr', de: 'de', es: 'es', it: 'it', nl: 'nl', pt: 'pt', pl: 'pl', ru: 'ru', tr: 'tr', ja: 'ja', zh: 'zh',
};

/** "Grandstream Model HW GXP2135 SW 1.0.7.97 DevId 000b828aa872", or "Grandstream GXP2000 (…) DevId 000b822726c8". */
const UA = /^Grandstream\s+(?:Model\s+HW\s+)?([A-Za-z]+\d+\w*)/i;
const DEVID = /DevId\s+([0-9a-fA-F:]{12,17})/;

/** POSIX TZ string (P64), e.g. EST5EDT,M3.2.0/02:00:00,M11.1.0/02:00:00. */
function posixTz(tz: TimezoneInfo): string {
  const name = (abbr: string, offset: number) => {
    const clean = abbr.replace(/[^A-Za-z]/g, '');
    if (clean.length >= 3 && clean === abbr) return clean;
    const sign = offset < 0 ? '-' : '+';
    const a = Math.abs(offset);
    return `<${sign}${String(Math.floor(a / 3600)).padStart(2, '0')}${String(Math.floor((a % 3600) / 60)).padStart(2, '0')}>`;
  };
  const off = (seconds: number) => {
    const west = -seconds; // POSIX offsets count hours west of UTC
    const sign = west < 0 ? '-' : '';
    const a = Math.abs(west);
    const h = Math.floor(a / 3600);
    const m = Math.floor((a % 3600) / 60);
    return `${sign}${h}${m ? `:${String(m).padStart(2, '0')}` : ''}`;
  };
  let out = `${name(tz.stdAbbr, tz.standardOffsetSeconds)}${off(tz.standardOffsetSeconds)}`;
  if (tz.dst) {
    const dstOffset = tz.standardOffsetSeconds + tz.dst.offsetSeconds;
    const r = (x: { month: number; week: number; dayOfWeek: number; hour: number }) =>
      `M${x.month}.${x.week}.${x.dayOfWeek}/${String(x.hour).padStart(2, '0')}:00:00`;
    out += `${name(tz.dst.dstAbbr, dstOffset)}${tz.dst.offsetSeconds === 3600 ? '' : off(dstOffset)},${r(tz.dst.start)},${r(tz.dst.end)}`;
  }
  return out;
}

export const grandstream: VendorProfile = {
  id: 'grandstream',
  brands: ['grandstream'],
  ouis: ['000b82', 'c074ad'],
  sampleModel: 'GXP2135',
  catalogue: grandstreamModels,
  families: grandstreamFamilies,
  files: [
    {
      template: 'cfgmac.xml',
      pattern: /^cfg(?<mac>[0-9a-f]{12})\.xml$/,
      perDevice: true,
      format: 'xml',
      contentType: 'text/xml; charset=utf-8',
      nameFor: ({ mac }) => `cfg${mac}.xml`,
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
    const wanted = [...new Set(input.codecs.map((c) => CODECS[c]).filter((c): c is number => c !== undefined))];
    if (wanted.length === 0) wanted.push(0);
    // Every slot is written: the remaining ones repeat the last wanted codec, so no other codec is offered.
    const codecs = CODEC_SLOTS.map((p, i) => ({ p, value: wanted[Math.min(i, wanted.length - 1)] }));
    const mpk = input.featureKeys
      .filter((k) => k.index <= MAX_MPK && MPK_MODES[k.kind] !== undefined)
      .map((k) => ({
        mode: { p: `P${322 + k.index}`, value: MPK_MODES[k.kind] },
        account: { p: `P${300 + 3 * k.index - 2}`, value: 0 },
        label: { p: `P${300 + 3 * k.index - 1}`, value: k.label },
        value: { p: `P${300 + 3 * k.index}`, value: k.value },
      }));
    const lineKeys = input.comboKeys
      .filter((k) => k.index <= MAX_LINE_KEYS)
      .map((k) => {
        const o = 2 * (k.index - 1);
        return {
          mode: { p: `P${1363 + o}`, value: LINE_KEY_MODES[k.kind] },
          account: { p: `P${1364 + o}`, value: 0 }, // 0-based: account 1
          label: { p: `P${1465 + o}`, value: k.label },
          value: { p: `P${1466 + o}`, value: k.value },
        };
      });
    // Alert-Info match rules: (P1488 text, P1489 ring tone), (P1490, P1491). Pair semantics UNCONFIRMED on hardware.
    const rules = [input.ringtones.internal, input.ringtones.external].map((v, i) => ({
      text: { p: `P${1488 + 2 * i}`, value: v ? alertInfoText(v) : '' },
      tone: { p: `P${1489 + 2 * i}`, value: v ? i + 1 : 0 },
    }));
    const { sipServer, outboundProxy } = input.settings;
    return {
      server: `${sipServer.host}:${sipServer.port}`,
      transport: TRANSPORTS[sipServer.transport],
      outboundProxy: outboundProxy ? `${outboundProxy.host}:${outboundProxy.port}` : '',
      expiresMinutes: Math.max(1, Math.round(input.sip.expireSeconds / 60)),
      codecs,
      mpk,
      lineKeys,
      ringRules: rules,
      mwiSubscribe: input.mwiUnsolicited ? 0 : 1,
      timezone: input.timezone ? posixTz(input.timezone) : 'auto',
      language: pickLanguage(LANGUAGES, input.language, 'auto'),
    };
  },
};
