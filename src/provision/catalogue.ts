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

/**
 * Keys the model can hold. Combo keys: its line keys. Feature keys: its feature-key bank plus its expansion-module
 * keys when it has either (`bank` and `expansion` say how many of each), else its line keys (shared with combo keys).
 */
export function keyCapacity(model: Pick<ResolvedModel, 'lineKeys' | 'featureKeys' | 'expansion'>): { combo: number; feature: number; bank: number; expansion: number } {
  const bank = model.featureKeys ?? 0;
  const expansion = model.expansion ? model.expansion.modules * model.expansion.keysEach : 0;
  return { combo: model.lineKeys, feature: bank || model.expansion ? bank + expansion : model.lineKeys, bank, expansion };
}

/**
 * Combo keys stay on the body at their index. Feature keys, when the model has a feature-key bank, go to it at their
 * index (position = index); past the bank they go to the expansion modules (position = index - bank, module by
 * module) when the model has them. A model without a bank sends them all to its modules (position = index). A model
 * with neither puts them on the body at their index unless a combo key holds it (one key per slot: two never write
 * the same parameters). A key past what the model holds is left out (a save refuses it: src/devices/key-capacity.ts).
 * Indices are never compacted. Without a model entry feature keys keep their index on the first module, as before
 * the catalogue.
 */
export function placeKeys(
  model: ResolvedModel | undefined,
  combo: ResolvedKey[],
  feature: ResolvedKey[],
): { lineKeys: PlacedKey[]; bankKeys: PlacedKey[]; expansionKeys: PlacedKey[] } {
  const lineKeys: PlacedKey[] = combo.map((k) => ({ ...k, where: 'body' }));
  const taken = new Set(combo.map((k) => k.index));
  const bankKeys: PlacedKey[] = [];
  const expansionKeys: PlacedKey[] = [];
  const bank = model?.featureKeys ?? 0;
  for (const k of feature) {
    if (!model) expansionKeys.push({ ...k, where: 'expansion', module: 1, position: k.index });
    else if (k.index <= bank) bankKeys.push({ ...k, where: 'bank', position: k.index });
    else if (model.expansion) {
      const { modules, keysEach } = model.expansion;
      const n = k.index - bank;
      if (n <= modules * keysEach) expansionKeys.push({ ...k, where: 'expansion', module: Math.ceil(n / keysEach), position: ((n - 1) % keysEach) + 1 });
    } else if (!bank && !taken.has(k.index)) lineKeys.push({ ...k, where: 'body' });
  }
  lineKeys.sort((a, b) => a.index - b.index);
  return { lineKeys, bankKeys, expansionKeys };
}
