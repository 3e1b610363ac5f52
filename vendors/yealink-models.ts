import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Yealink catalogue (seed: the models the profile served before the catalogue existed, with their common-file ids
 * from ../shared/reference/vendors.md §1.2). Key counts are the Wazo/FusionPBX per-model figures; families give an
 * unknown model of a known family its defaults. Owned by the Yealink profile: templates read it as `modelInfo`.
 */
const EXP = { modules: 3, keysEach: 40 };
const desk = (model: string, family: string, commonFileId: string, lineKeys: number, sipAccounts: number, expansion?: typeof EXP): ModelInfo => ({
  model, family, displayName: `Yealink ${model}`, kind: 'desk', lineKeys, sipAccounts, commonFileId, ...(expansion ? { expansion } : {}),
  firmware: `${model.toLowerCase()}.rom`,
});

export const yealinkModels: readonly ModelInfo[] = [
  desk('T46G', 't4x', '28', 27, 6, EXP), desk('T42G', 't4x', '29', 15, 3), desk('T48G', 't4x', '35', 29, 6, EXP),
  desk('T41P', 't4x', '36', 15, 6), desk('T40P', 't4x', '54', 3, 3), desk('T48S', 't4x', '65', 29, 16, EXP),
  desk('T46S', 't4x', '66', 27, 16, EXP), desk('T42S', 't4x', '67', 15, 12), desk('T41S', 't4x', '68', 15, 6),
  desk('T40G', 't4x', '76', 3, 3), desk('T43U', 't4x', '107', 21, 12, EXP), desk('T46U', 't4x', '108', 27, 16, EXP),
  desk('T48U', 't4x', '109', 29, 16, EXP), desk('T42U', 't4x', '116', 15, 12),
  desk('T53', 't5x', '95', 21, 12, EXP), desk('T53W', 't5x', '95', 21, 12, EXP), desk('T54W', 't5x', '96', 27, 16, EXP),
  desk('T57W', 't5x', '97', 29, 16, EXP),
  desk('T27G', 't2x', '69', 21, 6, EXP), desk('T29G', 't2x', '46', 27, 16, EXP), desk('T23P', 't2x', '44', 3, 3),
  desk('T23G', 't2x', '44', 3, 3), desk('T21P_E2', 't2x', '52', 2, 2), desk('T19P_E2', 't2x', '53', 0, 1),
  { model: 'W52P', family: 'wdect', displayName: 'Yealink W52P', kind: 'dect_base', lineKeys: 0, sipAccounts: 5, commonFileId: '25' },
];

export const yealinkFamilies: Readonly<Record<string, FamilyInfo>> = {
  t2x: { family: 't2x', kind: 'desk', lineKeys: 3, sipAccounts: 3, matches: /^T[12]\d/ },
  t4x: { family: 't4x', kind: 'desk', lineKeys: 15, sipAccounts: 6, matches: /^T4\d/ },
  t5x: { family: 't5x', kind: 'desk', lineKeys: 21, sipAccounts: 12, expansion: EXP, matches: /^T5\d/ },
  wdect: { family: 'wdect', kind: 'dect_base', lineKeys: 0, sipAccounts: 5, matches: /^W\d/ },
};
