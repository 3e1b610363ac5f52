import type { ModelInfo, VendorProfile } from '../../vendors/types.js';
import type { DeviceDoc } from '../domain/types.js';
import { keyCapacity, resolveModel } from './catalogue.js';
import type { VendorSelector } from './select.js';

/**
 * The vendor catalogues as Monster UI's provisioner API shows them (monster-ui chooseModel, SmartPBX devices):
 * `phones` lists brand → family → model, and a model's `template` says how many combo and feature keys the
 * device dialog offers. Pure data from vendors/, so the picker lists exactly what this server provisions.
 */
export interface PhoneListing {
  [brand: string]: { name: string; families: Record<string, { name: string; models: Record<string, { id: string; name: string }> }> };
}

const brandName = (profile: VendorProfile) => profile.catalogue?.[0]?.displayName.split(' ')[0] ?? profile.id;

export function phoneListing(profiles: readonly VendorProfile[]): PhoneListing {
  const out: PhoneListing = {};
  for (const profile of profiles) {
    if (!profile.catalogue?.length) continue;
    const families: PhoneListing[string]['families'] = {};
    for (const m of profile.catalogue) {
      const family = (families[m.family] ??= { name: m.family.toUpperCase(), models: {} });
      // Monster stores the key it picked, lower-cased, as provision.endpoint_model; the selector reads it back.
      family.models[m.model.toLowerCase()] = { id: `${profile.id}.${m.family}.${m.model.toLowerCase()}`, name: m.displayName };
    }
    out[profile.id] = { name: brandName(profile), families };
  }
  return out;
}

/**
 * The catalogue model a picker's brand/family/model names, or undefined: found the way a device saved with those
 * three values is provisioned (the selector's brand lookup and model normalisation), in that family.
 */
export function findModel(selector: VendorSelector, brand: string, family: string, model: string): ModelInfo | undefined {
  const choice = selector.choose({ provision: { endpoint_brand: brand.toLowerCase(), endpoint_family: family, endpoint_model: model } } as DeviceDoc);
  const resolved = choice && resolveModel(choice.profile, choice.model, choice.family);
  return resolved?.known && resolved.family === family.toLowerCase() ? resolved : undefined;
}

/** What SmartPBX's device dialog reads from `ui/{brand}/{family}/{model}`: `template.<keys>.iterate`. */
export function modelTemplate(model: ModelInfo): { template: Record<string, { iterate: number }>; model: Record<string, unknown> } {
  const capacity = keyCapacity(model);
  return {
    template: {
      combo_keys: { iterate: capacity.combo },
      // Feature keys of their own: the feature-key bank and the expansion modules. Without either, feature keys share
      // the body with combo keys: the dialog offers only combo keys.
      feature_keys: { iterate: capacity.bank || capacity.expansion ? capacity.feature : 0 },
    },
    model: {
      name: model.displayName,
      family: model.family,
      kind: model.kind,
      line_keys: model.lineKeys,
      sip_accounts: model.sipAccounts,
      ...(model.featureKeys ? { feature_keys: model.featureKeys } : {}),
      ...(model.expansion ? { expansion: { modules: model.expansion.modules, keys_each: model.expansion.keysEach } } : {}),
    },
  };
}
