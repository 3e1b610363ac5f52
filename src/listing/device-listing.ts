import type { DeviceDoc } from '../domain/types.js';
import type { PageRequest } from './paginate.js';
import { yieldToLoop, type Stopped } from './slices.js';

/** The store's reads a device listing needs. */
export interface DeviceListingSource {
  getDevice(accountId: string, deviceId: string): DeviceDoc | undefined;
  /** Ids in id order (or reversed) from `startKey` inclusive, read live: a new call sees later writes. */
  deviceIdsFrom(accountId: string, startKey: string | undefined, descending?: boolean): Iterable<string>;
}

export interface DeviceListingRequest {
  accountId: string;
  page: PageRequest;
  /** Kazoo's query-string filters (src/listing/query-filters.ts); undefined = every device. */
  filter?: (doc: DeviceDoc) => boolean;
  /**
   * Ids an index says may match (src/listing/indexed-filters.ts): a superset of the matching devices, so
   * only these are read. undefined = walk the account's devices.
   */
  candidates?: readonly string[];
  /** Documents examined per slice, between two turns of the loop. */
  sliceSize: number;
  stopped: Stopped;
}

export interface DeviceListing {
  /** The matching devices of the page, as they were when the listing read them (stored documents are frozen). */
  docs: DeviceDoc[];
  /** Id of the first matching device after the page, when there is one. */
  nextKey?: string;
}

/**
 * Kazoo's paged walk (src/listing/paginate.ts' semantics: start key inclusive, one matching row past the page
 * gives next_start_key) done in slices that yield to the loop, so a filter matching nothing or paginate=false
 * over 100k devices never holds it. Resolves undefined when `stopped` (the client left).
 *
 * What a listing sees while writes land: ids are visited once each, in order, each slice resuming after the
 * last id it visited (not at a position, so an insert or delete before the cursor neither repeats nor skips a
 * row). A device written before the cursor reaches it shows its new version; one created behind the cursor, or
 * deleted before it is reached, is not listed. Rows already read keep the version read.
 */
export async function listDevices(source: DeviceListingSource, request: DeviceListingRequest): Promise<DeviceListing | undefined> {
  const { accountId, page, filter, sliceSize } = request;
  const ids = request.candidates
    ? candidateIds(request.candidates, page)
    : (after: string | undefined) => source.deviceIdsFrom(accountId, after ?? page.startKey, page.descending)[Symbol.iterator]();
  const docs: DeviceDoc[] = [];
  let after: string | undefined;
  for (;;) {
    const walk = ids(after);
    for (let examined = 0; examined < sliceSize; ) {
      const next = walk.next();
      if (next.done) return { docs };
      const id = next.value;
      if (id === after) continue; // the resumed walk starts at the last id visited (inclusive)
      examined++;
      after = id;
      const doc = source.getDevice(accountId, id);
      if (!doc || (filter && !filter(doc))) continue;
      if (page.pageSize !== undefined && docs.length === page.pageSize) return { docs, nextKey: id };
      docs.push(doc);
    }
    await yieldToLoop();
    if (request.stopped()) return undefined;
  }
}

/** The candidates in listing order from the start key; resuming after an id continues the same snapshot. */
function candidateIds(candidates: readonly string[], page: PageRequest): (after: string | undefined) => Iterator<string> {
  const ordered = [...new Set(candidates)].sort();
  if (page.descending) ordered.reverse();
  const start = page.startKey;
  const inRange = start === undefined ? ordered : ordered.filter((id) => (page.descending ? id <= start : id >= start));
  const walk = inRange[Symbol.iterator]();
  return () => walk;
}
