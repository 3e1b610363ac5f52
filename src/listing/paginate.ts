import { BadPageSize } from './listing-errors.js';
import { decodeStartKey, encodeStartKey } from './start-key.js';

export const DEFAULT_PAGE_SIZE = 50;

export interface PageRequest {
  /** undefined = paginate=false (everything). */
  pageSize?: number;
  startKey?: string;
  descending: boolean;
}

function flag(value: unknown): boolean | undefined {
  if (value === 'true' || value === true) return true;
  if (value === 'false' || value === false) return false;
  return undefined;
}

/** Reads Kazoo's paging knobs from the query string; a bad page_size is BadPageSize (Kazoo's 404 faulty_request). */
export function pageRequest(query: Record<string, unknown>): PageRequest {
  const descending = flag(query.descending) === true || flag(query.ascending) === false;
  const startKey = typeof query.start_key === 'string' && query.start_key ? decodeStartKey(query.start_key) : undefined;
  if (flag(query.paginate) === false) return { descending, startKey };
  let pageSize = DEFAULT_PAGE_SIZE;
  if (query.page_size !== undefined) {
    const raw = String(query.page_size);
    if (!/^-?\d+$/.test(raw)) throw new BadPageSize('invalid page size');
    pageSize = Number(raw);
    if (pageSize < 1) throw new BadPageSize('page size must be at least 1');
  }
  return { pageSize, startKey, descending };
}

/**
 * The envelope keys Kazoo adds to a page: `page_size` (rows returned), `start_key` (when the client sent one)
 * and `next_start_key` (the first matching id after the page). None for paginate=false.
 * The walk itself is src/listing/device-listing.ts.
 */
export function pageEnvelope(request: PageRequest, rowCount: number, nextKey: string | undefined): Record<string, unknown> {
  if (request.pageSize === undefined) return {};
  const envelope: Record<string, unknown> = { page_size: rowCount };
  if (request.startKey !== undefined) envelope.start_key = encodeStartKey(request.startKey);
  if (nextKey !== undefined) envelope.next_start_key = encodeStartKey(nextKey);
  return envelope;
}
