import { cleanseMac } from '../src/devices/mac-address.js';
/**
 * What a vendor profile declares. The provisioning core (src/provision/) only ever talks to this interface:
 * it never names a vendor. Adding a vendor = one profile file here (registered in vendors/index.ts) plus
 * its templates under templates/<vendor>/.
 */

/** Kinds of programmable keys after the core resolved Kazoo's feature_keys/combo_keys. */
export type KeyKind = 'presence' | 'speed_dial' | 'parking' | 'personal_parking' | 'line';

export interface ResolvedKey {
  /** 1-based position (Kazoo stores keys 0-based: "0" is the first key). Never compacted: a gap stays a gap. */
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
  /** The catalogue entry (or the family's fallback); undefined for a model of an unknown family. */
  modelInfo?: ResolvedModel;
  /** `server` is the SIP domain (device sip.realm over the account realm). */
  sip: { server: string; username: string; password: string; expireSeconds: number };
  displayName: string;
  /**
   * The phone's extra SIP accounts (provision.lines of a DECT base or ATA): `account` is 1-based (2 = the second
   * account, handset 2 / FXS port 2), in account order, only accounts the model has. Secrets: per-device files only.
   */
  lines: ProvisionLine[];
  /** Kazoo codec names (PCMU, PCMA, G722, G729, OPUS, …) in the device's order. */
  codecs: string[];
  comboKeys: ResolvedKey[];
  featureKeys: ResolvedKey[];
  /**
   * Keys placed on the model (src/provision/catalogue.ts placeKeys): combo keys on the body at their index; feature
   * keys in the model's feature-key bank at their index, then on its expansion modules; a model with neither takes
   * them on the body at their index. Unknown model: on the first module at their index.
   */
  lineKeys: PlacedKey[];
  /** Feature keys in the model's own feature-key bank (ModelInfo.featureKeys), `position` = index. */
  bankKeys: PlacedKey[];
  expansionKeys: PlacedKey[];
  settings: ProvisionSettings;
  /** The model's firmware, when its file exists under DATA_DIR/firmware/. */
  firmware?: { file: string; url: string };
  /** The account's users (name, extension), for phonebook files. */
  directory: DirectoryEntry[];
  ringtones: { internal: string; external: string };
  timezone?: TimezoneInfo;
  /** Kazoo language tag, lower-case, e.g. en-us; '' when unset. */
  language: string;
  /** Kazoo mwi_unsolicited_updates (default true): the server pushes MWI, the phone need not subscribe. */
  mwiUnsolicited: boolean;
  voicemailNumber: string;
}

/** One extra SIP account of a multi-account phone, from the Kazoo device its provision.lines slot names. */
export interface ProvisionLine {
  account: number;
  deviceId: string;
  /** `server` is the SIP domain (the line device's sip.realm over the account realm). */
  sip: { server: string; username: string; password: string; expireSeconds: number };
  displayName: string;
}

/** A key placed on the phone: on the body (`n` = line-key position), in its feature-key bank, or on a module. */
export interface PlacedKey extends ResolvedKey {
  /**
   * 'body' = the phone's own line keys; 'bank' = its feature-key bank (`position` 1-based in it); 'expansion' = a
   * module key (`module` 1-based, `position` 1-based on it).
   */
  where: 'body' | 'bank' | 'expansion';
  module?: number;
  position?: number;
}

export type ModelKind = 'desk' | 'dect_base' | 'ata' | 'conference';

/**
 * One model of the catalogue (vendors/<vendor>-models.ts). Templates read it as `modelInfo`; core code reads only
 * the vendor-neutral fields (capacity, files, firmware); the vendor-specific ones are opaque to the core.
 */
export interface ModelInfo {
  /** Upper-case, no separators, as the selector normalises models ("T46S", "VVX400", "GRP2614"). */
  model: string;
  family: string;
  displayName: string;
  kind: ModelKind;
  /** Programmable keys on the body (combo_keys land here). */
  lineKeys: number;
  /**
   * Of the line keys, how many can carry a line (the first N); the keys after them take the other kinds only
   * (e.g. Grandstream's dynamic VPKs, which have no line mode). Absent = every line key can.
   */
  fixedLineKeys?: number;
  /**
   * Keys on the body that are not line keys: a second bank, where feature_keys land first (at their index), e.g.
   * Grandstream's physical multi-purpose keys. Absent = none. Declare it only where the model has such keys.
   */
  featureKeys?: number;
  /**
   * Expansion modules the model can drive; absent = none. Feature keys land on them after the feature-key bank;
   * a model with neither takes feature_keys on the body, in the slots combo keys leave free.
   */
  expansion?: { modules: number; keysEach: number };
  sipAccounts: number;
  /** VendorFile.template names this model fetches; absent = the family's set. */
  files?: string[];
  /** Yealink: id of `y0000000000<id>.cfg`. */
  commonFileId?: string;
  /** Grandstream: config flavour ('v1' P-values, 'v2' alias items…), opaque to the core. */
  configFlavour?: string;
  /** Grandstream: key-mode table name or codes, opaque to the core. */
  keyModeTable?: string | Record<string, number | string>;
  /** Firmware file the operator drops under DATA_DIR/firmware/ (served at /provision/firmware/<file>). */
  firmware?: string;
}

/** A family: what an unknown model of it gets (capacity, files, firmware default). */
export interface FamilyInfo extends Omit<ModelInfo, 'model' | 'displayName'> {
  /** Recognises the family from a model name not in the catalogue (e.g. /^T4\d/). */
  matches?: RegExp;
}

/** ModelInfo as resolved for a device, and how it was found. */
export interface ResolvedModel extends ModelInfo {
  /** True when the model is in the catalogue; false when the family filled in. */
  known: boolean;
}

/** Resolved settings (device → account → server default); every string stripped of control characters. */
export interface ProvisionSettings {
  sipServer: { host: string; port: number; transport: 'udp' | 'tcp' | 'tls' | 'dns_srv' };
  outboundProxy?: { host: string; port: number };
  natKeepaliveSeconds: number;
  registrationRetrySeconds: number;
  dtmfMode: 'rfc2833' | 'inband' | 'info';
  /** From the device's media.encryption: methods contain 'srtp'; required = enforce_security. */
  srtp: { enabled: boolean; required: boolean };
  callWaiting: boolean;
  dnd: boolean;
  callForward: { enabled: boolean; number: string; noAnswer: boolean; busy: boolean; always: boolean };
  /** Digit map / dial plan string ('' = the phone's own). */
  dialPlan: string;
  provisioning: {
    /** Base URL the phone re-fetches from, ending in '/' (URL key included when the account has one). */
    url: string;
    resync: { intervalMinutes?: number; window?: { start: string; end: string } };
    /** Phone-side credentials when the account requires HTTP auth (per-device files only). */
    auth?: { username: string; password: string };
  };
  /** Phone web admin and user passwords (per-device files only). '' when unknown. */
  passwords: { admin: string; user: string };
  ntpServer: string;
  syslogServer: string;
  vlan?: { id: number; priority: number };
  /** vendor_params, device over account per parameter: vendor id → parameter → value (read by {{vparam}}). */
  vendorParams: Record<string, Record<string, string>>;
}

export interface DirectoryEntry {
  name: string;
  number: string;
}

/** 'lines': free-form lines after an exact header (e.g. boot files listing `include:config "x.cfg"`). */
export type FileFormat = 'xml' | 'keyvalue' | 'lines';

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
  /** Families whose phones fetch this file; absent = every family (a ModelInfo.files list wins over this). */
  families?: string[];
  /**
   * Shared files only: 'phonebook' renders it per account (the UA's MAC names the account) with `directory`
   * set; no secrets. Default: one render for everyone.
   */
  scope?: 'phonebook';
  /** The phone may PUT this (per-device) name: kept under DATA_DIR/uploads/<device>/ (see src/provision/uploads.ts). */
  upload?: boolean;
  format: FileFormat;
  contentType: string;
  /** keyvalue and lines: the exact first line the file must start with. */
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
  /** Every model this vendor knows (vendors/<vendor>-models.ts); absent = none (no capacity checks, no fallback). */
  catalogue?: readonly ModelInfo[];
  /** Family id → defaults for a model not in the catalogue. */
  families?: Readonly<Record<string, FamilyInfo>>;
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

/**
 * Helper shared by profiles: "00:15:65:4a:a9:37" / "001565f429a4" → "0015654aa937". The one MAC rule is the
 * device resource's (src/devices/mac-address.ts): a MAC read from a User-Agent and one saved through the API
 * are the same form.
 */
export function cleanMac(raw: string | undefined): string | undefined {
  return raw ? cleanseMac(raw) : undefined;
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
