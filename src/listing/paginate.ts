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
 * Walks ordered ids from the start key, keeps the rows that match, and stops after one row past the page
 * so `next_start_key` can be given. Returns rows plus the envelope keys Kazoo adds.
 */
export function paginate<Row>(
  ids: Iterable<string>,
  request: PageRequest,
  rowFor: (id: string) => Row | undefined,
): { rows: Row[]; envelope: Record<string, unknown> } {
  const rows: Row[] = [];
  let nextKey: string | undefined;
  for (const id of ids) {
    const row = rowFor(id);
    if (row === undefined) continue;
    if (request.pageSize !== undefined && rows.length === request.pageSize) {
      nextKey = id;
      break;
    }
    rows.push(row);
  }
  if (request.pageSize === undefined) return { rows, envelope: {} };
  const envelope: Record<string, unknown> = { page_size: rows.length };
  if (request.startKey !== undefined) envelope.start_key = encodeStartKey(request.startKey);
  if (nextKey !== undefined) envelope.next_start_key = encodeStartKey(nextKey);
  return { rows, envelope };
}
