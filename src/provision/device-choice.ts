import type { DeviceDoc, DeviceRef } from '../domain/types.js';
import type { UaMatch } from './select.js';
import type { KeptMeta } from './kept-files.js';
import type { Renderer } from './renderer.js';
import type { Choice, ServedVariant, VendorSelector } from './select.js';

/**
 * What a device's phone was last served, as recorded with its kept files (memory or disk): the vendor and model
 * they were rendered for. It stands in for a phone that does not say what it is (no User-Agent, or one without a
 * model) exactly as its previous answer did, and it is part of the files' fingerprint, so it is only ever used
 * together with bytes that are valid for it. The last-fetch log (telemetry) is not read. Only looked up when the
 * device document names no brand and no model: then nothing else could decide.
 */
export function servedVariant(selector: VendorSelector, renderer: Renderer, device: DeviceDoc, ua?: UaMatch): ServedVariant | undefined {
  const mac = device.mac_address;
  const provision = device.provision;
  if (!mac || (typeof provision?.endpoint_brand === 'string' && provision.endpoint_model) || ua?.info.model) return undefined;
  // The newest kept file tells: the phone's last answer (background renders follow it, never lead).
  let newest: KeptMeta | undefined;
  for (const profile of ua ? [ua.profile] : selector.profiles) {
    for (const file of profile.files) {
      if (!file.perDevice || file.upload || file.scope === 'phonebook') continue;
      const name = file.nameFor({ mac, model: '' });
      const kept = name ? renderer.keptMeta(device.id, name) : undefined;
      if (kept && kept.vendor === profile.id && (!newest || kept.at > newest.at)) newest = kept;
    }
  }
  return newest && { vendor: newest.vendor, model: newest.model };
}

/**
 * The phone path's cheaper form: what the requested file's own kept copy was rendered for (one lookup; the file
 * is looked up anyway), for a device whose document names no brand and model and a User-Agent naming no model.
 */
export function servedVariantOf(renderer: Renderer, device: DeviceDoc, name: string, ua?: UaMatch): ServedVariant | undefined {
  const provision = device.provision;
  if ((typeof provision?.endpoint_brand === 'string' && provision.endpoint_model) || ua?.info.model) return undefined;
  const kept = renderer.keptMeta(device.id, name);
  return kept && (!ua || kept.vendor === ua.profile.id) ? { vendor: kept.vendor, model: kept.model } : undefined;
}

/** The vendor and model a device's phone is served when no request is at hand (background renders, SIP, API). */
export function servedChoice(selector: VendorSelector, renderer: Renderer, ref: DeviceRef): Choice | undefined {
  return selector.choose(ref.device, undefined, servedVariant(selector, renderer, ref.device));
}
