/**
 * What a vendor profile declares. The provisioning core (src/provision/) only ever talks to this interface:
 * it never names a vendor. Adding a vendor = one profile file here (registered in vendors/index.ts) plus
 * its templates under templates/<vendor>/.
 */

/** Kinds of programmable keys after the core resolved Kazoo's feature_keys/combo_keys. */
export type KeyKind = 'presence' | 'speed_dial' | 'parking' | 'personal_parking' | 'line';

export interface ResolvedKey {
  /** 1-based position (Kazoo stores keys 0-based: "0" is the first key). */
  index: number;
  kind: KeyKind;
  /** What the phone dials/watches: presence id, number, `*3<slot>`… ('' for line keys). */
  value: string;
  label: string;
}

export interface DstRule {
  /** 1..12 */
  month: number;
  /** 1..4, or 5 = last occurrence in the month. */
  week: number;
  /** 0 = Sunday … 6 = Saturday. */
  dayOfWeek: number;
  /** Local wall-clock hour (before the change) at which the change happens. */
  hour: number;
}

export interface TimezoneInfo {
  /** IANA name as stored on the device, e.g. America/New_York. */
  name: string;
  /** Standard (winter) offset from UTC in seconds, east positive. */
  standardOffsetSeconds: number;
  /** Present when the zone observes daylight saving time. */
  dst?: { offsetSeconds: number; start: DstRule; end: DstRule; stdAbbr: string; dstAbbr: string };
  stdAbbr: string;
}

/**
 * The vendor-neutral view of a device the core builds from the Kazoo documents. Every string in it is
 * already stripped of control characters (so no value can break a line-oriented format).
 */
export interface ProvisionInput {
  mac: string;
  account: { id: string; name: string; realm: string };
  device: { id: string; name: string };
  /** Model as chosen (device provision.endpoint_model, else User-Agent), upper-cased; '' when unknown. */
  model: string;
  family: string;
  sip: { server: string; username: string; password: string; expireSeconds: number };
  displayName: string;
  /** Kazoo codec names (PCMU, PCMA, G722, G729, OPUS, …) in the device's order. */
  codecs: string[];
  comboKeys: ResolvedKey[];
  featureKeys: ResolvedKey[];
  ringtones: { internal: string; external: string };
  timezone?: TimezoneInfo;
  /** Kazoo language tag, lower-case, e.g. en-us; '' when unset. */
  language: string;
  /** Kazoo mwi_unsolicited_updates (default true): the server pushes MWI, the phone need not subscribe. */
  mwiUnsolicited: boolean;
  voicemailNumber: string;
}

export type FileFormat = 'xml' | 'keyvalue';

export interface VendorFile {
  /** Template file under templates/<vendor>/ (without the .hbs suffix); also its name in the template API. */
  template: string;
  /**
   * Matches the requested file name (already lower-cased). Named groups: `mac` (12 hex) for per-device files,
   * `common` for shared files that carry an id (e.g. Yealink's model id).
   */
  pattern: RegExp;
  /** True: the file is per device (found by MAC) and may carry secrets. False: shared, must never carry secrets. */
  perDevice: boolean;
  format: FileFormat;
  contentType: string;
  /** keyvalue only: the exact first line the file must start with. */
  header?: string;
  /** The name a given device's phone requests for this file; undefined when it would not request it. */
  nameFor(d: { mac: string; model: string }): string | undefined;
  /**
   * For shared files: whether the captured `common` group is one this vendor serves (e.g. a known model id).
   * Returning a model lets the template say which model it is for.
   */
  acceptCommon?(common: string): { model: string } | undefined;
}

export interface UserAgentInfo {
  model?: string;
  /** 12 lowercase hex when the UA carries the phone's MAC. */
  mac?: string;
}

export interface VendorProfile {
  id: string;
  /** Values of provision.endpoint_brand that select this profile (lower-case). */
  brands: string[];
  /** First 6 hex digits of MACs assigned to the vendor. */
  ouis: string[];
  /** Model used to render the sample device when an uploaded template is checked. */
  sampleModel: string;
  files: VendorFile[];
  /** undefined when the User-Agent is not this vendor's. */
  parseUserAgent(ua: string): UserAgentInfo | undefined;
  /** Event header of the check-sync NOTIFY. */
  checkSyncEvent(reboot: boolean): string;
  /** Headers that make the phone auto-answer an INVITE. */
  autoAnswerHeaders(input: { realm: string }): Record<string, string>;
  /** Vendor values (codec slots, key codes, units, time zone and language forms) exposed to templates as `v`. */
  variables(input: ProvisionInput): Record<string, unknown>;
  /** Variables for shared files (no device known), exposed as `v`. */
  commonVariables?(model: string): Record<string, unknown>;
}

/** Helper shared by profiles: "00:15:65:4a:a9:37" / "001565f429a4" → "0015654aa937". */
export function cleanMac(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const hex = raw.replace(/[:\-.]/g, '').toLowerCase();
  return /^[0-9a-f]{12}$/.test(hex) ? hex : undefined;
}

/**
 * Kazoo puts ringtones.internal/external verbatim into the Alert-Info header, e.g. `<http://x/y>;info=ring2`
 * or just `ring2`. Phones that match on the `info=` text want that part; fall back to the whole value.
 */
export function alertInfoText(value: string): string {
  const m = /;\s*info=([^;>\s]+)/i.exec(value);
  return m ? m[1]! : value.replace(/^<|>$/g, '');
}

/** Local part of a presence id ("1001@realm" → "1001"), for codes such as `*3<presence id>`. */
export function localPart(value: string): string {
  const at = value.indexOf('@');
  return at < 0 ? value : value.slice(0, at);
}

/** "+5:30"/"-5" form of an offset in seconds. */
export function hoursOffset(seconds: number): string {
  const sign = seconds < 0 ? '-' : '+';
  const abs = Math.abs(seconds);
  const h = Math.floor(abs / 3600);
  const m = Math.round((abs % 3600) / 60);
  return m ? `${sign}${h}:${String(m).padStart(2, '0')}` : `${sign}${h}`;
}

/** Language lookup: exact tag ("fr-ca"), then the primary language ("fr"), then a default. */
export function pickLanguage(table: Record<string, string>, tag: string, fallback: string): string {
  if (!tag) return fallback;
  return table[tag] ?? table[tag.split('-')[0]!] ?? fallback;
}
