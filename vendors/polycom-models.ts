import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Polycom catalogue (seed: the profile's sample model; vendor helpers complete SoundPoint IP, VVX 101–1500, Trio).
 * `firmware` is the application image the master's APP_FILE_PATH names, served only when the operator dropped it
 * under DATA_DIR/firmware/.
 */
export const polycomModels: readonly ModelInfo[] = [
  { model: 'VVX400', family: 'vvx', displayName: 'Polycom VVX 400', kind: 'desk', lineKeys: 12, sipAccounts: 12, firmware: 'sip.ld' },
  { model: 'VVX410', family: 'vvx', displayName: 'Polycom VVX 410', kind: 'desk', lineKeys: 12, sipAccounts: 12, firmware: 'sip.ld' },
];

export const polycomFamilies: Readonly<Record<string, FamilyInfo>> = {
  vvx: { family: 'vvx', kind: 'desk', lineKeys: 6, sipAccounts: 6, firmware: 'sip.ld', matches: /^VVX/ },
  spip: { family: 'spip', kind: 'desk', lineKeys: 2, sipAccounts: 2, firmware: 'sip.ld', matches: /^(SPIP|SSIP|IP)\d/ },
};
