import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Grandstream catalogue. `configFlavour` names the file form the profile writes ('v1' P-values), `keyModeTable`
 * the key-mode code table of the family (see grandstream-keys.ts); both are opaque to the core.
 *
 * Line keys are the model's VPKs, fixed and dynamic (Grandstream's gxp17xx and gxp2130/40/60/70/35 config
 * templates list them per model; Wazo MODEL_FKEYS agrees for GXP21xx): the fixed ones (`fixedLineKeys`) can carry
 * a line, the dynamic ones the other key kinds, in their own mode codes (grandstream-keys.ts). VPKs 7-48 live in
 * their own block (P23800…) on GXP17xx/21xx and GRP26xx alike, so no model's keys meet the ring rules.
 * Expansion modules: GXP2200EXT (GXP2140/2160/2170) and GBX20 (GRP26xx), 40 keys each (20 keys × 2 pages).
 * Feature-key bank (`featureKeys`): the physical multi-purpose keys (MPKs) beside the screen, where Kazoo
 * feature_keys go first. GXP2130 8 and GXP2160 24 (Grandstream's own config template notes, in FusionPBX
 * gxp2130/gxp2160 `{$mac}.xml`: "For GXP2130, it has 8 physical MPK", "For GXP2160, it has 24 physical MPK"; the
 * FusionPBX GXP2160 v1 template writes MPK 1-24); GXP1628/1630 8 (FusionPBX gxp16xx "GXP1628/1630 only", MPK 1-8).
 * GXP2135/2140/2170 have none (Wazo MODEL_FKEYS: GXP2135 mpk 0; Grandstream's notes name only 2130 and 2160): their
 * extra keys are on-screen VPKs. GRP2614/2616 have 24 MPKs (Wazo MODEL_FKEYS; FusionPBX grp261x "Max 24 MPKs", its MPK LCD
 * section names GRP2614/GRP2616), written as config v2 `pks.mpk.N` items (grp261x family).
 * ATAs (FXS ports = SIP accounts) and DECT bases (handsets = accounts) have no keys and their own templates.
 */

const DESK_FILES = undefined; // desk phones fetch the generic cfg<mac>.xml and phonebook.xml (the files' defaults)
const ATA_FILES = ['cfgmac-ata.xml'];
const DECT_FILES = ['cfgmac-dect.xml', 'phonebook.xml'];
/** GRP2612-2616 (firmware 1.0.5+): config version 2 alias items instead of P-values (Wazo base_v2, FusionPBX grp261x). */
const V2_FILES = ['cfgmac-v2.xml', 'phonebook.xml'];

export const grandstreamFamilies: Readonly<Record<string, FamilyInfo>> = {
  gxp16xx: { family: 'gxp16xx', kind: 'desk', lineKeys: 2, sipAccounts: 2, configFlavour: 'v1', keyModeTable: 'gxp', firmware: 'gxp16xxfw.bin', matches: /^GXP16\d/ },
  gxp17xx: { family: 'gxp17xx', kind: 'desk', lineKeys: 3, sipAccounts: 3, configFlavour: 'v1', keyModeTable: 'gxp', firmware: 'gxp17xxfw.bin', matches: /^GXP17\d/ },
  gxp21xx: { family: 'gxp21xx', kind: 'desk', lineKeys: 4, sipAccounts: 4, configFlavour: 'v1', keyModeTable: 'gxp', matches: /^GXP21\d/ },
  // Before grp26xx: the first family whose pattern matches an unknown model is its fallback (GRP2619 → grp261x).
  grp261x: { family: 'grp261x', kind: 'desk', lineKeys: 16, sipAccounts: 2, configFlavour: 'v2', keyModeTable: 'grp', files: V2_FILES, matches: /^GRP261\d/ },
  grp26xx: { family: 'grp26xx', kind: 'desk', lineKeys: 6, sipAccounts: 2, configFlavour: 'v1', keyModeTable: 'grp', matches: /^GRP26\d/ },
  wp8xx: { family: 'wp8xx', kind: 'desk', lineKeys: 2, sipAccounts: 2, configFlavour: 'v1', keyModeTable: 'gxp', matches: /^WP8\d/ },
  // Before ht80x: HT812/814/818 keep every port in one account table (P4060…), HT801/802 one profile per port.
  ht81x: { family: 'ht81x', kind: 'ata', lineKeys: 0, sipAccounts: 2, configFlavour: 'v1', keyModeTable: 'none', files: ATA_FILES, matches: /^HT81\d/ },
  ht80x: { family: 'ht80x', kind: 'ata', lineKeys: 0, sipAccounts: 1, configFlavour: 'v1', keyModeTable: 'none', files: ATA_FILES, matches: /^HT8\d/ },
  dp75x: { family: 'dp75x', kind: 'dect_base', lineKeys: 0, sipAccounts: 10, configFlavour: 'v1', keyModeTable: 'none', files: DECT_FILES, matches: /^DP7[5-9]\d/ },
};

type Extra = Partial<Omit<ModelInfo, 'model' | 'family' | 'displayName'>>;

/** A catalogue entry: the family's defaults, then what this model differs in. */
function model(name: string, family: keyof typeof grandstreamFamilies, extra: Extra): ModelInfo {
  const { matches: _pattern, ...defaults } = grandstreamFamilies[family]!;
  return { ...defaults, files: defaults.files ?? DESK_FILES, ...extra, model: name, family, displayName: `Grandstream ${name}` };
}

const EXT40 = (modules: number) => ({ expansion: { modules, keysEach: 40 } });

export const grandstreamModels: readonly ModelInfo[] = [
  // GXP16xx: one image for the family.
  model('GXP1610', 'gxp16xx', { lineKeys: 1, sipAccounts: 1 }),
  model('GXP1615', 'gxp16xx', { lineKeys: 1, sipAccounts: 1 }),
  model('GXP1620', 'gxp16xx', { lineKeys: 2, sipAccounts: 2 }),
  model('GXP1625', 'gxp16xx', { lineKeys: 2, sipAccounts: 2 }),
  model('GXP1628', 'gxp16xx', { lineKeys: 2, sipAccounts: 2, featureKeys: 8 }),
  model('GXP1630', 'gxp16xx', { lineKeys: 3, sipAccounts: 3, featureKeys: 8 }),
  // GXP17xx: no expansion module.
  // SIP accounts and VPKs (fixed + dynamic): Grandstream's gxp17xx config template.
  model('GXP1760', 'gxp17xx', { lineKeys: 24, fixedLineKeys: 6, sipAccounts: 3 }),
  model('GXP1780', 'gxp17xx', { lineKeys: 32, fixedLineKeys: 8, sipAccounts: 4 }),
  model('GXP1782', 'gxp17xx', { lineKeys: 32, fixedLineKeys: 8, sipAccounts: 4 }),
  // GXP21xx
  model('GXP2130', 'gxp21xx', { lineKeys: 12, fixedLineKeys: 3, sipAccounts: 3, featureKeys: 8, firmware: 'gxp2130fw.bin' }),
  // GXP21xx SIP accounts and VPKs (fixed + dynamic): Grandstream's gxp2130/40/60/70/35 config template.
  model('GXP2135', 'gxp21xx', { lineKeys: 32, fixedLineKeys: 8, sipAccounts: 4, firmware: 'gxp2135fw.bin' }),
  model('GXP2140', 'gxp21xx', { lineKeys: 16, fixedLineKeys: 4, sipAccounts: 4, firmware: 'gxp2140fw.bin', ...EXT40(4) }),
  model('GXP2160', 'gxp21xx', { lineKeys: 24, fixedLineKeys: 6, sipAccounts: 6, featureKeys: 24, firmware: 'gxp2160fw.bin', ...EXT40(4) }),
  model('GXP2170', 'gxp21xx', { lineKeys: 48, fixedLineKeys: 12, sipAccounts: 6, firmware: 'gxp2170fw.bin', ...EXT40(4) }),
  // GRP261x: config v2 (VPK counts include the pages of the key display)
  model('GRP2612', 'grp261x', { lineKeys: 16, sipAccounts: 2, firmware: 'grp2612fw.bin' }),
  model('GRP2613', 'grp261x', { lineKeys: 24, sipAccounts: 3, firmware: 'grp2613fw.bin' }),
  model('GRP2614', 'grp261x', { lineKeys: 24, sipAccounts: 4, featureKeys: 24, firmware: 'grp2614fw.bin', ...EXT40(4) }),
  model('GRP2615', 'grp261x', { lineKeys: 40, sipAccounts: 5, firmware: 'grp2615fw.bin', ...EXT40(4) }),
  model('GRP2616', 'grp261x', { lineKeys: 24, sipAccounts: 6, featureKeys: 24, firmware: 'grp2616fw.bin', ...EXT40(4) }),
  // GRP26xx: P-values
  model('GRP2624', 'grp26xx', { lineKeys: 24, sipAccounts: 8, firmware: 'grp2624fw.bin', ...EXT40(4) }),
  model('GRP2634', 'grp26xx', { lineKeys: 32, sipAccounts: 8, firmware: 'grp2634fw.bin', ...EXT40(4) }),
  model('GRP2636', 'grp26xx', { lineKeys: 48, sipAccounts: 16, firmware: 'grp2636fw.bin', ...EXT40(4) }),
  model('GRP2650', 'grp26xx', { lineKeys: 48, sipAccounts: 6, firmware: 'grp2650fw.bin', ...EXT40(4) }),
  model('GRP2670', 'grp26xx', { lineKeys: 48, sipAccounts: 12, firmware: 'grp2670fw.bin', ...EXT40(4) }),
  // HT80x/81x ATAs: FXS ports are SIP accounts (provision.lines fill ports 2…); no keys.
  model('HT801', 'ht80x', { sipAccounts: 1, firmware: 'ht801fw.bin' }),
  model('HT802', 'ht80x', { sipAccounts: 2, firmware: 'ht802fw.bin' }),
  model('HT812', 'ht81x', { sipAccounts: 2, firmware: 'ht812fw.bin' }),
  model('HT814', 'ht81x', { sipAccounts: 4, firmware: 'ht814fw.bin' }),
  model('HT818', 'ht81x', { sipAccounts: 8, firmware: 'ht818fw.bin' }),
  // DP75x DECT bases: 10 SIP accounts, 5 handsets (provision.lines: account N on handset N).
  model('DP750', 'dp75x', { sipAccounts: 10, firmware: 'dp750fw.bin' }),
  model('DP752', 'dp75x', { sipAccounts: 10, firmware: 'dp752fw.bin' }),
  // WP8xx Wi-Fi phones
  model('WP810', 'wp8xx', { lineKeys: 2, sipAccounts: 2, firmware: 'wp810fw.bin' }),
  model('WP820', 'wp8xx', { lineKeys: 2, sipAccounts: 2, firmware: 'wp820fw.bin' }),
  model('WP822', 'wp8xx', { lineKeys: 2, sipAccounts: 2, firmware: 'wp822fw.bin' }),
  model('WP825', 'wp8xx', { lineKeys: 2, sipAccounts: 2, firmware: 'wp825fw.bin' }),
];
