/**
 * What can go wrong with a device request, said in the domain's words. DeviceService throws these; the HTTP
 * edge (src/http/error-mapper.ts) alone turns them into Kazoo's status codes and envelopes. The ones every
 * resource shares (UnknownId, IdTaken) are in src/domain/errors.ts.
 */

/** The phone is not registered, so nothing was sent (quickcall). */
export class NotRegistered extends Error {
  constructor(readonly id: string) {
    super(`${id} is not registered`);
    this.name = 'NotRegistered';
  }
}

/** A quickcall that rang but did not connect; `view` is the originate answer with what happened on the wire. */
export class QuickCallFailed extends Error {
  constructor(
    readonly outcome: string,
    readonly view: Record<string, unknown>,
  ) {
    super(`quickcall ${outcome}`);
    this.name = 'QuickCallFailed';
  }
}

/** PUT /devices/{id} is an action request; it named none, or one this server does not do. */
export class BadDeviceAction extends Error {
  constructor(readonly action: unknown) {
    super(action === undefined ? 'action required' : 'invalid action');
    this.name = 'BadDeviceAction';
  }
}
