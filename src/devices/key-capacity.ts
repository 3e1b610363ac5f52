import type { DeviceDoc } from '../domain/types.js';
import { getPath, isPlainObject } from '../domain/docs.js';
import { addValidationError, type ValidationErrors } from '../domain/validation.js';
import { vendorProfiles } from '../../vendors/index.js';
import { keyCapacity, resolveModel } from '../provision/catalogue.js';
import { VendorSelector } from '../provision/select.js';
import type { ResolvedModel } from '../../vendors/types.js';

/**
 * A key the device's model cannot hold is refused on save, naming the model and its capacity. Only for a model the
 * catalogue knows (provision.endpoint_brand + endpoint_model): an unknown model's keys are taken as given.
 */
const selector = new VendorSelector(vendorProfiles);

/** Where the model's feature keys go, as the error names it: its feature-key bank, its modules, or its line keys. */
function featureKeysWhere(capacity: ReturnType<typeof keyCapacity>): string {
  if (capacity.bank && capacity.expansion) return `feature keys (${capacity.bank} on the phone, ${capacity.expansion} on expansion modules)`;
  if (capacity.bank) return 'feature keys';
  return capacity.expansion ? 'expansion-module keys' : 'line keys';
}

/** The catalogue model a device names (provision.endpoint_brand + endpoint_model), only when the catalogue knows it. */
export function knownModelOf(fields: Record<string, unknown>): ResolvedModel | undefined {
  const device = fields as unknown as DeviceDoc;
  if (typeof device.provision?.endpoint_brand !== 'string' || !device.provision.endpoint_model) return undefined;
  const choice = selector.choose(device);
  const model = choice && resolveModel(choice.profile, choice.model, '');
  return model?.known ? model : undefined;
}

/** A line on a key that cannot carry one (past the model's fixedLineKeys, e.g. a Grandstream dynamic VPK). */
function checkLineSlot(model: ResolvedModel, slot: string, key: unknown, errors: ValidationErrors): void {
  const fixed = model.fixedLineKeys;
  if (fixed === undefined || !/^\d+$/.test(slot) || Number(slot) + 1 <= fixed) return;
  if (!isPlainObject(key) || key.type !== 'line') return;
  addValidationError(errors, `provision.combo_keys.${slot}.type`, 'invalid', {
    message: `${model.displayName} carries lines on its first ${fixed} keys only: key ${slot} (0-based) takes the other key types`,
    cause: 'line',
    target: { model: model.model, capacity: fixed },
  });
}

export function checkKeyCapacity(fields: Record<string, unknown>, errors: ValidationErrors): void {
  const model = knownModelOf(fields);
  if (!model) return;
  const capacity = keyCapacity(model);
  for (const [path, limit, where] of [
    ['provision.combo_keys', capacity.combo, 'line keys'],
    ['provision.feature_keys', capacity.feature, featureKeysWhere(capacity)],
  ] as const) {
    const keys = getPath(fields, path);
    if (!isPlainObject(keys)) continue;
    for (const slot of Object.keys(keys)) {
      if (path === 'provision.combo_keys') checkLineSlot(model, slot, keys[slot], errors);
      if (!/^\d+$/.test(slot) || Number(slot) + 1 <= limit) continue;
      addValidationError(errors, `${path}.${slot}`, 'maximum', {
        message: `${model.displayName} has ${limit} ${where}: key ${slot} (0-based) does not exist on it`,
        cause: slot,
        target: { model: model.model, capacity: limit },
      });
    }
  }
}
