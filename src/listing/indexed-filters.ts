import { filterOptions, queryValues } from './query-filters.js';

/**
 * Ids of the account's devices whose value at one path, as `filter_{path}` compares it (asText), is `value`;
 * `value` is never "" (a filter for "" matches devices lacking the key, which no index holds).
 */
export type FieldLookup = (accountId: string, value: string) => Iterable<string>;

/** The indexed paths (`mac_address`, `owner_id`…) and how to look each up. */
export type FieldLookups = Readonly<Record<string, FieldLookup>>;

/**
 * Device ids that may match the query's filters, read from an index instead of walking every device: for a
 * `filter_{path}={v}` on an indexed path, the devices holding v (or any item of a JSON list v). Every filter is
 * still tested on each candidate, so the answer is the scan's; the candidates only need to include every match.
 * Of several indexed filters the one with the fewest candidates is used. undefined = nothing indexed applies.
 */
export function indexedCandidates(query: Record<string, unknown>, accountId: string, lookups: FieldLookups): string[] | undefined {
  let best: string[] | undefined;
  for (const [key, raw] of Object.entries(query)) {
    if (!key.startsWith('filter_') || key.startsWith('filter_not_')) continue;
    const lookup = Object.hasOwn(lookups, key.slice('filter_'.length)) ? lookups[key.slice('filter_'.length)] : undefined;
    if (!lookup) continue;
    for (const value of queryValues(raw)) {
      const options = filterOptions(value) ?? [value];
      if (options.includes('')) continue;
      const ids = options.flatMap((option) => [...lookup(accountId, option)]);
      if (!best || ids.length < best.length) best = ids;
    }
  }
  return best;
}
