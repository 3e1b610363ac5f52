import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Grandstream catalogue (seed: the profile's sample model; vendor helpers complete GXP16xx/17xx/21xx, GRP26xx,
 * HT80x, DP75x, WP8xx). `configFlavour` and `keyModeTable` are the profile's own names, opaque to the core.
 */
export const grandstreamModels: readonly ModelInfo[] = [
  {
    model: 'GXP2135', family: 'gxp21xx', displayName: 'Grandstream GXP2135', kind: 'desk', lineKeys: 32, sipAccounts: 8,
    configFlavour: 'v1', keyModeTable: 'gxp21xx', firmware: 'gxp2135fw.bin',
  },
  {
    model: 'GRP2614', family: 'grp26xx', displayName: 'Grandstream GRP2614', kind: 'desk', lineKeys: 16, sipAccounts: 4,
    configFlavour: 'v1', keyModeTable: 'grp26xx', firmware: 'grp2614fw.bin',
  },
];

export const grandstreamFamilies: Readonly<Record<string, FamilyInfo>> = {
  gxp21xx: { family: 'gxp21xx', kind: 'desk', lineKeys: 8, sipAccounts: 4, configFlavour: 'v1', keyModeTable: 'gxp21xx', matches: /^GXP21\d/ },
  grp26xx: { family: 'grp26xx', kind: 'desk', lineKeys: 8, sipAccounts: 2, configFlavour: 'v1', keyModeTable: 'grp26xx', matches: /^GRP26\d/ },
};
