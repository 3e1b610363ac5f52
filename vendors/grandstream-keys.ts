import type { KeyKind, PlacedKey, ResolvedModel } from './types.js';

/**
 * Where a Grandstream key is written (P-value numbers) and with which mode code. The code tables differ per family
 * (ModelInfo.keyModeTable): GXP line keys use 0 Line / 10 SpeedDial / 11 BLF / 19 CallPark, while GRP26xx VPKs use
 * 31 Line / 0 SpeedDial / 1 BLF / 9 CallPark — on a GRP the GXP codes mean LDAP search (11) and Information (19).
 */

/** One key as P-values: mode, account (0-based: 0 = account 1), label, value. */
export interface KeyParams {
  mode: { p: string; value: number };
  account: { p: string; value: number };
  label: { p: string; value: string };
  value: { p: string; value: string };
}

const LINE_MODES: Record<string, Record<KeyKind, number>> = {
  gxp: { line: 0, presence: 11, speed_dial: 10, parking: 19, personal_parking: 11 },
  grp: { line: 31, presence: 1, speed_dial: 0, parking: 9, personal_parking: 1 },
};
/**
 * Expansion-module, multi-purpose and GXP dynamic-VPK key modes: same codes on GXP2200EXT, GBX20, MPKs and the
 * GXP VPKs after the model's fixed ones (ModelInfo.fixedLineKeys; Grandstream's GXP17xx/21xx templates: "Key Mode
 * for Dynamic VPK" 0 Speed Dial, 1 BLF, 9 Call Park); no line mode there.
 */
const MODULE_MODES: Partial<Record<KeyKind, number>> = { presence: 1, speed_dial: 0, parking: 9, personal_parking: 1 };

/**
 * VPKs (line keys) 1..6: P1363+2(n-1) mode, +1 account, P1465+2(n-1) label, P1466+2(n-1) value; 7..48 in groups of
 * 4 from P23800 (mode, account, label, value). The same on GXP17xx, GXP21xx (firmware 1.0.11) and GRP26xx:
 * Grandstream's own config templates of those families, and Wazo's GXP21xx/GRP plugins. Neither block meets the
 * ring rules (P1488-P1491) or the module keys (P23000-P23799).
 */
const LOW_KEYS = 6;
export const LINE_KEY_LIMIT = 48;

const P = (n: number) => `P${n}`;

function params(mode: number, base: { mode: number; account: number; label: number; value: number }, k: PlacedKey): KeyParams {
  return {
    mode: { p: P(base.mode), value: mode },
    account: { p: P(base.account), value: 0 },
    label: { p: P(base.label), value: k.label },
    value: { p: P(base.value), value: k.value },
  };
}

function lowBlock(n: number) {
  const o = 2 * (n - 1);
  return { mode: 1363 + o, account: 1364 + o, label: 1465 + o, value: 1466 + o };
}

/** Body keys (combo keys and, on a model without a feature-key bank or module, feature keys) of a desk phone, in the family's block and codes. */
export function lineKeyParams(model: ResolvedModel | undefined, keys: PlacedKey[]): KeyParams[] {
  const table = typeof model?.keyModeTable === 'string' ? model.keyModeTable : 'gxp';
  const modes = LINE_MODES[table];
  if (!modes) return []; // ATAs and DECT bases: no keys
  const limit = Math.min(model?.lineKeys ?? LINE_KEY_LIMIT, LINE_KEY_LIMIT);
  // GRP VPKs all take the GRP codes; a GXP's dynamic VPKs (after its fixed ones) the module codes.
  const fixed = table === 'grp' ? limit : (model?.fixedLineKeys ?? limit);
  const out: KeyParams[] = [];
  for (const k of keys) {
    const n = k.index;
    if (n < 1 || n > limit) continue;
    const mode = n <= fixed ? modes[k.kind] : MODULE_MODES[k.kind];
    if (mode === undefined) continue; // a line on a dynamic VPK: refused on save (key-capacity.ts)
    const base = n <= LOW_KEYS ? lowBlock(n) : { mode: 23800 + 4 * (n - 7), account: 23801 + 4 * (n - 7), label: 23802 + 4 * (n - 7), value: 23803 + 4 * (n - 7) };
    out.push(params(mode, base, k));
  }
  return out;
}

/**
 * Multi-purpose keys (the feature-key bank) n: 1..7 mode P(322+n), account P(300+3n-2), label P(300+3n-1), value
 * P(300+3n) (FusionPBX, Kazoo/Provisioner and the old ours: P323/P301-P303…); 8..18 in groups of 4 from P353 (MPK 8 at
 * P353-P356 also in a second, independent generator; 9..18 FusionPBX only: UNCONFIRMED); 19..24 in groups of 4 from
 * P1440 (FusionPBX gxp2124 only: UNCONFIRMED). None of these meets a line key (P1363-P1374, P1465-P1476, P23800-P23991), a ring rule
 * (P1488-P1491) or another setting the template writes.
 */
export const MPK_LIMIT = 24;
function mpkBlock(n: number) {
  if (n <= 7) return { mode: 322 + n, account: 300 + 3 * n - 2, label: 300 + 3 * n - 1, value: 300 + 3 * n };
  const base = n <= 18 ? 353 + 4 * (n - 8) : 1440 + 4 * (n - 19);
  return { mode: base, account: base + 1, label: base + 2, value: base + 3 };
}

/** Feature-key bank keys at their MPK P-values, in the MPK mode codes (the module ones). */
export function mpkParams(model: ResolvedModel | undefined, keys: PlacedKey[]): KeyParams[] {
  const size = Math.min(model?.featureKeys ?? 0, MPK_LIMIT);
  const out: KeyParams[] = [];
  for (const k of keys) {
    const mode = MODULE_MODES[k.kind];
    if (mode === undefined || !k.position || k.position > size) continue;
    out.push(params(mode, mpkBlock(k.position), k));
  }
  return out;
}

/** Expansion-module keys: module key k (counted across modules) at P23000+5(k-1) mode, +1 account, +2 label, +3 value. */
export function moduleKeyParams(model: ResolvedModel | undefined, keys: PlacedKey[]): KeyParams[] {
  const each = model?.expansion?.keysEach;
  if (!each) return [];
  const out: KeyParams[] = [];
  for (const k of keys) {
    const mode = MODULE_MODES[k.kind];
    if (mode === undefined || !k.module || !k.position) continue;
    const i = (k.module - 1) * each + (k.position - 1);
    out.push(params(mode, { mode: 23000 + 5 * i, account: 23001 + 5 * i, label: 23002 + 5 * i, value: 23003 + 5 * i }, k));
  }
  return out;
}

/**
 * Config v2 (grp261x): keys as `pks.<section>.N.*` items whose mode is an alias name, not a code. `Line`, `BLF`,
 * `SpeedDial`, `CallPark` are the names of both FusionPBX grp261x ($key_types) and Wazo base_v2 (Wazo also writes
 * them in v1). Personal parking watches the user's park slot, so it is a BLF key, as in the code tables above.
 */
export interface AliasKey { n: number; mode: string; label: string; value: string }

const ALIAS_MODES: Record<KeyKind, string> = { line: 'Line', presence: 'BLF', speed_dial: 'SpeedDial', parking: 'CallPark', personal_parking: 'BLF' };

/** VPKs at their slot (1..the model's line keys); MPKs at their bank position; module keys counted across modules (FusionPBX `pks.ext.1..160`). */
export function aliasKeys(model: ResolvedModel | undefined, keys: { line: PlacedKey[]; bank: PlacedKey[]; module: PlacedKey[] }) {
  const vpk: AliasKey[] = [];
  const mpk: AliasKey[] = [];
  const ext: AliasKey[] = [];
  const item = (n: number, k: PlacedKey): AliasKey => ({ n, mode: ALIAS_MODES[k.kind], label: k.label, value: k.value });
  for (const k of keys.line) if (k.index >= 1 && k.index <= (model?.lineKeys ?? 0)) vpk.push(item(k.index, k));
  const bank = model?.featureKeys ?? 0;
  // MPKs and module keys have no line mode (the MPK code tables have none either).
  for (const k of keys.bank) if (k.kind !== 'line' && k.position && k.position <= bank) mpk.push(item(k.position, k));
  const each = model?.expansion?.keysEach ?? 0;
  for (const k of keys.module) {
    if (k.kind === 'line' || !each || !k.module || !k.position) continue;
    ext.push(item((k.module - 1) * each + k.position, k));
  }
  return { vpk, mpk, ext };
}
