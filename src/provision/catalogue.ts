import type { PlacedKey, ResolvedKey, ResolvedModel, VendorFile, VendorProfile } from '../../vendors/types.js';

/**
 * Reads a vendor's model catalogue: which entry a device's model is, the family fallback for a model the catalogue
 * does not list, which files a model fetches, and where its keys go. Data only: no vendor is named here.
 */

/** The model's entry, else its family's defaults (by the device's endpoint_family, else the family's pattern). */
export function resolveModel(profile: VendorProfile, model: string, family: string): ResolvedModel | undefined {
  const entry = model ? profile.catalogue?.find((m) => m.model === model) : undefined;
  if (entry) return { ...entry, known: true };
  const fam =
    (family ? profile.families?.[family.toLowerCase()] : undefined) ??
    (model ? Object.values(profile.families ?? {}).find((f) => f.matches?.test(model)) : undefined);
  if (!fam) return undefined;
  const { matches: _pattern, ...defaults } = fam;
  return { ...defaults, model, displayName: model, known: false };
}

/** Whether a model's phone fetches this file: the model's own list, else the file's families, else yes. */
export function fetchesFile(file: VendorFile, model: ResolvedModel | undefined): boolean {
  if (model?.files) return model.files.includes(file.template);
  if (file.families) return model !== undefined && file.families.includes(model.family);
  return true;
}

/** Keys the model can hold: combo keys on its body; feature keys on its expansion modules, else on its body. */
export function keyCapacity(model: Pick<ResolvedModel, 'lineKeys' | 'expansion'>): { combo: number; feature: number } {
  const expansion = model.expansion ? model.expansion.modules * model.expansion.keysEach : 0;
  return { combo: model.lineKeys, feature: model.expansion ? expansion : model.lineKeys };
}

/**
 * Combo keys stay on the body at their index. Feature keys go to the expansion modules (position = index, module
 * by module) when the model has them, else to the body at their index unless a combo key holds it (one key per
 * slot: two never write the same parameters). Indices are never compacted. Without a model entry feature keys keep
 * their index on the first module, as before the catalogue.
 */
export function placeKeys(model: ResolvedModel | undefined, combo: ResolvedKey[], feature: ResolvedKey[]): { lineKeys: PlacedKey[]; expansionKeys: PlacedKey[] } {
  const lineKeys: PlacedKey[] = combo.map((k) => ({ ...k, where: 'body' }));
  const taken = new Set(combo.map((k) => k.index));
  const expansionKeys: PlacedKey[] = [];
  for (const k of feature) {
    if (!model) expansionKeys.push({ ...k, where: 'expansion', module: 1, position: k.index });
    else if (model.expansion) {
      const { keysEach } = model.expansion;
      expansionKeys.push({ ...k, where: 'expansion', module: Math.ceil(k.index / keysEach), position: ((k.index - 1) % keysEach) + 1 });
    } else if (!taken.has(k.index)) lineKeys.push({ ...k, where: 'body' });
  }
  lineKeys.sort((a, b) => a.index - b.index);
  return { lineKeys, expansionKeys };
}
