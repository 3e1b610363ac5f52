import type { FamilyInfo, ModelInfo } from './types.js';

/**
 * Yealink catalogue. Common-file ids (`y0000000000<id>.cfg`) are the ones FusionPBX's per-model boot files name
 * (../shared/reference/vendors.md §1.2); line-key and SIP-account counts are Wazo provd's per-model tables
 * (v86 common.py) where it has them, else the seed figures. Expansion modules: EXP20/EXP40 (40 keys over two pages,
 * up to 6 daisy-chained) on T27G/T29G/T46G/T48G/T46S/T48S, EXP43 (60 keys, up to 3) on T43U/T46U/T48U, EXP50 (60 keys,
 * up to 3) on the T5x. Owned by the Yealink profile: templates read the entry as `modelInfo`.
 */
const EXP40 = { modules: 6, keysEach: 40 };
const EXP43 = { modules: 3, keysEach: 60 };
const EXP50 = { modules: 3, keysEach: 60 };
type Expansion = { modules: number; keysEach: number };

const entry = (
  kind: ModelInfo['kind'],
  family: string,
  model: string,
  commonFileId: string | undefined,
  lineKeys: number,
  sipAccounts: number,
  expansion?: Expansion,
): ModelInfo => ({
  model, family, displayName: `Yealink ${model}`, kind, lineKeys, sipAccounts,
  ...(commonFileId ? { commonFileId } : {}),
  ...(expansion ? { expansion } : {}),
  firmware: `${model.toLowerCase()}.rom`,
});
const desk = (family: string, model: string, id: string | undefined, keys: number, accounts: number, exp?: Expansion) =>
  entry('desk', family, model, id, keys, accounts, exp);
/** DECT bases: no line keys; each handset registers one of the base's SIP accounts. */
const dect = (model: string, id: string, accounts: number) => entry('dect_base', 'wdect', model, id, 0, accounts);
const conference = (model: string, id: string) => entry('conference', 'cp', model, id, 0, 1);

export const yealinkModels: readonly ModelInfo[] = [
  // T2x
  desk('t2x', 'T19P_E2', '53', 0, 1), desk('t2x', 'T21P_E2', '52', 2, 2), desk('t2x', 'T23P', '44', 3, 3),
  desk('t2x', 'T23G', '44', 3, 3), desk('t2x', 'T27G', '69', 21, 6, EXP40), desk('t2x', 'T29G', '46', 27, 16, EXP40),
  // T3x (one firmware line; T31G/T31P/T30 files use id 123, T33G/T33P 124 as FusionPBX names them)
  desk('t3x', 'T30', '123', 0, 1), desk('t3x', 'T30P', '123', 0, 1), desk('t3x', 'T31', '123', 2, 2),
  desk('t3x', 'T31P', '123', 2, 2), desk('t3x', 'T31G', '123', 2, 2), desk('t3x', 'T31W', '123', 2, 2),
  desk('t3x', 'T33P', '124', 12, 4), desk('t3x', 'T33G', '124', 12, 4), desk('t3x', 'T34W', '124', 12, 4),
  // T4x: G, S and U
  desk('t4x', 'T40P', '54', 3, 3), desk('t4x', 'T40G', '76', 3, 3), desk('t4x', 'T41P', '36', 15, 6),
  desk('t4x', 'T41S', '68', 15, 6), desk('t4x', 'T42G', '29', 15, 3), desk('t4x', 'T42S', '67', 15, 12),
  desk('t4x', 'T46G', '28', 27, 6, EXP40), desk('t4x', 'T48G', '35', 29, 6, EXP40),
  desk('t4x', 'T46S', '66', 27, 16, EXP40), desk('t4x', 'T48S', '65', 29, 16, EXP40),
  desk('t4x', 'T41U', undefined, 15, 6), desk('t4x', 'T42U', '116', 15, 12), desk('t4x', 'T43U', '107', 21, 12, EXP43),
  desk('t4x', 'T46U', '108', 27, 16, EXP43), desk('t4x', 'T48U', '109', 29, 16, EXP43),
  // T5x
  desk('t5x', 'T52S', '74', 21, 12, EXP50), desk('t5x', 'T54S', '70', 27, 16, EXP50),
  desk('t5x', 'T53', '95', 21, 12, EXP50), desk('t5x', 'T53W', '95', 21, 12, EXP50), desk('t5x', 'T54W', '96', 27, 16, EXP50),
  desk('t5x', 'T57W', '97', 29, 16, EXP50), desk('t5x', 'T56A', '56', 27, 16, EXP50), desk('t5x', 'T58', '58', 27, 16, EXP50),
  desk('t5x', 'T58A', '58', 27, 16, EXP50), desk('t5x', 'T58W', '150', 27, 16, EXP50),
  // CP9xx conference phones: one account, no programmable keys
  conference('CP920', '78'), conference('CP925', '148'), conference('CP960', '73'), conference('CP965', '143'),
  // W-series DECT bases: accounts = handsets a base registers
  dect('W52P', '25', 5), dect('W60B', '77', 8), dect('W70B', '146', 10), dect('W80B', '175', 100), dect('W80DM', '175', 100),
];

export const yealinkFamilies: Readonly<Record<string, FamilyInfo>> = {
  t2x: { family: 't2x', kind: 'desk', lineKeys: 3, sipAccounts: 3, matches: /^T[12]\d/ },
  t3x: { family: 't3x', kind: 'desk', lineKeys: 2, sipAccounts: 2, matches: /^T3\d/ },
  t4x: { family: 't4x', kind: 'desk', lineKeys: 15, sipAccounts: 6, matches: /^T4\d/ },
  t5x: { family: 't5x', kind: 'desk', lineKeys: 21, sipAccounts: 12, expansion: EXP50, matches: /^T5\d/ },
  cp: { family: 'cp', kind: 'conference', lineKeys: 0, sipAccounts: 1, matches: /^CP\d/ },
  wdect: { family: 'wdect', kind: 'dect_base', lineKeys: 0, sipAccounts: 5, matches: /^W\d/ },
};

/** Families whose phones read the desk-phone `<mac>.cfg` (every family but the DECT bases). */
export const yealinkDeskFamilies = Object.keys(yealinkFamilies).filter((f) => f !== 'wdect');
