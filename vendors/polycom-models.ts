import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Polycom catalogue: SoundPoint IP / SoundStation IP (UC Software 4.0.x), VVX 101–1500 (UC 5.x/6.x), Trio (UC 5.x+).
 * Model names are the User-Agent's model token without the underscore (`PolycomVVX-VVX_400-UA` → VVX400,
 * `PolycomSoundPointIP-SPIP_335-UA` → SPIP335, `PolycomRealPresenceTrio-Trio_8800-UA` → TRIO8800).
 *
 * `firmware` is the per-model application image `<part number>.sip.ld` as Polycom's release packages name it (part
 * numbers from two public provisioning tools' model tables; Trio 8800 from a third source, the other Trio part numbers
 * were not found, so they fall back to the combined `sip.ld`). The master names it only when the operator dropped that
 * file under DATA_DIR/firmware/.
 *
 * Line keys = the phone's own line/programmable keys; expansion: VVX Color EM (28 keys each, up to 3 modules) on
 * the VVX 300–600 series, VVX EM50 (30 keys) on the VVX 450, SoundPoint IP backlit EM (14 keys, up to 3) on the IP 650/670.
 * sipAccounts = registrations the model supports (UC admin guide table). UNCONFIRMED on hardware: the EM key counts and
 * the registration counts of the VVX 150/250/350/450 and Trio.
 */
const COLOR_EM = { modules: 3, keysEach: 28 };
const EM50 = { modules: 3, keysEach: 30 };
const SPIP_EM = { modules: 3, keysEach: 14 };

type Spec = [model: string, display: string, lineKeys: number, sipAccounts: number, part: string | undefined, expansion?: { modules: number; keysEach: number }];

const entry = (family: string, kind: ModelInfo['kind']) => ([model, display, lineKeys, sipAccounts, part, expansion]: Spec): ModelInfo => ({
  model, family, displayName: `Polycom ${display}`, kind, lineKeys, sipAccounts, firmware: part ? `${part}.sip.ld` : 'sip.ld',
  ...(expansion ? { expansion } : {}),
});

const SOUNDPOINT: Spec[] = [
  ['SPIP321', 'SoundPoint IP 321', 2, 2, '2345-12360-001'],
  ['SPIP331', 'SoundPoint IP 331', 2, 2, '2345-12365-001'],
  ['SPIP335', 'SoundPoint IP 335', 2, 2, '2345-12375-001'],
  ['SPIP450', 'SoundPoint IP 450', 3, 3, '2345-12450-001'],
  ['SPIP550', 'SoundPoint IP 550', 4, 4, '2345-12500-001'],
  ['SPIP560', 'SoundPoint IP 560', 4, 4, '2345-12560-001'],
  ['SPIP650', 'SoundPoint IP 650', 6, 34, '2345-12600-001', SPIP_EM],
  ['SPIP670', 'SoundPoint IP 670', 6, 34, '2345-12670-001', SPIP_EM],
];
const SOUNDSTATION: Spec[] = [
  ['SSIP5000', 'SoundStation IP 5000', 0, 1, '3111-30900-001'],
  ['SSIP6000', 'SoundStation IP 6000', 0, 1, '3111-15600-001'],
  ['SSIP7000', 'SoundStation IP 7000', 0, 1, '3111-40000-001'],
];
const VVX: Spec[] = [
  ['VVX101', 'VVX 101', 1, 1, '3111-40250-001'],
  ['VVX150', 'VVX 150', 2, 2, '3111-48810-001'],
  ['VVX201', 'VVX 201', 2, 2, '3111-40450-001'],
  ['VVX250', 'VVX 250', 4, 4, '3111-48820-001'],
  ['VVX300', 'VVX 300', 6, 34, '3111-46135-002', COLOR_EM],
  ['VVX301', 'VVX 301', 6, 34, '3111-48300-001', COLOR_EM],
  ['VVX310', 'VVX 310', 6, 34, '3111-46161-001', COLOR_EM],
  ['VVX311', 'VVX 311', 6, 34, '3111-48350-001', COLOR_EM],
  ['VVX350', 'VVX 350', 6, 6, '3111-48830-001'],
  ['VVX400', 'VVX 400', 12, 34, '3111-46157-002', COLOR_EM],
  ['VVX401', 'VVX 401', 12, 34, '3111-48400-001', COLOR_EM],
  ['VVX410', 'VVX 410', 12, 34, '3111-46162-001', COLOR_EM],
  ['VVX411', 'VVX 411', 12, 34, '3111-48450-001', COLOR_EM],
  ['VVX450', 'VVX 450', 12, 12, '3111-48840-001', EM50],
  ['VVX500', 'VVX 500', 12, 34, '3111-44500-001', COLOR_EM],
  ['VVX501', 'VVX 501', 12, 34, '3111-48500-001', COLOR_EM],
  ['VVX600', 'VVX 600', 16, 34, '3111-44600-001', COLOR_EM],
  ['VVX601', 'VVX 601', 16, 34, '3111-48600-001', COLOR_EM],
  ['VVX1500', 'VVX 1500', 6, 6, '2345-17960-001'],
];
const TRIO: Spec[] = [
  ['TRIO8300', 'Trio 8300', 0, 1, undefined],
  ['TRIO8500', 'Trio 8500', 0, 1, undefined],
  ['TRIO8800', 'Trio 8800', 0, 1, '3111-65290-001'],
  ['TRIOC60', 'Trio C60', 0, 1, undefined],
];

export const polycomModels: readonly ModelInfo[] = [
  ...SOUNDPOINT.map(entry('spip', 'desk')),
  ...SOUNDSTATION.map(entry('ssip', 'conference')),
  ...VVX.map(entry('vvx', 'desk')),
  ...TRIO.map(entry('trio', 'conference')),
];

export const polycomFamilies: Readonly<Record<string, FamilyInfo>> = {
  vvx: { family: 'vvx', kind: 'desk', lineKeys: 6, sipAccounts: 6, firmware: 'sip.ld', matches: /^VVX/ },
  spip: { family: 'spip', kind: 'desk', lineKeys: 2, sipAccounts: 2, firmware: 'sip.ld', matches: /^(SPIP|IP)\d/ },
  ssip: { family: 'ssip', kind: 'conference', lineKeys: 0, sipAccounts: 1, firmware: 'sip.ld', matches: /^SSIP\d/ },
  trio: { family: 'trio', kind: 'conference', lineKeys: 0, sipAccounts: 1, firmware: 'sip.ld', matches: /^TRIO/ },
};
