import type { Request } from 'express';
import { isPlainObject } from '../domain/docs.js';

/**
 * Crossbar renders any listing as CSV when asked (`Accept: text/csv` or `?accept=csv`): one header row of the
 * rows' flattened keys (dotted, in first-seen order), one line per row, RFC 4180 quoting. Errors stay JSON.
 */
export function wantsCsv(req: Request): boolean {
  const accept = req.query.accept;
  if (typeof accept === 'string' && /^(text\/)?csv$/i.test(accept)) return true;
  const header = req.get('accept') ?? '';
  return /(^|,)\s*text\/csv\s*(;|,|$)/i.test(header);
}

function flatten(value: unknown, prefix: string, out: Map<string, unknown>): void {
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, inner] of Object.entries(value)) flatten(inner, prefix ? `${prefix}.${key}` : key, out);
  } else out.set(prefix, value);
}

function cell(value: unknown): string {
  if (value === undefined || value === null) return '';
  const text = typeof value === 'string' ? value : typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** A row's cells by flattened column name (rows that are not objects become a single `value` column). */
export function flatRow(row: unknown): Map<string, unknown> {
  const out = new Map<string, unknown>();
  if (isPlainObject(row)) flatten(row, '', out);
  else out.set('value', row);
  return out;
}

/** Adds a flattened row's keys to the columns, in first-seen order. */
export function addColumns(columns: string[], seen: Set<string>, row: Map<string, unknown>): void {
  for (const key of row.keys()) {
    if (seen.has(key)) continue;
    seen.add(key);
    columns.push(key);
  }
}

/** One CSV line (no line end): the header when given the columns as cells, or a flattened row's cells. */
export function csvLine(columns: string[], row?: Map<string, unknown>): string {
  return columns.map((c) => cell(row ? row.get(c) : c)).join(',');
}

/** The rows of a listing as CSV text. src/http/stream-listing.ts writes the same text row by row. */
export function toCsv(rows: unknown[]): string {
  const flat = rows.map(flatRow);
  const columns: string[] = [];
  const seen = new Set<string>();
  for (const row of flat) addColumns(columns, seen, row);
  const lines = [csvLine(columns), ...flat.map((row) => csvLine(columns, row))];
  return `${lines.join('\r\n')}\r\n`;
}
