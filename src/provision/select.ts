import type { DeviceDoc } from '../domain/types.js';
import type { UserAgentInfo, VendorFile, VendorProfile } from '../../vendors/types.js';

/**
 * Which vendor profile and model a request or device belongs to, and which served file a requested name is.
 * Pure lookups over the declarative profiles: no vendor is named here.
 */
export interface FileMatch {
  profile: VendorProfile;
  file: VendorFile;
  /** Per-device files: the MAC from the name. */
  mac?: string;
  /** Shared files: the captured id (e.g. Yealink model id). */
  common?: string;
}

export interface Choice {
  profile: VendorProfile;
  model: string;
  family: string;
}

/** The vendor and model a device's kept files were rendered for (part of their fingerprint). */
export interface ServedVariant {
  vendor: string;
  model: string;
}

export interface UaMatch {
  profile: VendorProfile;
  info: UserAgentInfo;
}

/** Bound for the model memo: a cache, cleared whole when full (made-up models cannot grow it). */
const MAX_MODELS = 10_000;

export class VendorSelector {
  private readonly byBrand = new Map<string, VendorProfile>();
  private readonly byOui = new Map<string, VendorProfile>();
  /** Raw model → normalised model (a handful of distinct values; saves a regex replace per request). */
  private readonly modelMemo = new Map<string, string>();

  constructor(readonly profiles: readonly VendorProfile[]) {
    for (const p of profiles) {
      this.byBrand.set(p.id, p);
      for (const b of p.brands) this.byBrand.set(b.toLowerCase(), p);
      for (const o of p.ouis) this.byOui.set(o.toLowerCase(), p);
    }
  }

  byId(id: string | undefined): VendorProfile | undefined {
    return id ? this.byBrand.get(id.toLowerCase()) : undefined;
  }

  userAgent(ua: string | undefined): UaMatch | undefined {
    if (!ua) return undefined;
    for (const profile of this.profiles) {
      const info = profile.parseUserAgent(ua);
      if (info) return { profile, info };
    }
    return undefined;
  }

  /**
   * Device's provision.endpoint_brand first, else the User-Agent's vendor, else the vendor its kept files were
   * rendered for (`served`, device-choice.ts), else the OUI. The last-fetch log (telemetry) is never read here.
   */
  choose(device: DeviceDoc, ua?: UaMatch, served?: ServedVariant): Choice | undefined {
    const brand = typeof device.provision?.endpoint_brand === 'string' ? device.provision.endpoint_brand : undefined;
    const profile =
      this.byId(brand) ?? ua?.profile ?? this.byId(served?.vendor) ?? (device.mac_address ? this.byOui.get(device.mac_address.slice(0, 6)) : undefined);
    if (!profile) return undefined;
    const rawModel = device.provision?.endpoint_model;
    // Model: the device's own, else what the phone says in its User-Agent, else what its kept files were made for.
    const model =
      (Array.isArray(rawModel) ? rawModel[0] : rawModel) ||
      (ua?.profile === profile ? ua.info.model : undefined) ||
      (served?.vendor === profile.id ? served.model : undefined) ||
      '';
    const family = typeof device.provision?.endpoint_family === 'string' ? device.provision.endpoint_family : '';
    return { profile, model: this.normalModel(String(model)), family };
  }

  /** Models are matched upper-case without separators ("vvx 400" → VVX400, "t46s" → T46S). */
  private normalModel(raw: string): string {
    if (raw === '') return '';
    let model = this.modelMemo.get(raw);
    if (model === undefined) {
      if (this.modelMemo.size >= MAX_MODELS) this.modelMemo.clear();
      model = raw.toUpperCase().replace(/[\s-]+/g, '');
      this.modelMemo.set(raw, model);
    }
    return model;
  }

  /**
   * Every (vendor, file) whose pattern matches a lower-cased requested name. Run per request on purpose: a memo
   * keyed by name measured no faster in the server (one more cold Map lookup instead of six short regexes).
   */
  match(name: string): FileMatch[] {
    const out: FileMatch[] = [];
    for (const profile of this.profiles) {
      for (const file of profile.files) {
        const m = file.pattern.exec(name);
        if (m) out.push({ profile, file, mac: m.groups?.mac, common: m.groups?.common });
      }
    }
    return out;
  }
}
