import { grandstream } from './grandstream.js';
import { polycom } from './polycom.js';
import { yealink } from './yealink.js';
import type { VendorProfile } from './types.js';

/** Every vendor the server provisions. A new vendor = its profile here + templates/<id>/. */
export const vendorProfiles: readonly VendorProfile[] = [polycom, yealink, grandstream];

export type { VendorProfile, VendorFile, ProvisionInput, ResolvedKey, TimezoneInfo } from './types.js';
