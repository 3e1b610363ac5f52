/** A listing's paging knobs are unusable (a page_size that is no integer, or below 1); the reason is the message. */
export class BadPageSize extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'BadPageSize';
  }
}
