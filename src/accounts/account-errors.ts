/**
 * What can go wrong with an account request beyond what every resource shares (src/domain/errors.ts), said in
 * the domain's words. The HTTP edge (src/http/error-mapper.ts) alone turns it into Kazoo's status and envelope.
 */

/** An account's extras (limits, configs, apps, whitelabel) would outgrow their byte budget together. */
export class ExtrasTooLarge extends Error {
  constructor(readonly limitBytes: number) {
    super(`an account's limits, configs, apps and whitelabel documents may hold at most ${limitBytes} bytes in all`);
    this.name = 'ExtrasTooLarge';
  }
}
