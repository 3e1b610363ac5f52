import { randomBytes } from 'node:crypto';
import { isPlainObject } from '../domain/docs.js';

/**
 * The phone passwords among the provisioning settings (provision.settings on a device, provisioning.settings on an
 * account): write-only in the API. A view shows `<key>_set: true` instead; a document sent back without the
 * password keeps the stored one. A device with no password set anywhere gets generated ones (kept private in
 * pvt_phone_passwords), so no phone keeps its factory admin password.
 */
export const PHONE_SECRET_KEYS = ['admin_password', 'user_password'] as const;

/** A copy of `settings` with the passwords replaced by `<key>_set` flags; undefined stays undefined. */
export function hiddenSettings(settings: unknown): unknown {
  if (!isPlainObject(settings)) return settings;
  const out: Record<string, unknown> = { ...settings };
  for (const key of PHONE_SECRET_KEYS) {
    if (out[key] !== undefined) {
      delete out[key];
      out[`${key}_set`] = true;
    }
  }
  return out;
}

/** In place: `<key>_set` flags dropped; a password the request left out but the stored document had is kept. */
export function keepStoredPasswords(settings: unknown, stored: unknown): void {
  if (!isPlainObject(settings)) return;
  for (const key of PHONE_SECRET_KEYS) {
    const flag = settings[`${key}_set`];
    delete settings[`${key}_set`];
    if (settings[key] === undefined && flag === true && isPlainObject(stored) && typeof stored[key] === 'string') settings[key] = stored[key];
  }
}

/** 16 characters from a 57-symbol alphabet without look-alikes (~93 bits), accepted by every vendor's password field. */
export function generatePassword(): string {
  const alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  let out = '';
  // Rejection sampling keeps every symbol equally likely.
  while (out.length < 16) for (const b of randomBytes(32)) if (b < 228 && out.length < 16) out += alphabet[b % 57];
  return out;
}

export function generatedPhonePasswords(): { admin: string; user: string } {
  return { admin: generatePassword(), user: generatePassword() };
}
