import { readFileSync } from 'node:fs';
import path from 'node:path';
import { addValidationError, type ValidationErrors } from '../http/errors.js';
import { dottedKey } from '../schema/validator.js';
import { vendorProfiles } from '../../vendors/index.js';
import type { VendorProfile } from '../../vendors/types.js';
import { BUILTIN_TEMPLATES, compileTemplate } from './templates.js';

/**
 * The vendor parameters an account or device may set: those the shipped templates declare through {{vparam}},
 * collected by compiling them (once, on first use, so the API validates the same way with or without the
 * provisioning part running). A parameter no template declares is refused on save, naming it, rather than kept
 * and silently ignored.
 */
let shipped: ReadonlyMap<string, ReadonlySet<string>> | undefined;

export function declaredVendorParams(profiles: readonly VendorProfile[] = vendorProfiles, dir = BUILTIN_TEMPLATES): ReadonlyMap<string, ReadonlySet<string>> {
  const useCache = profiles === vendorProfiles && dir === BUILTIN_TEMPLATES;
  if (useCache && shipped) return shipped;
  const out = new Map<string, Set<string>>();
  for (const profile of profiles) {
    const names = new Set<string>();
    for (const file of profile.files) {
      if (file.upload) continue;
      const source = readFileSync(path.join(dir, profile.id, `${file.template}.hbs`), 'utf8');
      for (const name of compileTemplate(source, file.format).vendorParams?.keys() ?? []) names.add(name);
    }
    out.set(profile.id, names);
  }
  if (useCache) shipped = out;
  return out;
}

/** Adds a validation error for every vendor or parameter in `settings.vendor_params` that no template declares. */
export function checkVendorParams(settings: unknown, settingsPath: string, errors: ValidationErrors): void {
  const params = (settings as { vendor_params?: unknown } | undefined)?.vendor_params;
  if (params === null || typeof params !== 'object' || Array.isArray(params)) return; // the schema reports the type
  const declared = declaredVendorParams();
  for (const [vendor, values] of Object.entries(params as Record<string, unknown>)) {
    const key = `${settingsPath}.vendor_params.${dottedKey(vendor)}`;
    if (errors[key]) continue;
    const names = declared.get(vendor);
    if (!names) {
      addValidationError(errors, key, 'invalid', { message: `Unknown vendor ${vendor}`, cause: vendor, target: [...declared.keys()] });
      continue;
    }
    if (values === null || typeof values !== 'object' || Array.isArray(values)) continue;
    for (const name of Object.keys(values)) {
      const paramKey = `${key}.${dottedKey(name)}`;
      if (names.has(name) || errors[paramKey]) continue;
      addValidationError(errors, paramKey, 'invalid', {
        message: `No ${vendor} template declares the parameter ${name}; only these can be set: ${[...names].sort().join(', ')}`,
        cause: name,
        target: [...names].sort(),
      });
    }
  }
}
