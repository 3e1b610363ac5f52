import type { Logger } from '../log.js';
import { CoalescingWriter } from '../store/durable-file.js';
import { readBanFile, writeBanFile, type BanTable } from './ban-file.js';
import { clientKeys } from '../net/client-network.js';
import { StrikeTable } from '../net/strike-table.js';

/**
 * Throttles clients that enumerate MACs (and guess HTTP auth passwords). Each strike — a request for a per-device
 * file whose MAC is unknown, a failed authentication — counts against the address and against its network (IPv4
 * /24, IPv6 /64, see src/net/client-network.ts): within `windowSeconds` the first `limit` strikes of an address and the
 * first `networkLimit` of its network get their ordinary answer (a plain 404 for an unknown MAC: a phone that is
 * not set up yet looks exactly like that); the one beyond either limit bans that address or that whole network for
 * `banSeconds`. During a ban every /provision/ request from it is refused with the same 403 — known MACs
 * included, or the ban would just slow the enumeration down and tell known from unknown. Counting the network
 * too means spreading probes over many addresses of one site (or the 2^64 addresses of one IPv6 line) no longer
 * escapes the ban. Requests made during a ban do not extend it.
 *
 * Bans are kept in `file` when given: written atomically shortly after a new one and on close, read back by
 * load() (expired ones dropped). Both counter tables are bounded in entries.
 */
export interface ProbeGuardOptions {
  limit: number;
  networkLimit: number;
  windowSeconds: number;
  banSeconds: number;
  now?: () => number;
  file?: string;
  log?: Logger;
  /** Entries per counter table (default 100k). */
  maxTracked?: number;
  /** Delay between a new ban and its write to `file` (default 1 s): a ban storm costs one write, not one each. */
  saveDelayMs?: number;
}

const DEFAULT_MAX_TRACKED = 100_000;

export class ProbeGuard {
  private readonly now: () => number;
  private readonly addresses: StrikeTable;
  private readonly networks: StrikeTable;
  private readonly banMs: number;
  /** When the last ban running out ends; 0 once it has (checked without reading the clock). */
  private lastBanEnds = 0;
  private readonly writer: CoalescingWriter | undefined;
  private saveTimer: NodeJS.Timeout | undefined;
  private lastSave: Promise<void> = Promise.resolve();

  constructor(private readonly opts: ProbeGuardOptions) {
    this.now = opts.now ?? Date.now;
    const windowMs = opts.windowSeconds * 1000;
    const max = opts.maxTracked ?? DEFAULT_MAX_TRACKED;
    this.addresses = new StrikeTable(opts.limit, windowMs, max);
    this.networks = new StrikeTable(opts.networkLimit, windowMs, max);
    this.banMs = opts.banSeconds * 1000;
    const file = opts.file;
    this.writer = file ? new CoalescingWriter(() => writeBanFile(file, this.activeBans())) : undefined;
  }

  /** Reads the bans kept on disk (none when there is no file, or nothing usable in it). */
  async load(): Promise<void> {
    if (!this.opts.file) return;
    const now = this.now();
    const table = await readBanFile(this.opts.file, this.opts.log, { now, maxBanMs: this.banMs, maxEntries: this.opts.maxTracked ?? DEFAULT_MAX_TRACKED });
    for (const [key, until] of table.addresses) this.addresses.restore(key, until, now);
    for (const [key, until] of table.networks) this.networks.restore(key, until, now);
    for (const until of [...table.addresses.values(), ...table.networks.values()]) this.lastBanEnds = Math.max(this.lastBanEnds, until);
  }

  isBanned(address: string): boolean {
    // Nearly always nobody is banned: then no per-address work on the phone path, and no clock read either (a
    // replay read the clock three times besides the front door's own reading, ~2% of its CPU at 60k replays/s).
    if (this.lastBanEnds === 0) return false;
    const now = this.now();
    if (this.lastBanEnds <= now) {
      this.lastBanEnds = 0; // every ban has run out: the next one sets it again (noteBan)
      return false;
    }
    const keys = clientKeys(address);
    return this.addresses.bannedUntil(keys.address) > now || this.networks.bannedUntil(keys.network) > now;
  }

  /**
   * Counts a strike (an unknown-MAC request, a failed authentication); true when the address is banned now,
   * by its own strikes or its network's.
   */
  probe(address: string, reason: 'unknown MAC' | 'failed authentication' = 'unknown MAC'): boolean {
    const now = this.now();
    const keys = clientKeys(address);
    if (this.addresses.strike(keys.address, now, this.banMs)) this.noteBan(now, reason, { address: keys.address });
    if (this.networks.strike(keys.network, now, this.banMs)) this.noteBan(now, reason, { network: keys.network, address: keys.address });
    return this.addresses.bannedUntil(keys.address) > now || this.networks.bannedUntil(keys.network) > now;
  }

  private noteBan(now: number, reason: string, who: { address: string; network?: string }): void {
    this.lastBanEnds = Math.max(this.lastBanEnds, now + this.banMs);
    this.opts.log?.warn(who.network ? 'provisioning: network banned for probing' : 'provisioning: address banned for probing', {
      ...who,
      reason,
      seconds: this.opts.banSeconds,
    });
    this.scheduleSave();
  }

  private scheduleSave(): void {
    if (!this.writer || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.lastSave = this.save();
    }, this.opts.saveDelayMs ?? 1000);
    this.saveTimer.unref();
  }

  private async save(): Promise<void> {
    try {
      await this.writer?.flush();
    } catch (err) {
      this.opts.log?.error('provisioning: ban file write failed', { file: this.opts.file, err });
    }
  }

  /** Writes pending bans now and waits for a write under way (shutdown). */
  async close(): Promise<void> {
    if (this.saveTimer) {
      clearTimeout(this.saveTimer);
      this.saveTimer = undefined;
      this.lastSave = this.save();
    }
    await this.lastSave;
  }

  private activeBans(): BanTable {
    const now = this.now();
    return { addresses: this.addresses.active(now), networks: this.networks.active(now) };
  }

  /** Entries held in each counter table (diagnostics, tests of the bound). */
  get tracked(): { addresses: number; networks: number } {
    return { addresses: this.addresses.counters.size, networks: this.networks.counters.size };
  }

  /** Addresses and networks currently refused (diagnostics). */
  banned(): string[] {
    const bans = this.activeBans();
    return [...bans.addresses.keys(), ...bans.networks.keys()];
  }
}
