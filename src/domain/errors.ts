/**
 * What can go wrong with any resource's request, said in the domain's words (devices, users, accounts throw
 * these). The HTTP edge (src/http/error-mapper.ts) alone turns them into Kazoo's status codes and envelopes.
 */

/** No document (account, user, device) by that id. */
export class UnknownId extends Error {
  constructor(readonly id: string) {
    super(`no document ${id}`);
    this.name = 'UnknownId';
  }
}

/** A client-chosen id that was given out before (also to a deleted document). */
export class IdTaken extends Error {
  constructor(readonly id: string) {
    super(`id ${id} is taken`);
    this.name = 'IdTaken';
  }
}
