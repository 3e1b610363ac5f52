import type { ProvisionInput } from './types.js';

/**
 * Where each SIP account of a Grandstream ATA or DECT base is written. Facts from Grandstream's own config
 * templates (DP75x 1.0.13.8, HT80x 1.0.19.11, HT81x 1.0.19.11, as shipped in Wazo provd's grandstream plugin docs);
 * FusionPBX's dp750/ht802/ht814/ht818 templates agree on every number used here.
 *
 * Two layouts:
 * - 'indexed' (DP75x, HT812/814/818): every account in one table, account N at P(4060+N-1) user ID,
 *   P(4090+N-1) auth ID, P(4120+N-1) password, P(4180+N-1) name, P(4150+N-1) profile (0 = profile 1, whose
 *   server and SIP settings the file writes), P(4595+N-1) active. These families have no P35/P36/P34/P3.
 * - 'ports' (HT801/802): FXS port 1 is profile 1 (P35…), port 2 a whole second profile of its own (P7xx block).
 *
 * Every slot the model has is written, the unused ones empty and inactive: a Grandstream keeps any value a file
 * leaves out, so a removed handset or port would otherwise stay registered with its old credentials.
 */

export interface PValue {
  p: string;
  value: string | number;
}

/** One account as the file needs it. */
interface AccountIdentity {
  username: string;
  password: string;
  name: string;
}

/** The profile-level values of port 1 / profile 1, already computed by the vendor (grandstream.ts). */
export interface ProfileValues {
  server: string;
  outboundProxy: string;
  dnsMode: number;
  expiresMinutes: number;
  transport: number;
  retry: number;
  mwiSubscribe: number;
  srtp: number | string;
  callWaitingOff: number;
  codecs: { value: number }[];
  /** Port 1's P52 and P191 as the file writes them (vendor parameters resolved). */
  nat: string;
  callFeatures: string;
  /** HT8xx DTMF method order (port 2 repeats port 1's). */
  dtmfOrder: number[];
}

/** DP75x handset line slots: the first line of handset 1..5 (value = account number, 0 = none). */
const HANDSET_FIRST_LINE = [4300, 4310, 4320, 4250, 21328];
/** DP75x handsets; an account beyond them is reachable through its hunting group only. */
const HANDSETS = HANDSET_FIRST_LINE.length;

const P = (n: number) => `P${n}`;

function indexedAccount(n: number, who: AccountIdentity | undefined): PValue[] {
  const i = n - 1;
  return [
    { p: P(4060 + i), value: who?.username ?? '' },
    { p: P(4090 + i), value: who?.username ?? '' },
    { p: P(4120 + i), value: who?.password ?? '' },
    { p: P(4180 + i), value: who?.name ?? '' },
    { p: P(4150 + i), value: 0 },
    { p: P(4595 + i), value: who ? 1 : 0 },
  ];
}

/**
 * DP75x: account N rings and dials out on handset N (as Yealink's W-series file does), through handset N's first
 * line and the account's hanging-group mode P(27080+N-1) (N = that handset only, 101 = circular over all).
 * A handset without an account of its own keeps account 1.
 */
function handsetLines(accounts: number, present: Set<number>): PValue[] {
  const out: PValue[] = [];
  for (let n = 1; n <= Math.min(accounts, HANDSETS); n++) out.push({ p: P(HANDSET_FIRST_LINE[n - 1]!), value: present.has(n) ? n : 1 });
  for (let n = 1; n <= accounts; n++) out.push({ p: P(27080 + n - 1), value: n <= HANDSETS && present.has(n) ? n : 101 });
  return out;
}

/** HT801/802 FXS port 1: profile 1's identity. */
function firstPort(who: AccountIdentity): PValue[] {
  return [
    { p: 'P35', value: who.username },
    { p: 'P36', value: who.username },
    { p: 'P34', value: who.password },
    { p: 'P3', value: who.name },
  ];
}

/** HT802 FXS port 2: profile 2's own block, given the same server and settings as port 1. */
function secondPort(who: AccountIdentity | undefined, v: ProfileValues, dialPlan: string): PValue[] {
  const codecSlots = ['P757', 'P758', 'P759', 'P760', 'P761', 'P762', 'P814'];
  return [
    { p: 'P401', value: who ? 1 : 0 },
    { p: 'P747', value: who ? v.server : '' },
    { p: 'P748', value: who ? v.outboundProxy : '' },
    { p: 'P702', value: v.dnsMode },
    { p: 'P735', value: who?.username ?? '' },
    { p: 'P736', value: who?.username ?? '' },
    { p: 'P734', value: who?.password ?? '' },
    { p: 'P703', value: who?.name ?? '' },
    { p: 'P731', value: who ? 1 : 0 },
    { p: 'P732', value: v.expiresMinutes },
    { p: 'P830', value: v.transport },
    { p: 'P471', value: v.retry },
    { p: 'P709', value: v.mwiSubscribe },
    { p: 'P730', value: v.nat },
    { p: 'P443', value: v.srtp },
    { p: 'P791', value: v.callWaitingOff },
    { p: 'P751', value: v.callFeatures },
    ...(dialPlan ? [{ p: 'P4201', value: dialPlan }] : []),
    ...['P860', 'P861', 'P862'].map((p, i) => ({ p, value: v.dtmfOrder[i]! })),
    ...codecSlots.map((p, i) => ({ p, value: v.codecs[i]?.value ?? v.codecs[0]!.value })),
  ];
}

export type AccountLayout = 'indexed' | 'ports';

/** The P-values of every account slot of the model: account 1 is the device itself, the others its provision.lines. */
export function accountParams(layout: AccountLayout, input: ProvisionInput, v: ProfileValues, handsets: boolean): PValue[] {
  const slots = Math.max(1, input.modelInfo?.sipAccounts ?? 1);
  const who = new Map<number, AccountIdentity>([[1, { username: input.sip.username, password: input.sip.password, name: input.displayName }]]);
  for (const line of input.lines) if (line.account <= slots) who.set(line.account, { username: line.sip.username, password: line.sip.password, name: line.displayName });
  if (layout === 'ports') return [...firstPort(who.get(1)!), ...(slots >= 2 ? secondPort(who.get(2), v, input.settings.dialPlan) : [])];
  const out: PValue[] = [];
  for (let n = 1; n <= slots; n++) out.push(...indexedAccount(n, who.get(n)));
  if (handsets) out.push(...handsetLines(slots, new Set(who.keys())));
  return out;
}
