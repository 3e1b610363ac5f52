import { getPath } from '../domain/docs.js';
import type { StoredDoc } from '../domain/types.js';

/** Seconds between 0000-01-01 (Kazoo's Gregorian seconds) and the Unix epoch. */
export const GREGORIAN_OFFSET = 62_167_219_200;

type Predicate = (doc: StoredDoc) => boolean;

/**
 * Kazoo's query-string filters (crossbar_filter): run against the full stored document, AND-ed.
 * Returns undefined when the query has none.
 */
export function buildFilter(query: Record<string, unknown>): Predicate | undefined {
  const predicates: Predicate[] = [];
  for (const [key, raw] of Object.entries(query)) {
    for (const value of queryValues(raw)) {
      const predicate = predicateFor(key, value);
      if (predicate) predicates.push(predicate);
    }
  }
  if (!predicates.length) return undefined;
  return (doc) => predicates.every((p) => p(doc));
}

function predicateFor(key: string, value: string): Predicate | undefined {
  if (key.startsWith('filter_not_')) {
    const match = matcher(key.slice('filter_not_'.length), value);
    return (doc) => !match(doc);
  }
  if (key.startsWith('filter_')) return matcher(key.slice('filter_'.length), value);
  switch (key) {
    case 'has_key':
      return (doc) => getPath(doc, value) !== undefined;
    case 'key_missing':
      return (doc) => getPath(doc, value) === undefined;
    case 'has_value':
      return (doc) => !isEmpty(getPath(doc, value));
    case 'value_missing':
      return (doc) => isEmpty(getPath(doc, value));
    case 'created_from':
      return timeBound(value, (doc, t) => doc.pvt_created + GREGORIAN_OFFSET >= t);
    case 'created_to':
      return timeBound(value, (doc, t) => doc.pvt_created + GREGORIAN_OFFSET <= t);
    case 'modified_from':
      return timeBound(value, (doc, t) => doc.pvt_modified + GREGORIAN_OFFSET >= t);
    case 'modified_to':
      return timeBound(value, (doc, t) => doc.pvt_modified + GREGORIAN_OFFSET <= t);
    default:
      return undefined;
  }
}

/** The values a `filter_{path}` accepts: a JSON list string means any of its items, anything else itself. */
export function filterOptions(wanted: string): string[] | undefined {
  if (!wanted.startsWith('[')) return undefined;
  try {
    const parsed = JSON.parse(wanted) as unknown;
    if (Array.isArray(parsed)) return parsed.map(String);
  } catch {
    // not a JSON list: compare literally
  }
  return undefined;
}

/** The query's string values of one key (the extended parser gives an array for a repeated key). */
export function queryValues(raw: unknown): string[] {
  return (Array.isArray(raw) ? raw : [raw]).filter((v): v is string => typeof v === 'string');
}

function matcher(path: string, wanted: string): Predicate {
  const options = filterOptions(wanted);
  return (doc) => {
    const actual = asText(getPath(doc, path));
    return options ? options.includes(actual) : actual === wanted;
  };
}

/** A stored value as filter_ compares it (kz_json:get_binary_value with default ""). */
export function asText(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value);
}

function isEmpty(value: unknown): boolean {
  if (value === undefined || value === null || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (typeof value === 'object') return Object.keys(value).length === 0;
  return false;
}

/** A bound that is not an integer excludes every document, as Kazoo's throwing filter does. */
function timeBound(value: string, test: (doc: StoredDoc, t: number) => boolean): Predicate {
  if (!/^\d+$/.test(value)) return () => false;
  const t = Number(value);
  return (doc) => test(doc, t);
}
